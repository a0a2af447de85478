//! A sandbox belongs to exactly one state directory. Everything the tool creates carries the
//! sandbox's name, its id and the path of the state directory that created it; before a command
//! changes anything it reads those labels back from every object named like the sandbox's (and
//! every object labelled with its name) and refuses when one belongs to another state. So a second
//! state root (another `TRUST_SANDBOX_STATE`, a lost `HOME`) can neither take over a running
//! sandbox with new secrets nor destroy its trust data.
//!
//! Only an owner that is provably gone (its state directory, or the `state.json` in it, is missing
//! while the directory above it is there) lets `destroy` take its objects. An owner whose state
//! cannot be read (permissions, an I/O error, a corrupt file, a directory above it that is missing:
//! an unmounted disk, another HOME) is not a gone one: its objects are refused like a live owner's.

use std::path::Path;

use anyhow::{bail, Result};
use xshell::Shell;

use super::labels::{LABEL_ID, LABEL_INSTANCE, LABEL_STATE};
use crate::engine::objects::{Kind, Object};
use crate::engine::{ContainerState, Engine};
use crate::table::Spec;

/// Who owns an object, judged by its labels against this state directory.
#[derive(Debug, PartialEq, Eq)]
pub enum Owner {
    /// This state (same name, same id).
    Us,
    /// Another state directory that still exists and holds the recorded id; or no owner we can
    /// name (no trust-sandbox labels, another sandbox's name).
    Other(String),
    /// A state directory that is gone (removed by hand): only `destroy` may take these.
    Gone(String),
    /// A state directory that could not be read: perhaps alive, so never taken.
    Unreachable(String),
}

/// What the state directory recorded on an object says about its owner now.
#[derive(Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// It holds a sandbox state with that id.
    Holds,
    /// It is gone, or holds another sandbox now.
    Gone,
    /// It could not be read; the reason.
    Unreachable(String),
}

/// This command's side: the sandbox name, and this state's id and directory if it has one.
pub struct Claim<'a> {
    pub name: &'a str,
    pub id: Option<&'a str>,
    pub dir: &'a Path,
}

pub fn owner(o: &Object, claim: &Claim<'_>, owner_state: impl Fn(&str, &str) -> OwnerState) -> Owner {
    let (name, id, dir) = (o.label(LABEL_INSTANCE), o.label(LABEL_ID), o.label(LABEL_STATE));
    if name == claim.name && !id.is_empty() && claim.id == Some(id) {
        return Owner::Us;
    }
    if name.is_empty() || id.is_empty() {
        return Owner::Other("nothing of trust-sandbox (it carries no trust-sandbox labels)".into());
    }
    if name != claim.name {
        return Owner::Other(format!("sandbox `{name}`"));
    }
    if dir.is_empty() {
        return Owner::Other(format!("sandbox id {id}, created from another state directory"));
    }
    if Path::new(dir) == claim.dir {
        // This very directory, which does not (or no longer) hold that id: left over from an
        // earlier sandbox of this name, or this state's file is corrupt (`destroy` starts over).
        return Owner::Gone(format!("an earlier sandbox of this state directory (sandbox id {id})"));
    }
    match owner_state(dir, id) {
        OwnerState::Holds => Owner::Other(format!("the state directory {dir} (sandbox id {id})")),
        OwnerState::Gone => Owner::Gone(format!("the state directory {dir} (sandbox id {id}), which no longer exists")),
        OwnerState::Unreachable(why) => {
            Owner::Unreachable(format!("the state directory {dir} (sandbox id {id}), which cannot be read: {why}"))
        }
    }
}

