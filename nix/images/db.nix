# MySQL 8.4 (nixpkgs has no MySQL 8.0 any more). The xtask mounts /etc/sandbox/db-start.sh,
# which initialises an empty datadir and starts mysqld as the mysql user; the datadir starts
# out owned by that user so a fresh volume needs no chown. /run is a tmpfs at run time
# (sandbox.json), which hides the image's /run/mysqld: db-start.sh makes it again.
{
  mkSandboxImage,
  mysql84,
  writeTextDir,
  ...
}:
mkSandboxImage {
  image = "db";
  packages = [
    mysql84
    # mysqld started through the /bin symlink cannot tell where its share/ (error
    # messages, charsets) lives; NixOS passes --basedir for the same reason. The default
    # option file saves db-start.sh from knowing a store path.
    (writeTextDir "etc/my.cnf" ''
      [mysqld]
      basedir = ${mysql84}
    '')
  ];
  extraUsers = [
    {
      name = "mysql";
      uid = 999;
      home = "/var/lib/mysql";
      shell = "/bin/false";
    }
  ];
  ownedDirs = {
    "var/lib/mysql" = "mysql";
    "run/mysqld" = "mysql";
  };
}
