# Notary v1 (server, signer and CLI), built by us: nixpkgs dropped its recipe after upstream
# archived the project.
{
  lib,
  buildGoModule,
  fetchFromGitHub,
}:
let
  sandboxLib = import ../lib.nix;
  rev = "9d2b3b35929392c9945d976b8bdecbe2f53a299e";
in
buildGoModule {
  pname = "notary";
  # NOTARY_VERSION at this revision reads 0.7.0; the pin is 72 commits past the v0.7.0 tag
  # and is the revision nixpkgs last built.
  version = sandboxLib.notaryVersion;

  src = fetchFromGitHub {
    owner = "notaryproject";
    repo = "notary";
    inherit rev;
    hash = "sha256-u19BfTJwRWholK0b3BcgSmcMM9AR7OeXo64AOi87r0A=";
  };

  # Upstream commits vendor/, so no separate module download is needed.
  vendorHash = null;

  subPackages = [
    "cmd/notary"
    "cmd/notary-server"
    "cmd/notary-signer"
  ];

  # Upstream's Makefile builds with this tag; without it the CLI has no YubiKey (PKCS#11) keystore.
  tags = [ "pkcs11" ];

  ldflags = [
    "-s"
    "-w"
    "-X github.com/theupdateframework/notary/version.NotaryVersion=${sandboxLib.notaryVersion}"
    "-X github.com/theupdateframework/notary/version.GitCommit=${builtins.substring 0 8 rev}"
  ];

  # The upstream test suite wants network access and database servers.
  doCheck = false;

  meta = {
    description = "Notary v1 server, signer and client (Docker Content Trust)";
    homepage = "https://github.com/notaryproject/notary";
    license = lib.licenses.asl20;
    mainProgram = "notary";
    platforms = lib.platforms.linux;
  };
}
