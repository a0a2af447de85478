# A stand-in for `import nixpkgs { system, config }`: the attributes the flake uses, as
# fake derivations that remember their arguments, so the offline check can look at the
# image names, commands and wiring the real flake would build. It also applies the
# flake's insecure-package policy to docker the way nixpkgs' meta check would.
{ system, config }:
let
  lib = import ./stub-lib.nix;

  mkDrv =
    name: args:
    let
      self =
        args
        // (args.passthru or { })
        // {
          type = "derivation";
          inherit name system;
          outPath = "/nix/store/00000000000000000000000000000000-${name}";
          nativeBuildInputs = args.nativeBuildInputs or [ ];
          overrideAttrs = f: mkDrv name (args // f self);
          override = more: mkDrv name (args // more);
        };
    in
    self;

  pkg = pname: version: mkDrv "${pname}-${version}" { inherit pname version; };

  # The version a public nixos-25.11 configuration had to permit as insecure.
  docker_28 =
    let
      docker = pkg "docker" "28.5.2";
    in
    if config.allowInsecurePredicate docker then
      docker
    else
      throw "stub nixpkgs: docker ${docker.version} is insecure and not permitted";

  pkgs = {
    inherit lib docker_28;

    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
        wanted = builtins.functionArgs f;
        missing = builtins.filter (name: !(wanted.${name} || pkgs ? ${name} || args ? ${name})) (
          builtins.attrNames wanted
        );
      in
      if missing == [ ] then
        f (builtins.intersectAttrs wanted pkgs // args)
      else
        throw "stub nixpkgs: callPackage: no ${toString missing}";

    buildGoModule = args: mkDrv "${args.pname}-${args.version}" args;
    fetchFromGitHub = args: mkDrv "source" args;
    rustPlatform = {
      buildRustPackage = args: mkDrv "${args.pname}-${args.version}" args;
      rustLibSrc = pkg "rust-lib-src" "1";
    };
    writeShellApplication = args: mkDrv args.name (args // { meta.mainProgram = args.name; });
    writeTextDir = path: text: mkDrv (baseNameOf path) { inherit path text; };
    runCommand =
      name: env: script:
      mkDrv name (env // { inherit script; });
    mkShell = args: mkDrv "nix-shell" args;

    dockerTools = {
      usrBinEnv = pkg "usr-bin-env" "1";
      buildLayeredImage =
        args:
        mkDrv "${baseNameOf args.name}.tar.gz" {
          inherit args;
          imageName = args.name;
          imageTag = args.tag;
        };
    };

    bashInteractive = pkg "bash-interactive" "5.3";
    coreutils = pkg "coreutils" "9.8";
    cacert = pkg "nss-cacert" "3.115";
    distribution = pkg "distribution" "3.0.0";
    mysql84 = pkg "mysql" "8.4.6";
    curl = pkg "curl" "8.16.0";
    libfaketime = pkg "libfaketime" "0.9.12";
    gnutar = pkg "gnutar" "1.35";
    gzip = pkg "gzip" "1.14";
    cargo = pkg "cargo" "1.91.1";
    rustc = pkg "rustc" "1.91.1";
    clippy = pkg "clippy" "1.91.1";
    rustfmt = pkg "rustfmt" "1.91.1";
    rust-analyzer = pkg "rust-analyzer" "2025-10-27";
    podman = pkg "podman" "5.6.2";
    mmdebstrap = pkg "mmdebstrap" "1.5.7";
    runc = pkg "runc" "1.3.3";
    hyperfine = pkg "hyperfine" "1.19.0";
    nixfmt = pkg "nixfmt" "1.1.0";
    deadnix = pkg "deadnix" "1.3.1";
    jq = pkg "jq" "1.8.1";
  };
in
pkgs
