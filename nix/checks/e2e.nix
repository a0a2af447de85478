# checks.<system>.e2e: the sandbox end to end from this flake, as a user runs it, on both
# engines. Two NixOS VMs, one with podman and one with docker, each load the Nix images
# (prebuilt here and handed to the xtask through TRUST_SANDBOX_NIX_IMAGES, since a VM
# cannot evaluate the flake), bring the sandbox up, play the guide and run every scenario.
# Needs KVM and the real nixpkgs: it runs with `nix flake check` or
# `nix build .#checks.x86_64-linux.e2e` on a machine with internet, not on this project's CI
# (which only evaluates it, against the stand-in nixpkgs).
{
  lib,
  testers,
  linkFarm,
  packages,
}:
let
  sandboxLib = import ../lib.nix;

  prebuilt = linkFarm "trust-sandbox-nix-images" (
    map (image: {
      name = "${image}.tar.gz";
      path = packages.${sandboxLib.packageName image};
    }) sandboxLib.serviceImages
  );

  # What both machines share: the `sandbox` command, the images, and room for five
  # containers plus the client's own dockerd (vfs storage copies every layer).
  machine = engine: {
    virtualisation = {
      ${engine}.enable = true;
      memorySize = 4096;
      diskSize = 8192;
      cores = 2;
    };
    environment.systemPackages = [ packages.sandbox ];
    environment.variables.TRUST_SANDBOX_NIX_IMAGES = "${prebuilt}";
  };

  engines = [
    "podman"
    "docker"
  ];
in
testers.runNixOSTest {
  name = "trust-sandbox-e2e";
  nodes = lib.genAttrs engines machine;
  testScript = ''
    start_all()
    for machine, engine in [${
      lib.concatMapStringsSep ", " (engine: "(${engine}, \"${engine}\")") engines
    }]:
        machine.wait_for_unit("multi-user.target")
        if engine == "docker":
            machine.wait_for_unit("docker.service")
        sandbox = f"sandbox --engine {engine} --name e2e"
        machine.succeed(f"{sandbox} up --images nix")
        machine.succeed(f"{sandbox} status")
        machine.succeed(f"{sandbox} play")
        machine.succeed(f"{sandbox} scenario run --all --json /tmp/{engine}-report.json")
        machine.copy_from_vm(f"/tmp/{engine}-report.json")
        machine.succeed(f"{sandbox} down")
        machine.succeed(f"{sandbox} destroy")
  '';
}
