//! The unified diff `hosts add|remove --dry-run` prints, computed by the `similar` crate.

use similar::{Algorithm, TextDiff};

/// Lines of unchanged context around each change, as `diff -u`.
const CONTEXT: usize = 3;

/// A unified diff (3 lines of context) in the format `patch` and `git apply` accept. Lines are
/// split after each `\n` only, so a change of line ending (`\r\n`) or of the final newline is a
/// visible change and `\r` is kept in the output as-is.
pub fn unified_diff(path_label: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let a: Vec<&str> = before.split_inclusive('\n').collect();
    let b: Vec<&str> = after.split_inclusive('\n').collect();
    // Myers with common prefix/suffix trimming: hosts files can be large (ad-blocking lists
    // have 100k+ lines) while our edits are a few lines.
    let diff = TextDiff::configure().algorithm(Algorithm::Myers).newline_terminated(true).diff_slices(&a, &b);
    diff.unified_diff()
        .context_radius(CONTEXT)
        .header(&format!("{path_label}\t(current)"), &format!("{path_label}\t(proposed)"))
        .to_string()
}
