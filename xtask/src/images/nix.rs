// placeholder until the Nix image source lands
use std::path::{Path, PathBuf};
pub fn nix_usable(_: &xshell::Shell) -> bool {
    false
}
pub fn build(_: &xshell::Shell, _: &Path, _: &str) -> anyhow::Result<PathBuf> {
    anyhow::bail!("nix image source not available")
}
pub fn store_tag(_: &Path) -> anyhow::Result<String> {
    anyhow::bail!("nix")
}
