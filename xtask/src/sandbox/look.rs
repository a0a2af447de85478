//! What `up` asks the engine before it changes anything, and what it then goes by.
//!
//! Every question is asked side by side: on podman 4.3 each engine call costs 0.1–0.4 s on a busy
//! machine, and ten of them one after another (ownership, ports, images, network, volumes,
//! retired services, the containers' states) made a warm `up` 1.3× the plain commands. One
//! `inspect` per kind answers the ownership check, the ports check (whose containers run), the
//! network's and volumes' existence and the containers' states; one `ps` lists what carries this
//! state's id (a retired service's container); one `image inspect` says whether the images are
//! all there.

use std::collections::BTreeMap;

use anyhow::Result;
use xshell::Shell;

use super::{ownership, UpOptions, LABEL_ID};
use crate::engine::objects::{Kind, Object};
use crate::engine::{ContainerState, Engine};
use crate::images;
use crate::table::Spec;

pub struct Look {
    pub survey: ownership::Survey,
    /// Ids of the containers labelled with this state's id (none for a new sandbox).
    pub listed: Vec<String>,
    /// The image references, when the engine holds them all (else `images::ensure` has work).
    pub images: Option<BTreeMap<String, String>>,
}

impl Look {
    /// `id`: the state's, if it exists.
    pub fn take(engine: &Engine, spec: &Spec, name: &str, id: Option<&str>, opts: &UpOptions) -> Result<Look> {
        let kinds = [Kind::Container, Kind::Network, Kind::Volume];
        std::thread::scope(|s| {
            let listed = s.spawn(|| match id {
                Some(id) => engine.labelled_ids(&Shell::new()?, Kind::Container, LABEL_ID, id),
                None => Ok(Vec::new()),
            });
            let images = s.spawn(|| images::held(&Shell::new()?, engine, spec, opts.images, &opts.image_opts));
            // By name only: that is what `up` creates or reuses (and it keeps a warm `up` cheap).
            let survey = ownership::survey_states(engine, spec, name, false, &kinds)?;
            let listed = listed.join().expect("an engine call does not panic")?;
            let images = images.join().expect("an engine call does not panic")?;
            Ok(Look { survey, listed, images })
        })
    }
}

/// What the look found, as `up` starts from it: this state's objects (ownership checked), the
/// states of the containers of the sandbox's names, and the ids labelled with this state's id.
pub struct Found {
    pub objects: Vec<Object>,
    pub containers: Vec<ContainerState>,
    pub listed: Vec<String>,
}

impl Found {
    pub fn has(&self, kind: Kind, name: &str) -> bool {
        self.objects.iter().any(|o| o.kind == kind && o.name == name)
    }

    /// The listed ids whose containers the look did not read (`ps` prints short ids).
    pub fn unread(&self) -> Vec<String> {
        self.listed
            .iter()
            .filter(|id| !self.containers.iter().any(|c| c.id.starts_with(id.as_str())))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_containers_the_look_did_not_read_are_read_again() {
        let c = |id: &str| ContainerState { id: id.into(), ..Default::default() };
        let found = Found {
            objects: vec![Object {
                kind: Kind::Network,
                name: "ts".into(),
                id: "n1".into(),
                labels: Default::default(),
            }],
            containers: vec![c("0123456789abcdef"), c("fedcba9876543210")],
            listed: vec!["0123456789ab".into(), "5555aaaa5555".into()],
        };
        assert_eq!(found.unread(), ["5555aaaa5555"]);
        assert!(found.has(Kind::Network, "ts"));
        assert!(!found.has(Kind::Volume, "ts"), "a name of another kind");
    }
}
