# What every service image shares: a shell, coreutils, grep and sed for the xtask's probes,
# scripts and scenarios, /etc/passwd and /etc/group, a sticky /tmp, CA certificates and one PATH.
{
  lib,
  dockerTools,
  writeTextDir,
  bashInteractive,
  coreutils,
  gnugrep,
  gnused,
  cacert,
}:
let
  sandboxLib = import ../lib.nix;

  baseUsers = [
    {
      name = "root";
      uid = 0;
      home = "/root";
      shell = "/bin/sh";
    }
    {
      name = "nobody";
      uid = 65534;
      home = "/var/empty";
      shell = "/bin/false";
    }
  ];

  # Each user gets a group of the same name and number, like Debian's system users.
  passwd =
    users:
    writeTextDir "etc/passwd" (
      lib.concatMapStrings (
        u: "${u.name}:x:${toString u.uid}:${toString u.uid}:${u.name}:${u.home}:${u.shell}\n"
      ) users
    );

  group =
    users:
    writeTextDir "etc/group" (lib.concatMapStrings (u: "${u.name}:x:${toString u.uid}:\n") users);

  # Without it glibc tries DNS before /etc/hosts, where the engine writes the aliases.
  nsswitch = writeTextDir "etc/nsswitch.conf" ''
    passwd: files
    group: files
    hosts: files dns
  '';
in
{
  image,
  packages,
  extraUsers ? [ ],
  # Directories the image starts with, relative to /. A named volume mounted there starts
  # as a copy of it, owner included.
  dirs ? [ ],
  ownedDirs ? { },
  env ? [ ],
}:
let
  users = baseUsers ++ extraUsers;
  contents = [
    bashInteractive
    coreutils
    gnugrep
    gnused
    cacert
    dockerTools.usrBinEnv
    (passwd users)
    (group users)
    nsswitch
  ]
  ++ packages;
  uidOf = name: toString (lib.findFirst (u: u.name == name) null users).uid;
  # /var/run leads into /run, where sandbox.json mounts each service's tmpfs: dockerd's
  # /var/run/docker.pid must not outlive a crash in the image's own layer. The drift check
  # reads this (passthru) and holds the Debian images to the same.
  symlinks = {
    "var/run" = "../run";
  };
  config = {
    Cmd = sandboxLib.imageCmd image;
    Env = [
      "PATH=/bin:/usr/bin"
      "HOME=/root"
      "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
    ]
    ++ env;
    WorkingDir = "/";
  };
  image' = dockerTools.buildLayeredImage {
    name = sandboxLib.imageName image;
    tag = sandboxLib.imageTag;
    inherit contents;

    extraCommands = ''
      mkdir -m 1777 tmp
      mkdir -p root run var ${lib.escapeShellArgs (dirs ++ lib.attrNames ownedDirs)}
      ${lib.concatStrings (
        lib.mapAttrsToList (path: target: ''
          ln -s ${lib.escapeShellArg target} ${lib.escapeShellArg path}
        '') symlinks
      )}
    '';

    fakeRootCommands = lib.concatStrings (
      lib.mapAttrsToList (dir: owner: ''
        chown ${uidOf owner}:${uidOf owner} ${lib.escapeShellArg dir}
      '') ownedDirs
    );

    inherit config;
  };
in
# buildLayeredImage keeps its own passthru; the image checks need to know what is on PATH
# and what must be there, and the drift check (xtask/src/nixcheck/) compares the config with
# the one the Debian path writes.
image'.overrideAttrs (old: {
  passthru = (old.passthru or { }) // {
    inherit contents symlinks;
    imageConfig = config;
    requiredCommands = sandboxLib.requiredCommands image;
  };
})
