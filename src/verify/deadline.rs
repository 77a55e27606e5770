//! `--timeout`: parsing the value and the one deadline every network step of `verify` obeys.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// The longest a single connection attempt or request may take, whatever is left overall.
pub const STEP_CAP: Duration = Duration::from_secs(5);

/// The longest `--timeout`: also keeps the deadline far from `Instant` overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `30s`, `500ms`, `2m` (humantime syntax); zero is refused.
pub fn parse_timeout(text: &str) -> Result<Duration> {
    match humantime::parse_duration(text.trim()) {
        Ok(duration) if duration > MAX_TIMEOUT => {
            bail!("--timeout `{text}` is longer than a day: use at most 24h")
        }
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => bail!(
            "invalid --timeout `{text}`: use a positive duration with a unit, such as 30s, 500ms or 2m"
        ),
    }
}

/// A point in time after which `verify` starts nothing new.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Deadline {
            end: Instant::now() + timeout,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Time one step may take: what is left, at most `cap`, at least 1 ms (timeouts of 0 mean
    /// "none" to some APIs).
    pub fn step(&self, cap: Duration) -> Duration {
        self.remaining().min(cap).max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_timeout("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_timeout("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_timeout("1m 30s").unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn bad_timeouts_name_the_value_and_the_fix() {
        for bad in ["30x", "30", "", "0s", "-1s", "s"] {
            let error = parse_timeout(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("`{bad}`")), "{error}");
            assert!(error.contains("30s, 500ms or 2m"), "{error}");
        }
    }

    #[test]
    fn steps_never_outlive_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(200));
        assert!(deadline.step(STEP_CAP) <= Duration::from_millis(200));
        assert_eq!(
            Deadline::after(Duration::ZERO).step(STEP_CAP),
            Duration::from_millis(1)
        );
    }
}
