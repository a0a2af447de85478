# notary-server and notary-signer share one image; sandbox.json's service commands pick
# the binary.
{ mkSandboxImage, notary, ... }:
mkSandboxImage {
  image = "notary";
  packages = [ notary ];
}
