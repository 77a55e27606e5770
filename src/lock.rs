//! The folder lock: an advisory file lock on `.kneo-otel/lock`, held by every command that
//! writes a folder (`init`, `eject`, `snippet --out`) while it reads, plans and writes, and
//! shared by `check`. A second run waits for the first (saying so), then finishes whatever an
//! interrupted run left ([`crate::write::recover`]) before reading the manifest.

use std::fs::{File, TryLockError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::paths::Folder;
use crate::write::{STATE_DIR, recover, state_dir};

/// How long a run waits for another one before giving up.
const WAIT: Duration = Duration::from_secs(120);

/// Held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Creates the folder and its state folder if needed, takes the exclusive lock (waiting
    /// for another run), then finishes an interrupted run.
    pub fn exclusive(folder: &Folder) -> Result<Lock> {
        folder.create()?;
        state_dir(folder)?;
        let path = folder.state("lock")?;
        let file = folder
            .open_lock(&path, true)?
            .expect("created when missing");
        wait(folder, || file.try_lock())?;
        let finished = recover(folder)?;
        if finished > 0 {
            crate::errln!(
                "note: finished an interrupted kneo-otel run in {} ({finished} file(s))",
                folder.shown().display()
            );
        }
        Ok(Lock { _file: file })
    }

    /// A shared lock for reading, when the folder has a lock file; creates nothing.
    pub fn shared(folder: &Folder) -> Result<Option<Lock>> {
        let path = folder.state("lock")?;
        let Some(file) = folder.open_lock(&path, false)? else {
            return Ok(None);
        };
        wait(folder, || file.try_lock_shared())?;
        Ok(Some(Lock { _file: file }))
    }
}

fn wait(folder: &Folder, mut try_lock: impl FnMut() -> Result<(), TryLockError>) -> Result<()> {
    let start = Instant::now();
    let mut said = false;
    loop {
        match try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| {
                    format!("cannot lock {}", folder.shown().join(STATE_DIR).display())
                });
            }
        }
        if !said {
            crate::errln!(
                "waiting for another kneo-otel run on {} to finish",
                folder.shown().display()
            );
            said = true;
        }
        if start.elapsed() > WAIT {
            bail!(
                "another kneo-otel run has held the lock on {} for {} s: wait for it to finish, or stop it and re-run",
                folder.shown().display(),
                WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