/// Whether `state_dir` still holds the sandbox `id`. Gone only when that is certain: its
/// `state.json` (or the directory itself) is missing while the directory above it is there, or it
/// holds another sandbox now; anything that could not be read is `Unreachable`.
pub fn owner_state(state_dir: &str, id: &str) -> OwnerState {
    let dir = Path::new(state_dir);
    let file = dir.join("state.json");
    let missing = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    match std::fs::read_to_string(&file) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v["id"] == id => OwnerState::Holds,
            Ok(v) if v["id"].is_string() => OwnerState::Gone,
            _ => OwnerState::Unreachable(format!("{} is corrupt", file.display())),
        },
        Err(e) if missing(&e) => {
            // The file is gone; so is the sandbox if its directory, or the one above, is readable.
            let above = dir.parent().unwrap_or(dir);
            match (std::fs::metadata(dir), std::fs::metadata(above)) {
                (Ok(m), _) if m.is_dir() => OwnerState::Gone,
                (Err(e), Ok(m)) if missing(&e) && m.is_dir() => OwnerState::Gone,
                (Err(e), Err(up)) if missing(&e) && missing(&up) => OwnerState::Unreachable(format!(
                    "neither it nor {} exists (an unmounted disk, another HOME?). If it was deleted for good, `mkdir -p {}` and run the command again",
                    above.display(),
                    above.display()
                )),
                (Err(e), _) | (_, Err(e)) => OwnerState::Unreachable(format!("{}: {e}", dir.display())),
                (Ok(_), Ok(_)) => OwnerState::Unreachable(format!("{} is not a directory", dir.display())),
            }
        }
        Err(e) => OwnerState::Unreachable(format!("reading {}: {e}", file.display())),
    }
}

/// Every object on `engine` named as sandbox `name`'s would be, plus (with `labelled`) every
/// object labelled with its name: what `up` would reuse and what `down`/`destroy` would remove.
pub fn survey(sh: &Shell, engine: &Engine, spec: &Spec, name: &str, labelled: bool) -> Result<Vec<Object>> {
    survey_kinds(sh, engine, spec, name, labelled, &[Kind::Container, Kind::Network, Kind::Volume])
}

/// The containers a sandbox `name` may have: one per service, and the on-demand helpers (the
/// signers after `migrate`, the consumer after `compare`). Helpers are named here too, so `down`
/// removes them by name: its fallback (look for labelled containers only when the network is
/// still in use) missed them on podman 4.3, where the enforcement e2e found both helpers left
/// running after `down`.
pub fn container_names(spec: &Spec, name: &str) -> Vec<String> {
    let services = spec.services.iter().map(|s| s.name.as_str());
    services.chain(spec.helper_names()).map(|n| super::name::object(name, n)).collect()
}

/// [`survey`] for some kinds only (`down` leaves volumes alone, so it does not look for them).
pub fn survey_kinds(
    _sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    name: &str,
    labelled: bool,
    kinds: &[Kind],
) -> Result<Vec<Object>> {
    Ok(survey_states(engine, spec, name, labelled, kinds)?.objects)
}

/// What one look at the engine found: the objects, and the state of each container among them,
/// read by the same `inspect` (`up` decides what to start, reuse or repair from it).
#[derive(Debug, Default)]
pub struct Survey {
    pub objects: Vec<Object>,
    pub containers: Vec<ContainerState>,
}

