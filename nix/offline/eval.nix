# Evaluates the real flake.nix against the stub nixpkgs and reports what it would build,
# per system; nix/check-offline.sh compares the result with sandbox.json.
let
  lib = import ./stub-lib.nix;
  sandboxLib = import ../lib.nix;
  nixpkgs = {
    outPath = ./stub-pkgs.nix;
    inherit lib;
  };
  outputs = (import ../../flake.nix).outputs {
    self = outputs // {
      outPath = "/nix/store/00000000000000000000000000000000-source";
    };
    inherit nixpkgs;
  };
  names = set: builtins.attrNames set;

  perSystem =
    system:
    let
      packages = outputs.packages.${system};
      image =
        name:
        let
          drv = packages.${sandboxLib.packageName name};
        in
        {
          inherit (drv) imageName imageTag requiredCommands;
          cmd = drv.args.config.Cmd or [ ];
          contents = map (d: d.pname or d.name) drv.contents;
        };
    in
    {
      packages = names packages;
      apps = names outputs.apps.${system};
      devShells = names outputs.devShells.${system};
      checks = names outputs.checks.${system};
      images = lib.genAttrs sandboxLib.allImages image;
      notary = {
        inherit (packages.notary) version tags subPackages;
        rev = packages.notary.src.rev;
      };
      docker = packages.docker.version;
      sandboxProgram = outputs.apps.${system}.sandbox.program;
      devShellPackages = map (d: d.pname or d.name) outputs.devShells.${system}.default.packages;
    };
in
lib.genAttrs (names outputs.packages) perSystem
