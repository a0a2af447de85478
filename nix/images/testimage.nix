# The image the scenario signs and pushes: one small file in one layer, so a push is quick
# and the layer to tamper with is unambiguous. Written in place rather than linked from
# the store, which would drag store paths into the image.
{ dockerTools, ... }:
let
  sandboxLib = import ../lib.nix;
  image = dockerTools.buildLayeredImage {
    name = sandboxLib.imageName "testimage";
    tag = sandboxLib.imageTag;
    extraCommands = ''
      echo 'trust-sandbox test image' > hello.txt
    '';
  };
in
image.overrideAttrs (old: {
  passthru = (old.passthru or { }) // {
    contents = [ ];
    requiredCommands = sandboxLib.requiredCommands "testimage";
  };
})
