# MySQL 8.4 (nixpkgs has no MySQL 8.0 any more). The xtask mounts /etc/sandbox/db-start.sh,
# which initialises an empty datadir and starts mysqld as the mysql user; the datadir and
# the socket directory start out owned by that user so a fresh volume needs no chown.
{ mkSandboxImage, mysql84, ... }:
mkSandboxImage {
  image = "db";
  packages = [ mysql84 ];
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
