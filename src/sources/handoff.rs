//! Handing a page of mentions to detection, exactly once: the one mechanism behind polled
//! pages (`poll.rs`) and pushed batches (`server::ingest`).
//!
//! 1. The mentions whose ids were handed on before are dropped (the seen-id store).
//! 2. The rest are matched to watches; the matched ones go to detection as one
//!    [`MentionBatch`] through a bounded channel, and the hand-off waits until detection says
//!    it journaled them (a busy detection slows the sender down: backpressure, never an
//!    unbounded queue).
//! 3. Then, in one transaction, their ids are recorded as seen and the source's position is
//!    stored. A crash before 3 means the page comes again (fetched again, or resent by the
//!    pusher), and the journal recognises what it counted already; a crash after it means
//!    nothing is repeated. Either way each mention is counted once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::matching::Matcher;
use crate::model::{Mention, WatchedMention};
use crate::store::{SourceState, Store, StoreError};

/// Why detection could not journal a batch (its page is then not committed, and comes again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot journal the mentions: {0}")]
pub struct NotJournaled(pub String);

/// One page's matched mentions on their way to detection, which answers on `counted` once
/// they are in the journal.
#[derive(Debug)]
pub struct MentionBatch {
    pub mentions: Vec<WatchedMention>,
    pub counted: oneshot::Sender<Result<(), NotJournaled>>,
}

/// Why a hand-off did not complete; nothing was committed, so the page comes again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandOffError {
    #[error("the pipeline stopped taking mentions")]
    Closed,
    #[error(transparent)]
    Journal(#[from] NotJournaled),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one hand-off did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Counts {
    pub received: usize,
    /// Not handed on before.
    pub new: usize,
    pub duplicates: usize,
    /// New mentions that belong to at least one watch (handed to detection).
    pub matched: usize,
}

/// Where mentions go: the seen-id store, the watches' matcher and detection's channel.
#[derive(Clone)]
pub struct HandOff {
    pub store: Store,
    pub matcher: Arc<Matcher>,
    pub out: mpsc::Sender<MentionBatch>,
}

impl HandOff {
    /// Hands on one page of `source` and then commits it with `state`, the source's position
    /// after the page.
    pub(crate) async fn page(
        &self,
        source: &str,
        mentions: Vec<Mention>,
        state: SourceState,
        now: DateTime<Utc>,
    ) -> Result<Counts, HandOffError> {
        let ids: Vec<String> = mentions.iter().map(|m| m.id.clone()).collect();
        let (store, name) = (self.store.clone(), source.to_string());
        let unseen = blocking(move || {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            store.unseen(&name, &refs)
        })
        .await?;
        let mut counts = Counts { received: mentions.len(), ..Counts::default() };
        let mut new_ids = Vec::new();
        let mut batch = Vec::new();
        for (mention, new) in mentions.into_iter().zip(unseen) {
            if !new {
                counts.duplicates += 1;
                continue;
            }
            new_ids.push(mention.id.clone());
            let watches: Vec<String> =
                self.matcher.watches_for(source, &mention.text).into_iter().map(str::to_string).collect();
            if !watches.is_empty() {
                batch.push(WatchedMention { mention, watches });
            }
        }
        counts.new = new_ids.len();
        counts.matched = batch.len();
        hand_on(&self.out, batch).await?;
        let (store, name) = (self.store.clone(), source.to_string());
        blocking(move || {
            let refs: Vec<&str> = new_ids.iter().map(String::as_str).collect();
            store.commit_page(&name, &refs, &state, now)
        })
        .await?;
        Ok(counts)
    }
}

/// Sends `mentions` to detection and waits for its answer.
async fn hand_on(out: &mpsc::Sender<MentionBatch>, mentions: Vec<WatchedMention>) -> Result<(), HandOffError> {
    if mentions.is_empty() {
        return Ok(());
    }
    let (counted, answer) = oneshot::channel();
    out.send(MentionBatch { mentions, counted }).await.map_err(|_| HandOffError::Closed)?;
    match answer.await {
        Ok(result) => Ok(result?),
        Err(_) => Err(HandOffError::Closed),
    }
}

/// Runs a store call on the blocking pool (SQLite is synchronous).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(StoreError::Corrupt(format!("store task failed: {e}"))))
}
