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
          env = drv.args.config.Env or [ ];
          # Forces the shell snippets, which is where a typo in dirs or users would show.
          setup = (drv.args.extraCommands or "") + (drv.args.fakeRootCommands or "");
          contents = map (d: d.pname or d.name) drv.contents;
          # What the image-<name>-commands check would report, with the stub's bin lists.
          missingCommands = builtins.filter (
            cmd: !builtins.any (d: builtins.elem cmd (d.bins or [ ])) drv.contents
          ) drv.requiredCommands;
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
      xtaskSrc = packages.xtask.src;
      checkScripts = map (name: outputs.checks.${system}.${name}.script) [
        "rustfmt"
        "nixfmt"
        "deadnix"
        "image-db-commands"
      ];
      devShellPackages = map (d: d.pname or d.name) outputs.devShells.${system}.default.packages;
    };
in
lib.genAttrs (names outputs.packages) perSystem
