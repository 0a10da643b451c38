//! One writer per state file: a process that polls, delivers or acknowledges holds an OS
//! file lock on `<state file>.lock` for as long as it runs, and writes who it is into it.
//!
//! SQLite alone would let two daemons share the file (WAL serialises their writes), and each
//! would count half the mentions, poll with the other's cursors and send the other's
//! alerts. The lock is `flock` (std's `File::try_lock`): the kernel drops it when the process
//! ends, however it ends, so a killed daemon never leaves a stale lock behind. The text in the
//! file is only for the message of whoever is refused.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock, held until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the state file {state} is in use by {holder}: {advice}")]
    Held { state: String, holder: String, advice: &'static str },
    #[error("cannot lock the state file through {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// What a process holding the lock is doing, for the refusal of another.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// `stormwatch run`.
    Daemon,
    /// A command that writes state once (`deliver`, `ack`, `replay --deliver`, `sources poll`).
    Command(&'static str),
}

impl StateLock {
    /// Takes the lock for `state`, or says who holds it.
    pub fn acquire(state: &Path, purpose: Purpose) -> Result<StateLock, LockError> {
        let path = lock_path(state);
        let io = |source| LockError::Io { path: path.display().to_string(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another stormwatch process".to_string(),
                    h => h.to_string(),
                };
                return Err(LockError::Held { state: state.display().to_string(), holder, advice: advice(purpose) });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = format!(
            "{} (pid {} on {}, since {})",
            describe(purpose),
            std::process::id(),
            host(),
            crate::clock::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        // Best effort: the lock is what matters, the text only helps the next message.
        let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(me.as_bytes()));
        Ok(StateLock { _file: file })
    }
}

fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    state.with_file_name(name)
}

fn describe(purpose: Purpose) -> String {
    match purpose {
        Purpose::Daemon => "stormwatch run".to_string(),
        Purpose::Command(c) => format!("stormwatch {c}"),
    }
}

fn advice(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Daemon => "one daemon per state file; stop the other, or give this one another [storage] path",
        Purpose::Command(_) => {
            "while a daemon runs it delivers the outbox itself and acknowledges through its API \
             (POST /api/v1/alerts/<id>/ack); stop it first to do this from the command line"
        }
    }
}

/// This machine's name, for telling two hosts that share a network folder apart.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_who_holds_it_and_the_lock_ends_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sw.db");
        let first = StateLock::acquire(&state, Purpose::Daemon).unwrap();
        let err = StateLock::acquire(&state, Purpose::Command("deliver")).unwrap_err().to_string();
        assert!(err.contains("stormwatch run (pid ") && err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("POST /api/v1/alerts/<id>/ack"), "{err}");
        drop(first);
        StateLock::acquire(&state, Purpose::Daemon).unwrap();
    }
}
