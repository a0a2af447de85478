# `nix run .#sandbox -- play` is `cargo xtask sandbox play` without a Rust toolchain.
{
  lib,
  writeShellApplication,
  xtask,
  flakeRoot,
}:
writeShellApplication {
  name = "sandbox";
  text = ''
    # A binary in the store cannot find the checkout it was built from; unless told
    # otherwise, Nix images are built from the flake that built this wrapper.
    export TRUST_SANDBOX_FLAKE="''${TRUST_SANDBOX_FLAKE:-${flakeRoot}}"
    exec ${lib.getExe xtask} sandbox "$@"
  '';
  meta = {
    description = "Run the trust-sandbox xtask (up, down, play, ...)";
    mainProgram = "sandbox";
  };
}
