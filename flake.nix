{
  description = "trust-sandbox: a local, pinned Docker Content Trust sandbox";

  # nixos-25.11 still carries docker 28; flake.lock pins the exact revision.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      sandboxLib = import ./nix/lib.nix;
      forAllSystems =
        f:
        nixpkgs.lib.genAttrs sandboxLib.systems (
          system:
          f {
            inherit system;
            pkgs = import ./nix/nixpkgs.nix { inherit nixpkgs system; };
          }
        );
    in
    {
      packages = forAllSystems ({ pkgs, ... }: import ./nix/packages { inherit pkgs self; });

      apps = forAllSystems (
        { system, ... }:
        import ./nix/apps.nix {
          inherit (nixpkgs) lib;
          packages = self.packages.${system};
        }
      );

      devShells = forAllSystems (
        { pkgs, system }:
        {
          default = import ./nix/devshell.nix {
            inherit pkgs;
            packages = self.packages.${system};
          };
        }
      );

      checks = forAllSystems (
        { pkgs, system }:
        import ./nix/checks {
          inherit pkgs;
          packages = self.packages.${system};
        }
      );
    };
}
