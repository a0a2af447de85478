//! A repository's trust data as people look at it: each role with its version, expiry, keys (and
//! who holds them), delegations and signed tags; compared, role by role, with a second source
//! (the server against a client's cache, or a cache against the server). Built from raw metadata
//! files, so the same code serves the server's stored files and any client's cache. `trust show
//! --json` prints it; the terminal tree and the HTML pages render it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tuf::{self, Key, Signed};

/// Consumers should check it: fields may be added within v1, never removed or changed in meaning.
pub const SCHEMA: &str = "trust-sandbox/trust-view/v1";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrustView {
    pub schema: String,
    /// The GUN: `sandboxregistry:5000/<repository>`.
    pub repository: String,
    /// Where the metadata shown comes from.
    pub source: Source,
    /// RFC 3339 UTC; relative expiries are counted from here.
    pub taken_at: String,
    /// What each role's version is compared with, if that side has any trust data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<Source>,
    /// Why nothing is compared, when nothing is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_note: Option<String>,
    /// Root, targets and its delegations (depth first), snapshot, timestamp.
    pub roles: Vec<RoleView>,
    /// What a notary client says about this data when it updates.
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// The Notary server's stored metadata (its database's newest row of each role).
    Server,
    /// A client's local TUF cache; `identity` is a second client identity, none the default client.
    Cache {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::Server => "the Notary server".into(),
            Source::Cache { identity: None } => "the client's cache".into(),
            Source::Cache { identity: Some(id) } => format!("{id}'s cache"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RoleView {
    /// `root`, `targets`, `snapshot`, `timestamp`, or a delegation such as `targets/releases`.
    pub name: String,
    /// The role that delegates to this one (delegations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// False for a delegation's file that its parent no longer lists: its signatures count for nothing.
    pub delegated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// RFC 3339, as the metadata says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// "expires in 13 days", "expired 2 days ago".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    pub expired: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// The keys whose signatures count for this role (from root, or from the delegating role).
    pub keys: Vec<KeyView>,
    /// Key IDs of the signatures on this role's file.
    pub signed_by: Vec<String>,
    /// Paths a delegation may sign (`""` is every path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Targets roles: the signed tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Hex SHA-256 of the file as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// No file, an unreadable one, or one too large to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<Comparison>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct KeyView {
    pub id: String,
    pub keytype: String,
    /// Where the private half is; empty when it is nowhere in this sandbox.
    pub held_by: Vec<Holder>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(tag = "place", rename_all = "kebab-case")]
pub enum Holder {
    /// A client's private key directory (`~/.docker/trust/private`); `identity` a second identity.
    Client {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
    /// notary-signer's database: the keys the server signs with (timestamp, and snapshot when
    /// the server manages it).
    Signer,
}

impl Holder {
    pub fn label(&self) -> String {
        match self {
            Holder::Client { identity: None } => "the client".into(),
            Holder::Client { identity: Some(id) } => format!("{id}'s client"),
            Holder::Signer => "the server (notary-signer)".into(),
        }
    }
}

/// Where one private key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolding {
    pub key_id: String,
    pub holder: Holder,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TagView {
    pub name: String,
    /// `sha256:<hex>` of the signed manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub length: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareState {
    /// Byte for byte the same file.
    Same,
    /// This side's version is lower than the other's (a stale cache; or a server rolled back).
    Older,
    Newer,
    /// Same version, other content (a replaced file, or a repository re-created from scratch).
    Differs,
    /// The other side has no file for this role.
    Absent,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Comparison {
    pub state: CompareState,
    /// The other side's version of this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Root only, when the two roots differ: whether the newer one is signed by a key of the
    /// older one (a rotation a client follows) or not (a root a client that holds the older refuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_keys: Option<RootLink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootLink {
    SameKeys,
    /// The newer root carries a signature by a key of the older root.
    CrossSigned,
    /// No key of the older root signed the newer one.
    Unrelated,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Check {
    /// Whose update this is: "a first-time client", "bob's next update".
    pub who: String,
    pub ok: bool,
    /// The client's last line when it refused; what it found when it accepted.
    pub message: String,
}

impl Check {
    /// "accepts it" or "refuses it".
    pub fn verb(&self) -> &'static str {
        if self.ok {
            "accepts it"
        } else {
            "refuses it"
        }
    }
}

/// One metadata file as fetched: its bytes (empty when too large to fetch), its real length and,
/// when the source knows it without parsing (the server's database), its version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFile {
    pub bytes: Vec<u8>,
    pub length: u64,
    pub version: Option<u64>,
}

impl RawFile {
    #[cfg(test)]
    pub fn new(bytes: Vec<u8>) -> RawFile {
        RawFile { length: bytes.len() as u64, bytes, version: None }
    }

    fn sha256(&self) -> Option<String> {
        (self.bytes.len() as u64 == self.length).then(|| crate::util::hex(&Sha256::digest(&self.bytes)))
    }

    fn version(&self, role: &str) -> Option<u64> {
        self.version.or_else(|| tuf::parse(role, &self.bytes).ok().map(|f| f.signed.version))
    }
}

/// Role name → file.
pub type Files = BTreeMap<String, RawFile>;

/// The view of `files` from `source`, keys matched with where their private halves are.
pub fn build(
    repository: &str,
    source: Source,
    files: &Files,
    holdings: &[KeyHolding],
    now: time::OffsetDateTime,
) -> TrustView {
    let parsed: BTreeMap<&str, Result<Signed, String>> = files
        .iter()
        .map(|(role, f)| {
            let parsed = if f.bytes.len() as u64 != f.length {
                Err(format!("{} bytes: too large to read", f.length))
            } else {
                tuf::parse(role, &f.bytes).map_err(|e| format!("{e:#}"))
            };
            (role.as_str(), parsed)
        })
        .collect();
    let ctx = Ctx { files, parsed: &parsed, holdings, now };
    let root = parsed.get(tuf::ROOT).and_then(|r| r.as_ref().ok());
    let mut roles = Vec::new();
    for name in tuf::TOP_ROLES {
        let spec = root.and_then(|r| {
            let keys = r.signed.roles.get(name)?;
            let ids = keys.keyids.clone().unwrap_or_default();
            Some(KeySpec { keys: pick(&r.signed.keys, &ids), threshold: keys.threshold, paths: None })
        });
        roles.push(ctx.role(name, None, true, spec.as_ref()));
        if name == tuf::TARGETS {
            ctx.delegations(tuf::TARGETS, &mut roles);
        }
    }
    // Delegation files no role delegates to (any more): shown, marked, after the ones that count.
    let targets_at = roles.iter().rposition(|r| r.name == tuf::TARGETS || r.parent.is_some()).unwrap_or(0);
    let orphans: Vec<RoleView> = files
        .keys()
        .filter(|n| n.starts_with("targets/") && !roles.iter().any(|r| &r.name == *n))
        .map(|n| {
            let parent = n.rsplit_once('/').map(|(p, _)| p.to_string());
            ctx.role(n, parent, false, None)
        })
        .collect();
    roles.splice(targets_at + 1..targets_at + 1, orphans);
    TrustView {
        schema: SCHEMA.into(),
        repository: repository.into(),
        source,
        taken_at: now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        compared_with: None,
        compare_note: None,
        roles,
        checks: Vec::new(),
    }
}

/// Marks each role of `view` against `other` (the same repository from another source).
pub fn compare(view: &mut TrustView, other_source: Source, other: &Files) {
    for role in &mut view.roles {
        let state = match other.get(&role.name) {
            None => Comparison { state: CompareState::Absent, version: None, root_keys: None },
            Some(o) => {
                let theirs = o.version(&role.name);
                let state = match (role.version, theirs) {
                    _ if role.sha256.is_some() && role.sha256 == o.sha256() => CompareState::Same,
                    (Some(a), Some(b)) if a < b => CompareState::Older,
                    (Some(a), Some(b)) if a > b => CompareState::Newer,
                    _ => CompareState::Differs,
                };
                let root_keys =
                    (role.name == tuf::ROOT && state != CompareState::Same).then(|| root_link(role, o)).flatten();
                Comparison { state, version: theirs, root_keys }
            }
        };
        if role.problem.as_deref() == Some(NO_FILE) && state.state == CompareState::Absent {
            continue;
        }
        role.compare = Some(state);
    }
    view.compared_with = Some(other_source);
}

/// How this side's root relates to the other's: the newer of the two must carry a signature by
/// a key of the older one for a client holding the older to accept it.
fn root_link(mine: &RoleView, other: &RawFile) -> Option<RootLink> {
    let theirs = tuf::parse(tuf::ROOT, &other.bytes).ok()?;
    let their_keys: Vec<String> = theirs.signed.roles.get(tuf::ROOT)?.keyids.clone().unwrap_or_default();
    let their_sigs: Vec<String> = theirs.signatures.iter().map(|s| s.keyid.clone()).collect();
    let my_keys: Vec<String> = mine.keys.iter().map(|k| k.id.clone()).collect();
    let same = |a: &[String], b: &[String]| a.iter().all(|k| b.contains(k)) && b.iter().all(|k| a.contains(k));
    if same(&my_keys, &their_keys) {
        return Some(RootLink::SameKeys);
    }
    let (older_keys, newer_sigs) = if mine.version.unwrap_or(0) <= theirs.signed.version {
        (&my_keys, &their_sigs)
    } else {
        (&their_keys, &mine.signed_by)
    };
    Some(if newer_sigs.iter().any(|s| older_keys.contains(s)) { RootLink::CrossSigned } else { RootLink::Unrelated })
}

const NO_FILE: &str = "no metadata for this role";

struct KeySpec {
    keys: Vec<(String, Option<Key>)>,
    threshold: u32,
    paths: Option<Vec<String>>,
}

fn pick(keys: &BTreeMap<String, Key>, ids: &[String]) -> Vec<(String, Option<Key>)> {
    ids.iter().map(|id| (id.clone(), keys.get(id).cloned())).collect()
}

struct Ctx<'a> {
    files: &'a Files,
    parsed: &'a BTreeMap<&'a str, Result<Signed, String>>,
    holdings: &'a [KeyHolding],
    now: time::OffsetDateTime,
}

impl Ctx<'_> {
    /// The roles `parent`'s file delegates to, each followed by its own delegations.
    fn delegations(&self, parent: &str, out: &mut Vec<RoleView>) {
        let Some(Ok(file)) = self.parsed.get(parent) else { return };
        let Some(d) = &file.signed.delegations else { return };
        for r in &d.roles {
            if out.iter().any(|v| v.name == r.name) {
                continue; // a delegation cycle: each role once
            }
            let ids = r.keyids.clone().unwrap_or_default();
            let spec = KeySpec { keys: pick(&d.keys, &ids), threshold: r.threshold, paths: r.paths.clone() };
            out.push(self.role(&r.name, Some(parent.to_string()), true, Some(&spec)));
            self.delegations(&r.name, out);
        }
    }

    fn role(&self, name: &str, parent: Option<String>, delegated: bool, spec: Option<&KeySpec>) -> RoleView {
        let file = self.files.get(name);
        let parsed = self.parsed.get(name);
        let mut v = RoleView {
            name: name.into(),
            parent,
            delegated,
            version: file.and_then(|f| f.version),
            expires: None,
            expiry: None,
            expired: false,
            threshold: spec.map(|s| s.threshold),
            keys: spec.map(|s| s.keys.iter().map(|(id, k)| self.key(id, k.as_ref())).collect()).unwrap_or_default(),
            signed_by: Vec::new(),
            paths: spec.and_then(|s| s.paths.clone()),
            tags: Vec::new(),
            length: file.map(|f| f.length),
            sha256: file.and_then(RawFile::sha256),
            problem: None,
            compare: None,
        };
        match parsed {
            None => v.problem = Some(NO_FILE.into()),
            Some(Err(e)) => v.problem = Some(e.clone()),
            Some(Ok(f)) => {
                v.version = Some(f.signed.version);
                v.expires = Some(f.signed.expires.clone());
                match tuf::parse_time(&f.signed.expires) {
                    Ok(t) => {
                        let (text, expired) = super::expiry::relative_expiry(t, self.now);
                        v.expiry = Some(text);
                        v.expired = expired;
                    }
                    Err(e) => v.problem = Some(format!("{e:#}")),
                }
                v.signed_by = f.signatures.iter().map(|s| s.keyid.clone()).collect();
                v.tags = f
                    .signed
                    .targets
                    .iter()
                    .map(|(name, m)| TagView { name: name.clone(), digest: m.digest(), length: m.length })
                    .collect();
            }
        }
        v
    }

    fn key(&self, id: &str, key: Option<&Key>) -> KeyView {
        let ids = key.map(|k| tuf::key_ids(id, k)).unwrap_or_else(|| vec![id.to_string()]);
        let mut held_by: Vec<Holder> =
            self.holdings.iter().filter(|h| ids.contains(&h.key_id)).map(|h| h.holder.clone()).collect();
        held_by.sort();
        held_by.dedup();
        KeyView { id: id.into(), keytype: key.map(|k| k.keytype.clone()).unwrap_or_else(|| "unknown".into()), held_by }
    }
}

/// What a step did to each role: `new`, `removed`, or `v3 → v4` (or `rewritten` at the same
/// version, `keys changed`, `no longer delegated`). Roles it left alone are not listed.
pub fn changes(before: &TrustView, after: &TrustView) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let keys = |r: &RoleView| r.keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
    for a in &after.roles {
        let Some(b) = before.roles.iter().find(|b| b.name == a.name) else {
            out.insert(a.name.clone(), "new".to_string());
            continue;
        };
        let what = if b.sha256.is_none() && a.sha256.is_some() {
            "new".to_string()
        } else if b.version != a.version {
            let v = |r: &RoleView| r.version.map_or("none".into(), |v| format!("v{v}"));
            format!("{} → {}", v(b), v(a))
        } else if b.sha256 != a.sha256 {
            "rewritten at the same version".into()
        } else if keys(b) != keys(a) {
            "keys changed".into()
        } else if b.delegated && !a.delegated {
            "no longer delegated".into()
        } else {
            continue;
        };
        out.insert(a.name.clone(), what);
    }
    for b in before.roles.iter().filter(|b| !after.roles.iter().any(|a| a.name == b.name)) {
        out.insert(b.name.clone(), "removed".to_string());
    }
    out
}

/// Twelve hex digits, as notary and `docker trust inspect` abbreviate key IDs.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// `sha256:` and twelve hex digits.
pub fn short_digest(d: &str) -> &str {
    d.get(..19).unwrap_or(d)
}

impl RoleView {
    /// "v4 · expires in 13 days (2026-12-21) · threshold 1", or what is wrong.
    pub fn headline(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.version {
            parts.push(format!("v{v}"));
        }
        if let (Some(text), Some(at)) = (&self.expiry, &self.expires) {
            parts.push(format!("{text} ({})", at.get(..10).unwrap_or(at)));
        }
        if let Some(t) = self.threshold {
            parts.push(format!("threshold {t}"));
        }
        if let Some(p) = &self.problem {
            parts.push(p.clone());
        }
        parts.join(" · ")
    }

    /// Whether the keys that count could sign anything: a role with no keys, or fewer than its
    /// threshold, vouches for nothing.
    pub fn keyless(&self) -> bool {
        self.threshold.is_some_and(|t| self.keys.len() < t as usize)
    }

    /// The role's notes: not delegated any more, no keys, expired.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.delegated {
            w.push("no longer delegated: what it signs is not trusted".to_string());
        }
        if self.keyless() {
            w.push(format!(
                "{} key(s) for threshold {}: nothing it signs is trusted",
                self.keys.len(),
                self.threshold.unwrap_or(0)
            ));
        }
        if self.expired {
            w.push("expired: clients refuse it".to_string());
        }
        w
    }

    /// Key IDs that signed this role's file but are not among its keys: the old root key on a
    /// rotated root (cross-signing), or a delegate's key after it was removed.
    pub fn foreign_signatures(&self) -> Vec<&str> {
        self.signed_by.iter().filter(|id| !self.keys.iter().any(|k| &k.id == *id)).map(String::as_str).collect()
    }
}

