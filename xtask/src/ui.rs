//! Human output in cargo's manner: a right-aligned status verb on stderr, data on stdout,
//! colour only when stderr is a terminal and NO_COLOR is unset.

use std::io::IsTerminal;
use std::sync::OnceLock;

fn colour() -> bool {
    static COLOUR: OnceLock<bool> = OnceLock::new();
    *COLOUR.get_or_init(|| std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
}

#[derive(Clone, Copy)]
pub enum Tone {
    Good,
    Warn,
    Info,
}

/// The 12-column right-aligned verb, as cargo prints "   Compiling foo".
pub fn format_status(verb: &str, message: &str, tone: Tone, colour: bool) -> String {
    let padded = format!("{verb:>12}");
    if !colour {
        return format!("{padded} {message}");
    }
    let code = match tone {
        Tone::Good => "1;32",
        Tone::Warn => "1;33",
        Tone::Info => "1;36",
    };
    format!("\x1b[{code}m{padded}\x1b[0m {message}")
}

pub fn status(verb: &str, message: impl AsRef<str>) {
    eprintln!("{}", format_status(verb, message.as_ref(), Tone::Good, colour()));
}

pub fn info(verb: &str, message: impl AsRef<str>) {
    eprintln!("{}", format_status(verb, message.as_ref(), Tone::Info, colour()));
}

pub fn warn(message: impl AsRef<str>) {
    eprintln!("{}", format_status("warning", message.as_ref(), Tone::Warn, colour()));
}

/// The one error line (plus its causes) a failed command ends with.
pub fn error(err: &anyhow::Error) {
    let head = if colour() { "\x1b[1;31merror\x1b[0m" } else { "error" };
    eprintln!("{head}: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_right_aligned_to_twelve_columns() {
        assert_eq!(format_status("Ready", "db", Tone::Good, false), "       Ready db");
        assert_eq!(format_status("Downloading", "x", Tone::Good, false), " Downloading x");
    }

    #[test]
    fn colour_wraps_only_the_verb() {
        let s = format_status("Ready", "db", Tone::Warn, true);
        assert!(s.starts_with("\x1b[1;33m"));
        assert!(s.ends_with("\x1b[0m db"));
    }
}
