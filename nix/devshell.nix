# `nix develop`: everything the xtask and its tests call, from the same pin as the images
# (including our notary and the docker CLI that still does content trust).
{ pkgs, packages }:
pkgs.mkShell {
  packages = [
    pkgs.cargo
    pkgs.rustc
    pkgs.clippy
    pkgs.rustfmt
    pkgs.rust-analyzer
    pkgs.podman
    packages.docker
    packages.notary
    pkgs.mmdebstrap
    pkgs.runc
    pkgs.hyperfine
    pkgs.nixfmt
    pkgs.deadnix
    pkgs.jq
    pkgs.curl
  ];

  # For editing the xtask: the workspace builds non-incrementally for a user's first build
  # (Cargo.toml's profile.dev says why); the environment variable overrides that.
  CARGO_INCREMENTAL = "1";

  # rust-analyzer finds the standard library's sources through this.
  RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
}
