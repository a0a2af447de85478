# The docker CLI and daemon for the client image and the dev shell: the newest major the
# sandbox allows (content trust), without the buildx and compose plugins nobody here runs.
{
  lib,
  docker_28,
}:
let
  sandboxLib = import ../lib.nix;
  docker = docker_28.override {
    buildxSupport = false;
    composeSupport = false;
  };
in
assert lib.assertMsg (
  lib.toInt (lib.versions.major docker.version) <= sandboxLib.dockerMaxMajor
) "docker ${docker.version} is newer than versions.docker_cli_max_major in sandbox.json";
docker
