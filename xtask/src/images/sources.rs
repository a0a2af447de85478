//! The Debian mirror the images are built from: read from the host's apt configuration (one-line
//! `.list` and deb822 `.sources`), or given explicitly (`--mirror`, e.g. a snapshot.debian.org URL).
//!
//! The deb822 files are read with the `deb822-fast` crate. The one-line format is read here: the
//! one crate that reads it (`apt-sources` 0.3) drops an entry followed by a comment, which apt
//! accepts; has no `Check-Valid-Until`, which an extra suite's source must say and read back;
//! rewrites URIs through `url` (`http://m` becomes `http://m/`); and brings colored, indicatif,
//! itertools and url along (measured with 0.3.1).

use std::path::Path;

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    pub signed_by: Option<String>,
    /// A testing suite's Release file on a mirror or snapshot can be past its Valid-Until date;
    /// such a source says `Check-Valid-Until: no` (only that source, not the image's others).
    pub ignore_valid_until: bool,
}

/// Entries from one `.list` file (one-line format); `deb-src` and comments are ignored.
pub fn parse_list(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        if words.next() != Some("deb") {
            continue;
        }
        let mut signed_by = None;
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            let mut opts = String::new();
            for w in words.by_ref() {
                opts.push_str(w);
                opts.push(' ');
                if w.ends_with(']') {
                    break;
                }
            }
            signed_by = opts
                .trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace())
                .split_whitespace()
                .find_map(|o| o.strip_prefix("signed-by=").map(String::from));
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(Source {
            uri: uri.to_string(),
            suites: vec![suite.to_string()],
            components: words.map(String::from).collect(),
            signed_by,
            ignore_valid_until: false,
        });
    }
    out
}

/// Stanzas from one deb822 `.sources` file; disabled stanzas and non-`deb` types are ignored, and
/// so is a file that is not deb822 (apt itself refuses it).
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let Ok(file) = text.parse::<deb822_fast::Deb822>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stanza in file.iter() {
        // apt's field names are case-insensitive; a value may continue over several lines.
        let get = |k: &str| stanza.iter().find(|(f, _)| f.eq_ignore_ascii_case(k)).map(|(_, v)| v.trim().to_string());
        let words =
            |k: &str| get(k).map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap_or_default();
        if !words("types").iter().any(|t| t == "deb") || get("enabled").is_some_and(|e| e == "no") {
            continue;
        }
        for uri in words("uris") {
            out.push(Source {
                uri,
                suites: words("suites"),
                components: words("components"),
                signed_by: get("signed-by"),
                ignore_valid_until: get("check-valid-until").is_some_and(|v| v == "no"),
            });
        }
    }
    out
}

/// Keeps the suites that belong to `suite` (bookworm, bookworm-updates, bookworm-security).
pub fn for_suite(sources: Vec<Source>, suite: &str) -> Vec<Source> {
    sources
        .into_iter()
        .filter_map(|mut s| {
            s.suites.retain(|x| x == suite || x.strip_prefix(suite).is_some_and(|rest| rest.starts_with('-')));
            (!s.suites.is_empty()).then_some(s)
        })
        .collect()
}

pub fn render_deb822(sources: &[Source]) -> String {
    let mut out = String::new();
    for s in sources {
        out.push_str(&format!(
            "Types: deb\nURIs: {}\nSuites: {}\nComponents: {}\n",
            s.uri,
            s.suites.join(" "),
            s.components.join(" ")
        ));
        if let Some(k) = &s.signed_by {
            out.push_str(&format!("Signed-By: {k}\n"));
        }
        if s.ignore_valid_until {
            out.push_str("Check-Valid-Until: no\n");
        }
        out.push('\n');
    }
    out
}

/// Every `deb` source in the host's apt configuration, in the order apt reads them.
pub fn all_from_host(etc_apt: &Path) -> Vec<Source> {
    let mut all = Vec::new();
    if let Ok(text) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        all.extend(parse_list(&text));
    }
    if let Ok(dir) = std::fs::read_dir(etc_apt.join("sources.list.d")) {
        let mut paths: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            match p.extension().and_then(|e| e.to_str()) {
                Some("list") => all.extend(parse_list(&text)),
                Some("sources") => all.extend(parse_deb822(&text)),
                _ => {}
            }
        }
    }
    all
}

/// The host's sources for `suite`, from /etc/apt.
pub fn from_host(etc_apt: &Path, suite: &str) -> Result<Vec<Source>> {
    let picked = for_suite(all_from_host(etc_apt), suite);
    if picked.is_empty() {
        bail!(
            "no apt source for Debian `{suite}` in {}: pass --mirror URL (e.g. http://deb.debian.org/debian or a snapshot.debian.org URL)",
            etc_apt.display()
        );
    }
    Ok(picked)
}

/// `--mirror URL`: the main suite and its -updates from that URL.
pub fn from_mirror(url: &str, suite: &str) -> Source {
    Source {
        uri: url.trim_end_matches('/').to_string(),
        suites: vec![suite.to_string(), format!("{suite}-updates")],
        components: vec!["main".into()],
        signed_by: None,
        ignore_valid_until: false,
    }
}

/// The apt preference that lets only exactly pinned packages come from `suite`: at priority 100
/// it never wins over the base suite's 500, but a `pkg=version` only it has still installs.
pub fn low_priority_preference(suite: &str) -> String {
    format!("Package: *\nPin: release n={suite}\nPin-Priority: 100\n")
}

