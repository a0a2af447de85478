# The xtask runs sandbox.json's commands by name, so each must be an executable in one of
# the image's /bin directories; checking the image's contents finds a missing one at
# build time instead of at `sandbox up`.
{
  lib,
  runCommand,
  name,
  image,
}:
runCommand "${name}-commands" { } ''
  missing=0
  for cmd in ${lib.escapeShellArgs image.requiredCommands}; do
    found=0
    for dir in ${lib.concatMapStringsSep " " (p: lib.escapeShellArg "${p}/bin") image.contents}; do
      if [ -x "$dir/$cmd" ]; then
        found=1
        break
      fi
    done
    if [ "$found" = 0 ]; then
      echo "${name}: '$cmd' is not on the image's PATH" >&2
      missing=1
    fi
  done
  [ "$missing" = 0 ]
  touch "$out"
''
