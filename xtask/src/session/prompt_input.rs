//! Standard input for the `--step` prompt, read on a thread of its own so that a signal ends the
//! wait: a terminal read restarts after a caught signal, so Ctrl-C at the prompt would otherwise
//! do nothing until Enter. Once a signal came, the prompt reads end of input, which the runner
//! takes as a quit; the session then cleans up as for any signal.

use std::io::{BufRead, Read};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

pub struct PromptInput {
    lines: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    interrupted: Box<dyn Fn() -> bool + Send>,
}

impl PromptInput {
    pub fn stdin() -> PromptInput {
        PromptInput::new(std::io::BufReader::new(std::io::stdin()), Box::new(|| crate::signals::caught().is_some()))
    }

    fn new(mut input: impl BufRead + Send + 'static, interrupted: Box<dyn Fn() -> bool + Send>) -> PromptInput {
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        });
        PromptInput { lines, pending: Vec::new(), interrupted }
    }
}

impl Read for PromptInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            if (self.interrupted)() {
                return Ok(0);
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => self.pending = line,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn lines_pass_through_and_a_signal_ends_the_wait() {
        // A reader that never answers after its first line, as a person at the prompt.
        struct Stalls(bool);
        impl Read for Stalls {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    std::thread::sleep(Duration::from_secs(3600));
                }
                buf[..2].copy_from_slice(b"s\n");
                Ok(2)
            }
        }
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let mut input = std::io::BufReader::new(PromptInput::new(
            std::io::BufReader::new(Stalls(false)),
            Box::new(move || seen.load(Ordering::SeqCst)),
        ));
        let mut line = String::new();
        input.read_line(&mut line).unwrap();
        assert_eq!(line, "s\n");
        flag.store(true, Ordering::SeqCst);
        line.clear();
        assert_eq!(input.read_line(&mut line).unwrap(), 0, "a signal reads as end of input");
    }
}