impl Comparison {
    /// What the difference means, from the point of view of the side shown.
    pub fn text(&self, shown: &Source, other: &Source) -> String {
        let v = self.version.map(|v| format!(" (v{v})")).unwrap_or_default();
        match (self.root_keys, shown) {
            (Some(RootLink::Unrelated), Source::Server) => format!(
                "a different root than {}{v}: no key of either signed the other, so that client refuses this one",
                other.label()
            ),
            (Some(RootLink::Unrelated), Source::Cache { .. }) => format!(
                "a different root than {}{v}: no key of either signed the other, so this client refuses that one",
                other.label()
            ),
            (Some(RootLink::CrossSigned), _) => format!(
                "{}; the newer root is signed by the older root's key, so clients follow the rotation",
                self.version_text(shown, other)
            ),
            _ => self.version_text(shown, other),
        }
    }

    fn version_text(&self, shown: &Source, other: &Source) -> String {
        let v = self.version.map(|v| format!("v{v}")).unwrap_or_default();
        let other_label = other.label();
        match (self.state, shown) {
            (CompareState::Same, _) => format!("same as {other_label}"),
            (CompareState::Older, Source::Cache { .. }) => format!("stale: {other_label} has {v}"),
            (CompareState::Older, Source::Server) => format!("older than {other_label} ({v}): rolled back?"),
            (CompareState::Newer, Source::Cache { .. }) => {
                format!("newer than {other_label} ({v}): the server rolled back?")
            }
            (CompareState::Newer, Source::Server) => format!("{other_label} is behind ({v})"),
            (CompareState::Differs, _) => format!("differs from {other_label}'s {v}"),
            (CompareState::Absent, _) => format!("{other_label} has none"),
        }
    }

    /// Same is quiet; anything else is worth a mark.
    pub fn differs(&self) -> bool {
        self.state != CompareState::Same
    }
}

#[cfg(test)]
pub(crate) mod tests;
