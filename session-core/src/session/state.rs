//! The in-memory state of one request's session and its pure (I/O-free) transitions: the data,
//! the change log and the read set that make an optimistic commit serializable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{self, ID_LEN};
use crate::error::{CacheError, CodecError, SessionError};
use crate::token::{LockToken, SessionKey, random_16};

use super::local_lock::LocalGuard;
use crate::cache::SharedCache;

/// The closure of an [`update`](crate::Session::update): the new value from the current one.
/// Kept in the change log so that a commit that lost a race applies it again to the value the
/// other request stored (a merge), instead of writing the value computed from a stale read.
pub(crate) type UpdateFn = Arc<dyn Fn(Option<&Bytes>) -> Result<Bytes, SessionError> + Send + Sync>;

/// One change made by this request, kept so that an optimistic commit that lost a race can
/// re-apply exactly this request's changes on top of what the other request wrote.
#[derive(Clone)]
pub(crate) enum Change {
    Set(String, Bytes),
    Remove(String),
    Update(String, UpdateFn),
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set(k, v) => write!(f, "Set({k:?}, {} bytes)", v.len()),
            Self::Remove(k) => write!(f, "Remove({k:?})"),
            Self::Update(k, _) => write!(f, "Update({k:?})"),
        }
    }
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
    /// Data is in memory since `at`.
    Loaded { at: Instant },
    /// Loading failed; the session is unavailable for the rest of the request.
    Failed(LoadFailure),
}

/// The stored entry this request's data came from: what a commit compares against, and what a
/// renew or purge removes (only if it is still exactly this, so no unseen write is deleted).
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) key: SessionKey,
    /// The stored bytes as loaded (possibly a corrupt payload, replaced whole by a commit).
    pub(crate) base: Bytes,
}

/// The store lock held in exclusive mode, and this node's queue position for the same key.
#[derive(Debug)]
pub(crate) struct HeldLock {
    pub(crate) key: SessionKey,
    pub(crate) token: LockToken,
    /// For the best-effort unlock when a request ends without finishing.
    pub(crate) cache: SharedCache,
    /// Set once unlocked normally.
    pub(crate) released: bool,
    /// The task that extends the lease while the lock is held (aborted on release).
    pub(crate) renewal: Option<tokio::task::AbortHandle>,
    pub(crate) _local: LocalGuard,
}

#[derive(Debug)]
pub(crate) struct State {
    /// The key the data is written under; `None` until a key is needed.
    pub(crate) key: Option<SessionKey>,
    /// The key was generated during this request: the client must be sent a cookie for it.
    pub(crate) key_is_new: bool,
    /// Data was written under `key` during this request.
    pub(crate) key_written: bool,
    /// The request arrived with a (verified, well-formed) session key.
    pub(crate) had_cookie: bool,
    pub(crate) phase: Phase,
    /// The stored entry the data is based on (`None`: a new session, or purged).
    pub(crate) origin: Option<Origin>,
    /// The origin is to be removed at commit (`renew` moved the data, `purge` ended it).
    pub(crate) retire_origin: bool,
    /// A purge happened and no origin was stored: the client's cookie must be removed.
    pub(crate) purged: bool,
    pub(crate) id: [u8; ID_LEN],
    pub(crate) entries: BTreeMap<String, Bytes>,
    /// Replay starts from an empty session instead of the stored one (after `clear`/`purge`).
    pub(crate) from_empty: bool,
    pub(crate) changes: Vec<Change>,
    /// Keys this request changed: reading them afterwards reads its own write, not the store.
    pub(crate) written: BTreeSet<String>,
    /// Keys whose stored value this request read (a replay is sound only if they did not change).
    pub(crate) reads: BTreeSet<String>,
    /// The request read the set of keys (`keys()`): a replay needs the same key set.
    pub(crate) read_all: bool,
    pub(crate) modified: bool,
    pub(crate) lock: Option<HeldLock>,
    /// A renewal removed the old entry, then lost the answer to the write of the data under
    /// this new key, which may have happened: the client must be sent this key even though the
    /// request fails, or its session (if stored) would be out of reach.
    pub(crate) moved_to: Option<SessionKey>,
    /// A commit of this request failed: its changes were dropped, and every later accessor and
    /// the end of the request answer this error (a handler that ignored it cannot answer 2xx).
    pub(crate) poisoned: Option<SessionError>,
    pub(crate) finished: bool,
    /// A remembered session's lifetime ([`Session::remember`](crate::Session::remember)): the
    /// sliding expiration its entry is written with, instead of the idle timeout. Restored
    /// from the client's cookie when the request opens; cleared when the session turns out to
    /// be new (its cookie named an unknown key) or is purged.
    pub(crate) lifetime: Option<Duration>,
    /// `remember` or `stop_remembering` was called in this request: the client's cookie must
    /// be sent again with its new lifetime.
    pub(crate) lifetime_changed: bool,
}

