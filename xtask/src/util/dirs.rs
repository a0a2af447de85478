//! Where the tool keeps what it can always rebuild: image build caches, the Nix check root, the
//! boot in which `setup` last renumbered podman's locks. Below every part that reads it (images,
//! nixcheck, host), so none of them imports another for a path.

use std::path::PathBuf;

/// `TRUST_SANDBOX_CACHE`, else `$XDG_CACHE_HOME/trust-sandbox`, else `~/.cache/trust-sandbox`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRUST_SANDBOX_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("trust-sandbox")
}
