//! After the move, at the enforcement point (issue 18), on real engines: `migrate` in cosign's
//! bundle format alone is refused by a pull-time policy (skopeo and podman in the consumer
//! container, through the kit `migrate` writes), a rerun adds the `.sig` format and nothing else,
//! and then the policy accepts the signed tags and refuses an unsigned one; the host variant
//! (each migrated repository's signed name, `exactRepository`) is exercised under another name
//! of the same registry; the cutover
//! scenario passes, played with `--step`; bad input (an unknown format, a kit directory that
//! cannot be written or holds other files, a consumer image that cannot be had) gives one clear
//! error and starts or writes nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use trust_sandbox_tests::{require_engine, scenario_file, Run, Sandbox};

#[test]
fn docker_enforcement() {
    enforcement("docker");
}

#[test]
fn podman_enforcement() {
    enforcement("podman");
}

const R: &str = "sandboxregistry:5000";

/// Two tags signed with DCT, as a user would in `shell`. Prints `<name> <digest>` lines.
const SIGN: &str = r#"set -e
mk() { d=$(mktemp -d); echo "$1 $(date +%s%N) $$" > "$d/nonce"; tar -C "$d" -c . | docker import - "$2" >/dev/null; rm -rf "$d"; }
digest() { sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p'; }
mk one sandboxregistry:5000/app/one:v1
echo "one $(docker push sandboxregistry:5000/app/one:v1 2>&1 | digest)"
mk two sandboxregistry:5000/app/two:v1
echo "two $(docker push sandboxregistry:5000/app/two:v1 2>&1 | digest)"
"#;

fn record<'a>(report: &'a serde_json::Value, repo: &str) -> &'a serde_json::Value {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == format!("{R}/{repo}"))
        .unwrap_or_else(|| panic!("no record for {repo}: {report}"))
}

