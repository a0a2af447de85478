# The guide's client: its own dockerd (vfs, no bridge, no iptables, so neither iptables
# nor a bridge helper is needed), a docker CLI that still does content trust, the notary
# CLI, and the tools the scenario uses to tamper with and time-shift things.
{
  mkSandboxImage,
  docker,
  notary,
  curl,
  libfaketime,
  qemu-user,
  gnutar,
  gzip,
  ...
}:
mkSandboxImage {
  image = "client";
  packages = [
    docker
    notary
    curl
    libfaketime
    # A step's `clock` runs the Go programs under qemu's user-mode emulator for the host
    # (qemu-x86_64 / qemu-aarch64) with libfaketime preloaded into the emulator: Go reads
    # the clock through the vDSO, which libfaketime alone cannot reach. Dynamically linked,
    # so the preload takes.
    qemu-user
    gnutar
    gzip
  ];
  # Debian's libfaketime sits at a fixed path the xtask knows; Nix's is in the store.
  env = [ "TRUST_SANDBOX_LIBFAKETIME=${libfaketime}/lib/libfaketime.so.1" ];
  dirs = [
    "etc/docker"
    "var/lib/docker"
    "root/.docker"
  ];
}
