# Just enough of nixpkgs' lib, with the same names and meanings, to evaluate the flake's
# wiring where nixpkgs cannot be fetched. Anything the flake uses but this file lacks
# fails the offline check loudly, which is the point.
let
  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    head
    listToAttrs
    map
    ;
  escapeShellArg = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s)}'";
  concatMapStrings = f: list: concatStringsSep "" (map f list);
  requirePath =
    path:
    if builtins.pathExists path then
      path
    else
      throw "lib.fileset: ${toString path} does not exist (is it committed?)";
in
{
  inherit
    attrNames
    concatStringsSep
    listToAttrs
    escapeShellArg
    concatMapStrings
    ;
  genAttrs =
    names: f:
    listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );
  getName = drv: drv.pname or (head (builtins.match "(.*)-[0-9].*" drv.name));
  getVersion = drv: drv.version;
  toInt = builtins.fromJSON;
  versions.major = v: head (builtins.splitVersion v);
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  optional = cond: x: if cond then [ x ] else [ ];
  escapeShellArgs = list: concatStringsSep " " (map escapeShellArg list);
  concatMapStringsSep =
    sep: f: list:
    concatStringsSep sep (map f list);
  concatStrings = concatStringsSep "";
  mapAttrsToList = f: set: map (name: f name set.${name}) (attrNames set);
  findFirst =
    pred: default: list:
    let
      found = filter pred list;
    in
    if found == [ ] then default else head found;
  getExe = drv: "${drv}/bin/${drv.meta.mainProgram}";
  assertMsg = pred: msg: pred || throw msg;
  fileset = {
    unions = map (set: if builtins.isPath set then requirePath set else set);
    maybeMissing = path: if builtins.pathExists path then path else { };
    fileFilter = pred: dir: {
      inherit pred;
      dir = requirePath dir;
    };
    toSource = { root, fileset }: builtins.seq fileset "${toString root}-source";
  };
  licenses.asl20 = "asl20";
  platforms.linux = [
    "x86_64-linux"
    "aarch64-linux"
  ];
}
