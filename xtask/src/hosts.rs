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

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde::Serialize;

pub const NAMES: [&str; 2] = ["notaryserver", "sandboxregistry"];
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
    /// A line outside our block that already maps one of [`NAMES`]. It may be
    /// a deliberate setup (another sandbox, a remote notary), so it is never
    /// overridden; `add` refuses instead.
    ForeignMapping {
        /// 1-based, as editors show it.
        line_no: usize,
        /// The line without its line terminator.
        line: String,
        /// The name from [`NAMES`] (canonical spelling, whatever case the file uses).
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
            for name in NAMES {
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
        names = NAMES.join(" "),
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

// ---------------------------------------------------------------------------
// Diff

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    Delete,
    Insert,
}

/// One edit step; `a`/`b` are the positions in the old/new line lists where
/// the step happens (for an insertion `a` is the line it goes before).
#[derive(Debug, Clone, Copy)]
struct Step {
    op: Op,
    a: usize,
    b: usize,
}

/// Myers' O((N+M)·D) diff. Hosts files can be large (ad-blocking lists have
/// 100k+ lines) while our edits are a few lines, so a quadratic LCS table is
/// not an option. Only the diagonals reachable at each cost are kept, which
/// bounds memory by O(D²).
fn myers(a: &[&str], b: &[&str]) -> Vec<Step> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let offset = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let idx = |k: isize| (k + offset) as usize;

    let mut found = None;
    'outer: for d in 0..=max as isize {
        trace.push(v[idx(-d - 1)..=idx(d + 1)].to_vec());
        let mut k = -d;
        while k <= d {
            let mut x =
                if k == -d || (k != d && v[idx(k - 1)] < v[idx(k + 1)]) { v[idx(k + 1)] } else { v[idx(k - 1)] + 1 };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx(k)] = x;
            if x >= n && y >= m {
                found = Some(d);
                break 'outer;
            }
            k += 2;
        }
    }

    let mut steps = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (0..=found.unwrap_or(0)).rev() {
        let snap = &trace[d as usize];
        let at = |k: isize| snap[(k + d + 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && at(k - 1) < at(k + 1)) { k + 1 } else { k - 1 };
        let prev_x = at(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            x -= 1;
            y -= 1;
            steps.push(Step { op: Op::Equal, a: x as usize, b: y as usize });
        }
        if d > 0 {
            let op = if x == prev_x { Op::Insert } else { Op::Delete };
            steps.push(Step { op, a: prev_x as usize, b: prev_y as usize });
        }
        x = prev_x;
        y = prev_y;
    }
    steps.reverse();
    steps
}

fn diff_steps(a: &[&str], b: &[&str]) -> Vec<Step> {
    // Trimming the common ends first keeps Myers' work proportional to the
    // changed region.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut steps: Vec<Step> = (0..prefix).map(|i| Step { op: Op::Equal, a: i, b: i }).collect();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    steps.extend(myers(a_mid, b_mid).into_iter().map(|s| Step { op: s.op, a: s.a + prefix, b: s.b + prefix }));
    steps.extend((0..suffix).map(|i| Step { op: Op::Equal, a: a.len() - suffix + i, b: b.len() - suffix + i }));
    steps
}

const CONTEXT: usize = 3;

fn hunk_range(start: usize, count: usize) -> String {
    // An empty range names the line *before* it, hence no +1 then.
    let first = if count == 0 { start } else { start + 1 };
    if count == 1 {
        format!("{first}")
    } else {
        format!("{first},{count}")
    }
}

