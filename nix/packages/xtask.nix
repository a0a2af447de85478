# The xtask binary, built from the workspace with nixpkgs' own Rust toolchain. Its check
# phase runs only the unit tests: engine tests live in tests/ (their own crate) and
# need container engines, which the build sandbox never has.
{
  lib,
  rustPlatform,
}:
let
  root = ../..;
  workspace = lib.importTOML ../../Cargo.toml;
  crate = lib.importTOML ../../xtask/Cargo.toml;
  # `version.workspace = true` parses as an attribute set.
  version =
    if builtins.isString crate.package.version then
      crate.package.version
    else
      workspace.workspace.package.version;
in
rustPlatform.buildRustPackage {
  pname = crate.package.name;
  inherit version;

  # Only what cargo reads: an edit to nix/ or the README does not rebuild the xtask.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      ../../Cargo.toml
      ../../Cargo.lock
      ../../rustfmt.toml
      ../../xtask
      # A workspace member: cargo cannot load the workspace without it.
      ../../tests
    ];
  };

  cargoLock.lockFile = ../../Cargo.lock;

  cargoBuildFlags = [
    "--package"
    crate.package.name
  ];

  # The xtask is a binary crate: its unit tests are in the binary.
  cargoTestFlags = [
    "--package"
    crate.package.name
    "--bins"
  ];

  # The build sandbox's HOME does not exist; tests that keep state under it get a
  # scratch one instead.
  preCheck = ''
    export HOME="$TMPDIR"
  '';

  meta = {
    description = crate.package.description or "trust-sandbox xtask";
    license = lib.licenses.asl20;
    mainProgram = crate.package.name;
  };
}
