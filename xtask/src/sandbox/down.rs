//! `down` with as few engine calls as the plain `rm -f` and `network rm` it is measured against.
//! Opening the sandbox already found its containers and network by name and checked them against
//! this state's labels; `down` removes those. Whatever else carries the sandbox's name label (a
//! scenario's container an interrupted run left on the network) is looked for only when the
//! network is still in use, and removed if it is this state's. On podman every engine call costs
//! 0.1–0.4 s here (`ps -a` the most: it checks every container on the machine), and looking
//! everything up again before removing made `down` 1.4–1.6× the plain commands.
//!
//! On podman the removal itself is most of it: `rm --force` stops each container first (SIGTERM,
//! then up to 10 s), and the client's nested dockerd took 1.2 s of a 1.3 s `down` to stop, for a
//! state (its images, in the container's own layer) that the removal discards. Only the services
//! that write their volumes (the database, the registry) are stopped cleanly now; the others are
//! removed at once beside them, as docker's `rm --force` removes every container.

use anyhow::{Context, Result};
use xshell::Shell;

use super::{ownership, Sandbox, LABEL_INSTANCE};
use crate::engine::objects::{Kind, Object};
use crate::engine::EngineKind;
use crate::ui;

/// `found`: the objects of this sandbox's names, as `Sandbox::open_surveyed` checked them.
pub fn run(sh: &Shell, sb: &Sandbox, found: &[Object]) -> Result<()> {
    let of = |kind: Kind| -> Vec<Object> { found.iter().filter(|o| o.kind == kind).cloned().collect() };
    let (containers, networks) = (of(Kind::Container), of(Kind::Network));
    remove_containers(sh, sb, &containers).context("removing containers")?;
    report(&containers);
    if let Err(first) = sb.engine.remove_objects(sh, &networks) {
        // Still in use: by a container of this sandbox that does not carry a service's name.
        let leftovers = sb.engine.objects_labelled(sh, Kind::Container, LABEL_INSTANCE, &sb.name)?;
        let ours = ownership::check(leftovers, &sb.claim(), false)?;
        if ours.is_empty() {
            return Err(first.context("removing the network"));
        }
        sb.engine.remove_objects(sh, &ours).context("removing containers")?;
        report(&ours);
        sb.engine.remove_objects(sh, &networks).context("removing the network")?;
    }
    report(&networks);
    Ok(())
}

/// The containers, each as its process needs (see above): on podman a service that writes no
/// volume is removed at once, beside the others' clean stop; anything else of this sandbox's name
/// (a helper) is stopped cleanly. docker's `rm --force` kills them all at once anyway.
fn remove_containers(sh: &Shell, sb: &Sandbox, containers: &[Object]) -> Result<()> {
    if sb.engine.kind != EngineKind::Podman {
        return sb.engine.remove_objects(sh, containers);
    }
    let disposable = |o: &Object| {
        super::name::part_of(&sb.name, &o.name)
            .and_then(|service| sb.spec.service(service).ok())
            .is_some_and(|svc| !svc.writes_its_volumes())
    };
    let (now, clean): (Vec<Object>, Vec<Object>) = containers.iter().cloned().partition(|o| disposable(o));
    let now: Vec<String> = now.into_iter().map(|o| o.id).collect();
    std::thread::scope(|s| {
        let killed = s.spawn(|| sb.engine.remove_containers_now(&Shell::new()?, &now));
        let stopped = sb.engine.remove_objects(sh, &clean);
        killed.join().expect("an engine call does not panic").and(stopped)
    })
}

fn report(objects: &[Object]) {
    for o in objects {
        ui::status("Removed", format!("{} {}", o.kind.as_str(), o.name));
    }
}