fn status(rec: &serde_json::Value, format: &str) -> String {
    rec["signatures"].as_array().unwrap().iter().find(|s| s["format"] == format).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A scenario with steps in the consumer container (and the client), run through the tool.
fn consumer_steps(sb: &Sandbox, name: &str, steps: &str) -> Run {
    let text = format!(
        "name = \"{name}\"\nsummary = \"consumer checks\"\ndescription = \"Pulls through the consumer kit.\"\nrequires = [\"consumer\"]\n{steps}"
    );
    let f = scenario_file(sb.state.path(), name, &text);
    sb.x(&["scenario", "run", "--file", f.to_str().unwrap(), "--json", "-"])
}

fn assert_all_passed(r: &Run, what: &str) {
    let report = r.json();
    for step in report["scenarios"][0]["steps"].as_array().unwrap() {
        assert_eq!(step["status"], "passed", "{what}: {step}");
    }
    r.assert_ok(what);
}

fn enforcement(engine: &str) {
    require_engine(engine);
    let sb = Sandbox::new(engine, "enforce");
    sb.up().assert_ok("up");
    let signed = sb.x_stdin(&["shell"], SIGN);
    signed.assert_ok("signing with DCT");
    let d: BTreeMap<&str, &str> = signed.stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    assert!(d["one"].starts_with("sha256:") && d["two"].starts_with("sha256:"), "{}", signed.stdout);
    let helpers = |sb: &Sandbox| -> Vec<String> {
        sb.labelled("container").into_iter().filter(|c| c.ends_with("-signers") || c.ends_with("-consumer")).collect()
    };

    // Bad input: one clear error each; nothing started, nothing signed, nothing written.
    let r = sb.x(&["migrate", "--cosign-format", "sigstore"]);
    r.assert_fails_with("an unknown format", "invalid value 'sigstore'");
    assert!(r.stderr.contains("bundle, legacy, both"), "{}", r.stderr);
    let file = sb.state.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("kit");
    let r = sb.x(&["migrate", "--kit", under_file.to_str().unwrap()]);
    r.assert_fails_with("a kit under a file", "not a directory");
    assert!(r.stderr.contains("--kit"), "{}", r.stderr);
    let foreign = sb.state.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let r = sb.x(&["migrate", "--kit", foreign.to_str().unwrap()]);
    r.assert_fails_with("a kit directory holding other files", "no consumer kit");
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1, "the other files are untouched");
    let r = sb.x(&["compare", "--images", "nix", "--row", "bundle-only"]);
    r.assert_fails_with("a consumer image that cannot be had", "preparing the consumer image");
    assert!(helpers(&sb).is_empty(), "a refused command started {:?}", helpers(&sb));
    assert!(!sb.state_dir().join("signers/kit").exists(), "a refused command wrote a kit");

    // cosign's bundle only (and Notation): what a plain cosign 3 migration writes.
    let bundle = sb.x(&["migrate", "--cosign-format", "bundle", "--json", "-"]);
    bundle.assert_ok("migrate --cosign-format bundle");
    assert!(bundle.stderr.contains("podman, CRI-O, skopeo and buildah will refuse"), "{}", bundle.stderr);
    let report = bundle.json();
    assert_eq!(report["formats"], serde_json::json!(["cosign-bundle", "notation"]));
    for repo in ["app/one", "app/two"] {
        let rec = record(&report, repo);
        assert_eq!(rec["carries"], serde_json::json!(["cosign-bundle", "notation"]), "{rec}");
        assert_eq!(status(rec, "cosign-bundle"), "signed");
        assert_eq!(status(rec, "cosign-legacy"), "absent");
        assert_eq!(rec["signatures"][0]["signatures"].as_array().unwrap().len(), 1, "{rec}");
    }
    let kit = sb.state_dir().join("signers/kit");
    assert!(std::fs::read_to_string(kit.join("README.md")).unwrap().contains("WARNING"));

    // The cut-over failure mode: the policy refuses a correctly migrated image.
    let refused = consumer_steps(
        &sb,
        "bundle-only",
        &format!(
            r#"[[steps]]
title = "skopeo through the policy"
explain = "Only the bundle is there."
on = "consumer"
run = "skopeo copy docker://{R}/app/one:v1 dir:/tmp/one"
expect = {{ outcome = "failure", contains = ["A signature was required, but no signature exists"] }}
[[steps]]
title = "podman through the policy"
explain = "The same with podman."
on = "consumer"
run = "podman pull {R}/app/one@{one}"
expect = {{ outcome = "failure", contains = ["A signature was required, but no signature exists"] }}
"#,
            one = d["one"]
        ),
    );
    assert_all_passed(&refused, "a bundle-only image refused at pull time");

    // The default (both): the `.sig` format is added, nothing else signed again.
    let both = sb.x(&["migrate", "--json", "-"]);
    both.assert_ok("migrate (both)");
    let report = both.json();
    assert_eq!(report["signed"], 2, "one .sig per tag: {report}");
    for repo in ["app/one", "app/two"] {
        let rec = record(&report, repo);
        assert_eq!(rec["carries"], serde_json::json!(["cosign-bundle", "cosign-legacy", "notation"]), "{rec}");
        assert_eq!(status(rec, "cosign-legacy"), "signed");
        assert_eq!(status(rec, "cosign-bundle"), "already");
        assert_eq!(status(rec, "notation"), "already");
    }
    let again = sb.x(&["migrate", "--json", "-"]);
    again.assert_ok("migrate again");
    assert_eq!(again.json()["signed"], 0, "{}", again.stdout);
    assert_eq!(again.json()["already_signed"], 6, "{}", again.stdout);

    // The kit: the same public key and certificate, no secret, world-readable; keys still 0600.
    let signers = sb.state_dir().join("signers");
    assert_eq!(std::fs::read(kit.join("cosign.pub")).unwrap(), std::fs::read(signers.join("cosign.pub")).unwrap());
    assert_eq!(std::fs::read(kit.join("notation.crt")).unwrap(), std::fs::read(signers.join("notation.crt")).unwrap());
    for f in ["containers/policy.json", "containers/host/policy.json", "kyverno/clusterpolicy.yaml", "digests.txt"] {
        let text = std::fs::read_to_string(kit.join(f)).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{f}");
        assert_eq!(std::fs::metadata(kit.join(f)).unwrap().permissions().mode() & 0o777, 0o644, "{f}");
    }
    for key in ["cosign.key", "notation.key", "secrets.json"] {
        assert_eq!(std::fs::metadata(signers.join(key)).unwrap().permissions().mode() & 0o077, 0, "{key}");
    }
    let digests = std::fs::read_to_string(kit.join("digests.txt")).unwrap();
    assert!(digests.contains(&format!("{R}/app/one:v1@{}", d["one"])), "{digests}");
    assert!(!std::fs::read_to_string(kit.join("README.md")).unwrap().contains("WARNING"));

    // Now the policy accepts both tags and refuses an unsigned one; the host variant accepts the
    // registry under another name (its container name) for the repositories it names, the
    // network variant does not.
    let registry_alias = format!("{}:5000", sb.container("registry"));
    let port = sb.registry_port.to_string();
    let accepted = consumer_steps(
        &sb,
        "policy-pulls",
        &format!(
            r#"[[steps]]
title = "podman pulls a migrated tag"
explain = "The .sig format is there now."
on = "consumer"
run = "podman pull {R}/app/one:v1 && podman image inspect {R}/app/one:v1 | grep -m1 -o '\"Digest\": \"sha256:[0-9a-f]*\"'"
expect = {{ contains = ["Storing signatures", '"Digest": "{one}"'] }}
[[steps]]
title = "skopeo copies the other by digest"
explain = "By digest too."
on = "consumer"
run = "skopeo copy docker://{R}/app/two@{two} dir:/tmp/two"
expect = {{ contains = ["Storing signatures"] }}
[[steps]]
title = "an unsigned image in a repository nobody signed"
explain = "Pushed with trust off."
run = """
set -e
d=$(mktemp -d); echo "unsigned {{{{run_id}}}}" > "$d/nonce"
tar -C "$d" -c . | docker import - {R}/app/three:unsigned >/dev/null
DOCKER_CONTENT_TRUST=0 docker push {R}/app/three:unsigned
"""
[[steps]]
title = "the policy refuses it"
explain = "No signature by the key."
on = "consumer"
run = "podman pull {R}/app/three:unsigned"
expect = {{ outcome = "failure", contains = ["A signature was required, but no signature exists"] }}
[[steps]]
title = "the host variant accepts the registry under another name"
explain = "containers/host with the loopback address replaced by the registry's container name: each migrated repository's signed name given with exactRepository."
on = "consumer"
run = """
set -e
mkdir -p /tmp/host/rd
sed 's/127.0.0.1:{port}/{alias}/g' /kit/containers/host/policy.json > /tmp/host/policy.json
sed 's/127.0.0.1:{port}/{alias}/g' /kit/containers/host/registries.d/trust-sandbox.yaml > /tmp/host/rd/trust-sandbox.yaml
skopeo --policy /tmp/host/policy.json --registries.d /tmp/host/rd copy --src-tls-verify=false docker://{alias}/app/one:v1 dir:/tmp/by-tag
skopeo --policy /tmp/host/policy.json --registries.d /tmp/host/rd copy --src-tls-verify=false docker://{alias}/app/two@{two} dir:/tmp/by-digest
echo both-accepted
"""
expect = {{ contains = ["Storing signatures", "both-accepted"] }}
[[steps]]
title = "the host variant refuses a repository it does not name"
explain = "The default is reject."
on = "consumer"
run = "skopeo --policy /tmp/host/policy.json --registries.d /tmp/host/rd copy --src-tls-verify=false docker://{alias}/app/three:unsigned dir:/tmp/unnamed"
expect = {{ outcome = "failure", contains = ["rejected"] }}
[[steps]]
title = "without the host variant the other name is refused"
explain = "matchRepository compares the name pulled with the name signed."
on = "consumer"
run = """
sed 's/{R}/{alias}/g' /kit/containers/policy.json > /tmp/host/plain.json
skopeo --policy /tmp/host/plain.json --registries.d /tmp/host/rd copy --src-tls-verify=false docker://{alias}/app/one:v1 dir:/tmp/plain
"""
expect = {{ outcome = "failure", contains = ["is not accepted"] }}
"#,
            one = d["one"],
            two = d["two"],
            alias = registry_alias,
        ),
    );
    assert_all_passed(&accepted, "policy pulls");

    // The cutover scenario, played with --step (Enter runs each step), and once more straight.
    let steps = "\n".repeat(20);
    let stepped = sb.x_stdin(&["scenario", "run", "cutover", "--step", "--json", "-"], &steps);
    assert_all_passed(&stepped, "cutover with --step");
    let report = stepped.json();
    let titles: Vec<&str> =
        report["scenarios"][0]["steps"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert!(titles.iter().any(|t| t.contains("v1 is accepted")), "{titles:?}");
    assert!(stepped.stderr.contains("freshness"), "the explanations are shown in step mode");
    let straight = sb.x(&["scenario", "run", "cutover", "--json", "-"]);
    assert_all_passed(&straight, "cutover twice");

    // `down` removes the helpers with the rest.
    assert_eq!(helpers(&sb).len(), 2, "{:?}", sb.labelled("container"));
    sb.x(&["down"]).assert_ok("down");
    assert!(sb.labelled("container").is_empty(), "{:?}", sb.labelled("container"));
}
