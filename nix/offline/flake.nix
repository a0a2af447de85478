# The stand-in for nixpkgs on machines that cannot fetch it (this project's CI): given to the
# flake as its `nixpkgs` input (`--override-input nixpkgs path:nix/offline`), it lets a real,
# current Nix run `nix flake check --no-build` and instantiate every output. `lib` is
# ./stub-lib.nix, `import nixpkgs { … }` is ./stub-pkgs.nix (through ./default.nix).
{
  description = "trust-sandbox: stand-in nixpkgs for offline evaluation";
  outputs = _: { lib = import ./stub-lib.nix; };
}
