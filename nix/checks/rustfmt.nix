# rustfmt needs neither cargo nor the dependencies, so it checks the sources directly.
{
  lib,
  runCommand,
  rustfmt,
}:
let
  edition = (lib.importTOML ../../Cargo.toml).workspace.package.edition;
  src = lib.fileset.toSource {
    root = ../..;
    # A rustfmt.toml, once there is one, must reach the check too.
    fileset = lib.fileset.unions [
      (lib.fileset.fileFilter (file: file.hasExt "rs") ../../xtask)
      (lib.fileset.maybeMissing ../../rustfmt.toml)
      (lib.fileset.maybeMissing ../../.rustfmt.toml)
    ];
  };
in
runCommand "xtask-rustfmt" { nativeBuildInputs = [ rustfmt ]; } ''
  cd ${src}
  find . -name '*.rs' -print0 | xargs -0 --no-run-if-empty rustfmt --check --edition ${edition}
  touch "$out"
''
