//! A failed mmdebstrap run as one clear error: a pin the mirror no longer serves is named with
//! both ways out, anything else by the log's error lines.

/// One clear error from mmdebstrap's log, naming a vanished pin when that is the cause.
pub fn explain_failure(image: &str, log: &[String]) -> anyhow::Error {
    let re = regex_lite::Regex::new(r"Version '([^']+)' for '([^']+)' was not found").expect("valid regex");
    let missing: Vec<String> =
        log.iter().filter_map(|l| re.captures(l).map(|c| format!("{}={}", &c[2], &c[1]))).collect();
    if !missing.is_empty() {
        return anyhow::anyhow!(
            "the mirror no longer serves {} (pinned for image {image}). Either move the lock to what it serves: `cargo xtask sandbox images lock --update`, or rebuild exactly from a snapshot: `cargo xtask sandbox images build --mirror http://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ>/`",
            missing.join(", ")
        );
    }
    let tail: Vec<&str> =
        log.iter().rev().filter(|l| l.starts_with("E: ") || l.contains("rror")).take(5).map(String::as_str).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    anyhow::anyhow!(
        "building image {image} with mmdebstrap failed: {}",
        if tail.is_empty() { "see the build log".to_string() } else { tail.join(" | ") }
    )
}
