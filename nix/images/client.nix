# The guide's client: its own dockerd (vfs, no bridge, no iptables, so neither iptables
# nor a bridge helper is needed), a docker CLI that still does content trust, the notary
# CLI, and the tools the scenario uses to tamper with and time-shift things.
{
  mkSandboxImage,
  docker,
  notary,
  curl,
  libfaketime,
  gnutar,
  gzip,
  time,
  util-linux,
  getent,
  openssl,
  ...
}:
mkSandboxImage {
  image = "client";
  packages = [
    docker
    notary
    curl
    libfaketime
    gnutar
    gzip
    # Scenarios: peak memory (endless-data), a private /etc/hosts for one command (unshare,
    # mount, getent) and an impostor Notary server with a self-signed certificate (openssl).
    time
    util-linux
    getent
    openssl
  ];
  dirs = [
    "etc/docker"
    "var/lib/docker"
    "root/.docker"
  ];
}
