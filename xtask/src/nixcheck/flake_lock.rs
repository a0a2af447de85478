//! flake.lock, which the Nix check cannot exercise (it replaces nixpkgs with the stand-in): every
//! input fully locked (a 40-hex revision, a sha256 narHash, lastModified) and each one the input
//! flake.nix declares (`github:owner/repo/ref` against the node's `original`).

use std::collections::BTreeMap;

use serde_json::Value;

/// Problems with `lock` (flake.lock's JSON) given `inputs` (`(import ./flake.nix).inputs`).
pub fn problems(lock: &Value, inputs: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if lock["version"] != 7 {
        out.push(format!("flake.lock: version {} (Nix 2.26 writes 7)", lock["version"]));
    }
    let Some(nodes) = lock["nodes"].as_object() else {
        out.push("flake.lock: no nodes".into());
        return out;
    };
    let root = lock["root"].as_str().unwrap_or("root");
    let root_inputs: BTreeMap<String, String> = nodes
        .get(root)
        .and_then(|n| n["inputs"].as_object())
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    for (name, node) in nodes.iter().filter(|(n, _)| n.as_str() != root) {
        let locked = &node["locked"];
        let rev = locked["rev"].as_str().unwrap_or("");
        if rev.len() != 40 || !rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push(format!("flake.lock: {name}: rev {rev:?} is not 40 hex digits"));
        }
        let nar = locked["narHash"].as_str().unwrap_or("");
        let b64 = nar.strip_prefix("sha256-").unwrap_or("");
        if b64.len() != 44 || !b64.ends_with('=') {
            out.push(format!("flake.lock: {name}: narHash {nar:?} is not a sha256 SRI hash"));
        }
        if !locked["lastModified"].is_u64() || !locked["type"].is_string() || !node["original"]["type"].is_string() {
            out.push(format!("flake.lock: {name}: lastModified, locked.type or original missing"));
        }
    }
    let declared: Vec<&String> = inputs.as_object().map(|m| m.keys().collect()).unwrap_or_default();
    let locked: Vec<&String> = root_inputs.keys().collect();
    if declared != locked {
        out.push(format!("flake.nix declares inputs {declared:?}, flake.lock locks {locked:?}"));
    }
    for (name, spec) in inputs.as_object().into_iter().flatten() {
        let Some(url) = spec["url"].as_str().and_then(|u| u.strip_prefix("github:")) else { continue };
        let original = root_inputs.get(name).and_then(|n| nodes.get(n)).map(|n| &n["original"]);
        let mut parts = url.splitn(3, '/');
        let (owner, repo, reference) = (parts.next(), parts.next(), parts.next());
        let same = original.is_some_and(|o| {
            o["type"] == "github"
                && o["owner"].as_str().map(str::to_lowercase) == owner.map(str::to_lowercase)
                && o["repo"].as_str() == repo
                && o["ref"].as_str().or(o["rev"].as_str()) == reference
        });
        if !same {
            out.push(format!("flake.lock: {name} was locked from {original:?}, flake.nix says github:{url}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lock() -> Value {
        json!({"version": 7, "root": "root", "nodes": {
            "root": {"inputs": {"nixpkgs": "nixpkgs"}},
            "nixpkgs": {
                "locked": {"lastModified": 1778430510, "narHash": "sha256-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q=",
                    "owner": "NixOS", "repo": "nixpkgs", "rev": "8fd9daa3db09ced9700431c5b7ad0e8ba199b575", "type": "github"},
                "original": {"owner": "NixOS", "ref": "nixos-25.11", "repo": "nixpkgs", "type": "github"}}}})
    }

    fn inputs(url: &str) -> Value {
        json!({"nixpkgs": {"url": url}})
    }

    #[test]
    fn the_committed_lock_passes() {
        let text = std::fs::read_to_string(crate::table::source_root().join("flake.lock")).unwrap();
        let committed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problems(&committed, &inputs("github:NixOS/nixpkgs/nixos-25.11")), Vec::<String>::new());
        assert_eq!(problems(&lock(), &inputs("github:NixOS/nixpkgs/nixos-25.11")), Vec::<String>::new());
    }

    #[test]
    fn an_unlocked_or_mismatched_input_is_reported() {
        let mut l = lock();
        l["nodes"]["nixpkgs"]["locked"]["rev"] = json!("main");
        l["nodes"]["nixpkgs"]["locked"]["narHash"] = json!("sha256-short=");
        let p = problems(&l, &inputs("github:NixOS/nixpkgs/nixos-25.11"));
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(problems(&lock(), &inputs("github:NixOS/nixpkgs/nixos-unstable")).len(), 1);
        assert_eq!(problems(&lock(), &json!({"nixpkgs": {"url": "x"}, "other": {}})).len(), 1);
    }
}