impl State {
    pub(crate) fn new(key: Option<SessionKey>, lifetime: Option<Duration>) -> Self {
        Self {
            lifetime: lifetime.filter(|_| key.is_some()),
            lifetime_changed: false,
            had_cookie: key.is_some(),
            key,
            key_is_new: false,
            key_written: false,
            phase: Phase::NotLoaded,
            origin: None,
            retire_origin: false,
            purged: false,
            id: [0; ID_LEN],
            entries: BTreeMap::new(),
            from_empty: false,
            changes: Vec::new(),
            written: BTreeSet::new(),
            reads: BTreeSet::new(),
            read_all: false,
            modified: false,
            lock: None,
            moved_to: None,
            poisoned: None,
            finished: false,
        }
    }

    /// Turns this into a brand-new, empty, loaded session with a fresh key and id.
    pub(crate) fn start_new(&mut self) {
        // A lifetime restored from the cookie belonged to the session that is gone.
        if !self.lifetime_changed {
            self.lifetime = None;
        }
        self.key = Some(SessionKey::generate());
        self.key_is_new = true;
        self.key_written = false;
        self.id = random_16();
        self.entries.clear();
        self.origin = None;
        self.reset_log();
        self.phase = Phase::Loaded { at: Instant::now() };
    }

    fn reset_log(&mut self) {
        self.from_empty = false;
        self.changes.clear();
        self.written.clear();
        self.reads.clear();
        self.read_all = false;
        self.modified = false;
    }

    /// Installs data read from the store under `key`. A payload that does not decode is logged
    /// and replaced by an empty session (as ASP.NET Core does); the corrupt bytes stay the
    /// compare-and-set base, so a commit replaces exactly them and nothing else.
    pub(crate) fn install(&mut self, key: SessionKey, stored: Bytes) {
        let (id, entries) = decode_or_empty(&stored, true);
        self.id = id;
        self.entries = entries;
        self.origin = Some(Origin { key, base: stored });
        self.phase = Phase::Loaded { at: Instant::now() };
    }

    /// Refuses changes after the end of the request or after a failed commit.
    pub(crate) fn check_writable(&self) -> Result<(), SessionError> {
        if self.finished {
            return Err(SessionError::Finished);
        }
        self.check_poison()
    }

