# Every package of one system. Image attributes are generated from sandbox.json's image
# keys, so an image added there without a nix/images/<name>.nix fails evaluation here
# (`cargo xtask nix-check` reports it against its stand-in nixpkgs).
{ pkgs, self }:
let
  inherit (pkgs) lib;
  sandboxLib = import ../lib.nix;

  notary = pkgs.callPackage ./notary.nix { };
  docker = pkgs.callPackage ./docker.nix { };
  xtask = pkgs.callPackage ./xtask.nix { };
  sandbox = pkgs.callPackage ./sandbox.nix {
    inherit xtask;
    flakeRoot = self;
  };

  mkSandboxImage = pkgs.callPackage ../images/common.nix { };
  keepPrograms = pkgs.callPackage ../images/keep-programs.nix { };

  images = lib.listToAttrs (
    map (image: {
      name = sandboxLib.packageName image;
      value = pkgs.callPackage (../images + "/${image}.nix") {
        inherit
          mkSandboxImage
          keepPrograms
          notary
          docker
          ;
      };
    }) sandboxLib.allImages
  );
in
{
  inherit
    notary
    docker
    xtask
    sandbox
    ;
  default = sandbox;
}
// images
