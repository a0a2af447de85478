# Every .nix file in the repository is in nixfmt's (RFC 166) style.
{
  lib,
  runCommand,
  nixfmt,
}:
let
  src = lib.fileset.toSource {
    root = ../..;
    fileset = lib.fileset.fileFilter (file: file.hasExt "nix") ../..;
  };
in
runCommand "nixfmt-check" { nativeBuildInputs = [ nixfmt ]; } ''
  cd ${src}
  find . -name '*.nix' -print0 | xargs -0 nixfmt --check
  touch "$out"
''
