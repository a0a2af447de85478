# `nix run .#sandbox -- play`, and `nix run . -- play` for short.
{ lib, packages }:
let
  sandbox = {
    type = "app";
    program = lib.getExe packages.sandbox;
    meta.description = "trust-sandbox: cargo xtask sandbox, without a Rust toolchain";
  };
in
{
  inherit sandbox;
  default = sandbox;
}