fn push_diff_line(out: &mut String, prefix: char, line: &str) {
    out.push(prefix);
    match line.strip_suffix('\n') {
        Some(body) => {
            out.push_str(body);
            out.push('\n');
        }
        None => {
            out.push_str(line);
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// A unified diff (3 lines of context) in the format `patch` and `git apply`
/// accept. Line terminators are compared exactly, so a change of line ending
/// or of the final newline is visible; `\r` is kept in the output as-is.
pub fn unified_diff(path_label: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let a: Vec<&str> = before.split_inclusive('\n').collect();
    let b: Vec<&str> = after.split_inclusive('\n').collect();
    let steps = diff_steps(&a, &b);

    let mut out = format!("--- {path_label}\t(current)\n+++ {path_label}\t(proposed)\n");
    let changes: Vec<usize> = (0..steps.len()).filter(|&i| steps[i].op != Op::Equal).collect();
    let mut i = 0;
    while i < changes.len() {
        // Extend the hunk while the next change is close enough that the
        // context of both would touch.
        let mut j = i;
        while j + 1 < changes.len() && changes[j + 1] - changes[j] <= 2 * CONTEXT + 1 {
            j += 1;
        }
        let lo = changes[i].saturating_sub(CONTEXT);
        let hi = (changes[j] + CONTEXT).min(steps.len() - 1);
        let hunk = &steps[lo..=hi];
        let old_count = hunk.iter().filter(|s| s.op != Op::Insert).count();
        let new_count = hunk.iter().filter(|s| s.op != Op::Delete).count();
        out.push_str(&format!("@@ -{} +{} @@\n", hunk_range(hunk[0].a, old_count), hunk_range(hunk[0].b, new_count)));
        for s in hunk {
            match s.op {
                Op::Equal => push_diff_line(&mut out, ' ', a[s.a]),
                Op::Delete => push_diff_line(&mut out, '-', a[s.a]),
                Op::Insert => push_diff_line(&mut out, '+', b[s.b]),
            }
        }
        i = j + 1;
    }
    out
}

// ---------------------------------------------------------------------------
// I/O

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

// Raw errno values: `ErrorKind::ReadOnlyFilesystem` and `ResourceBusy` are
// newer than the workspace's MSRV. Same values on Linux, macOS and the BSDs.
const EBUSY: i32 = 16;
const EROFS: i32 = 30;

/// Turns an I/O error into one message that tells the user what to do. A bare
/// "Permission denied (os error 13)" is the most likely failure (the tool is
/// run without sudo) and says nothing about the two ways out.
fn describe_io_error(err: io::Error, path: &Path, access: Access, subcommand: &str) -> anyhow::Error {
    let verb = match access {
        Access::Read => "reading",
        Access::Write => "writing",
    };
    let path = path.display();
    let msg = if err.kind() == io::ErrorKind::PermissionDenied {
        format!(
            "permission denied {verb} {path}: re-run with sudo (sudo -E cargo xtask sandbox \
             hosts {subcommand}) or pass --hosts-file PATH"
        )
    } else if err.raw_os_error() == Some(EROFS) {
        format!(
            "cannot write {path}: it is on a read-only file system (it may be generated by the \
             system configuration, e.g. NixOS `networking.hosts`); add the names there or pass \
             --hosts-file PATH"
        )
    } else {
        return anyhow!("{verb} {path} failed: {err}");
    };
    anyhow::Error::new(err).context(msg)
}

/// Replaces `path` with `content` so that readers (the resolver, other tools)
/// see either the old or the new file, never a truncated one.
///
/// A symlinked hosts file is written through to its target so the link keeps
/// pointing where the system expects. The mode and owner of the existing file
/// are kept; a new file gets 0644 since every process must be able to read a
/// hosts file. Other metadata (ACLs, SELinux labels) is not copied.
///
/// Exception: a bind-mounted file (a container's /etc/hosts) cannot be renamed
/// over (EBUSY), so it is overwritten in place, which is not atomic.
#[cfg(test)]
pub fn write_atomic(path: &Path, content: &str) -> Result<()> {
    write_replacing(path, content, None).map_err(|e| match e {
        WriteError::Io(e) => describe_io_error(e, path, Access::Write, "add"),
        WriteError::Raced => raced_error(path),
    })
}

enum WriteError {
    Io(io::Error),
    /// The file no longer has the content the plan was made from.
    Raced,
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

fn raced_error(path: &Path) -> anyhow::Error {
    anyhow!(
        "{} changed while it was being edited (another program wrote to it); nothing was \
         written, re-run the command",
        path.display()
    )
}

fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

fn write_replacing(path: &Path, content: &str, expected: Option<&str>) -> Result<(), WriteError> {
    let target = resolve_target(path)?;
    let existing = match fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Same directory, so the rename cannot cross file systems.
    let mut tmp = tempfile::Builder::new().prefix(".trust-sandbox-hosts.").suffix(".tmp").tempfile_in(&dir)?;
    tmp.write_all(content.as_bytes())?;
    copy_metadata(tmp.as_file(), existing.as_ref())?;
    tmp.as_file().sync_all()?;

    // Narrow the window in which a concurrent writer's change would be lost.
    if let Some(expected) = expected {
        match fs::read(&target) {
            Ok(now) if now == expected.as_bytes() => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && expected.is_empty() => {}
            Ok(_) | Err(_) => return Err(WriteError::Raced),
        }
    }

    match tmp.persist(&target) {
        Ok(_) => {}
        // Container runtimes bind-mount /etc/hosts into each container, and a
        // mount point cannot be renamed over. Overwriting in place is the only
        // way to edit it there; the tool is then no worse than an editor.
        Err(e) if e.error.raw_os_error() == Some(EBUSY) => {
            drop(e.file);
            let mut f = OpenOptions::new().write(true).truncate(true).open(&target)?;
            f.write_all(content.as_bytes())?;
            f.sync_all()?;
            return Ok(());
        }
        Err(e) => return Err(e.error.into()),
    }
    // The rename is only durable once the directory entry is on disk. Some
    // file systems refuse fsync on directories; the data itself is already
    // synced, so that is not worth failing over.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn copy_metadata(tmp: &File, existing: Option<&fs::Metadata>) -> io::Result<()> {
    use std::os::unix::fs::{fchown, MetadataExt, PermissionsExt};
    let mode = match existing {
        Some(m) => {
            let ours = tmp.metadata()?;
            // Skip the call when nothing changes so that unprivileged users can
            // still edit files they own.
            if ours.uid() != m.uid() || ours.gid() != m.gid() {
                fchown(tmp, Some(m.uid()), Some(m.gid()))?;
            }
            m.mode() & 0o7777
        }
        None => 0o644,
    };
    // After chown, which may clear set-id bits.
    tmp.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn copy_metadata(tmp: &File, existing: Option<&fs::Metadata>) -> io::Result<()> {
    match existing {
        Some(m) => tmp.set_permissions(m.permissions()),
        None => Ok(()),
    }
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
/// already maps one of [`NAMES`]. With `dry_run`, returns the diff only.
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
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::{Duration, SystemTime};

    const BLOCK_LF: &str = "# BEGIN trust-sandbox v1 (managed by `cargo xtask sandbox hosts`; remove with `cargo xtask sandbox hosts remove`)\n127.0.0.1\tnotaryserver sandboxregistry\n# END trust-sandbox v1\n";

    /// Every shape of file whose bytes must survive add + remove.
    const FIXTURES: &[(&str, &str)] = &[
        ("empty", ""),
        ("single newline", "\n"),
        ("no trailing newline", "127.0.0.1\tlocalhost"),
        ("plain", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"),
        ("crlf", "127.0.0.1 localhost\r\n::1 localhost\r\n"),
        ("crlf without trailing newline", "127.0.0.1 localhost\r\n::1 localhost"),
        ("trailing blank line", "127.0.0.1 localhost\n\n"),
        ("trailing whitespace lines", "127.0.0.1 localhost\n  \n\t\n"),
        ("whitespace only, no newline", "   "),
        ("comments", "# 10.0.0.1 notaryserver\n127.0.0.1 localhost # sandboxregistry\n#\n"),
        ("non-ascii comment", "# héllo wörld\n127.0.0.1 localhost"),
    ];

    fn tmp_hosts(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn set_old_mtime(path: &Path) -> SystemTime {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        File::options().write(true).open(path).unwrap().set_modified(old).unwrap();
        old
    }

    fn begin_count(s: &str) -> usize {
        s.lines().filter(|l| l.starts_with(BEGIN_PREFIX)).count()
    }

    fn foreign(line_no: usize, line: &str, name: &str, addr: &str) -> Finding {
        Finding::ForeignMapping { line_no, line: line.into(), name: name.into(), addr: addr.into() }
    }

    // --- block rendering -------------------------------------------------

    #[test]
    fn rendered_block_is_versioned_and_maps_both_names() {
        assert_eq!(render_block(false, Eol::Lf), BLOCK_LF);
        assert!(render_block(true, Eol::Lf).starts_with("# BEGIN trust-sandbox v1 newline-added (managed by"));
        assert_eq!(render_block(false, Eol::CrLf), BLOCK_LF.replace('\n', "\r\n"));
    }

    // --- round trips -----------------------------------------------------

    #[test]
    fn pure_round_trip_restores_every_fixture() {
        for (name, before) in FIXTURES {
            let added = plan_add(before).unwrap();
            assert!(added.findings.is_empty(), "{name}");
            assert_ne!(added.after, *before, "{name}");
            assert!(added.after.starts_with(before), "{name}: prefix kept");
            assert_eq!(begin_count(&added.after), 1, "{name}");
            let status = show(&added.after);
            assert!(status.present && !status.stale, "{name}: {status:?}");
            assert_eq!(plan_add(&added.after).unwrap().after, added.after, "{name}");
            let removed = plan_remove(&added.after).unwrap();
            assert_eq!(removed.after, *before, "{name}: not restored byte for byte");
        }
    }

    #[test]
    fn file_round_trip_restores_every_fixture() {
        for (name, before) in FIXTURES {
            let (dir, path) = tmp_hosts(before);
            assert!(add(&path, false).unwrap().changed, "{name}");
            let once = read(&path);
            assert!(!add(&path, false).unwrap().changed, "{name}");
            assert_eq!(read(&path), once, "{name}: second add changed the file");
            assert!(remove(&path, false).unwrap().changed, "{name}");
            assert_eq!(read(&path), *before, "{name}: not restored byte for byte");
            assert!(!remove(&path, false).unwrap().changed, "{name}");
            assert_eq!(dir_entries(dir.path()), ["hosts"], "{name}: temp file left");
        }
    }

    #[test]
    fn empty_file_gets_just_the_block() {
        assert_eq!(plan_add("").unwrap().after, BLOCK_LF);
        assert_eq!(plan_remove(BLOCK_LF).unwrap().after, "");
    }

    #[test]
    fn missing_trailing_newline_is_recorded_in_the_block() {
        let after = plan_add("127.0.0.1 localhost").unwrap().after;
        assert_eq!(after, format!("127.0.0.1 localhost\n{}", render_block(true, Eol::Lf)));
        assert_eq!(plan_remove(&after).unwrap().after, "127.0.0.1 localhost");
    }

    #[test]
    fn added_newline_is_kept_when_the_user_wrote_after_the_block() {
        // Dropping it would glue `127.0.0.1 localhost` to the user's line.
        let after = plan_add("127.0.0.1 localhost").unwrap().after + "10.0.0.1 mine\n";
        assert_eq!(plan_remove(&after).unwrap().after, "127.0.0.1 localhost\n10.0.0.1 mine\n");
    }

    #[test]
    fn crlf_file_gets_a_crlf_block() {
        let before = "127.0.0.1 localhost\r\n";
        let after = plan_add(before).unwrap().after;
        assert_eq!(after, format!("{before}{}", BLOCK_LF.replace('\n', "\r\n")));
        assert_eq!(after.matches('\n').count(), after.matches("\r\n").count());
        assert!(!show(&after).stale);

        let no_eol = "127.0.0.1 localhost\r\n::1 localhost";
        let after = plan_add(no_eol).unwrap().after;
        assert!(after.starts_with("127.0.0.1 localhost\r\n::1 localhost\r\n# BEGIN"));
        assert_eq!(after.matches('\n').count(), after.matches("\r\n").count());
        assert_eq!(plan_remove(&after).unwrap().after, no_eol);
    }

    #[test]
    fn trailing_blank_line_is_kept() {
        let before = "127.0.0.1 localhost\n\n";
        let after = plan_add(before).unwrap().after;
        assert_eq!(after, format!("{before}{BLOCK_LF}"));
        assert_eq!(plan_remove(&after).unwrap().after, before);
    }

    // --- idempotence -----------------------------------------------------

    #[test]
    fn current_block_means_nothing_to_do() {
        let content = format!("127.0.0.1 localhost\n{BLOCK_LF}");
        let plan = plan_add(&content).unwrap();
        assert_eq!(plan.after, plan.before);
        assert_eq!(show(&content), Status { present: true, stale: false, foreign: vec![] });
    }

    #[test]
    fn add_twice_writes_once_and_leaves_one_block() {
        let (_dir, path) = tmp_hosts("127.0.0.1 localhost\n");
        add(&path, false).unwrap();
        let ino = fs::metadata(&path).unwrap().ino();
        let old = set_old_mtime(&path);
        let outcome = add(&path, false).unwrap();
        assert_eq!(outcome, Outcome { changed: false, diff: String::new() });
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.ino(), ino, "file was replaced");
        assert_eq!(meta.modified().unwrap(), old, "file was written");
        assert_eq!(begin_count(&read(&path)), 1);
    }

    #[test]
    fn remove_without_block_writes_nothing() {
        let (_dir, path) = tmp_hosts("127.0.0.1 localhost\n");
        let ino = fs::metadata(&path).unwrap().ino();
        let old = set_old_mtime(&path);
        assert!(!remove(&path, false).unwrap().changed);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.ino(), meta.modified().unwrap()), (ino, old));
    }

    // --- stale and duplicated blocks ----------------------------------------

    #[test]
    fn older_version_block_is_replaced_in_place() {
        let before = "127.0.0.1 localhost\n\
                      # BEGIN trust-sandbox v0\n\
                      127.0.0.1 notaryserver\n\
                      # END trust-sandbox\n\
                      10.0.0.9 other\n";
        let status = show(before);
        assert!(status.present && status.stale);
        assert!(status.foreign.is_empty(), "lines in our block are not foreign");
        let plan = plan_add(before).unwrap();
        assert!(plan.findings.is_empty());
        assert_eq!(plan.after, format!("127.0.0.1 localhost\n{BLOCK_LF}10.0.0.9 other\n"));
        assert_eq!(plan_remove(&plan.after).unwrap().after, "127.0.0.1 localhost\n10.0.0.9 other\n");
    }

    #[test]
    fn edited_block_is_stale() {
        let edited = BLOCK_LF.replace("127.0.0.1\t", "10.0.0.1\t");
        let before = format!("a\n{edited}b\n");
        assert!(show(&before).stale);
        assert_eq!(plan_add(&before).unwrap().after, format!("a\n{BLOCK_LF}b\n"));

        // An editor stripped the final newline from our END line.
        let before = format!("a\n{}", BLOCK_LF.trim_end());
        assert!(show(&before).stale);
        assert_eq!(plan_add(&before).unwrap().after, format!("a\n{BLOCK_LF}"));

        // LF block in a CRLF file (e.g. converted by hand).
        let before = format!("a\r\n{BLOCK_LF}b\r\n");
        assert!(show(&before).stale);
        let crlf_block = BLOCK_LF.replace('\n', "\r\n");
        assert_eq!(plan_add(&before).unwrap().after, format!("a\r\n{crlf_block}b\r\n"));
    }

    #[test]
    fn stale_status_agrees_with_plan_add() {
        let mut cases: Vec<String> = FIXTURES.iter().map(|(_, c)| c.to_string()).collect();
        cases.extend(FIXTURES.iter().map(|(_, c)| plan_add(c).unwrap().after));
        cases.push(format!("a\n{}", BLOCK_LF.replace("v1", "v0")));
        cases.push(format!("{BLOCK_LF}x\n{BLOCK_LF}"));
        for c in cases {
            let s = show(&c);
            let changes = plan_add(&c).unwrap().after != c;
            assert_eq!(s.present && s.stale, s.present && changes, "{c:?}");
            assert_eq!(!s.present, changes && !s.stale, "{c:?}");
        }
    }

    #[test]
    fn double_block_becomes_one_at_the_first_position() {
        let old = "# BEGIN trust-sandbox v0\n127.0.0.1 notaryserver\n# END trust-sandbox\n";
        let before = format!("a\n{BLOCK_LF}b\n{old}c\n");
        let status = show(&before);
        assert!(status.present && status.stale);
        let after = plan_add(&before).unwrap().after;
        assert_eq!(after, format!("a\n{BLOCK_LF}b\nc\n"));
        assert_eq!(plan_remove(&before).unwrap().after, "a\nb\nc\n");
    }

    // --- corrupt blocks ------------------------------------------------------

    #[test]
    fn begin_without_end_is_an_error_not_a_guess() {
        let before = "127.0.0.1 localhost\n# BEGIN trust-sandbox v1\n127.0.0.1\tnotaryserver\n";
        for err in [plan_add(before).unwrap_err(), plan_remove(before).unwrap_err()] {
            let msg = err.to_string();
            assert!(msg.contains("corrupt trust-sandbox block"), "{msg}");
            assert!(msg.contains("line 2"), "{msg}");
            assert!(msg.contains("by hand"), "{msg}");
        }
        let status = show(before);
        assert!(status.present && status.stale);
        assert!(status.foreign.is_empty());

        let (dir, path) = tmp_hosts(before);
        for result in [add(&path, false), remove(&path, false)] {
            let msg = result.unwrap_err().to_string();
            assert!(msg.starts_with(&format!("{}: corrupt", path.display())), "{msg}");
        }
        assert_eq!(read(&path), before);
        assert_eq!(dir_entries(dir.path()), ["hosts"]);
    }

    #[test]
    fn end_without_begin_and_nested_begin_are_errors() {
        let stray_end = "a\n# END trust-sandbox v1\n";
        let msg = plan_add(stray_end).unwrap_err().to_string();
        assert!(msg.contains("line 2") && msg.contains("never started"), "{msg}");

        let nested = format!("# BEGIN trust-sandbox v1\n{BLOCK_LF}");
        let msg = plan_remove(&nested).unwrap_err().to_string();
        assert!(msg.contains("line 2") && msg.contains("line 1"), "{msg}");
        assert!(show(&nested).stale);
    }

    #[test]
    fn similar_marker_text_is_not_ours() {
        let before = "# BEGIN trust-sandboxes\n127.0.0.1 localhost\n";
        assert!(!show(before).present);
        assert_eq!(plan_add(before).unwrap().after, format!("{before}{BLOCK_LF}"));
    }

    // --- foreign mappings ----------------------------------------------------

    #[test]
    fn foreign_mapping_of_each_name_is_reported() {
        for name in NAMES {
            for (line, addr) in [
                (format!("10.9.8.7\t{name}"), "10.9.8.7"),
                (format!("127.0.0.1 {name} # set by hand"), "127.0.0.1"),
                (format!("  ::1  localhost {}", name.to_uppercase()), "::1"),
            ] {
                let content = format!("127.0.0.1 localhost\n{line}\n");
                let want = vec![foreign(2, &line, name, addr)];
                assert_eq!(plan_add(&content).unwrap().findings, want);
                assert_eq!(show(&content).foreign, want);
            }
        }
        let both = "127.0.0.1 notaryserver sandboxregistry";
        assert_eq!(
            show(both).foreign,
            vec![foreign(1, both, "notaryserver", "127.0.0.1"), foreign(1, both, "sandboxregistry", "127.0.0.1"),]
        );
    }

    #[test]
    fn add_refuses_foreign_mapping_and_writes_nothing() {
        for name in NAMES {
            let before = format!("127.0.0.1 localhost\r\n10.9.8.7 {name}\r\n");
            let (dir, path) = tmp_hosts(&before);
            for dry_run in [false, true] {
                let msg = add(&path, dry_run).unwrap_err().to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains(&format!("line 2: `10.9.8.7 {name}`")), "{msg}");
                assert!(msg.contains("remove"), "{msg}");
                assert!(msg.contains("--hosts-file"), "{msg}");
            }
            assert_eq!(read(&path), before);
            assert_eq!(dir_entries(dir.path()), ["hosts"]);
        }
    }

    #[test]
    fn foreign_mapping_error_lists_each_line_once() {
        let content = "127.0.0.1 notaryserver sandboxregistry\n";
        let findings = plan_add(content).unwrap().findings;
        let msg = foreign_error(Path::new("/etc/hosts"), &findings).to_string();
        assert_eq!(
            msg,
            "refusing to edit /etc/hosts: it already maps names that trust-sandbox manages, and \
             those mappings are not overridden:\n  \
             line 1: `127.0.0.1 notaryserver sandboxregistry` maps notaryserver to 127.0.0.1, \
             sandboxregistry to 127.0.0.1\n\
             remove (or comment out) those lines, or pass --hosts-file PATH to use a different \
             hosts file"
        );
    }

    #[test]
    fn commented_or_similar_names_are_not_foreign() {
        let content = "# 127.0.0.1 notaryserver\n\
                       #10.0.0.1 sandboxregistry\n\
                       127.0.0.1 localhost # notaryserver\n\
                       127.0.0.1 localhost#sandboxregistry\n\
                       127.0.0.1 notaryserver-old sandboxregistry.example.com\n\
                       notaryserver\n";
        assert_eq!(show(content).foreign, vec![]);
        assert!(plan_add(content).unwrap().findings.is_empty());
    }

    #[test]
    fn remove_leaves_foreign_mappings_alone() {
        let before = format!("10.0.0.1 notaryserver\n{BLOCK_LF}");
        let plan = plan_remove(&before).unwrap();
        assert_eq!(plan.after, "10.0.0.1 notaryserver\n");
        assert_eq!(plan.findings.len(), 1);
    }

    // --- dry run ---------------------------------------------------------

    #[test]
    fn dry_run_writes_nothing() {
        let before = "127.0.0.1 localhost\n";
        let (dir, path) = tmp_hosts(before);
        let old = set_old_mtime(&path);
        let ino = fs::metadata(&path).unwrap().ino();
        let outcome = add(&path, true).unwrap();
        assert!(outcome.changed);
        assert!(outcome.diff.contains("\n+127.0.0.1\tnotaryserver sandboxregistry\n"), "{}", outcome.diff);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.ino(), meta.modified().unwrap()), (ino, old));
        assert_eq!(read(&path), before);
        assert_eq!(dir_entries(dir.path()), ["hosts"]);

        let real = add(&path, false).unwrap();
        assert_eq!(real, outcome, "dry run predicted a different change");
        let added = read(&path);
        let old = set_old_mtime(&path);
        let outcome = remove(&path, true).unwrap();
        assert!(outcome.changed);
        assert!(outcome.diff.contains("\n-# END trust-sandbox v1\n"));
        assert_eq!(read(&path), added);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old);
    }

    // --- missing files -----------------------------------------------------

    #[test]
    fn missing_file_add_fails_remove_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let msg = add(&path, false).unwrap_err().to_string();
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(!remove(&path, false).unwrap().changed);
        assert!(!path.exists());
    }

    // --- errors ------------------------------------------------------------

    #[test]
    fn permission_errors_say_how_to_fix_them() {
        // Injected rather than provoked: the tests may run as root, where file
        // modes do not stop anything. EACCES and EPERM both map to
        // PermissionDenied, which is what the message keys on.
        let path = Path::new("/etc/hosts");
        let eacces = io::Error::from_raw_os_error(13);
        assert_eq!(
            describe_io_error(eacces, path, Access::Write, "add").to_string(),
            "permission denied writing /etc/hosts: re-run with sudo (sudo -E cargo xtask sandbox \
             hosts add) or pass --hosts-file PATH"
        );
        let eperm = io::Error::from_raw_os_error(1);
        assert_eq!(
            describe_io_error(eperm, path, Access::Read, "remove").to_string(),
            "permission denied reading /etc/hosts: re-run with sudo (sudo -E cargo xtask sandbox \
             hosts remove) or pass --hosts-file PATH"
        );
        let erofs = io::Error::from_raw_os_error(EROFS);
        let msg = describe_io_error(erofs, path, Access::Write, "add").to_string();
        assert!(msg.contains("read-only file system") && msg.contains("--hosts-file"), "{msg}");
    }

    #[test]
    fn other_io_errors_name_the_path_without_sudo_advice() {
        // A regular file used as a directory gives ENOTDIR, even for root.
        let (_dir, file) = tmp_hosts("x");
        let path = file.join("hosts");
        let msg = add(&path, false).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("reading {} failed:", path.display())), "{msg}");
        assert!(!msg.contains("sudo"), "{msg}");
        let msg = write_atomic(&path, "x").unwrap_err().to_string();
        assert!(msg.starts_with(&format!("writing {} failed:", path.display())), "{msg}");
    }

    // --- write_atomic ------------------------------------------------------

    #[test]
    fn write_atomic_keeps_mode() {
        for mode in [0o644, 0o600] {
            let (dir, path) = tmp_hosts("old\n");
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let ino = fs::metadata(&path).unwrap().ino();
            write_atomic(&path, "new\n").unwrap();
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(meta.mode() & 0o7777, mode);
            assert_ne!(meta.ino(), ino, "expected a rename, not an in-place write");
            assert_eq!(read(&path), "new\n");
            assert_eq!(dir_entries(dir.path()), ["hosts"]);
        }
    }

    #[test]
    fn write_atomic_keeps_owner() {
        let (_dir, path) = tmp_hosts("old\n");
        let meta = fs::metadata(&path).unwrap();
        // Giving a file away needs root; otherwise check the owner is unchanged.
        let (uid, gid) = if std::os::unix::fs::chown(&path, Some(4242), Some(4343)).is_ok() {
            (4242, 4343)
        } else {
            (meta.uid(), meta.gid())
        };
        write_atomic(&path, "new\n").unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    }

    #[test]
    fn write_atomic_creates_missing_file_world_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        write_atomic(&path, "x\n").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn write_atomic_writes_through_symlinks() {
        let (dir, real) = tmp_hosts("old\n");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, "new\n").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(read(&real), "new\n");
    }

    #[test]
    fn concurrent_change_aborts_the_write() {
        let (dir, path) = tmp_hosts("changed by someone else\n");
        let result = write_replacing(&path, "new\n", Some("what we planned from\n"));
        assert!(matches!(result, Err(WriteError::Raced)));
        assert_eq!(read(&path), "changed by someone else\n");
        assert_eq!(dir_entries(dir.path()), ["hosts"]);
    }

    // --- status / json -------------------------------------------------------

    #[test]
    fn status_serializes_for_json_output() {
        let content = format!("10.0.0.1 notaryserver\n{BLOCK_LF}");
        let json = serde_json::to_value(show(&content)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "present": true,
                "stale": false,
                "foreign": [{
                    "kind": "foreign_mapping",
                    "line_no": 1,
                    "line": "10.0.0.1 notaryserver",
                    "name": "notaryserver",
                    "addr": "10.0.0.1",
                }],
            })
        );
    }

    #[test]
    fn status_reads_the_file() {
        let (_dir, path) = tmp_hosts(BLOCK_LF);
        assert_eq!(status(&path).unwrap(), Status { present: true, stale: false, foreign: vec![] });
    }

    // --- diff ------------------------------------------------------------

    #[test]
    fn diff_of_identical_content_is_empty() {
        assert_eq!(unified_diff("h", "a\n", "a\n"), "");
    }

    #[test]
    fn diff_adding_to_an_empty_file() {
        assert_eq!(
            unified_diff("/etc/hosts", "", "a\nb\n"),
            "--- /etc/hosts\t(current)\n+++ /etc/hosts\t(proposed)\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }

    #[test]
    fn diff_marks_missing_final_newline() {
        assert_eq!(
            unified_diff("h", "x\ny", "x\ny\nz\n"),
            "--- h\t(current)\n+++ h\t(proposed)\n@@ -1,2 +1,3 @@\n x\n-y\n\\ No newline at end of file\n+y\n+z\n"
        );
    }

    #[test]
    fn diff_keeps_three_lines_of_context_and_splits_far_hunks() {
        let numbered = |edits: &[(usize, &str)]| -> String {
            (1..=20)
                .map(|i| match edits.iter().find(|(n, _)| *n == i) {
                    Some((_, text)) => format!("{text}\n"),
                    None => format!("{i}\n"),
                })
                .collect()
        };
        let before = numbered(&[]);
        let after = numbered(&[(2, "two"), (18, "eighteen")]);
        assert_eq!(
            unified_diff("h", &before, &after),
            "--- h\t(current)\n+++ h\t(proposed)\n\
             @@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n\
             @@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n 20\n"
        );
        // Six unchanged lines between changes: the contexts touch, one hunk.
        let after = numbered(&[(2, "two"), (9, "nine")]);
        let diff = unified_diff("h", &before, &after);
        assert_eq!(diff.matches("@@ -").count(), 1, "{diff}");
        assert!(diff.contains("@@ -1,12 +1,12 @@"), "{diff}");
    }

    #[test]
    fn diff_handles_large_hosts_files_quickly() {
        let body: String = (0..200_000).map(|i| format!("0.0.0.0 ad{i}.example\n")).collect();
        let before = format!("{BLOCK_LF}{body}{}", BLOCK_LF.replace("v1", "v0"));
        let after = plan_add(&before).unwrap().after;
        let start = std::time::Instant::now();
        let diff = unified_diff("h", &before, &after);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(diff.matches("\n-").count(), 3, "{diff}");
        assert_eq!(diff.matches("\n+").count(), 1, "{diff}"); // the +++ header
    }

    #[test]
    fn diff_steps_reproduce_both_sides() {
        let pairs = [
            ("", ""),
            ("a\nb\nc\n", "a\nc\n"),
            ("a\nb\nc\n", "x\ny\n"),
            ("a\nb\na\nb\n", "b\na\nb\na\n"),
            ("1\n2\n3\n4\n5\n", "0\n1\n3\n4\n6\n"),
        ];
        for (x, y) in pairs {
            let a: Vec<&str> = x.split_inclusive('\n').collect();
            let b: Vec<&str> = y.split_inclusive('\n').collect();
            let steps = diff_steps(&a, &b);
            let old: String = steps.iter().filter(|s| s.op != Op::Insert).map(|s| a[s.a]).collect();
            let new: String = steps.iter().filter(|s| s.op != Op::Delete).map(|s| b[s.b]).collect();
            assert_eq!((old.as_str(), new.as_str()), (x, y));
        }
    }
}
