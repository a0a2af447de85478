//! Secrets masked in everything printed or reported: each value whole, its base64 forms (at every
//! alignment, standard and URL-safe), and any copy of [`PARTIAL_MIN`] or more consecutive
//! characters of either — a passphrase cut in half, or embedded in an encoded config, is still
//! one that must not reach a log, a JSON or a JUnit report.

/// Replaces secrets with `***`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Needles shorter than PARTIAL_MIN, replaced only whole.
    short: Vec<String>,
    /// Every PARTIAL_MIN-long window of every longer needle.
    windows: std::collections::HashSet<Vec<u8>>,
}

/// A copy this long of a secret (or of its base64 form) is masked even when the rest is missing:
/// 12 hex digits are 48 bits, which an unrelated digest in the output matches by chance only
/// about once in 10^10 windows.
pub const PARTIAL_MIN: usize = 12;

impl Masker {
    pub fn new(secrets: &[String]) -> Masker {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            needles.push(s.clone());
            needles.extend(base64_forms(s.as_bytes()));
        }
        let mut short: Vec<String> = needles.iter().filter(|n| n.len() < PARTIAL_MIN).cloned().collect();
        // Longest first, so a secret that contains another is masked whole.
        short.sort_by_key(|s| std::cmp::Reverse(s.len()));
        short.dedup();
        let windows = needles
            .iter()
            .filter(|n| n.len() >= PARTIAL_MIN)
            .flat_map(|n| n.as_bytes().windows(PARTIAL_MIN).map(<[u8]>::to_vec).collect::<Vec<_>>())
            .collect();
        Masker { short, windows }
    }

    pub fn mask(&self, s: &str) -> String {
        let bytes = s.as_bytes();
        let mut hit = vec![false; bytes.len()];
        if !self.windows.is_empty() && bytes.len() >= PARTIAL_MIN {
            for (i, w) in bytes.windows(PARTIAL_MIN).enumerate() {
                if self.windows.contains(w) {
                    hit[i..i + PARTIAL_MIN].iter_mut().for_each(|h| *h = true);
                }
            }
        }
        // Needles are ASCII, so every hit run starts and ends on a character boundary.
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < bytes.len() {
            if hit[i] {
                while i < bytes.len() && hit[i] {
                    i += 1;
                }
                out.push_str("***");
            } else {
                let start = i;
                while i < bytes.len() && !hit[i] {
                    i += 1;
                }
                out.push_str(&s[start..i]);
            }
        }
        for secret in &self.short {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// The base64 text of `secret` as it appears inside a longer encoded value: for each of the three
/// alignments, the characters that depend on the secret's bytes only.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    let mut forms = Vec::new();
    for engine in [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE] {
        forms.push(engine.encode(secret));
        for pad in 0..3usize {
            let mut buf = vec![0u8; pad];
            buf.extend_from_slice(secret);
            let enc = engine.encode(&buf);
            // Skip the characters the padding bytes touch, and the last (partial) group.
            let skip = if pad == 0 { 0 } else { 4 };
            let whole_groups = buf.len() / 3 * 4;
            if whole_groups > skip {
                forms.push(enc[skip..whole_groups].to_string());
            }
        }
    }
    forms.retain(|f| f.len() >= 4);
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const SECRET: &str = "3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f";

    #[test]
    fn whole_values_and_short_ones_are_masked() {
        let m = Masker::new(&["hunter2".into(), SECRET.into()]);
        assert_eq!(m.mask(&format!("pw={SECRET}; old=hunter2")), "pw=***; old=***");
        assert_eq!(m.mask("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn partial_copies_of_twelve_or_more_characters_are_masked() {
        // The README's promise, at its exact threshold: 12 consecutive characters are masked, 11
        // are not.
        let m = Masker::new(&[SECRET.into()]);
        let twelve = &SECRET[5..17];
        assert_eq!(m.mask(&format!("leaked {twelve} here")), "leaked *** here");
        let eleven = &SECRET[5..16];
        assert_eq!(m.mask(&format!("x {eleven} y")), format!("x {eleven} y"), "11 characters are not a copy");
        let half = &SECRET[5..25];
        assert_eq!(m.mask(&format!("leaked {half} here")), "leaked *** here");
    }

    #[test]
    fn base64_forms_are_masked_at_every_alignment() {
        let m = Masker::new(&[SECRET.into()]);
        for prefix in ["", "a", "ab", "abc"] {
            for engine in [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE] {
                let encoded = engine.encode(format!("{prefix}user:{SECRET}:tail"));
                let masked = m.mask(&format!("auth {encoded} end"));
                assert!(masked.contains("***"), "{prefix:?}: {encoded} not masked: {masked}");
                // What is left of the encoded value is too short to carry the secret.
                for part in masked.split("***") {
                    let decoded =
                        engine.decode(part.trim_start_matches("auth ").trim_end_matches(" end").trim_end_matches('='));
                    assert!(decoded.map_or(true, |d| !String::from_utf8_lossy(&d).contains(&SECRET[..12])));
                }
            }
        }
    }

    #[test]
    fn multibyte_text_around_a_secret_survives() {
        let m = Masker::new(&[SECRET.into()]);
        assert_eq!(m.mask(&format!("✓ {SECRET} ✗")), "✓ *** ✗");
    }
}
