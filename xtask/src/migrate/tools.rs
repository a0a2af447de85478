//! The cosign, Notation and crane command lines, in one place for `migrate` and `compare`.
//!
//! Measured with cosign 3.1.1 against registry 2.8 (plain HTTP, no transparency log): signing
//! needs `--use-signing-config=false` with `--tlog-upload=false` (else "--tlog-upload=false is not
//! supported with --signing-config"), and verifying needs `--insecure-ignore-tlog=true`. Registry
//! 2.8 has no referrers API: both tools store their signatures under the referrers tag
//! `sha256-<hex>` of the signed manifest.

use serde::Serialize;

use super::signers::MOUNT;
use crate::util::shell_quote;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Cosign,
    Notation,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Cosign => "cosign",
            Tool::Notation => "notation",
        }
    }

    /// Signs `reference` (a digest reference) with the sandbox's key.
    pub fn sign(self, reference: &str) -> Vec<String> {
        match self {
            Tool::Cosign => cosign_sign(&format!("{MOUNT}/cosign.key"), reference),
            Tool::Notation => words(&["notation", "sign", "--insecure-registry", reference]),
        }
    }

    /// Verifies `reference` (tag or digest) against the sandbox's public key / trust policy.
    pub fn verify(self, reference: &str) -> Vec<String> {
        match self {
            Tool::Cosign => words(&[
                "cosign",
                "verify",
                "--key",
                &format!("{MOUNT}/cosign.pub"),
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                "--allow-http-registry",
                reference,
            ]),
            Tool::Notation => words(&["notation", "verify", "--insecure-registry", reference]),
        }
    }
}

pub fn cosign_sign(key: &str, reference: &str) -> Vec<String> {
    words(&[
        "cosign",
        "sign",
        "--yes",
        "--key",
        key,
        "--use-signing-config=false",
        "--tlog-upload=false",
        "--allow-insecure-registry",
        "--allow-http-registry",
        reference,
    ])
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

pub fn shell_line(argv: &[String]) -> String {
    argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
}

/// The digest a tag points to now, or `-` when the registry has no such tag; then whether the
/// signed digest is still served. Arguments: tag reference, digest reference.
pub const REGISTRY_STATE: &str = r#"now=$(crane digest --insecure "$1" 2>/dev/null) || now=-
echo "now=$now"
if crane manifest --insecure "$2" >/dev/null 2>&1; then echo served=yes; else echo served=no; fi"#;

/// Parses [`REGISTRY_STATE`]'s output: (digest the tag points to now, signed digest served).
pub fn parse_registry_state(out: &str) -> Option<(Option<String>, bool)> {
    let now = out.lines().find_map(|l| l.strip_prefix("now="))?.trim();
    let served = out.lines().find_map(|l| l.strip_prefix("served="))?.trim() == "yes";
    Some(((now != "-" && now.starts_with("sha256:")).then(|| now.to_string()), served))
}

/// Verify first (a signature by this key is already there: nothing to do), else sign and
/// verify. The last line says which: `@@ already`, `@@ signed`, `@@ sign-failed`,
/// `@@ verify-failed`.
pub fn sign_once_script(tool: Tool, reference: &str) -> String {
    let verify = shell_line(&tool.verify(reference));
    let sign = shell_line(&tool.sign(reference));
    format!(
        "if {verify} >/tmp/verify.log 2>&1; then echo '@@ already'; exit 0; fi\n\
         if ! {sign} >/tmp/sign.log 2>&1; then tail -n 3 /tmp/sign.log; echo '@@ sign-failed'; exit 1; fi\n\
         if ! {verify} >/tmp/verify.log 2>&1; then tail -n 3 /tmp/verify.log; echo '@@ verify-failed'; exit 1; fi\n\
         echo '@@ signed'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_signs_without_a_transparency_log_and_never_sees_the_password() {
        let a = Tool::Cosign.sign("r@sha256:x");
        assert!(
            a.contains(&"--use-signing-config=false".to_string()) && a.contains(&"--tlog-upload=false".to_string())
        );
        assert!(!a.iter().any(|w| w.to_lowercase().contains("password")), "{a:?}");
        assert_eq!(a.last().unwrap(), "r@sha256:x");
        assert!(Tool::Cosign.verify("r:t").contains(&"--insecure-ignore-tlog=true".to_string()));
    }

    #[test]
    fn registry_state_parses_moved_gone_and_unserved() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(parse_registry_state(&format!("now={d}\nserved=yes\n")), Some((Some(d.clone()), true)));
        assert_eq!(parse_registry_state("now=-\nserved=no\n"), Some((None, false)));
        assert_eq!(parse_registry_state("garbage"), None);
    }

    #[test]
    fn sign_once_verifies_before_signing() {
        let s = sign_once_script(Tool::Notation, "r@sha256:x");
        assert!(s.find("notation' 'verify").unwrap() < s.find("notation' 'sign").unwrap(), "{s}");
        assert!(s.contains("@@ already") && s.contains("@@ signed"));
    }
}
