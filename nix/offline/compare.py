#!/usr/bin/env python3
"""Offline checks of the Nix side that need no nixpkgs; called by nix/check-offline.sh.

Usage: compare.py lock FLAKE_LOCK FLAKE_INPUTS_JSON
       compare.py drift SANDBOX_JSON NIX_SANDBOX_JSON LIB_EVAL_JSON FLAKE_EVAL_JSON

Each check prints one line; the exit status is the number of failed checks (capped).
"""

import json
import re
import sys

HEX40 = re.compile(r"^[0-9a-f]{40}$")
# A SHA-256 in SRI form is 32 bytes: 43 base64 characters and one '='.
SRI_SHA256 = re.compile(r"^sha256-[A-Za-z0-9+/]{43}=$")
SYSTEMS = ["x86_64-linux", "aarch64-linux"]

results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def resolve(nodes, start, path):
    """Follows an input path (a `follows` list) from the root node to a node name."""
    node = start
    for name in path:
        target = nodes[node].get("inputs", {}).get(name)
        if target is None:
            return None
        node = target if isinstance(target, str) else resolve(nodes, "root", target)
        if node is None:
            return None
    return node


def lock_checks(lock_path, inputs_path):
    lock = load(lock_path)
    declared = load(inputs_path)
    check("flake.lock has version 7", lock.get("version") == 7, str(lock.get("version")))
    nodes = lock.get("nodes", {})
    root = lock.get("root")
    check("flake.lock root node exists", root in nodes, str(root))
    if root not in nodes:
        return
    for name, node in sorted(nodes.items()):
        if name == root:
            continue
        locked = node.get("locked", {})
        problems = []
        if not HEX40.match(str(locked.get("rev", ""))):
            problems.append(f"rev {locked.get('rev')!r} is not 40 hex digits")
        if not SRI_SHA256.match(str(locked.get("narHash", ""))):
            problems.append(f"narHash {locked.get('narHash')!r} is not a sha256 SRI hash")
        if not isinstance(locked.get("lastModified"), int):
            problems.append("lastModified missing")
        if "type" not in locked:
            problems.append("locked.type missing")
        if not isinstance(node.get("original"), dict) or "type" not in node["original"]:
            problems.append("original missing")
        check(f"flake.lock node {name} is fully locked", not problems, "; ".join(problems))
    root_inputs = nodes[root].get("inputs", {})
    for name, target in sorted(root_inputs.items()):
        resolved = target if isinstance(target, str) else resolve(nodes, root, target)
        check(f"flake.lock root input {name} resolves", resolved in nodes, str(target))
    check(
        "flake.nix inputs and flake.lock root inputs agree",
        sorted(declared) == sorted(root_inputs),
        f"flake.nix {sorted(declared)} vs flake.lock {sorted(root_inputs)}",
    )
    for name, spec in sorted(declared.items()):
        url = spec.get("url", "") if isinstance(spec, dict) else ""
        node = nodes.get(root_inputs.get(name) if isinstance(root_inputs.get(name), str) else "", {})
        original = node.get("original", {})
        if url.startswith("github:") and original.get("type") == "github":
            owner, repo, *ref = url[len("github:"):].split("/", 2)
            same = (
                owner.lower() == original.get("owner", "").lower()
                and repo == original.get("repo")
                and (ref[0] if ref else None) == original.get("ref", original.get("rev"))
            )
            check(f"flake.lock original of {name} matches its url", same, f"{url} vs {original}")


def drift_checks(sandbox_path, nix_sandbox_path, lib_path, flake_path):
    data = load(sandbox_path)
    check("nix reads sandbox.json as python does", load(nix_sandbox_path) == data)
    lib = load(lib_path)
    flake = load(flake_path)

    images = list(data["images"])
    heads = {i: [] for i in images}
    for service in data["services"]:
        check(
            f"service {service['name']} runs a declared image",
            service["image"] in data["images"],
            service["image"],
        )
        heads.setdefault(service["image"], []).append(service["command"][0])
    for image in images:
        cmd = data["images"][image].get("cmd", [])
        if cmd:
            heads[image].append(cmd[0])

    check("lib.nix knows exactly sandbox.json's images", sorted(lib["images"]) == sorted(images),
          f"{sorted(lib['images'])} vs {sorted(images)}")
    for image in images:
        summary = lib["images"].get(image, {})
        expected_cmd = data["images"].get(image, {}).get("cmd", [])
        check(f"{image}: nix/images/{image}.nix exists", summary.get("nixFileExists"))
        check(f"{image}: lib.nix image ref", summary.get("ref") == f"trust-sandbox/{image}:nix", summary.get("ref"))
        check(f"{image}: lib.nix Cmd equals sandbox.json", summary.get("cmd") == expected_cmd,
              f"{summary.get('cmd')} vs {expected_cmd}")
        missing = [h for h in heads.get(image, []) if h not in summary.get("commands", [])]
        check(f"{image}: every program sandbox.json runs is required on PATH", not missing, str(missing))
    nix_services = [(s["name"], s["image"], s["program"]) for s in lib["services"]]
    json_services = [(s["name"], s["image"], s["command"][0]) for s in data["services"]]
    check("lib.nix services equal sandbox.json's, in order", nix_services == json_services)

    versions = data["versions"]
    for system in SYSTEMS:
        out = flake.get(system)
        check(f"{system}: flake has outputs", out is not None)
        if out is None:
            continue
        wanted = {"notary", "xtask", "sandbox", "default"} | {f"image-{i}" for i in images}
        check(f"{system}: packages", wanted <= set(out["packages"]), str(sorted(wanted - set(out["packages"]))))
        check(f"{system}: apps", {"sandbox", "default"} <= set(out["apps"]))
        check(f"{system}: devShells", "default" in out["devShells"])
        wanted = {"xtask", "clippy", "rustfmt", "nixfmt", "deadnix"}
        wanted |= {f"image-{i}" for i in images} | {f"image-{i}-commands" for i in images}
        check(f"{system}: checks", wanted <= set(out["checks"]), str(sorted(wanted - set(out["checks"]))))
        for image in images:
            got = out["images"][image]
            expected_cmd = data["images"].get(image, {}).get("cmd", [])
            check(
                f"{system}: image {image} is trust-sandbox/{image}:nix with sandbox.json's Cmd",
                got["imageName"] == f"trust-sandbox/{image}"
                and got["imageTag"] == "nix"
                and got["cmd"] == expected_cmd
                and got["requiredCommands"] == lib["images"][image]["commands"],
                json.dumps(got),
            )
            check(
                f"{system}: image {image} has every required command on its PATH",
                not got["missingCommands"],
                str(got["missingCommands"]),
            )
        major = int(out["docker"].split(".")[0])
        check(f"{system}: docker {out['docker']} <= {versions['docker_cli_max_major']}",
              major <= versions["docker_cli_max_major"])
        check(f"{system}: notary version is versions.notary", out["notary"]["version"] == versions["notary"])
        check(f"{system}: sandbox app runs the wrapper", out["sandboxProgram"].endswith("/bin/sandbox"))


def main(argv):
    if len(argv) >= 2 and argv[1] == "lock" and len(argv) == 4:
        lock_checks(argv[2], argv[3])
    elif len(argv) >= 2 and argv[1] == "drift" and len(argv) == 6:
        drift_checks(*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    failed = sum(1 for _, ok in results if not ok)
    print(f"{argv[1]}: {len(results) - failed} passed, {failed} failed")
    return min(failed, 100)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
