# Issue 18's consumer: the enforcement point after the move away from Docker Content Trust.
# skopeo and podman (containers/image) pull through the containers policy.json of the consumer
# kit that `migrate` writes; the xtask points /etc/containers at the kit when it starts the
# container (xtask/src/migrate/consumer.rs), so the image itself carries no policy. The Debian
# path takes trixie's skopeo 1.18 and podman 5.4; nixpkgs' podman wraps its helpers (conmon,
# crun, netavark) itself. Not a service: started when a command needs it, sandbox.json's Cmd
# keeping it alive.
{
  mkSandboxImage,
  skopeo,
  podman,
  ...
}:
mkSandboxImage {
  image = "consumer";
  packages = [
    skopeo
    podman
  ];
  # podman's configuration, storage and the temporary directory it pulls blobs through.
  dirs = [
    "etc/containers"
    "var/lib/containers"
    "var/tmp"
  ];
}
