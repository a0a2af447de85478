//! Reversible aliasing of the sandbox service names in a hosts file.
//!
//! The sandbox's TLS certificates and the Docker Content Trust client refer to
//! the services as `notaryserver` and `sandboxregistry`, so the host needs those
//! names to resolve to the loopback address where the ports are published. We
//! own exactly one marked block in the hosts file and nothing else: every byte
//! outside the block is preserved, and `remove` after `add` restores the file
//! byte for byte.
//!
//! Everything that decides *what* to write is pure (`plan_*`, `show`,
//! `unified_diff`) so it can be tested without touching the file system; the
//! I/O lives in `add`, `remove` and `write_atomic`.

mod diff;
mod write;

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use serde::Serialize;

pub use diff::unified_diff;
#[cfg(test)]
use write::write_atomic;
use write::{describe_io_error, raced_error, write_replacing, Access, WriteError};

/// The names the host reaches the published services by: the table's (`notaryserver`,
/// `sandboxregistry`).
pub fn names() -> Vec<&'static str> {
    crate::table::embedded().host_names()
}
pub const DEFAULT_HOSTS_FILE: &str = "/etc/hosts";

/// Loopback rather than a container address: the sandbox publishes its ports
/// on the host, and container addresses are not reachable from macOS hosts.
const ADDRESS: &str = "127.0.0.1";

// Markers are matched by prefix so that blocks written by any version of this
// tool (or edited by hand) are still recognised as ours and can be replaced.
const BEGIN_PREFIX: &str = "# BEGIN trust-sandbox";
const END_PREFIX: &str = "# END trust-sandbox";
/// Bump when the rendered block changes; older blocks then count as stale.
const FORMAT_VERSION: &str = "v1";
/// Records that the file did not end with a newline before `add`, so that
/// `remove` can take the newline away again instead of leaving a one-byte diff.
const NEWLINE_ADDED_FLAG: &str = "newline-added";
const BEGIN_NOTE: &str = "(managed by `cargo xtask sandbox hosts`; remove with `cargo xtask sandbox hosts remove`)";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A line outside our block that already maps one of [`names`]. It may be
    /// a deliberate setup (another sandbox, a remote notary), so it is never
    /// overridden; `add` refuses instead.
    ForeignMapping {
        /// 1-based, as editors show it.
        line_no: usize,
        /// The line without its line terminator.
        line: String,
        /// The name from [`names`] (canonical spelling, whatever case the file uses).
        name: String,
        addr: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::ForeignMapping { line_no, line, name, addr } => {
                write!(f, "line {line_no}: `{line}` maps {name} to {addr}")
            }
        }
    }
}

/// What a command would change. Callers of [`plan_add`] must refuse to write
/// when `findings` is non-empty, as [`add`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub before: String,
    /// Equal to `before` when there is nothing to do.
    pub after: String,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Some trust-sandbox block (current, stale or damaged) is in the file.
    pub present: bool,
    /// The block is not exactly what `add` would write now (older version,
    /// edited, duplicated, or missing its END line); `add` rewrites it, except
    /// a missing END line, which has to be fixed by hand.
    pub stale: bool,
    pub foreign: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The file's content differs after the command. With `dry_run` it means
    /// "would differ": nothing was written.
    pub changed: bool,
    /// Unified diff of the change; empty when nothing changes. Not printed
    /// here, so the caller decides (it is what `--dry-run` shows).
    pub diff: String,
}

// ---------------------------------------------------------------------------
// Parsing

struct Line<'a> {
    /// Byte range of the line including its terminator.
    start: usize,
    end: usize,
    /// The line without `\n` / `\r\n`.
    text: &'a str,
    terminated: bool,
    crlf: bool,
}

fn split_lines(content: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for piece in content.split_inclusive('\n') {
        let end = start + piece.len();
        let (text, terminated, crlf) = if let Some(t) = piece.strip_suffix("\r\n") {
            (t, true, true)
        } else if let Some(t) = piece.strip_suffix('\n') {
            (t, true, false)
        } else {
            (piece, false, false)
        };
        lines.push(Line { start, end, text, terminated, crlf });
        start = end;
    }
    lines
}

fn is_marker(text: &str, prefix: &str) -> bool {
    // Require a word boundary so that e.g. `# BEGIN trust-sandboxes` is not ours.
    text.trim().strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    Lf,
    CrLf,
}

impl Eol {
    fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

struct Block {
    /// Indices into the line vector, both inclusive.
    first: usize,
    last: usize,
    start: usize,
    end: usize,
    newline_added: bool,
}

struct Parsed<'a> {
    lines: Vec<Line<'a>>,
    blocks: Vec<Block>,
    /// `ours[i]` is true when line `i` belongs to one of our blocks (or to an
    /// unterminated one), so it is never reported as a foreign mapping.
    ours: Vec<bool>,
    corrupt: Option<String>,
}

