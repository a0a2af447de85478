# `nix flake check`: the xtask builds and passes its unit tests, lints and formatting
# hold, every image builds with the commands sandbox.json expects on its PATH, and the
# sandbox plays every scenario in NixOS VMs on podman and docker (e2e).
{ pkgs, packages }:
let
  inherit (pkgs) lib;
  sandboxLib = import ../lib.nix;
  imageAttrs = map sandboxLib.packageName sandboxLib.allImages;
in
{
  inherit (packages) xtask sandbox;
  clippy = pkgs.callPackage ./clippy.nix { inherit (packages) xtask; };
  rustfmt = pkgs.callPackage ./rustfmt.nix { };
  nixfmt = pkgs.callPackage ./nixfmt.nix { };
  deadnix = pkgs.callPackage ./deadnix.nix { };
  e2e = pkgs.callPackage ./e2e.nix { inherit packages; };
}
// lib.genAttrs imageAttrs (name: packages.${name})
// lib.listToAttrs (
  map (name: {
    name = "${name}-commands";
    value = pkgs.callPackage ./image-commands.nix {
      inherit name;
      image = packages.${name};
    };
  }) imageAttrs
)
