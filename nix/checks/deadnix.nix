# No unused bindings or arguments in the repository's Nix code.
{
  lib,
  runCommand,
  deadnix,
}:
let
  src = lib.fileset.toSource {
    root = ../..;
    fileset = lib.fileset.fileFilter (file: file.hasExt "nix") ../..;
  };
in
runCommand "deadnix-check" { nativeBuildInputs = [ deadnix ]; } ''
  deadnix --fail ${src}
  touch "$out"
''
