# nixpkgs' `distribution` ships the registry binary under the name sandbox.json runs:
# `registry serve <config>`.
{ mkSandboxImage, distribution, ... }:
mkSandboxImage {
  image = "registry";
  packages = [ distribution ];
  dirs = [ "var/lib/registry" ];
}
