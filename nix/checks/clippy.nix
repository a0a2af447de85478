# Clippy with the xtask's vendored dependencies; --all-targets also lints the engine tests
# that the unit-test check skips.
{ xtask, clippy }:
xtask.overrideAttrs (old: {
  pname = "${old.pname}-clippy";
  nativeBuildInputs = old.nativeBuildInputs ++ [ clippy ];
  buildPhase = ''
    runHook preBuild
    cargo clippy --offline --workspace --all-targets -- -D warnings
    runHook postBuild
  '';
  doCheck = false;
  # Nothing to install: the output only records that clippy passed.
  installPhase = ''
    mkdir -p "$out"
  '';
  dontFixup = true;
})