fn parse(content: &str) -> Parsed<'_> {
    let lines = split_lines(content);
    let mut ours = vec![false; lines.len()];
    let mut blocks = Vec::new();
    let mut corrupt = None;
    let mut open: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        if is_marker(line.text, BEGIN_PREFIX) {
            if let Some(first) = open {
                corrupt.get_or_insert_with(|| {
                    format!(
                        "corrupt trust-sandbox block: line {} `{}` starts a block inside the block \
                         started at line {}; fix the file by hand (keep at most one \
                         `{BEGIN_PREFIX}` … `{END_PREFIX}` block) and re-run",
                        i + 1,
                        line.text,
                        first + 1
                    )
                });
            } else {
                open = Some(i);
            }
            ours[i] = true;
        } else if is_marker(line.text, END_PREFIX) {
            ours[i] = true;
            match open.take() {
                Some(first) => blocks.push(Block {
                    first,
                    last: i,
                    start: lines[first].start,
                    end: line.end,
                    newline_added: begin_has_newline_flag(lines[first].text),
                }),
                None => {
                    corrupt.get_or_insert_with(|| {
                        format!(
                            "corrupt trust-sandbox block: line {} `{}` ends a block that was never \
                             started (no `{BEGIN_PREFIX}` line before it); fix the file by hand \
                             and re-run",
                            i + 1,
                            line.text
                        )
                    });
                }
            }
        } else if open.is_some() {
            ours[i] = true;
        }
    }
    if let Some(first) = open {
        // Guessing where the block was meant to end could delete the user's
        // lines, so this is left to a human.
        corrupt.get_or_insert_with(|| {
            format!(
                "corrupt trust-sandbox block: line {} `{}` starts a block that never ends (no \
                 `{END_PREFIX}` line follows); fix the file by hand (delete the partial block) \
                 and re-run",
                first + 1,
                lines[first].text
            )
        });
    }
    Parsed { lines, blocks, ours, corrupt }
}

fn begin_has_newline_flag(begin: &str) -> bool {
    // Only the token right after the version counts, so free text in the note
    // cannot switch the flag on.
    let rest = begin.trim().strip_prefix(BEGIN_PREFIX).unwrap_or("");
    let mut tokens = rest.split_whitespace();
    tokens.next() == Some(FORMAT_VERSION) && tokens.next() == Some(NEWLINE_ADDED_FLAG)
}

impl Parsed<'_> {
    fn foreign(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if self.ours[i] {
                continue;
            }
            let data = line.text.split('#').next().unwrap_or("");
            let mut fields = data.split_whitespace();
            let Some(addr) = fields.next() else { continue };
            let aliases: Vec<&str> = fields.collect();
            for name in names() {
                if aliases.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                    findings.push(Finding::ForeignMapping {
                        line_no: i + 1,
                        line: line.text.to_string(),
                        name: name.to_string(),
                        addr: addr.to_string(),
                    });
                }
            }
        }
        findings
    }

    /// The file's own convention, judged from lines that are not ours so that
    /// a block written with the wrong ending is seen as stale, not copied.
    fn eol(&self) -> Eol {
        let outside =
            self.lines.iter().enumerate().filter(|(i, l)| !self.ours[*i] && l.terminated).map(|(_, l)| l).next();
        match outside.or_else(|| self.lines.iter().find(|l| l.terminated)) {
            Some(l) if l.crlf => Eol::CrLf,
            _ => Eol::Lf,
        }
    }

    fn is_current(&self, block: &Block, eol: Eol) -> bool {
        let want = render_block(block.newline_added, eol);
        let have = &self.lines[block.first..=block.last];
        let want_lines = split_lines(&want);
        have.len() == want_lines.len()
            && have
                .iter()
                .zip(&want_lines)
                .all(|(h, w)| h.text == w.text && h.terminated && h.crlf == (eol == Eol::CrLf))
    }
}

fn render_block(newline_added: bool, eol: Eol) -> String {
    let flag = if newline_added { format!(" {NEWLINE_ADDED_FLAG}") } else { String::new() };
    let eol = eol.as_str();
    format!(
        "{BEGIN_PREFIX} {FORMAT_VERSION}{flag} {BEGIN_NOTE}{eol}\
         {ADDRESS}\t{names}{eol}\
         {END_PREFIX} {FORMAT_VERSION}{eol}",
        names = names().join(" "),
    )
}

// ---------------------------------------------------------------------------
// Pure planning

/// What `add` would write. Foreign mappings are reported in `findings`, not as
/// an error, so that `--dry-run` style callers can still show them.
pub fn plan_add(content: &str) -> Result<Plan> {
    let parsed = parse(content);
    if let Some(msg) = &parsed.corrupt {
        bail!("{msg}");
    }
    let eol = parsed.eol();
    let after = match parsed.blocks.first() {
        None if content.is_empty() || content.ends_with('\n') => {
            format!("{content}{}", render_block(false, eol))
        }
        // Our block must start on its own line; remember that the newline is
        // ours so `remove` can restore the file exactly.
        None => format!("{content}{}{}", eol.as_str(), render_block(true, eol)),
        Some(first) => {
            // Replace in place rather than append so the user's ordering (and
            // which entry wins for resolvers that take the first match) stays.
            let block = render_block(first.newline_added, eol);
            let mut out = String::with_capacity(content.len() + block.len());
            let mut cursor = 0;
            for (i, b) in parsed.blocks.iter().enumerate() {
                out.push_str(&content[cursor..b.start]);
                if i == 0 {
                    out.push_str(&block);
                }
                cursor = b.end;
            }
            out.push_str(&content[cursor..]);
            out
        }
    };
    Ok(Plan { before: content.to_string(), after, findings: parsed.foreign() })
}

