# Everything the Nix side knows about the sandbox comes from xtask/data/sandbox.json,
# so the Nix and Debian image paths cannot disagree on names or commands. Nothing here
# takes nixpkgs, so it evaluates as well against the stand-in nixpkgs of `cargo xtask nix-check`
# (nix/offline/) as against the real one.
let
  data = builtins.fromJSON (builtins.readFile ../xtask/data/sandbox.json);

  unique = builtins.foldl' (seen: x: if builtins.elem x seen then seen else seen ++ [ x ]) [ ];

  serviceImages = builtins.attrNames data.images;
  allImages = serviceImages;

  servicesOf = image: builtins.filter (service: service.image == image) data.services;

  imageCmd = image: if data.images ? ${image} then data.images.${image}.cmd else [ ];

  # What the image-<name>-commands checks look for when the images are built. The xtask's
  # own list of what it runs in each image is xtask/src/nixcheck/expected.rs; its drift
  # check fails when a program listed there is missing here.
  # Every image: sh scripts, bash TCP probes (/dev/tcp), `versions` (grep, head); the kube
  # export's containers empty their runtime dirs (rm) before they start.
  shellTools = [
    "bash"
    "sh"
    "cat"
    "chown"
    "env"
    "grep"
    "head"
    "mkdir"
    "rm"
    "sleep"
  ];

  # Programs that no command in sandbox.json names but that run inside the container:
  # db-start.sh initialises and starts the server, the rollback scenario dumps the DB; the
  # guide tampers with a blob in the registry; the scenarios run in the client.
  scriptTools = {
    db = [
      "mysqld"
      "mysql"
      "mysqladmin"
      "mysqldump"
      # db-start.sh clears a datadir whose first initialisation never finished.
      "rm"
    ];
    registry = [
      "cut"
      "dd"
      "sha256sum"
      # The exported stack's readiness probe of a registry made with --registry-tls.
      "openssl"
    ];
    # Issue 11's signing tools and the clock shift's faketime (the emulator is per system,
    # qemu-x86_64 or qemu-aarch64: the drift check, xtask/src/nixcheck, holds each image to its own).
    signers = [
      "cosign"
      "notation"
      "crane"
      "faketime"
    ];
    # impostor-server's own Notary server: a self-signed certificate, signing with the CLI.
    notary = [
      "openssl"
      "notary"
    ];
    # Issue 18's enforcement point: pulls through the consumer kit's policy, and the links
    # the xtask makes from /etc/containers into the kit.
    consumer = [
      "skopeo"
      "podman"
      "sha256sum"
      "cut"
      "ln"
      "rm"
      "mkdir"
    ];
    client = [
      "docker"
      "notary"
      "curl"
      "faketime"
      "tar"
      "gzip"
      "sha256sum"
      "mktemp"
      "sort"
      "wc"
      "cut"
      "sed"
      "dd"
      "rm"
      # Scenarios: peak memory (endless-data), a private /etc/hosts for one command
      # (impostor-server). A step's `clock` also needs qemu-<arch> for the host (qemu-x86_64 /
      # qemu-aarch64) and libfaketime at $TRUST_SANDBOX_LIBFAKETIME (xtask/src/step/clock.rs).
      "time"
      "unshare"
      "mount"
      "getent"
      "awk"
    ];
  };

  requiredCommands =
    image:
    unique (
      shellTools
      ++ map (service: builtins.head service.command) (servicesOf image)
      ++ (if imageCmd image == [ ] then [ ] else [ (builtins.head (imageCmd image)) ])
      ++ (scriptTools.${image} or [ ])
    );

  imageName = image: "trust-sandbox/${image}";

  # A fixed tag keeps the image tarball reproducible; the xtask retags what it loads
  # as nix-<store hash> (xtask/src/images/nix.rs).
  imageTag = "nix";

  packageName = image: "image-${image}";
in
{
  inherit
    data
    allImages
    serviceImages
    imageCmd
    imageName
    imageTag
    packageName
    requiredCommands
    ;

  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  notaryVersion = data.versions.notary;
  dockerMaxMajor = data.versions.docker_cli_max_major;
}
