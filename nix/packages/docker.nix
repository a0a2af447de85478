# The docker CLI and daemon for the client image and the dev shell: the newest major the
# sandbox allows (content trust; docker 29 removed it), without the buildx and compose
# plugins nobody here runs. It is the Nix counterpart of client CLI 28.5 (images.lock:
# `nix = "docker_28"`; the nix-check holds the two to one release). nixpkgs has no docker
# 20.10 or 26, so those client CLIs exist on the Debian images only. nixos-25.11 has docker_28; nixpkgs master removed it (the
# attribute throws since 2026-05-18), so a pin bump fails here, with the fix in the message.
{ lib, pkgs }:
let
  sandboxLib = import ../lib.nix;
  max = sandboxLib.dockerMaxMajor;
  attr = "docker_${toString max}";
  fix = ''
    Fix it in nix/packages/docker.nix: build docker ${toString max} there from its upstream
    sources (moby and docker/cli v${toString max}.x, as nixpkgs' own recipe for ${attr} in
    nixos-25.11 did), or keep nixpkgs pinned to nixos-25.11 in flake.lock. A newer docker is
    no fix: versions.docker_cli_max_major in xtask/data/sandbox.json is ${toString max}
    because docker 29 dropped content trust.'';
  # A removed attribute is missing or throws (nixpkgs' aliases); either way there is no docker.
  found = builtins.tryEval (pkgs.${attr} or null);
  base =
    if found.success && found.value != null then
      found.value
    else
      throw ''
        trust-sandbox: the pinned nixpkgs has no usable ${attr} (nixpkgs removed it after
        upstream support ended).
        ${fix}'';
  docker = base.override {
    buildxSupport = false;
    composeSupport = false;
  };
  major = lib.toInt (lib.versions.major docker.version);
in
assert lib.assertMsg (major <= max) ''
  trust-sandbox: nixpkgs' ${attr} is docker ${docker.version}, newer than ${toString max}.
  ${fix}'';
docker