/// [`survey_kinds`] with the containers' states. Each kind costs one engine call by name, or
/// with `labelled` two (the labelled ones listed, then read back together with the named ones),
/// and the kinds are asked side by side, each on a shell of its own (a `Shell` is not shared
/// between threads): the caller waits for the slowest only.
pub fn survey_states(engine: &Engine, spec: &Spec, name: &str, labelled: bool, kinds: &[Kind]) -> Result<Survey> {
    let names_of = |kind: Kind| -> Vec<String> {
        match kind {
            Kind::Container => container_names(spec, name),
            Kind::Network => vec![name.to_string()],
            Kind::Volume => spec
                .services
                .iter()
                .flat_map(|s| s.volumes.iter().map(|v| super::name::object(name, &v.name)))
                .collect(),
        }
    };
    let lookup = |kind: Kind| -> Result<Survey> {
        let sh = Shell::new()?;
        let named = names_of(kind);
        let listed = if labelled { engine.labelled_ids(&sh, kind, LABEL_INSTANCE, name)? } else { Vec::new() };
        let mut ask = named.clone();
        ask.extend(listed.iter().filter(|id| !named.contains(id)).cloned());
        // Named ones whatever their labels (a squatter is refused); listed ones only if the label
        // read back is exactly ours (the engine's filter only narrows).
        let wanted = |object: &str, labels: &std::collections::BTreeMap<String, String>| {
            named.iter().any(|n| n == object) || labels.get(LABEL_INSTANCE).is_some_and(|v| v == name)
        };
        if kind != Kind::Container {
            let objects = engine.objects(&sh, kind, &ask)?.into_iter().filter(|o| wanted(&o.name, &o.labels)).collect();
            return Ok(Survey { objects, containers: Vec::new() });
        }
        let containers: Vec<ContainerState> =
            engine.inspect(&sh, &ask)?.into_iter().filter(|c| wanted(&c.name, &c.labels)).collect();
        let objects = containers
            .iter()
            .map(|c| Object { kind, name: c.name.clone(), id: c.id.clone(), labels: c.labels.clone() })
            .collect();
        Ok(Survey { objects, containers })
    };
    let results: Vec<Result<Survey>> = std::thread::scope(|s| {
        let asks: Vec<_> = kinds.iter().map(|&kind| s.spawn(move || lookup(kind))).collect();
        asks.into_iter().map(|a| a.join().expect("an engine lookup does not panic")).collect()
    });
    let mut found = Survey::default();
    for r in results {
        let part = r?;
        found.objects.extend(part.objects);
        found.containers.extend(part.containers);
    }
    let mut seen = std::collections::BTreeSet::new();
    found.objects.retain(|o| seen.insert((o.kind.as_str(), o.id.clone())));
    let mut seen = std::collections::BTreeSet::new();
    found.containers.retain(|c| seen.insert(c.id.clone()));
    Ok(found)
}

