//! The start order the service table implies: each service's `after` names what must be ready
//! before it starts, so the services fall into waves (db, registry and client; then the signer;
//! then the server). `sandbox::waves` runs them; the exports turn the same lists into Compose's
//! `depends_on` and the pod's port waits.

use anyhow::{bail, Result};

use super::{Service, Spec};

/// The waves: each holds, in table order, the services whose `after` all lie in earlier waves.
/// Refuses a table whose `after` names an unknown service or goes round in a circle.
pub fn plan(spec: &Spec) -> Result<Vec<Vec<&Service>>> {
    for s in &spec.services {
        for a in &s.after {
            if a == &s.name {
                bail!("service `{}` waits for itself (`after`)", s.name);
            }
            if !spec.services.iter().any(|o| &o.name == a) {
                bail!("service `{}` waits for `{a}`, which is no service of the table", s.name);
            }
        }
    }
    let mut placed: Vec<&str> = Vec::new();
    let mut waves = Vec::new();
    while placed.len() < spec.services.len() {
        let wave: Vec<&Service> = spec
            .services
            .iter()
            .filter(|s| !placed.contains(&s.name.as_str()) && s.after.iter().all(|a| placed.contains(&a.as_str())))
            .collect();
        if wave.is_empty() {
            let stuck: Vec<&str> =
                spec.services.iter().map(|s| s.name.as_str()).filter(|n| !placed.contains(n)).collect();
            bail!("the services {} wait for each other (`after` goes round in a circle)", stuck.join(", "));
        }
        placed.extend(wave.iter().map(|s| s.name.as_str()));
        waves.push(wave);
    }
    Ok(waves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(after: &[(&str, &[&str])]) -> Spec {
        let mut spec = crate::table::load().unwrap();
        for s in &mut spec.services {
            s.after = after
                .iter()
                .find(|(n, _)| *n == s.name)
                .map(|(_, a)| a.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default();
        }
        spec
    }

    fn names(waves: &[Vec<&Service>]) -> Vec<Vec<String>> {
        waves.iter().map(|w| w.iter().map(|s| s.name.clone()).collect()).collect()
    }

    #[test]
    fn the_table_starts_in_three_waves() {
        let spec = crate::table::load().unwrap();
        assert_eq!(
            names(&plan(&spec).unwrap()),
            [vec!["db", "registry", "client"], vec!["notarysigner"], vec!["notaryserver"]]
        );
    }

    #[test]
    fn waves_follow_the_data() {
        // Make the client wait for the server: it moves to a fourth wave.
        let spec =
            spec_with(&[("notarysigner", &["db"]), ("notaryserver", &["notarysigner"]), ("client", &["notaryserver"])]);
        assert_eq!(
            names(&plan(&spec).unwrap()),
            [vec!["db", "registry"], vec!["notarysigner"], vec!["notaryserver"], vec!["client"]]
        );
        assert_eq!(names(&plan(&spec_with(&[])).unwrap()).len(), 1, "nothing waits: one wave");
    }

    #[test]
    fn bad_after_lists_are_refused() {
        let cycle =
            spec_with(&[("db", &["notaryserver"]), ("notarysigner", &["db"]), ("notaryserver", &["notarysigner"])]);
        let err = plan(&cycle).unwrap_err().to_string();
        assert!(err.contains("round in a circle") && err.contains("db, notarysigner, notaryserver"), "{err}");
        let unknown = spec_with(&[("db", &["mysql"])]);
        assert!(plan(&unknown).unwrap_err().to_string().contains("`mysql`, which is no service"));
        let own = spec_with(&[("db", &["db"])]);
        assert!(plan(&own).unwrap_err().to_string().contains("waits for itself"));
    }
}
