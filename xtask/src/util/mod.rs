//! The small helpers every part shares, each once and each in a file of its own: files written
//! atomically, the cache directory, the clock, random bytes, the HTTP client, shell quoting, waiting for a
//! probe, and reading a certificate back.

mod clock;
mod dirs;
mod files;
mod http;
mod poll;
mod quote;
mod random;
pub mod x509;

pub use clock::now_rfc3339;
pub use dirs::cache_dir;
pub use files::{make_private_dir, write_mode, write_private, write_together};
pub use http::{basic_auth, http_agent};
pub use poll::poll;
pub use quote::{shell_export, shell_quote};
pub use random::{hex, random_bytes, random_hex};
