# nixpkgs' `distribution` ships the registry binary under the name sandbox.json runs:
# `registry serve <config>`.
{
  mkSandboxImage,
  distribution,
  openssl,
  ...
}:
mkSandboxImage {
  image = "registry";
  # openssl: the exported stack's readiness probe of a registry made with --registry-tls.
  packages = [
    distribution
    openssl
  ];
  dirs = [ "var/lib/registry" ];
}
