# notary-server and notary-signer share one image; sandbox.json's service commands pick
# the binary. A scenario's impostor Notary server (impostor-server) runs here too: its own
# self-signed certificate (openssl) and signing with the notary CLI.
{
  mkSandboxImage,
  notary,
  openssl,
  ...
}:
mkSandboxImage {
  image = "notary";
  packages = [
    notary
    openssl
  ];
}
