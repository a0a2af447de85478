# The guide's client: its own dockerd (vfs, no bridge, no iptables, so neither iptables
# nor a bridge helper is needed), a docker CLI that still does content trust, the notary
# CLI, and the tools the scenario uses to tamper with and time-shift things.
{
  mkSandboxImage,
  keepPrograms,
  stdenv,
  docker,
  notary,
  curl,
  libfaketime,
  qemu-user,
  gnutar,
  gzip,
  gawk,
  time,
  util-linux,
  getent,
  ...
}:
mkSandboxImage {
  image = "client";
  packages = [
    docker
    # The notary CLI only: the client runs no notary-server or notary-signer.
    (keepPrograms notary [ "notary" ])
    curl
    libfaketime
    # A step's `clock` runs the Go programs under qemu's user-mode emulator for the host
    # (qemu-x86_64 / qemu-aarch64) with libfaketime preloaded into the emulator: Go reads
    # the clock through the vDSO, which libfaketime alone cannot reach. Dynamically linked,
    # so the preload takes. That one emulator of qemu-user's many.
    (keepPrograms qemu-user [ "qemu-${stdenv.hostPlatform.qemuArch}" ])
    gnutar
    gzip
    # Scenarios: peak memory (endless-data), a private /etc/hosts for one command (unshare,
    # mount, getent, awk).
    time
    util-linux
    getent
    gawk
  ];
  # Debian's libfaketime sits at a fixed path the xtask knows; Nix's is in the store.
  env = [ "TRUST_SANDBOX_LIBFAKETIME=${libfaketime}/lib/libfaketime.so.1" ];
  dirs = [
    "etc/docker"
    "var/lib/docker"
    "root/.docker"
  ];
}