/// The sources of an image's extra suite: the base suite's own archive(s) (not -updates or
/// -security, which a testing suite does not have), with that suite instead, and its Release
/// file's Valid-Until not enforced.
pub fn for_extra_suite(base: &[Source], base_suite: &str, extra: &str) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for s in base.iter().filter(|s| s.suites.iter().any(|x| x == base_suite)) {
        if out.iter().any(|o| o.uri == s.uri) {
            continue;
        }
        out.push(Source { suites: vec![extra.to_string()], ignore_valid_until: true, ..s.clone() });
    }
    out
}

/// The same archives serving `to` instead of `from`: every suite named `from` or `from-…`
/// (updates, security) renamed, so an image on a base of another suite keeps the host's
/// mirrors and keys.
pub fn renamed(sources: &[Source], from: &str, to: &str) -> Vec<Source> {
    sources
        .iter()
        .map(|s| Source {
            suites: s
                .suites
                .iter()
                .map(|x| match x.strip_prefix(from) {
                    Some(rest) if rest.is_empty() || rest.starts_with('-') => format!("{to}{rest}"),
                    _ => x.clone(),
                })
                .collect(),
            ..s.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb-src\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\n";

    #[test]
    fn deb822_stanzas_become_sources() {
        let s = parse_deb822(DEB822);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(s[0].signed_by.as_deref(), Some("/usr/share/keyrings/debian-archive-keyring.gpg"));
        assert_eq!(s[1].uri, "http://deb.debian.org/debian-security");
    }

    #[test]
    fn one_line_entries_with_options() {
        let s = parse_list("# c\ndeb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main contrib\ndeb-src http://m bookworm main\ndeb http://n/debian bookworm-updates main # tail\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].signed_by.as_deref(), Some("/k.gpg"));
        assert_eq!(s[0].components, ["main", "contrib"]);
        assert_eq!(s[1].suites, ["bookworm-updates"]);
    }

    #[test]
    fn third_party_suites_are_dropped() {
        let s = parse_list("deb https://x/apt cloud-sdk-bookworm main\ndeb https://y nodistro main\ndeb http://m bookworm main\ndeb http://m trixie main\n");
        let kept = for_suite(s, "bookworm");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].uri, "http://m");
    }

    #[test]
    fn fields_are_case_insensitive_and_values_may_continue_over_lines() {
        let s = parse_deb822(
            "# a comment\ntypes: deb\nURIs: http://a/debian\n http://b/debian\nsuites: bookworm\ncomponents: main\n\n\n\nTypes: deb\nURIs: http://c\nSuites: bookworm\nComponents: main\n",
        );
        let uris: Vec<&str> = s.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(uris, ["http://a/debian", "http://b/debian", "http://c"]);
        assert!(s.iter().all(|s| s.suites == ["bookworm"] && s.components == ["main"]));
    }

    #[test]
    fn a_file_that_is_not_deb822_yields_nothing() {
        assert!(parse_deb822("Types: deb\nnot a field\nURIs: http://m\n").is_empty());
    }

    #[test]
    fn disabled_stanzas_are_ignored() {
        assert!(
            parse_deb822("Types: deb\nURIs: http://m\nSuites: bookworm\nComponents: main\nEnabled: no\n").is_empty()
        );
    }

    #[test]
    fn rendering_round_trips() {
        let s = parse_deb822(DEB822);
        assert_eq!(parse_deb822(&render_deb822(&s)), s);
    }

    #[test]
    fn an_extra_suite_comes_from_the_base_archive_without_valid_until() {
        let base = for_suite(parse_deb822(DEB822), "bookworm");
        let extra = for_extra_suite(&base, "bookworm", "forky");
        assert_eq!(extra.len(), 1, "security has no forky: {extra:?}");
        assert_eq!(extra[0].uri, "http://deb.debian.org/debian");
        assert_eq!(extra[0].suites, ["forky"]);
        let text = render_deb822(&extra);
        assert!(text.contains("Check-Valid-Until: no"), "{text}");
        assert!(!render_deb822(&base).contains("Check-Valid-Until"));
        assert_eq!(parse_deb822(&text), extra);
        let mirror = for_extra_suite(&[from_mirror("http://snap/x/", "bookworm")], "bookworm", "forky");
        assert_eq!(
            (mirror[0].uri.as_str(), mirror[0].suites.as_slice()),
            ("http://snap/x", &["forky".to_string()][..])
        );
    }

    #[test]
    fn another_base_suite_keeps_the_archives_and_keys() {
        let base = for_suite(parse_deb822(DEB822), "bookworm");
        let t = renamed(&base, "bookworm", "trixie");
        assert_eq!(t[0].suites, ["trixie", "trixie-updates"]);
        assert_eq!(t[1].suites, ["trixie-security"]);
        assert_eq!(t[0].signed_by, base[0].signed_by);
        assert!(!t[0].ignore_valid_until, "a stable suite keeps its Valid-Until check");
    }

    #[test]
    fn an_extra_suite_only_serves_exact_pins() {
        assert_eq!(low_priority_preference("forky"), "Package: *\nPin: release n=forky\nPin-Priority: 100\n");
    }

    #[test]
    fn host_without_sources_explains_mirror() {
        let dir = tempfile::tempdir().unwrap();
        let err = from_host(dir.path(), "bookworm").unwrap_err().to_string();
        assert!(err.contains("--mirror"), "{err}");
    }
}
