# `nix flake check`: the xtask builds and passes its unit tests, lints and formatting
# hold, and every image builds with the commands sandbox.json expects on its PATH.
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
