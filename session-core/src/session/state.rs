//! The in-memory state of one request's session and its pure (I/O-free) transitions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{self, ID_LEN};
use crate::error::{CacheError, CodecError, SessionError};
use crate::token::{LockToken, SessionKey, random_16};

use super::local_lock::LocalGuard;
use crate::cache::SharedCache;

/// One change made by this request, kept so that an optimistic commit that lost a race can
/// re-apply exactly this request's changes on top of what the other request wrote.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Set(String, Bytes),
    Remove(String),
    Clear,
}

/// Why a session could not be loaded; kept so every accessor can answer the same error.
#[derive(Debug, Clone)]
pub(crate) enum LoadFailure {
    Cache(Arc<CacheError>),
    LockTimeout(Duration),
}

impl LoadFailure {
    pub(crate) fn to_error(&self) -> SessionError {
        match self {
            Self::Cache(e) => SessionError::Unavailable(Arc::clone(e)),
            Self::LockTimeout(wait) => SessionError::LockTimeout(*wait),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Phase {
    /// Nothing read yet (the session is lazy).
    NotLoaded,
    /// Data is in memory; `base` is the stored value it came from (`None`: nothing stored),
    /// the compare-and-set base of an optimistic commit.
    Loaded { base: Option<Bytes>, at: Instant },
    /// Loading failed; the session is unavailable for the rest of the request.
    Failed(LoadFailure),
}

/// The store lock held in exclusive mode, and this node's queue position for the same key.
#[derive(Debug)]
pub(crate) struct HeldLock {
    pub(crate) key: SessionKey,
    pub(crate) token: LockToken,
    /// When the lock was taken (the lease runs from here).
    pub(crate) acquired: Instant,
    /// For the best-effort unlock when a request ends without finishing.
    pub(crate) cache: SharedCache,
    /// Set once unlocked normally.
    pub(crate) released: bool,
    pub(crate) _local: LocalGuard,
}

#[derive(Debug)]
pub(crate) struct State {
    /// The key the data lives under; `None` for a new session until a key is needed.
    pub(crate) key: Option<SessionKey>,
    /// The key was generated during this request: the client must be sent a cookie for it.
    pub(crate) key_is_new: bool,
    /// Data was written under `key` during this request.
    pub(crate) key_written: bool,
    /// The request arrived with a (verified, well-formed) session key.
    pub(crate) had_cookie: bool,
    /// Keys retired by `renew`/`purge`, whose entries are removed at the end of the request.
    pub(crate) retired: Vec<SessionKey>,
    pub(crate) phase: Phase,
    pub(crate) id: [u8; ID_LEN],
    pub(crate) entries: BTreeMap<String, Bytes>,
    pub(crate) changes: Vec<Change>,
    pub(crate) modified: bool,
    pub(crate) lock: Option<HeldLock>,
    pub(crate) finished: bool,
}

impl State {
    pub(crate) fn new(key: Option<SessionKey>) -> Self {
        Self {
            had_cookie: key.is_some(),
            key,
            key_is_new: false,
            key_written: false,
            retired: Vec::new(),
            phase: Phase::NotLoaded,
            id: [0; ID_LEN],
            entries: BTreeMap::new(),
            changes: Vec::new(),
            modified: false,
            lock: None,
            finished: false,
        }
    }

    /// Turns this into a brand-new, empty, loaded session with a fresh key and id.
    pub(crate) fn start_new(&mut self) {
        self.key = Some(SessionKey::generate());
        self.key_is_new = true;
        self.key_written = false;
        self.id = random_16();
        self.entries.clear();
        self.changes.clear();
        self.modified = false;
        self.phase = Phase::Loaded {
            base: None,
            at: Instant::now(),
        };
    }

    /// Installs data read from the store. A payload that does not decode is logged and replaced
    /// by an empty session (as ASP.NET Core does); the corrupt bytes stay the compare-and-set
    /// base, so a commit replaces exactly them and nothing else.
    pub(crate) fn install(&mut self, stored: Bytes) {
        match codec::decode(&stored) {
            Ok(payload) => {
                self.id = payload.id;
                self.entries = payload.entries;
            }
            Err(error) => {
                tracing::warn!(%error, "corrupt stored session payload; starting empty");
                self.id = random_16();
                self.entries.clear();
            }
        }
        self.phase = Phase::Loaded {
            base: Some(stored),
            at: Instant::now(),
        };
    }

    pub(crate) fn check_writable(&self) -> Result<(), SessionError> {
        if self.finished {
            return Err(SessionError::Finished);
        }
        Ok(())
    }

    pub(crate) fn set(&mut self, key: String, value: Bytes) -> Result<(), SessionError> {
        if key.len() > codec::MAX_KEY_LEN {
            return Err(SessionError::Encode(CodecError::KeyTooLong(key.len())));
        }
        self.modified = true;
        self.changes.push(Change::Set(key.clone(), value.clone()));
        self.entries.insert(key, value);
        Ok(())
    }

    /// Removes `key`; only marks the session modified if something was removed (as ASP.NET Core).
    pub(crate) fn remove(&mut self, key: &str) -> Option<Bytes> {
        let removed = self.entries.remove(key);
        if removed.is_some() {
            self.modified = true;
            self.changes.push(Change::Remove(key.to_owned()));
        }
        removed
    }

    /// Removes every entry; only marks the session modified if it was not already empty.
    pub(crate) fn clear(&mut self) {
        if !self.entries.is_empty() {
            self.modified = true;
            self.changes.push(Change::Clear);
            self.entries.clear();
        }
    }

    /// Rebuilds the entries from `current` (what another request committed meanwhile) plus
    /// this request's own changes, in order.
    pub(crate) fn rebase(&mut self, current: Option<Bytes>) {
        let mut entries = BTreeMap::new();
        if let Some(payload) = current.as_ref().and_then(|b| codec::decode(b).ok()) {
            self.id = payload.id;
            entries = payload.entries;
        }
        for change in &self.changes {
            match change {
                Change::Set(k, v) => {
                    entries.insert(k.clone(), v.clone());
                }
                Change::Remove(k) => {
                    entries.remove(k);
                }
                Change::Clear => entries.clear(),
            }
        }
        self.entries = entries;
        self.phase = Phase::Loaded {
            base: current,
            at: Instant::now(),
        };
    }

    /// Retires the current key (if the store may hold data under it) so it is removed at the
    /// end of the request.
    fn retire_key(&mut self) {
        let may_be_stored = !self.key_is_new || self.key_written;
        if let Some(old) = self.key.take().filter(|_| may_be_stored) {
            self.retired.push(old);
        }
    }

    /// Moves the (loaded) data to a fresh key; the data is written under it at commit.
    pub(crate) fn renew(&mut self) {
        self.retire_key();
        self.key = Some(SessionKey::generate());
        self.key_is_new = true;
        self.key_written = false;
        self.modified = true;
        // Under the new key the whole content is this request's change (for a replay).
        self.changes = std::iter::once(Change::Clear)
            .chain(
                self.entries
                    .iter()
                    .map(|(k, v)| Change::Set(k.clone(), v.clone())),
            )
            .collect();
        self.phase = Phase::Loaded {
            base: None,
            at: Instant::now(),
        };
    }

    /// Forgets the session; its key is retired and the next access starts a new one.
    pub(crate) fn purge(&mut self) {
        self.retire_key();
        self.key_is_new = false;
        self.key_written = false;
        self.entries.clear();
        self.changes.clear();
        self.modified = false;
        self.phase = Phase::NotLoaded;
    }

    /// After a successful write of `written`: it is the new base, and nothing is pending.
    pub(crate) fn committed(&mut self, written: Bytes) {
        self.modified = false;
        self.changes.clear();
        self.phase = Phase::Loaded {
            base: Some(written),
            at: Instant::now(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_tracking_follows_asp_net_core() {
        let mut s = State::new(None);
        s.start_new();
        s.remove("missing");
        s.clear();
        assert!(
            !s.modified,
            "removing nothing and clearing nothing are not changes"
        );
        s.set("a".into(), Bytes::from_static(b"1")).unwrap();
        assert!(s.modified);
    }

    #[test]
    fn rebase_replays_own_changes_over_concurrent_ones() {
        let mut theirs = BTreeMap::new();
        theirs.insert("theirs".to_owned(), Bytes::from_static(b"t"));
        theirs.insert("gone".to_owned(), Bytes::from_static(b"g"));
        let current = codec::encode(&[7; 16], &theirs).unwrap();

        let mut s = State::new(None);
        s.start_new();
        s.set("mine".into(), Bytes::from_static(b"m")).unwrap();
        s.entries.insert("gone".into(), Bytes::from_static(b"g"));
        s.remove("gone");
        s.rebase(Some(current));
        assert_eq!(s.id, [7; 16]);
        assert_eq!(
            s.entries.keys().map(String::as_str).collect::<Vec<_>>(),
            ["mine", "theirs"]
        );
    }

    #[test]
    fn overlong_key_is_refused_at_set() {
        let mut s = State::new(None);
        s.start_new();
        let err = s.set("k".repeat(70_000), Bytes::new()).unwrap_err();
        assert!(matches!(
            err,
            SessionError::Encode(CodecError::KeyTooLong(70_000))
        ));
        assert!(!s.modified);
    }
}
