# Applied by the xtask's Nix check (`nix eval --json <flake>#. --apply "$(cat this file)"`)
# to the flake's outputs evaluated against the stand-in nixpkgs: forces every package,
# app, devShell and check (their drvPaths, so each is instantiated with everything it
# names) and reports what each image is made of. Self-contained: --apply cannot import.
outputs:
let
  inherit (builtins)
    attrNames
    concatMap
    filter
    listToAttrs
    mapAttrs
    substring
    stringLength
    ;
  isImage = name: substring 0 6 name == "image-";
  imageOf = name: substring 6 (stringLength name - 6) name;
  perSystem =
    system:
    let
      packages = outputs.packages.${system};
      image = drv: {
        inherit (drv) imageName imageTag;
        requiredCommands = drv.requiredCommands or [ ];
        symlinks = drv.symlinks or { };
        config = drv.imageConfig or null;
        # What the stand-in says each package puts in bin/ and lib/; the image links
        # every package's bin/ and lib/ into /bin and /lib.
        programs = concatMap (p: p.bins or [ ]) drv.contents;
        libraries = concatMap (p: p.libs or [ ]) drv.contents;
        contents = map (p: p.pname or p.name) drv.contents;
      };
    in
    {
      packages = mapAttrs (_: p: p.drvPath) packages;
      apps = mapAttrs (_: a: a.program) outputs.apps.${system};
      devShells = mapAttrs (_: d: d.drvPath) outputs.devShells.${system};
      checks = mapAttrs (_: c: c.drvPath) outputs.checks.${system};
      images = listToAttrs (
        map (name: {
          name = imageOf name;
          value = image packages.${name};
        }) (filter isImage (attrNames packages))
      );
      docker = packages.docker.version;
      # The VM test's driver script (checked for Python syntax by tests/e2e/nix_drift.rs).
      e2eTestScript = outputs.checks.${system}.e2e.testScript or null;
    };
in
mapAttrs (system: _: perSystem system) outputs.packages
