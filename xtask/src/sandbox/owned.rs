//! The one rule for removing by name, the same for the services' containers, the signers container
//! and a scenario's own containers: an object goes only if it carries this sandbox's id and state
//! directory labels. A name alone proves nothing (another sandbox, or something that is not ours at
//! all, may hold it), so any other object of that name is refused, named, and not touched; and
//! what does go is removed by its id, so an object created under the name meanwhile is not hit.

use anyhow::{bail, Result};
use xshell::Shell;

use super::{Sandbox, LABEL_ID, LABEL_INSTANCE, LABEL_STATE};
use crate::engine::objects::{Kind, Object};

impl Sandbox {
    /// Does `o` carry this sandbox's id and state directory?
    pub fn owns(&self, o: &Object) -> bool {
        owned_by(o, &self.name, &self.state.id, &self.dir.path.display().to_string())
    }

    /// Removes the containers among `names` that exist, after checking that every one of them is
    /// this sandbox's; if one is not, nothing is removed and the error names it and its owner.
    pub fn remove_own_containers(&self, sh: &Shell, names: &[String]) -> Result<()> {
        let found = self.engine.objects(sh, Kind::Container, names)?;
        if let Some(o) = found.iter().find(|o| !self.owns(o)) {
            bail!(
                "container `{}` is not this sandbox's ({}): it was not removed, and nothing else was. Remove or rename it yourself if it is yours to remove",
                o.name,
                describe_owner(o)
            );
        }
        self.engine.remove_objects(sh, &found)
    }
}

/// The rule itself: this sandbox's id, and its state directory. An object made before objects
/// carried their state directory (no such label at all) is this sandbox's if its name label and
/// id are: the id is random per state directory. One that names another state directory is not,
/// whatever its id (a copied state).
pub fn owned_by(o: &Object, name: &str, id: &str, state_dir: &str) -> bool {
    let state_matches = match o.labels.get(LABEL_STATE) {
        Some(dir) => dir == state_dir,
        None => o.label(LABEL_INSTANCE) == name,
    };
    !id.is_empty() && o.label(LABEL_ID) == id && state_matches
}

/// Whose an object is, as far as its labels tell.
fn describe_owner(o: &Object) -> String {
    match (o.label(LABEL_INSTANCE), o.label(LABEL_STATE)) {
        ("", _) => "it carries no trust-sandbox labels".to_string(),
        (name, "") => format!("it belongs to sandbox `{name}`, id {}", o.label(LABEL_ID)),
        (name, dir) => format!("it belongs to sandbox `{name}` of the state directory {dir}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(labels: &[(&str, &str)]) -> Object {
        Object {
            kind: Kind::Container,
            name: "v-x-db".into(),
            id: "c0ffee".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn only_the_sandboxs_id_and_state_directory_make_an_object_its_own() {
        let ours = container(&[(LABEL_INSTANCE, "v"), (LABEL_ID, "aaa"), (LABEL_STATE, "/s/v")]);
        assert!(owned_by(&ours, "v", "aaa", "/s/v"));
        // The bystander: sandbox `v-x`'s database, which `v`'s scenario once removed.
        let bystander = container(&[(LABEL_INSTANCE, "v-x"), (LABEL_ID, "bbb"), (LABEL_STATE, "/s/v-x")]);
        assert!(!owned_by(&bystander, "v", "aaa", "/s/v"));
        assert!(describe_owner(&bystander).contains("sandbox `v-x`"));
        let same_id_other_root = container(&[(LABEL_INSTANCE, "v"), (LABEL_ID, "aaa"), (LABEL_STATE, "/t/v")]);
        assert!(!owned_by(&same_id_other_root, "v", "aaa", "/s/v"));
        // Made before the state label existed: this name and this state's random id.
        let legacy = container(&[(LABEL_INSTANCE, "v"), (LABEL_ID, "aaa")]);
        assert!(owned_by(&legacy, "v", "aaa", "/s/v"));
        assert!(!owned_by(&legacy, "w", "aaa", "/s/w"), "another name");
        let unlabelled = container(&[]);
        assert!(!owned_by(&unlabelled, "v", "aaa", "/s/v"));
        assert!(!owned_by(&unlabelled, "", "", ""), "an empty id owns nothing");
        assert!(describe_owner(&unlabelled).contains("no trust-sandbox labels"));
    }
}
