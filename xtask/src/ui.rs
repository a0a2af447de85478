//! The one printer, in the manner of cargo's `Shell`: a right-aligned status verb, `warning:` and
//! `error:` lines, all on stderr (data goes to stdout, printed by the commands themselves). Colour
//! only when the writer is a terminal and NO_COLOR is unset or empty (<https://no-color.org>).
//!
//! A `Printer` owns its writer, so tests hand it a buffer and silent runs (`bench`) a sink. The
//! free functions (`status`, `info`, `warn`, `error`) print through the process-wide printer.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};

/// What a painted piece of text looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A status verb that reports progress (cargo's green).
    Good,
    /// A status verb that only informs (cyan).
    Info,
    /// `warning` (yellow).
    Warn,
    /// `error` (red).
    Error,
    Bold,
    Dim,
    Green,
    Red,
    Yellow,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Good => "1;32",
            Style::Info => "1;36",
            Style::Warn => "1;33",
            Style::Error => "1;31",
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::Red => "31",
            Style::Yellow => "33",
        }
    }
}

/// Where human output goes, and whether it is coloured.
#[derive(Clone)]
pub struct Printer {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    colour: bool,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").field("colour", &self.colour).finish_non_exhaustive()
    }
}

impl Printer {
    pub fn new(out: Box<dyn Write + Send>, colour: bool) -> Printer {
        Printer { out: Arc::new(Mutex::new(out)), colour }
    }

    /// stderr, coloured when a person watches it.
    pub fn stderr() -> Printer {
        Printer::new(Box::new(std::io::stderr()), colour_wanted(std::io::stderr().is_terminal(), NoColor::from_env()))
    }

    /// stdout, coloured the same way: for data a command prints in colour (`trust show`'s tree).
    pub fn stdout() -> Printer {
        Printer::new(Box::new(std::io::stdout()), colour_wanted(std::io::stdout().is_terminal(), NoColor::from_env()))
    }

    /// Prints nothing: for runs whose progress nobody reads (`bench`).
    pub fn sink() -> Printer {
        Printer::new(Box::new(std::io::sink()), false)
    }

    /// `text` in `style` when colour is on, else as it is.
    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.colour {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_string()
        }
    }

    /// One line as it is. A writer that fails must not stop the work it reports on.
    pub fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{text}");
    }

    /// The 12-column right-aligned verb, as cargo prints "   Compiling foo".
    pub fn status(&self, verb: &str, message: &str) {
        self.verb(verb, message, Style::Good);
    }

    /// Like `status`, for what only informs.
    pub fn info(&self, verb: &str, message: &str) {
        self.verb(verb, message, Style::Info);
    }

    pub fn warn(&self, message: &str) {
        self.line(&format!("{}: {message}", self.paint("warning", Style::Warn)));
    }

    /// The one error line a failed command ends with, then its causes.
    pub fn error(&self, err: &anyhow::Error) {
        self.line(&format!("{}: {err}", self.paint("error", Style::Error)));
        for cause in err.chain().skip(1) {
            self.line(&format!("  caused by: {cause}"));
        }
    }

    fn verb(&self, verb: &str, message: &str, style: Style) {
        let padded = format!("{verb:>12}");
        self.line(&format!("{} {message}", self.paint(&padded, style)));
    }
}

/// NO_COLOR as the environment has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoColor {
    Unset,
    Empty,
    Set,
}

impl NoColor {
    pub fn from_env() -> NoColor {
        match std::env::var_os("NO_COLOR") {
            None => NoColor::Unset,
            Some(v) if v.is_empty() => NoColor::Empty,
            Some(_) => NoColor::Set,
        }
    }
}

/// Colour for a terminal, unless NO_COLOR is set to something.
pub fn colour_wanted(terminal: bool, no_color: NoColor) -> bool {
    terminal && no_color != NoColor::Set
}

fn global() -> &'static Mutex<Printer> {
    static PRINTER: OnceLock<Mutex<Printer>> = OnceLock::new();
    PRINTER.get_or_init(|| Mutex::new(Printer::stderr()))
}

/// Writes `value` as pretty JSON to `target`: `-` is stdout, anything else a file. True when it
/// went to stdout, so the caller prints no text there. A stdout that is gone (a closed terminal)
/// is an error here, not a panic.
pub fn json(target: &str, value: &impl serde::Serialize) -> anyhow::Result<bool> {
    use anyhow::Context;
    let text = serde_json::to_string_pretty(value)? + "\n";
    if target == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("writing the JSON to stdout")?;
        return Ok(true);
    }
    std::fs::write(target, text).with_context(|| format!("writing {target}"))?;
    Ok(false)
}

/// The process-wide printer (a clone shares its writer).
pub fn printer() -> Printer {
    global().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

pub fn status(verb: &str, message: impl AsRef<str>) {
    printer().status(verb, message.as_ref());
}

pub fn info(verb: &str, message: impl AsRef<str>) {
    printer().info(verb, message.as_ref());
}

pub fn warn(message: impl AsRef<str>) {
    printer().warn(message.as_ref());
}

pub fn error(err: &anyhow::Error) {
    printer().error(err);
}

/// A writer tests read back: a clone shares the buffer.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Buffer {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[cfg(test)]
impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(colour: bool) -> (Printer, Buffer) {
        let buf = Buffer::default();
        (Printer::new(Box::new(buf.clone()), colour), buf)
    }

    #[test]
    fn verbs_are_right_aligned_to_twelve_columns() {
        let (p, buf) = printer(false);
        p.status("Ready", "db");
        p.info("Downloading", "x");
        assert_eq!(buf.text(), "       Ready db\n Downloading x\n");
    }

    #[test]
    fn colour_wraps_only_the_verb() {
        let (p, buf) = printer(true);
        p.status("Ready", "db");
        assert_eq!(buf.text(), "\x1b[1;32m       Ready\x1b[0m db\n");
    }

    #[test]
    fn warnings_and_errors_name_themselves_and_their_causes() {
        let (p, buf) = printer(false);
        p.warn("careful");
        p.error(&anyhow::anyhow!("root cause").context("what failed"));
        assert_eq!(buf.text(), "warning: careful\nerror: what failed\n  caused by: root cause\n");
        let (p, buf) = printer(true);
        p.warn("careful");
        assert_eq!(buf.text(), "\x1b[1;33mwarning\x1b[0m: careful\n");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, NoColor::Unset));
        assert!(colour_wanted(true, NoColor::Empty), "an empty NO_COLOR does not disable colour");
        assert!(!colour_wanted(true, NoColor::Set));
        assert!(!colour_wanted(false, NoColor::Unset));
    }

    #[test]
    fn a_sink_prints_nothing_and_paints_nothing() {
        let p = Printer::sink();
        assert_eq!(p.paint("x", Style::Red), "x");
        p.status("Ready", "db");
    }
}