/// What `remove` would write. Findings are informational: foreign lines are
/// not ours and stay untouched.
pub fn plan_remove(content: &str) -> Result<Plan> {
    let parsed = parse(content);
    if let Some(msg) = &parsed.corrupt {
        bail!("{msg}");
    }
    let mut after = String::with_capacity(content.len());
    let mut cursor = 0;
    for b in &parsed.blocks {
        after.push_str(&content[cursor..b.start]);
        cursor = b.end;
    }
    after.push_str(&content[cursor..]);
    if let Some(last) = parsed.blocks.last() {
        // Only at the end of the file is the newline before the block known to
        // be the one `add` inserted; anywhere else dropping it would join the
        // user's lines.
        if last.newline_added && last.end == content.len() {
            if let Some(stripped) = after.strip_suffix("\r\n").or_else(|| after.strip_suffix('\n')) {
                after.truncate(stripped.len());
            }
        }
    }
    Ok(Plan { before: content.to_string(), after, findings: parsed.foreign() })
}

/// A damaged block is reported as present and stale rather than as an error,
/// so that a status command can still describe the file.
pub fn show(content: &str) -> Status {
    let parsed = parse(content);
    let present = !parsed.blocks.is_empty() || parsed.ours.iter().any(|&o| o);
    let eol = parsed.eol();
    let stale =
        parsed.corrupt.is_some() || parsed.blocks.len() > 1 || parsed.blocks.iter().any(|b| !parsed.is_current(b, eol));
    Status { present, stale: present && stale, foreign: parsed.foreign() }
}

fn read_hosts(path: &Path, subcommand: &str) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(describe_io_error(e, path, Access::Read, subcommand)),
    }
}

/// Reads and inspects `path` (for `hosts show`/`status`).
pub fn status(path: &Path) -> Result<Status> {
    let content = read_hosts(path, "show")?.ok_or_else(|| anyhow!("{} does not exist", path.display()))?;
    Ok(show(&content))
}

fn foreign_error(path: &Path, findings: &[Finding]) -> anyhow::Error {
    let mut msg = format!(
        "refusing to edit {}: it already maps names that trust-sandbox manages, and those \
         mappings are not overridden:",
        path.display()
    );
    let mut last_line = 0;
    for f in findings {
        let Finding::ForeignMapping { line_no, line, name, addr } = f;
        // One line of the report per file line, even if it maps both names.
        if *line_no == last_line {
            msg.push_str(&format!(", {name} to {addr}"));
        } else {
            msg.push_str(&format!("\n  line {line_no}: `{line}` maps {name} to {addr}"));
            last_line = *line_no;
        }
    }
    msg.push_str(
        "\nremove (or comment out) those lines, or pass --hosts-file PATH to use a different \
         hosts file",
    );
    anyhow!(msg)
}

fn apply(path: &Path, plan: Plan, dry_run: bool, subcommand: &str) -> Result<Outcome> {
    let changed = plan.after != plan.before;
    if !changed {
        return Ok(Outcome { changed, diff: String::new() });
    }
    let diff = unified_diff(&path.display().to_string(), &plan.before, &plan.after);
    if !dry_run {
        write_replacing(path, &plan.after, Some(&plan.before)).map_err(|e| match e {
            WriteError::Io(e) => describe_io_error(e, path, Access::Write, subcommand),
            WriteError::Raced => raced_error(path),
        })?;
    }
    Ok(Outcome { changed, diff })
}

/// Adds (or refreshes) the block. Fails without writing when another line
/// already maps one of [`names`]. With `dry_run`, returns the diff only.
pub fn add(path: &Path, dry_run: bool) -> Result<Outcome> {
    let before = read_hosts(path, "add")?.ok_or_else(|| {
        anyhow!("{} does not exist; create it first (e.g. `touch {0}`) or pass --hosts-file PATH", path.display())
    })?;
    let plan = plan_add(&before).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if !plan.findings.is_empty() {
        return Err(foreign_error(path, &plan.findings));
    }
    apply(path, plan, dry_run, "add")
}

/// Removes our block(s); a missing file or block is not an error, so teardown
/// can run unconditionally.
pub fn remove(path: &Path, dry_run: bool) -> Result<Outcome> {
    let Some(before) = read_hosts(path, "remove")? else {
        return Ok(Outcome { changed: false, diff: String::new() });
    };
    let plan = plan_remove(&before).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    apply(path, plan, dry_run, "remove")
}

#[cfg(all(test, unix))]
mod tests;
