# `import nixpkgs { system; config; }` of the stand-in.
import ./stub-pkgs.nix
