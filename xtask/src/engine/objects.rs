//! Containers, networks and volumes with their labels, found by exact name or by exact label.
//!
//! Whatever the tool removes is chosen here, so the engine's `--filter label=k=v` only narrows the
//! list: podman matches *every* object for an empty value, and a filter is not a comparison. Each
//! candidate's labels are read back and compared exactly before it is returned.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use xshell::Shell;

use super::{lines, parse_inspect, Engine};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Network,
    Volume,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Network => "network",
            Kind::Volume => "volume",
        }
    }
}

/// One engine object and its labels. `id` is the engine's id (volumes have none: their name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub kind: Kind,
    pub name: String,
    pub id: String,
    pub labels: BTreeMap<String, String>,
}

impl Object {
    pub fn label(&self, key: &str) -> &str {
        self.labels.get(key).map(String::as_str).unwrap_or("")
    }
}

/// `ID<TAB>NAME<TAB>{labels JSON}` lines, as the network and volume inspect formats print them.
pub fn parse_lines(kind: Kind, out: &str) -> Vec<Object> {
    lines(out)
        .into_iter()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            let (id, name, labels) = (f.next()?, f.next()?, f.next().unwrap_or("null"));
            let labels: BTreeMap<String, String> =
                serde_json::from_str::<Option<BTreeMap<String, String>>>(labels).ok().flatten().unwrap_or_default();
            Some(Object { kind, name: name.to_string(), id: id.to_string(), labels })
        })
        .collect()
}

/// Keeps the objects whose label `key` is exactly `value`.
pub fn exactly(objects: Vec<Object>, key: &str, value: &str) -> Vec<Object> {
    objects.into_iter().filter(|o| o.labels.get(key).is_some_and(|v| v == value)).collect()
}

impl Engine {
    /// The objects of `kind` among `names_or_ids` that exist (missing ones are skipped).
    pub fn objects(&self, sh: &Shell, kind: Kind, names_or_ids: &[String]) -> Result<Vec<Object>> {
        if names_or_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = names_or_ids.iter().map(String::as_str).collect();
        // Both engines print the found ones and exit non-zero when any is missing.
        let out = match kind {
            Kind::Container => {
                let mut args = vec!["container", "inspect"];
                args.extend(&ids);
                let out = self.raw(sh, &args)?;
                if out.stdout.trim().is_empty() {
                    return Ok(Vec::new());
                }
                return Ok(parse_inspect(&out.stdout)?
                    .into_iter()
                    .map(|c| Object { kind, name: c.name, id: c.id, labels: c.labels })
                    .collect());
            }
            Kind::Network => {
                let mut args = vec!["network", "inspect", "--format", "{{.ID}}\t{{.Name}}\t{{json .Labels}}"];
                args.extend(&ids);
                self.raw(sh, &args)?
            }
            Kind::Volume => {
                let mut args = vec!["volume", "inspect", "--format", "{{.Name}}\t{{.Name}}\t{{json .Labels}}"];
                args.extend(&ids);
                self.raw(sh, &args)?
            }
        };
        Ok(parse_lines(kind, &out.stdout))
    }

    /// The objects of `kind` whose label `key` is exactly `value` (never empty: refused).
    pub fn objects_labelled(&self, sh: &Shell, kind: Kind, key: &str, value: &str) -> Result<Vec<Object>> {
        let listed = self.labelled_ids(sh, kind, key, value)?;
        Ok(exactly(self.objects(sh, kind, &listed)?, key, value))
    }

    /// The ids (volumes: names) the engine lists for the label filter `key=value`: candidates
    /// only, whose labels the caller must read back and compare.
    pub fn labelled_ids(&self, sh: &Shell, kind: Kind, key: &str, value: &str) -> Result<Vec<String>> {
        if value.is_empty() || key.is_empty() {
            bail!(
                "refusing to select {}s by an empty label (`{key}={value}`): it would match everything",
                kind.as_str()
            );
        }
        let filter = format!("label={key}={value}");
        let listed = match kind {
            Kind::Container => self.checked(sh, &["ps", "--all", "--filter", &filter, "--format", "{{.ID}}"])?,
            Kind::Network => self.checked(sh, &["network", "ls", "--filter", &filter, "--format", "{{.ID}}"])?,
            Kind::Volume => self.checked(sh, &["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"])?,
        };
        Ok(lines(&listed))
    }

    /// Removes `objects` (by id, so two networks of one name are both found and removed).
    pub fn remove_objects(&self, sh: &Shell, objects: &[Object]) -> Result<()> {
        for kind in [Kind::Container, Kind::Network, Kind::Volume] {
            let ids: Vec<String> = objects.iter().filter(|o| o.kind == kind).map(|o| o.id.clone()).collect();
            match kind {
                Kind::Container => self.remove_containers(sh, &ids)?,
                Kind::Network => {
                    for id in &ids {
                        self.network_rm(sh, id)?;
                    }
                }
                Kind::Volume => self.volume_rm(sh, &ids)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_lines_parse_with_and_without_labels() {
        let out = "abc\tts\t{\"io.trust-sandbox.instance\":\"ts\"}\ndef\tother\tnull\nghi\tthird\t{}\n";
        let o = parse_lines(Kind::Network, out);
        assert_eq!(o.len(), 3);
        assert_eq!(o[0].label("io.trust-sandbox.instance"), "ts");
        assert!(o[1].labels.is_empty() && o[2].labels.is_empty());
        assert_eq!((o[0].id.as_str(), o[0].name.as_str()), ("abc", "ts"));
    }

    #[test]
    fn only_the_exact_label_value_is_kept() {
        let mk = |name: &str, v: Option<&str>| Object {
            kind: Kind::Volume,
            name: name.into(),
            id: name.into(),
            labels: v.map(|v| [("k".to_string(), v.to_string())].into()).unwrap_or_default(),
        };
        let all =
            vec![mk("a", Some("ts")), mk("b", Some("ts2")), mk("c", Some("")), mk("d", None), mk("e", Some("TS"))];
        let kept: Vec<String> = exactly(all, "k", "ts").into_iter().map(|o| o.name).collect();
        assert_eq!(kept, ["a"]);
    }
}
