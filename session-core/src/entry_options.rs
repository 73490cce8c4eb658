//! [`EntryOptions`]: how long a cache entry lives, with the semantics of .NET's
//! `DistributedCacheEntryOptions`.

use std::time::{Duration, SystemTime};

use crate::error::EntryOptionsError;

/// Expiration settings for one cache entry.
///
/// * **Absolute** expiration: the entry dies at a fixed point in time, given either as a
///   [`SystemTime`] or relative to the moment it is written.
/// * **Sliding** expiration: the entry dies after this long without a `get` or `refresh`;
///   each access pushes the deadline out again, but **never past the absolute expiration**.
///
/// With neither set, the entry lives until removed or evicted.
///
/// ```
/// use std::time::Duration;
/// use session_core::EntryOptions;
///
/// let options = EntryOptions::new()
///     .sliding_expiration(Duration::from_secs(20 * 60))
///     .absolute_expiration_relative_to_now(Duration::from_secs(8 * 3600));
/// let resolved = options.resolve(std::time::SystemTime::now()).unwrap();
/// assert_eq!(resolved.sliding, Some(Duration::from_secs(1200)));
/// assert!(resolved.absolute.is_some());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct EntryOptions {
    absolute: Option<SystemTime>,
    absolute_relative: Option<Duration>,
    sliding: Option<Duration>,
}

impl EntryOptions {
    /// Options with no expiration at all.
    pub const fn new() -> Self {
        Self {
            absolute: None,
            absolute_relative: None,
            sliding: None,
        }
    }

    /// Options with only a sliding expiration (what a session uses: the idle timeout).
    pub const fn sliding(sliding: Duration) -> Self {
        Self::new().sliding_expiration(sliding)
    }

    /// The entry expires at this point in time.
    pub const fn absolute_expiration(mut self, at: SystemTime) -> Self {
        self.absolute = Some(at);
        self
    }

    /// The entry expires this long after it is written.
    pub const fn absolute_expiration_relative_to_now(mut self, after: Duration) -> Self {
        self.absolute_relative = Some(after);
        self
    }

    /// The entry expires after this long without access.
    pub const fn sliding_expiration(mut self, idle: Duration) -> Self {
        self.sliding = Some(idle);
        self
    }

    /// The sliding expiration, if set.
    #[must_use]
    pub const fn get_sliding_expiration(&self) -> Option<Duration> {
        self.sliding
    }

    /// Validates the options and turns them into absolute terms as of `now` (the write time).
    ///
    /// # Errors
    /// [`EntryOptionsError`] for a zero sliding or relative expiration, an absolute expiration
    /// that is not after `now`, or both absolute forms at once.
    pub fn resolve(&self, now: SystemTime) -> Result<ResolvedExpiration, EntryOptionsError> {
        if self.sliding == Some(Duration::ZERO) {
            return Err(EntryOptionsError::NotPositive { which: "sliding" });
        }
        let absolute = match (self.absolute, self.absolute_relative) {
            (Some(_), Some(_)) => return Err(EntryOptionsError::BothAbsoluteForms),
            (None, Some(rel)) if rel.is_zero() => {
                return Err(EntryOptionsError::NotPositive {
                    which: "relative absolute",
                });
            }
            (None, Some(rel)) => Some(now.checked_add(rel).ok_or(EntryOptionsError::OutOfRange)?),
            (Some(at), None) if at <= now => return Err(EntryOptionsError::AbsoluteInThePast),
            (Some(at), None) => Some(at),
            (None, None) => None,
        };
        Ok(ResolvedExpiration {
            absolute,
            sliding: self.sliding,
        })
    }
}

/// [`EntryOptions`] resolved at write time: what a provider stores next to the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedExpiration {
    /// The point in time after which the entry is dead, whatever its sliding expiration says.
    pub absolute: Option<SystemTime>,
    /// The idle window; each access moves the deadline to `access + sliding` (capped by `absolute`).
    pub sliding: Option<Duration>,
}

impl ResolvedExpiration {
    /// When the entry expires if it is written or accessed at `now`:
    /// `min(now + sliding, absolute)`, or `None` for an entry that never expires.
    #[must_use]
    pub fn expires_at(&self, now: SystemTime) -> Option<SystemTime> {
        // A sliding window too large to represent as a point in time never runs out.
        match (self.sliding.and_then(|s| now.checked_add(s)), self.absolute) {
            (Some(slide), Some(abs)) => Some(slide.min(abs)),
            (slide, abs) => slide.or(abs),
        }
    }

    /// How long from `now` the entry has left (zero if already expired), or `None` if it never expires.
    #[must_use]
    pub fn time_to_live(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at(now)
            .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_secs(1_000_000);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + T0
    }

    #[test]
    fn sliding_is_capped_by_absolute() {
        let r = EntryOptions::sliding(Duration::from_secs(10))
            .absolute_expiration_relative_to_now(Duration::from_secs(15))
            .resolve(now())
            .unwrap();
        assert_eq!(r.expires_at(now()), Some(now() + Duration::from_secs(10)));
        let later = now() + Duration::from_secs(8);
        assert_eq!(r.expires_at(later), Some(now() + Duration::from_secs(15)));
        assert_eq!(r.time_to_live(later), Some(Duration::from_secs(7)));
    }

    #[test]
    fn huge_durations_do_not_overflow() {
        let r = EntryOptions::sliding(Duration::MAX).resolve(now()).unwrap();
        assert_eq!(r.expires_at(now()), None);
        assert_eq!(
            EntryOptions::new()
                .absolute_expiration_relative_to_now(Duration::MAX)
                .resolve(now()),
            Err(EntryOptionsError::OutOfRange)
        );
    }

    #[test]
    fn no_expiration() {
        let r = EntryOptions::new().resolve(now()).unwrap();
        assert_eq!(r.expires_at(now()), None);
        assert_eq!(r.time_to_live(now()), None);
    }

    #[test]
    fn invalid_combinations_are_typed_errors() {
        assert_eq!(
            EntryOptions::sliding(Duration::ZERO).resolve(now()),
            Err(EntryOptionsError::NotPositive { which: "sliding" })
        );
        assert_eq!(
            EntryOptions::new()
                .absolute_expiration(now())
                .resolve(now()),
            Err(EntryOptionsError::AbsoluteInThePast)
        );
        assert_eq!(
            EntryOptions::new()
                .absolute_expiration(now() + T0)
                .absolute_expiration_relative_to_now(T0)
                .resolve(now()),
            Err(EntryOptionsError::BothAbsoluteForms)
        );
        assert!(matches!(
            EntryOptions::new()
                .absolute_expiration_relative_to_now(Duration::ZERO)
                .resolve(now()),
            Err(EntryOptionsError::NotPositive { .. })
        ));
    }
}
