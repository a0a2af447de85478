# The pinned nixpkgs, imported once per system with the project's one policy exception.
{ nixpkgs, system }:
let
  inherit (nixpkgs) lib;
  sandboxLib = import ./lib.nix;
in
import nixpkgs {
  inherit system;
  config = {
    # nixos-25.11 flags its docker 28 as insecure (end of upstream support), yet the sandbox
    # needs a CLI no newer than docker_cli_max_major for content trust. Allow exactly that
    # and nothing else, by name and major rather than a version string that moves.
    allowInsecurePredicate =
      pkg:
      lib.getName pkg == "docker"
      && lib.toInt (lib.versions.major (lib.getVersion pkg)) <= sandboxLib.dockerMaxMajor;
  };
}
