# Issue 11's signers: the signing tools that come after Docker Content Trust (cosign,
# Notation, crane) for `migrate` and `compare`, plus the emulator and libfaketime a step's
# `clock` needs to shift a Go program's time (see client.nix). Not a service: the xtask
# starts it when a command needs it, with sandbox.json's Cmd keeping it alive.
{
  mkSandboxImage,
  keepPrograms,
  stdenv,
  cosign,
  notation,
  go-containerregistry,
  qemu-user,
  libfaketime,
  ...
}:
mkSandboxImage {
  image = "signers";
  packages = [
    cosign
    notation
    # nixpkgs' crane: go-containerregistry's default output links bin/crane.
    go-containerregistry
    (keepPrograms qemu-user [ "qemu-${stdenv.hostPlatform.qemuArch}" ])
    libfaketime
  ];
  env = [ "TRUST_SANDBOX_LIBFAKETIME=${libfaketime}/lib/libfaketime.so.1" ];
  dirs = [ "root/.docker" ];
}
