//! A sandbox belongs to exactly one state directory. Everything the tool creates carries the
//! sandbox's name, its id and the path of the state directory that created it; before a command
//! changes anything it reads those labels back from every object named like the sandbox's (and
//! every object labelled with its name) and refuses when one belongs to another state. So a second
//! state root (another `TRUST_SANDBOX_STATE`, a lost `HOME`) can neither take over a running
//! sandbox with new secrets nor destroy its trust data.

use std::path::Path;

use anyhow::{bail, Result};
use xshell::Shell;

use super::spec::Spec;
use super::{LABEL_ID, LABEL_INSTANCE, LABEL_STATE};
use crate::engine::objects::{Kind, Object};
use crate::engine::Engine;

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
}

/// This command's side: the sandbox name, and this state's id and directory if it has one.
pub struct Claim<'a> {
    pub name: &'a str,
    pub id: Option<&'a str>,
    pub dir: &'a Path,
}

pub fn owner(o: &Object, claim: &Claim<'_>, state_holds: impl Fn(&str, &str) -> bool) -> Owner {
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
    if state_holds(dir, id) {
        Owner::Other(format!("the state directory {dir} (sandbox id {id})"))
    } else {
        Owner::Gone(format!("the state directory {dir} (sandbox id {id}), which no longer exists"))
    }
}

/// Does `state_dir` hold a sandbox state with this id?
pub fn state_holds(state_dir: &str, id: &str) -> bool {
    std::fs::read_to_string(Path::new(state_dir).join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["id"] == id)
}

/// Every object on `engine` named as sandbox `name`'s would be, plus (with `labelled`) every
/// object labelled with its name: what `up` would reuse and what `down`/`destroy` would remove.
pub fn survey(sh: &Shell, engine: &Engine, spec: &Spec, name: &str, labelled: bool) -> Result<Vec<Object>> {
    survey_kinds(sh, engine, spec, name, labelled, &[Kind::Container, Kind::Network, Kind::Volume])
}

/// [`survey`] for some kinds only (`down` leaves volumes alone, so it does not look for them).
/// Each kind costs one engine call by name, or with `labelled` two (the labelled ones listed, then
/// read back together with the named ones), and the kinds are asked side by side, each on a shell
/// of its own (a `Shell` is not shared between threads): `down` waits for the slowest only.
pub fn survey_kinds(
    _sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    name: &str,
    labelled: bool,
    kinds: &[Kind],
) -> Result<Vec<Object>> {
    let names_of = |kind: Kind| -> Vec<String> {
        match kind {
            Kind::Container => spec.services.iter().map(|s| format!("{name}-{}", s.name)).collect(),
            Kind::Network => vec![name.to_string()],
            Kind::Volume => {
                spec.services.iter().flat_map(|s| s.volumes.iter().map(|v| format!("{name}-{}", v.name))).collect()
            }
        }
    };
    let lookup = |kind: Kind| -> Result<Vec<Object>> {
        let sh = Shell::new()?;
        let named = names_of(kind);
        let listed = if labelled { engine.labelled_ids(&sh, kind, LABEL_INSTANCE, name)? } else { Vec::new() };
        let mut ask = named.clone();
        ask.extend(listed.iter().filter(|id| !named.contains(id)).cloned());
        let found = engine.objects(&sh, kind, &ask)?;
        // Named ones whatever their labels (a squatter is refused); listed ones only if the label
        // read back is exactly ours (the engine's filter only narrows).
        Ok(found
            .into_iter()
            .filter(|o| named.contains(&o.name) || o.labels.get(LABEL_INSTANCE).is_some_and(|v| v == name))
            .collect())
    };
    let results: Vec<Result<Vec<Object>>> = std::thread::scope(|s| {
        let asks: Vec<_> = kinds.iter().map(|&kind| s.spawn(move || lookup(kind))).collect();
        asks.into_iter().map(|a| a.join().expect("an engine lookup does not panic")).collect()
    });
    let mut found = Vec::new();
    for r in results {
        found.extend(r?);
    }
    let mut seen = std::collections::BTreeSet::new();
    found.retain(|o| seen.insert((o.kind.as_str(), o.id.clone())));
    Ok(found)
}

/// Refuses if any object belongs to another state directory (or, unless `orphans_ok`, to one
/// that is gone); otherwise returns the objects this command may act on (ours, and the orphans).
pub fn check(objects: Vec<Object>, claim: &Claim<'_>, orphans_ok: bool) -> Result<Vec<Object>> {
    let mut mine = Vec::new();
    for o in objects {
        match owner(&o, claim, state_holds) {
            Owner::Us => mine.push(o),
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
        let alive = |_: &str, _: &str| true;
        let gone = |_: &str, _: &str| false;
        let ours = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "aaa"), (LABEL_STATE, "/s/ts")]);
        assert_eq!(owner(&ours, &claim, alive), Owner::Us);
        let theirs = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "bbb"), (LABEL_STATE, "/other/ts")]);
        assert!(matches!(owner(&theirs, &claim, alive), Owner::Other(w) if w.contains("/other/ts")));
        assert!(matches!(owner(&theirs, &claim, gone), Owner::Gone(_)));
        let unlabelled = obj(&[]);
        assert!(matches!(owner(&unlabelled, &claim, gone), Owner::Other(_)));
        let legacy = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "bbb")]);
        assert!(matches!(owner(&legacy, &claim, gone), Owner::Other(_)), "no state label: never an orphan");
        let no_state = Claim { name: "ts", id: None, dir: Path::new("/s/ts") };
        assert!(matches!(owner(&ours, &no_state, alive), Owner::Other(_)), "a state-less command owns nothing");
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
        let orphan = obj(&[(LABEL_INSTANCE, "ts"), (LABEL_ID, "ccc"), (LABEL_STATE, "/gone/ts")]);
        assert_eq!(check(vec![orphan.clone()], &claim, true).unwrap().len(), 1);
        assert!(check(vec![orphan], &claim, false).unwrap_err().to_string().contains("destroy"));
    }
}
