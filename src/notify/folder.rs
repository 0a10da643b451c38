//! The `folder` channel: each notification as `<key>.eml` (the same MIME message email would
//! send) and `<key>.html` (the HTML part, to open in a browser). Written to a temporary name
//! and renamed, so a reader never sees half a file; the same key twice overwrites (a retry
//! after a crash leaves one copy).

use std::path::Path;

use lettre::message::Mailbox;

use super::{email, html, Channel, SendError};
use crate::alert::Message;

/// A folder receiver.
pub(crate) struct Folder {
    pub(crate) path: std::path::PathBuf,
    /// The receiver's name (the `To:` of the `.eml`).
    pub(crate) receiver: String,
}

#[async_trait::async_trait]
impl Channel for Folder {
    async fn send(&self, message: &Message, key: &str) -> Result<(), SendError> {
        write(&self.path, &self.receiver, message, key)
    }
}

fn write(dir: &Path, receiver: &str, message: &Message, key: &str) -> Result<(), SendError> {
    let from: Mailbox =
        "stormwatch <stormwatch@localhost>".parse().map_err(|e| SendError::Permanent(format!("{e}")))?;
    let to = vec![format!("{receiver}@localhost")];
    let eml = email::build(&from, &to, message, key)?.formatted();
    let name: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '_' }).collect();
    put(dir, &format!("{name}.eml"), &eml)?;
    put(dir, &format!("{name}.html"), html::body(message, false).as_bytes())
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SendError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let fail = |e: std::io::Error| SendError::Retry {
        reason: format!("cannot write {}: {e}", dir.join(name).display()),
        after: None,
    };
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(fail)
}
