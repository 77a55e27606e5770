//! The progress indicator while `verify` polls: one rewritten line on stderr, only when stderr
//! is a terminal, so stdout stays clean for pipes and `--format json`.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// A spinner line with the elapsed time; a no-op when stderr is not a terminal.
pub struct Progress {
    enabled: bool,
    started: Instant,
    ticks: usize,
    message: String,
}

impl Progress {
    pub fn new(message: impl Into<String>) -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            ticks: 0,
            message: message.into(),
        }
    }

    /// Redraws the line.
    pub fn tick(&mut self) {
        if !self.enabled {
            return;
        }
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        let frame = FRAMES[self.ticks % FRAMES.len()];
        self.ticks += 1;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{frame} {} ({:.0}s)",
            self.message,
            self.started.elapsed().as_secs_f64().floor()
        );
        let _ = err.flush();
    }

    /// Erases the line.
    pub fn finish(&mut self) {
        if self.enabled && self.ticks > 0 {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
        self.ticks = 0;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
