//! Noticing that the configuration file was edited, so the daemon reloads without a SIGHUP.
//!
//! The folder is watched rather than the file: editors and config-management tools often
//! write a new file and rename it over the old one, which would end a watch on the file
//! itself. Events for other files in the folder (the state file may live there) are ignored.
//! A save is often several events in a row, so changes are gathered for `SETTLE` before the
//! file is read, and a reload is asked for only when its content differs from what was read
//! last (touching the file, or saving it unchanged, does nothing).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long a burst of events is gathered before the file is read.
const SETTLE: Duration = Duration::from_millis(300);

pub struct FileChanges {
    path: PathBuf,
    last: Option<Vec<u8>>,
    events: mpsc::Receiver<()>,
    // Dropping it ends the watch.
    _watcher: notify::RecommendedWatcher,
}

impl FileChanges {
    /// Starts watching `path` (its folder must exist).
    pub fn watch(path: &Path) -> Result<FileChanges, notify::Error> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let name = path.file_name().map(|n| n.to_os_string());
        let (tx, events) = mpsc::channel(1);
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if event.kind.is_access() {
                return;
            }
            if event.paths.iter().any(|p| p.file_name().map(|n| n.to_os_string()) == name) {
                // Full means a wake-up is already queued: nothing is lost by dropping this one.
                let _ = tx.try_send(());
            }
        })?;
        watcher.watch(&folder, RecursiveMode::NonRecursive)?;
        let last = std::fs::read(&path).ok();
        Ok(FileChanges { path, last, events, _watcher: watcher })
    }

    /// The file was just read by someone else (a reload on SIGHUP): what it holds now is not
    /// a change to report later.
    pub fn mark_read(&mut self) {
        self.last = std::fs::read(&self.path).ok();
        while self.events.try_recv().is_ok() {}
    }

    /// Waits until the file's content changed (or it appeared, or vanished and came back).
    pub async fn changed(&mut self) {
        loop {
            if self.events.recv().await.is_none() {
                // The watcher is gone: never report a change again.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(SETTLE).await;
            while self.events.try_recv().is_ok() {}
            let now = std::fs::read(&self.path).ok();
            if now.is_some() && now != self.last {
                self.last = now;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_edit_is_noticed_and_an_unchanged_save_or_another_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stormwatch.toml");
        std::fs::write(&path, "a = 1\n").unwrap();
        let mut changes = FileChanges::watch(&path).unwrap();
        async fn wait(c: &mut FileChanges) -> bool {
            tokio::time::timeout(Duration::from_secs(3), c.changed()).await.is_ok()
        }

        std::fs::write(dir.path().join("state.db"), "x").unwrap();
        std::fs::write(&path, "a = 1\n").unwrap();
        assert!(!wait(&mut changes).await, "another file, and the same content, are no change");

        // Written beside and renamed over, as editors do.
        let tmp = dir.path().join(".stormwatch.toml.swp");
        std::fs::write(&tmp, "a = 2\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(wait(&mut changes).await, "the edit is noticed");
    }
}
