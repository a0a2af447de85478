# Some programs of a package and nothing else of it: copied out (a symlink would keep the
# whole package in the image), the libraries they link still found through their RPATH. The
# Debian images get the same from images.lock's drop/keep lists (xtask/src/images/trim.rs).
{ lib, runCommand }:
pkg: programs:
runCommand "${lib.getName pkg}-${lib.concatStringsSep "-" programs}"
  {
    # The programs it holds: also what the stand-in nixpkgs (nix/offline) reports for it.
    bins = programs;
  }
  ''
    mkdir -p $out/bin
    for p in ${lib.escapeShellArgs programs}; do
      cp ${pkg}/bin/$p $out/bin/
    done
  ''
