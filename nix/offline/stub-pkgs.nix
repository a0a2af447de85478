# A stand-in for `import nixpkgs { system, config }`: the attributes the flake uses, as real
# derivations (instantiable, never buildable: their builder only fails) that also keep their
# arguments, so a current Nix can check and instantiate every output offline and the drift
# check (xtask/src/nixcheck/) can read each image's configuration. It also applies the
# flake's insecure-package policy to docker the way nixpkgs' meta check would.
# `bins` lists the programs each real package puts in bin/ (those the images rely on), so
# the drift check can tell which programs an image has on its PATH; for the real nixpkgs
# the flake's image-<name>-commands checks prove the same at build time.
{
  system,
  config ? { },
  ...
}:
let
  lib = import ./stub-lib.nix;

  # What a derivation attribute can hold: functions dropped, derivations as their paths.
  plain =
    v:
    if builtins.isFunction v then
      null
    else if builtins.isAttrs v then
      (if v ? outPath then v.outPath else builtins.mapAttrs (_: plain) v)
    else if builtins.isList v then
      map plain v
    else
      v;

  mkDrv =
    name: args:
    let
      drv = derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [
          "-c"
          "echo 'the stand-in nixpkgs (nix/offline) cannot build anything' >&2; exit 1"
        ];
        # Every argument reaches the .drv, so a change to any of them changes the drvPath and
        # every derivation this one names is instantiated with it.
        stubArgs = builtins.toJSON (plain args);
      };
      # nixpkgs refuses an insecure package when it is instantiated, not when it is named.
      permitted = !(args.insecure or false) || (config.allowInsecurePredicate or (_: false)) self;
      refuse = throw "stand-in nixpkgs: ${name} is insecure and not permitted by the flake's policy";
      self =
        args
        // (args.passthru or { })
        // {
          inherit name system;
          inherit (drv) type outputName drvAttrs;
          drvPath = if permitted then drv.drvPath else refuse;
          outPath = if permitted then drv.outPath else refuse;
          nativeBuildInputs = args.nativeBuildInputs or [ ];
          overrideAttrs = f: mkDrv name (args // f self);
          override = more: mkDrv name (args // more);
        };
    in
    self;

  pkg =
    pname: version: bins:
    mkDrv "${pname}-${version}" { inherit pname version bins; };

  # The version a public nixos-25.11 configuration had to permit as insecure; dockerd is a
  # symlink to the daemon in the non-clientOnly build.
  docker_28 = mkDrv "docker-28.5.2" {
    pname = "docker";
    version = "28.5.2";
    bins = [
      "docker"
      "dockerd"
    ];
    insecure = true;
  };

  # The NixOS options the VM test (nix/checks/e2e.nix) may set, each with a check of its
  # value. The real module system refuses an unknown option or a wrong type; so does this,
  # for the few it knows. `imports`, `config` and friends are not supported.
  nixosOptions = {
    "virtualisation.podman.enable" = builtins.isBool;
    "virtualisation.docker.enable" = builtins.isBool;
    "virtualisation.memorySize" = builtins.isInt;
    "virtualisation.diskSize" = builtins.isInt;
    "virtualisation.cores" = builtins.isInt;
    "environment.systemPackages" = v: builtins.isList v && builtins.all (p: p ? outPath) v;
    "environment.variables.TRUST_SANDBOX_NIX_IMAGES" = builtins.isString;
  };

  # A module's settings as dotted option paths; derivations and lists are values.
  leaves =
    path: v:
    if builtins.isAttrs v && !(v ? outPath) then
      builtins.concatMap (n: leaves (path ++ [ n ]) v.${n}) (builtins.attrNames v)
    else
      [
        {
          name = builtins.concatStringsSep "." path;
          value = v;
        }
      ];

  nixosNode =
    name: module:
    let
      settings = if builtins.isFunction module then module { inherit pkgs lib; } else module;
      bad = builtins.filter (l: !(nixosOptions ? ${l.name}) || !(nixosOptions.${l.name} l.value)) (
        leaves [ ] settings
      );
    in
    if bad == [ ] then
      settings
    else
      throw "stand-in NixOS: node ${name}: unknown option or wrong type: ${toString (map (l: l.name) bad)}";

  pkgs = {
    inherit lib docker_28 pkgs;

    # nixpkgs' platform attribute: the name qemu gives the system's architecture.
    stdenv.hostPlatform = {
      inherit system;
      qemuArch = builtins.head (builtins.split "-" system);
    };

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

    buildGoModule =
      args:
      mkDrv "${args.pname}-${args.version}" (
        args // { bins = map baseNameOf (args.subPackages or [ ]); }
      );
    fetchFromGitHub = args: mkDrv "source" args;
    rustPlatform = {
      buildRustPackage = args: mkDrv "${args.pname}-${args.version}" args;
      rustLibSrc = pkg "rust-lib-src" "1" [ ];
    };
    writeShellApplication = args: mkDrv args.name (args // { meta.mainProgram = args.name; });
    writeTextDir = path: text: mkDrv (baseNameOf path) { inherit path text; };
    runCommand =
      name: env: script:
      mkDrv name (env // { inherit script; });
    mkShell = args: mkDrv "nix-shell" args;
    linkFarm = name: entries: mkDrv name { inherit entries; };

    # The test driver's Python is not checked here; that every node is driven by the
    # script is.
    testers.runNixOSTest =
      args:
      let
        nodes = builtins.mapAttrs nixosNode args.nodes;
        undriven = builtins.filter (n: builtins.match ".*[(]${n}, .*" args.testScript == null) (
          builtins.attrNames nodes
        );
      in
      if undriven == [ ] then
        mkDrv "vm-test-run-${args.name}" {
          inherit nodes;
          inherit (args) testScript;
        }
      else
        throw "stand-in testers.runNixOSTest: the test script never drives ${toString undriven}";

    dockerTools = {
      usrBinEnv = pkg "usr-bin-env" "1" [ ];
      buildLayeredImage =
        args:
        mkDrv "${baseNameOf args.name}.tar.gz" {
          inherit args;
          imageName = args.name;
          imageTag = args.tag;
        };
    };

    bashInteractive = pkg "bash-interactive" "5.3" [
      "bash"
      "sh"
    ];
    coreutils = pkg "coreutils" "9.8" [
      "cat"
      "chown"
      "cut"
      "dd"
      "env"
      "head"
      "ln"
      "mkdir"
      "mktemp"
      "rm"
      "sha256sum"
      "sleep"
      "sort"
      "wc"
    ];
    gnugrep = pkg "gnugrep" "3.12" [
      "grep"
      "egrep"
      "fgrep"
    ];
    gnused = pkg "gnused" "4.9" [ "sed" ];
    cacert = pkg "nss-cacert" "3.115" [ ];
    # meta.mainProgram of nixpkgs' distribution is "registry".
    distribution = pkg "distribution" "3.0.0" [ "registry" ];
    mysql84 = pkg "mysql" "8.4.6" [
      "mysqld"
      "mysql"
      "mysqladmin"
      "mysqldump"
    ];
    curl = pkg "curl" "8.16.0" [ "curl" ];
    libfaketime = (pkg "libfaketime" "0.9.12" [ "faketime" ]) // {
      libs = [ "libfaketime.so.1" ];
    };
    # nixpkgs' qemu-user: qemu.override { userOnly = true; }, one emulator per target.
    qemu-user = pkg "qemu-user" "10.1.2" [
      "qemu-x86_64"
      "qemu-aarch64"
      "qemu-i386"
      "qemu-arm"
    ];
    cosign = pkg "cosign" "2.6.1" [ "cosign" ];
    notation = pkg "notation" "1.3.2" [ "notation" ];
    go-containerregistry = pkg "go-containerregistry" "0.20.6" [
      "crane"
      "gcrane"
    ];
    gnutar = pkg "gnutar" "1.35" [ "tar" ];
    gawk = pkg "gawk" "5.3.2" [
      "awk"
      "gawk"
    ];
    gzip = pkg "gzip" "1.14" [ "gzip" ];
    time = pkg "time" "1.9" [ "time" ];
    util-linux = pkg "util-linux" "2.41.1" [
      "unshare"
      "mount"
    ];
    getent = pkg "getent" "2.40-66" [ "getent" ];
    openssl = pkg "openssl" "3.5.4" [ "openssl" ];
    cargo = pkg "cargo" "1.91.1" [ "cargo" ];
    rustc = pkg "rustc" "1.91.1" [ "rustc" ];
    clippy = pkg "clippy" "1.91.1" [ "cargo-clippy" ];
    rustfmt = pkg "rustfmt" "1.91.1" [ "rustfmt" ];
    rust-analyzer = pkg "rust-analyzer" "2025-10-27" [ "rust-analyzer" ];
    podman = pkg "podman" "5.6.2" [ "podman" ];
    skopeo = pkg "skopeo" "1.20.0" [ "skopeo" ];
    mmdebstrap = pkg "mmdebstrap" "1.5.7" [ "mmdebstrap" ];
    runc = pkg "runc" "1.3.3" [ "runc" ];
    hyperfine = pkg "hyperfine" "1.19.0" [ "hyperfine" ];
    nixfmt = pkg "nixfmt" "1.1.0" [ "nixfmt" ];
    deadnix = pkg "deadnix" "1.3.1" [ "deadnix" ];
    jq = pkg "jq" "1.8.1" [ "jq" ];
  };
in
pkgs
