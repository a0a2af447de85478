#!/usr/bin/env bash
# The checks of the Nix code that need neither the network nor nixpkgs, for machines (CI
# here) that cannot fetch nixpkgs. What they cannot cover, building anything, is
# `nix flake check` on a machine with internet.
#
#   a. every .nix file parses (nix-instantiate --parse)
#   b. deadnix --fail finds nothing unused
#   c. flake.lock is fully locked and agrees with flake.nix's inputs
#   d. sandbox.json, nix/lib.nix and the flake's outputs (evaluated against a stub nixpkgs,
#      nix/offline/) agree on image names, tags, Cmds and required commands
#   e. (only with --nixfmt) nixfmt --check, with the Rust port nixfmt_rs from crates.io
#
# The evaluated JSON lands in target/nix-check/ for a Rust test to compare as well.
#
# Usage: nix/check-offline.sh [--yes] [--nixfmt] [--out DIR]
#   --yes      install what is missing (nix-bin with apt-get, deadnix with cargo);
#              implied by CI=true. Installing needs root for apt-get.
#   --nixfmt   also check formatting (installs nixfmt_rs with cargo if missing, ~2.5 min)
#   --out DIR  where to write the evaluated JSON (default target/nix-check)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

yes=false
[[ "${CI:-}" == true ]] && yes=true
with_nixfmt=false
out_dir="$root/target/nix-check"
while (($#)); do
    case "$1" in
    --yes) yes=true ;;
    --nixfmt) with_nixfmt=true ;;
    --out)
        out_dir="$2"
        shift
        ;;
    -h | --help)
        sed -n '2,22p' "$0"
        exit 0
        ;;
    *)
        echo "check-offline: unknown argument: $1" >&2
        exit 2
        ;;
    esac
    shift
done
mkdir -p "$out_dir"

passed=0
failed=0
step() { printf '\n== %s\n' "$*"; }
pass() {
    passed=$((passed + 1))
    echo "ok   $*"
}
fail() {
    failed=$((failed + 1))
    echo "FAIL $*"
}
warn() { echo "warn $*"; }

# Debian's nix.conf names a build-users-group that does not exist on a machine where Nix
# only evaluates; nothing here builds, so drop it. The dummy store keeps evaluation from
# creating /nix on a machine that has none.
export NIX_CONFIG="build-users-group ="
nix_eval() { nix-instantiate --store dummy:// --eval --strict --json "$@"; }

mapfile -t nix_files < <(
    find . \( -path ./.git -o -path ./target -o -path ./.sandbox \) -prune -o -name '*.nix' -print |
        sort
)

step "a. parse (${#nix_files[@]} files)"
if ! command -v nix-instantiate >/dev/null; then
    if $yes && [[ $EUID -eq 0 ]]; then
        apt-get install -y nix-bin || { apt-get update && apt-get install -y nix-bin; }
    else
        echo "nix-instantiate is missing: apt-get install nix-bin (or rerun with --yes as root)" >&2
        exit 1
    fi
fi
for f in "${nix_files[@]}"; do
    if err="$(nix-instantiate --parse "$f" 2>&1 >/dev/null)"; then
        pass "parses: $f"
    else
        fail "parses: $f"
        echo "$err"
    fi
done

step "b. deadnix"
if ! command -v deadnix >/dev/null; then
    if $yes; then
        # About 70 s on this project's machines.
        cargo install --locked deadnix
    else
        echo "deadnix is missing: cargo install --locked deadnix (or rerun with --yes)" >&2
        exit 1
    fi
fi
if deadnix --fail "${nix_files[@]}"; then
    pass "deadnix: nothing unused"
else
    fail "deadnix: unused code above"
fi

step "c. flake.lock"
nix_eval -E '(import ./flake.nix).inputs' >"$out_dir/flake-inputs.json"
if python3 nix/offline/compare.py lock flake.lock "$out_dir/flake-inputs.json"; then
    pass "flake.lock structure"
else
    fail "flake.lock structure"
fi

step "d. sandbox.json, nix/lib.nix and the flake's outputs agree"
nix_eval -E 'builtins.fromJSON (builtins.readFile ./xtask/data/sandbox.json)' \
    >"$out_dir/sandbox.json"
nix_eval -E '(import ./nix/lib.nix).summary' >"$out_dir/lib-eval.json"
if nix_eval nix/offline/eval.nix >"$out_dir/flake-eval.json"; then
    pass "flake outputs evaluate against the stub nixpkgs"
else
    fail "flake outputs evaluate against the stub nixpkgs"
    echo '{}' >"$out_dir/flake-eval.json"
fi
if python3 nix/offline/compare.py drift xtask/data/sandbox.json "$out_dir/sandbox.json" \
    "$out_dir/lib-eval.json" "$out_dir/flake-eval.json"; then
    pass "no drift between sandbox.json and the Nix images"
else
    fail "drift between sandbox.json and the Nix images"
fi
echo "evaluated JSON: $out_dir/{sandbox,lib-eval,flake-eval,flake-inputs}.json"

# A flake sees only files git tracks: what is untracked here does not exist for Nix.
for f in flake.nix flake.lock Cargo.lock "${nix_files[@]#./}"; do
    if [[ ! -e "$f" ]]; then
        warn "$f does not exist yet; the flake's xtask package and checks need it"
    elif git rev-parse --git-dir >/dev/null 2>&1 && ! git ls-files --error-unmatch "$f" >/dev/null 2>&1; then
        warn "$f is not tracked by git, so the flake cannot see it"
    fi
done

if $with_nixfmt; then
    step "e. nixfmt"
    if ! command -v nixfmt >/dev/null; then
        cargo install --locked nixfmt_rs
    fi
    if nixfmt --check "${nix_files[@]}"; then
        pass "nixfmt: formatted ($(nixfmt --version 2>&1 | head -n1))"
    else
        fail "nixfmt: run nixfmt on the files above"
    fi
fi

echo
echo "nix-offline: $passed passed, $failed failed"
((failed == 0))
