//! What one exec or engine call returned.

/// What one exec or engine call returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    pub fn combined(&self) -> String {
        let mut s = self.stdout.clone();
        if !s.is_empty() && !s.ends_with('\n') && !self.stderr.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.stderr);
        s
    }

    /// What went wrong, never empty: the output, else the exit status and what it means.
    pub fn reason(&self) -> String {
        let text = self.combined();
        let text = text.trim();
        if !text.is_empty() {
            return text.to_string();
        }
        match self.code {
            137 => {
                "exit 137 and no output: killed (SIGKILL), e.g. its container stopped or it ran out of memory".into()
            }
            code => format!("exit {code} and no output"),
        }
    }

    pub fn from_std(out: std::process::Output) -> Output {
        Output {
            // A signal death has no code; 128+n mirrors what a shell would report.
            code: out.status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + out.status.signal().unwrap_or(0)
            }),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
