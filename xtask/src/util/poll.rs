//! Waiting for something to work: a probe is retried until it passes or the time is up, and then
//! the last error is reported (the one that explains what is wrong), never just "timed out". A
//! caught signal ends the wait at once.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

pub fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        // A run that a signal ends (see crate::signals) stops waiting at once.
        crate::signals::check()?;
        match probe() {
            Ok(v) => return Ok(v),
            Err(err) if started.elapsed() >= timeout => {
                bail!("{what} not ready after {:.0} s; last error: {err:#}", timeout.as_secs_f64())
            }
            Err(_) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(150));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_returns_first_success() {
        let mut n = 0;
        let v = poll("thing", Duration::from_secs(5), || {
            n += 1;
            if n < 3 {
                bail!("not yet {n}")
            }
            Ok(n)
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn poll_reports_the_last_error() {
        let mut n = 0;
        let err = poll::<()>("signer", Duration::from_millis(120), || {
            n += 1;
            bail!("connection refused #{n}")
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("signer not ready after"), "{err}");
        assert!(err.contains(&format!("connection refused #{n}")), "{err}");
    }
}