    pub(crate) fn check_poison(&self) -> Result<(), SessionError> {
        match &self.poisoned {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Whether a read of `key` reads the stored value (rather than this request's own write).
    fn reads_store(&self, key: &str) -> bool {
        !self.from_empty && !self.written.contains(key)
    }

    /// The value under `key`, recording the read if it came from the store.
    pub(crate) fn read(&mut self, key: &str) -> Option<Bytes> {
        if self.reads_store(key) && !self.reads.contains(key) {
            self.reads.insert(key.to_owned());
        }
        self.entries.get(key).cloned()
    }

    /// The keys, recording a whole-session read if the key set came from the store.
    pub(crate) fn read_keys(&mut self) -> Vec<String> {
        if !self.from_empty {
            self.read_all = true;
        }
        self.entries.keys().cloned().collect()
    }

    fn record_write(&mut self, key: &str) {
        self.modified = true;
        if !self.written.contains(key) {
            self.written.insert(key.to_owned());
        }
    }

    pub(crate) fn set(&mut self, key: String, value: Bytes) -> Result<(), SessionError> {
        check_key(&key)?;
        self.record_write(&key);
        self.changes.push(Change::Set(key.clone(), value.clone()));
        self.entries.insert(key, value);
        Ok(())
    }

    /// Applies `update` to the current value of `key` (not recorded as a read: a replay applies
    /// it again to the fresh value) and returns the new value.
    pub(crate) fn update(&mut self, key: String, update: UpdateFn) -> Result<Bytes, SessionError> {
        check_key(&key)?;
        let value = update(self.entries.get(&key))?;
        self.record_write(&key);
        self.changes.push(Change::Update(key.clone(), update));
        self.entries.insert(key, value.clone());
        Ok(value)
    }

    /// Removes `key`; only marks the session modified if something was removed (as ASP.NET Core).
    /// Removing a key reads whether it existed, so that read is recorded.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Bytes> {
        let removed = self.read(key);
        if removed.is_some() {
            self.entries.remove(key);
            self.record_write(key);
            self.changes.push(Change::Remove(key.to_owned()));
        }
        removed
    }

    /// Removes every entry; only marks the session modified if it was not already empty.
    /// Afterwards the session no longer depends on what is stored: a replay starts from empty.
    pub(crate) fn clear(&mut self) {
        if !self.entries.is_empty() {
            self.entries.clear();
            self.changes.clear();
            self.from_empty = true;
            self.modified = true;
        }
    }

    /// Moves the (loaded) data to a fresh key; the data is written under it at commit and the
    /// old entry removed.
    pub(crate) fn renew(&mut self) {
        self.retire_origin = self.origin.is_some();
        self.key = Some(SessionKey::generate());
        self.key_is_new = true;
        self.key_written = false;
        self.modified = true;
    }

    /// Ends the session: the stored entry is removed at commit and the data dropped. Later
    /// writes in the same request start a brand-new session under a new key.
    pub(crate) fn purge(&mut self) {
        self.retire_origin = self.origin.is_some();
        self.purged = true;
        self.key = Some(SessionKey::generate());
        self.key_is_new = true;
        self.key_written = false;
        self.id = random_16();
        self.entries.clear();
        self.changes.clear();
        self.written.clear();
        self.from_empty = true;
        self.modified = false;
        // A new session after a logout is an ordinary one until it is remembered again.
        self.lifetime = None;
        self.lifetime_changed = false;
    }

    /// Sets (or, with `None`, drops) the remembered lifetime; the entry is written again with
    /// it at commit, and the client sent a cookie that lasts as long.
    pub(crate) fn set_lifetime(&mut self, lifetime: Option<Duration>) {
        self.lifetime = lifetime;
        self.lifetime_changed = true;
        self.modified = true;
    }

    /// Whether a commit has anything to do: data to write, or an origin to remove.
    pub(crate) fn has_pending(&self) -> bool {
        self.modified || self.retire_origin
    }

    /// After another request changed the origin to `current`: checks that nothing this request
    /// read has changed, then rebuilds the entries from `current` plus this request's changes.
    ///
    /// # Errors
    /// [`SessionError::StaleRead`] if a read value (or the key set) differs; an update closure's
    /// error if it refuses the fresh value.
    pub(crate) fn rebase(&mut self, current: &Bytes) -> Result<(), SessionError> {
        let Some(origin) = &self.origin else {
            return Err(SessionError::StaleRead { key: None });
        };
        let (_, before) = decode_or_empty(&origin.base, false);
        let (id, now) = decode_or_empty(current, false);
        if let Some(key) = self.reads.iter().find(|k| before.get(*k) != now.get(*k)) {
            return Err(SessionError::StaleRead {
                key: Some(key.clone()),
            });
        }
        if self.read_all && !before.keys().eq(now.keys()) {
            return Err(SessionError::StaleRead { key: None });
        }
        if !self.from_empty {
            let mut entries = now;
            for change in &self.changes {
                match change {
                    Change::Set(k, v) => {
                        entries.insert(k.clone(), v.clone());
                    }
                    Change::Remove(k) => {
                        entries.remove(k);
                    }
                    Change::Update(k, f) => {
                        let value = f(entries.get(k))?;
                        entries.insert(k.clone(), value);
                    }
                }
            }
            self.entries = entries;
            if !self.purged {
                self.id = id;
            }
        }
        if let Some(origin) = &mut self.origin {
            origin.base = current.clone();
        }
        Ok(())
    }

    /// After a successful commit: `written` (if any) under the current key is the new origin,
    /// and nothing is pending.
    pub(crate) fn committed(&mut self, written: Option<Bytes>) {
        self.retire_origin = false;
        self.origin = match (written, self.key.clone()) {
            (Some(base), Some(key)) => {
                self.key_written = true;
                Some(Origin { key, base })
            }
            _ => None,
        };
        self.reset_log();
    }
}

fn check_key(key: &str) -> Result<(), SessionError> {
    if key.len() > codec::MAX_KEY_LEN {
        return Err(SessionError::Encode(CodecError::KeyTooLong(key.len())));
    }
    Ok(())
}

/// The id and entries of a stored payload; a corrupt one reads as an empty session (logged when
/// `warn`).
fn decode_or_empty(stored: &Bytes, warn: bool) -> ([u8; ID_LEN], BTreeMap<String, Bytes>) {
    match codec::decode(stored) {
        Ok(payload) => (payload.id, payload.entries),
        Err(error) => {
            if warn {
                tracing::warn!(%error, "corrupt stored session payload; starting empty");
            }
            (random_16(), BTreeMap::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(entries: &[(&str, &[u8])]) -> State {
        let map: BTreeMap<String, Bytes> = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Bytes::copy_from_slice(v)))
            .collect();
        let mut s = State::new(None, None);
        s.install(
            SessionKey::generate(),
            codec::encode(&[7; 16], &map).unwrap(),
        );
        s
    }

    fn payload(entries: &[(&str, &[u8])]) -> Bytes {
        let map: BTreeMap<String, Bytes> = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Bytes::copy_from_slice(v)))
            .collect();
        codec::encode(&[7; 16], &map).unwrap()
    }

    #[test]
    fn change_tracking_follows_asp_net_core() {
        let mut s = State::new(None, None);
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
    fn blind_writes_merge_over_concurrent_ones() {
        let mut s = loaded(&[("gone", b"g")]);
        s.set("mine".into(), Bytes::from_static(b"m")).unwrap();
        s.remove("gone");
        s.rebase(&payload(&[("gone", b"g"), ("theirs", b"t")]))
            .unwrap();
        assert_eq!(
            s.entries.keys().map(String::as_str).collect::<Vec<_>>(),
            ["mine", "theirs"]
        );
    }

    #[test]
    fn a_changed_read_refuses_the_replay() {
        let mut s = loaded(&[("n", b"1")]);
        let n = s.read("n");
        assert_eq!(n.as_deref(), Some(&b"1"[..]));
        s.set("n".into(), Bytes::from_static(b"2")).unwrap();
        let err = s.rebase(&payload(&[("n", b"5")])).unwrap_err();
        assert!(matches!(err, SessionError::StaleRead { key: Some(k) } if k == "n"));
    }

    #[test]
    fn a_read_of_an_absent_key_that_appeared_refuses_the_replay() {
        let mut s = loaded(&[]);
        assert!(s.read("n").is_none());
        s.set("n".into(), Bytes::from_static(b"1")).unwrap();
        assert!(s.rebase(&payload(&[("n", b"9")])).is_err());
    }

    #[test]
    fn reading_own_write_is_not_a_store_read() {
        let mut s = loaded(&[("n", b"1")]);
        s.set("n".into(), Bytes::from_static(b"2")).unwrap();
        let _ = s.read("n");
        s.rebase(&payload(&[("n", b"5")])).unwrap();
        assert_eq!(s.entries["n"], Bytes::from_static(b"2"));
    }

    #[test]
    fn update_is_reapplied_to_the_fresh_value() {
        let mut s = loaded(&[("n", &[1])]);
        let add_one: UpdateFn =
            Arc::new(|v: Option<&Bytes>| Ok(Bytes::from(vec![v.map_or(0, |b| b[0]) + 1])));
        assert_eq!(s.update("n".into(), add_one).unwrap(), Bytes::from(vec![2]));
        s.rebase(&payload(&[("n", &[5])])).unwrap();
        assert_eq!(s.entries["n"], Bytes::from(vec![6]));
    }

    #[test]
    fn keys_read_refuses_a_replay_over_a_new_key_but_not_a_changed_value() {
        let mut s = loaded(&[("a", b"1")]);
        let _ = s.read_keys();
        s.set("b".into(), Bytes::from_static(b"2")).unwrap();
        s.rebase(&payload(&[("a", b"changed")])).unwrap();
        let mut s = loaded(&[("a", b"1")]);
        let _ = s.read_keys();
        s.set("b".into(), Bytes::from_static(b"2")).unwrap();
        assert!(s.rebase(&payload(&[("a", b"1"), ("c", b"3")])).is_err());
    }

    #[test]
    fn clear_makes_the_session_independent_of_the_store() {
        let mut s = loaded(&[("a", b"1")]);
        s.clear();
        let _ = s.read_keys();
        let _ = s.read("a");
        s.set("b".into(), Bytes::from_static(b"2")).unwrap();
        s.rebase(&payload(&[("a", b"9"), ("z", b"z")])).unwrap();
        assert_eq!(
            s.entries.keys().map(String::as_str).collect::<Vec<_>>(),
            ["b"]
        );
    }

    #[test]
    fn overlong_key_is_refused_at_set() {
        let mut s = State::new(None, None);
        s.start_new();
        let err = s.set("k".repeat(70_000), Bytes::new()).unwrap_err();
        assert!(matches!(
            err,
            SessionError::Encode(CodecError::KeyTooLong(70_000))
        ));
        assert!(!s.modified);
    }
}