/// Refuses if any object belongs to another state directory (or, unless `orphans_ok`, to one
/// that is gone); otherwise returns the objects this command may act on (ours, and the orphans).
pub fn check(objects: Vec<Object>, claim: &Claim<'_>, orphans_ok: bool) -> Result<Vec<Object>> {
    let mut mine = Vec::new();
    for o in objects {
        match owner(&o, claim, owner_state) {
            Owner::Us => mine.push(o),
            Owner::Unreachable(who) => bail!(
                "{} `{}` belongs to {who}. An owner that cannot be read is not treated as gone: nothing was changed. Make it readable again (mount the disk, fix the permissions) and run the command with that state (TRUST_SANDBOX_STATE, HOME), or pick another --name",
                o.kind.as_str(),
                o.name
            ),
            Owner::Gone(_) if orphans_ok => mine.push(o),
            Owner::Gone(who) => bail!(
                "{} `{}` is left over from {who}: `cargo xtask sandbox --name {} destroy` removes it (and its trust data)",
                o.kind.as_str(),
                o.name,
                claim.name
            ),
            Owner::Other(who) => bail!(
                "{} `{}` belongs to another state directory: {who}; this command uses {}{}. Run it with the owner's state (TRUST_SANDBOX_STATE, HOME), or pick another --name",
                o.kind.as_str(),
                o.name,
                claim.dir.display(),
                claim.id.map(|id| format!(" (sandbox id {id})")).unwrap_or_default()
            ),
        }
    }
    Ok(mine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_containers_looked_for_by_name_include_the_helpers() {
        let spec = crate::table::load().unwrap();
        let names = container_names(&spec, "ts");
        for s in &spec.services {
            assert!(names.contains(&format!("ts-{}", s.name)), "{names:?}");
        }
        for h in spec.helper_names() {
            assert!(names.contains(&format!("ts-{h}")), "{h}: `down` must remove it by name: {names:?}");
        }
        assert_eq!(names.len(), spec.services.len() + spec.helper_names().len());
    }

    fn obj(labels: &[(&str, &str)]) -> Object {
        Object {
            kind: Kind::Volume,
            name: "ts-db".into(),
            id: "ts-db".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn ownership_is_decided_by_name_id_and_state_labels() {
        let claim = Claim { name: "ts", id: Some("aaa"), dir: Path::new("/s/ts") };
        let alive = |_: &str, _: &str| OwnerState::Holds;
        let gone = |_: &str, _: &str| OwnerState::Gone;
        let unreadable = |_: &str, _: &str| OwnerState::Unreachable("EIO".into());
        let ours = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "aaa"), (LABEL_STATE, "/s/ts")]);
        assert_eq!(owner(&ours, &claim, alive), Owner::Us);
        let theirs = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "bbb"), (LABEL_STATE, "/other/ts")]);
        assert!(matches!(owner(&theirs, &claim, alive), Owner::Other(w) if w.contains("/other/ts")));
        assert!(matches!(owner(&theirs, &claim, gone), Owner::Gone(_)));
        assert!(matches!(owner(&theirs, &claim, unreadable), Owner::Unreachable(w) if w.contains("EIO")));
        let earlier = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "old"), (LABEL_STATE, "/s/ts")]);
        assert!(matches!(owner(&earlier, &claim, alive), Owner::Gone(_)), "this directory, another id");
        let unlabelled = obj(&[]);
        assert!(matches!(owner(&unlabelled, &claim, gone), Owner::Other(_)));
        let legacy = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "bbb")]);
        assert!(matches!(owner(&legacy, &claim, gone), Owner::Other(_)), "no state label: never an orphan");
        let no_state = Claim { name: "ts", id: None, dir: Path::new("/s/ts") };
        // A state-less command owns nothing: what its own directory once made is left over
        // (only `destroy` takes it), whatever the owner check would say of a directory.
        assert!(matches!(owner(&ours, &no_state, alive), Owner::Gone(_)), "a state-less command owns nothing");
    }

    #[test]
    fn check_refuses_foreign_objects_and_names_the_owner() {
        let claim = Claim { name: "ts", id: None, dir: Path::new("/tmp/none/ts") };
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("state.json"), r#"{"id":"bbb"}"#).unwrap();
        let dir = tmp.path().display().to_string();
        let theirs = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "bbb"), (LABEL_STATE, &dir)]);
        let err = check(vec![theirs], &claim, true).unwrap_err().to_string();
        assert!(err.contains("belongs to another state directory") && err.contains(&dir), "{err}");
        let gone = tmp.path().join("gone").display().to_string();
        let orphan = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "ccc"), (LABEL_STATE, &gone)]);
        assert_eq!(check(vec![orphan.clone()], &claim, true).unwrap().len(), 1);
        assert!(check(vec![orphan], &claim, false).unwrap_err().to_string().contains("destroy"));
    }

    /// As root every file is readable, so unreadable is staged as a read that fails otherwise: a
    /// `state.json` that is a directory (EISDIR), a corrupt one, and a missing disk.
    #[test]
    fn an_owner_that_cannot_be_read_is_never_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let owner = root.join("ts");
        std::fs::create_dir_all(&owner).unwrap();
        let dir = owner.display().to_string();
        std::fs::write(owner.join("state.json"), r#"{"id":"bbb"}"#).unwrap();
        assert_eq!(owner_state(&dir, "bbb"), OwnerState::Holds);
        assert_eq!(owner_state(&dir, "ccc"), OwnerState::Gone, "another sandbox lives there now");
        std::fs::write(owner.join("state.json"), "{corrupt").unwrap();
        assert!(matches!(owner_state(&dir, "bbb"), OwnerState::Unreachable(w) if w.contains("corrupt")));
        std::fs::remove_file(owner.join("state.json")).unwrap();
        std::fs::create_dir(owner.join("state.json")).unwrap();
        assert!(matches!(owner_state(&dir, "bbb"), OwnerState::Unreachable(w) if w.contains("reading")));
        std::fs::remove_dir(owner.join("state.json")).unwrap();
        assert_eq!(owner_state(&dir, "bbb"), OwnerState::Gone, "its directory is there without a state");
        std::fs::remove_dir(&owner).unwrap();
        assert_eq!(owner_state(&dir, "bbb"), OwnerState::Gone, "removed, the root still there");
        std::fs::remove_dir(&root).unwrap();
        let unmounted = owner_state(&dir, "bbb");
        assert!(matches!(&unmounted, OwnerState::Unreachable(w) if w.contains("mkdir -p")), "{unmounted:?}");

        let claim = Claim { name: "ts", id: None, dir: Path::new("/elsewhere/ts") };
        let theirs = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "bbb"), (LABEL_STATE, &dir)]);
        let err = check(vec![theirs], &claim, true).unwrap_err().to_string();
        assert!(err.contains("cannot be read") && err.contains("not treated as gone"), "{err}");
    }
}
