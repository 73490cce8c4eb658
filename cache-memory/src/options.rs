//! Configuration: [`MemoryCacheOptions`] and the [`MemoryCacheBuilder`].

use session_core::ConfigError;

use crate::cache::MemoryCache;

/// The default bound on the total size of all entries: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Settings of a [`MemoryCache`].
///
/// ```
/// use cache_memory::{MemoryCache, MemoryCacheOptions};
///
/// let mut options = MemoryCacheOptions::default();
/// options.max_bytes = 8 * 1024 * 1024;
/// let cache = MemoryCache::with_options(options).unwrap();
/// assert_eq!(cache.max_bytes(), 8 * 1024 * 1024);
/// ```
///
/// `#[non_exhaustive]`: start from [`Default`] (or use [`MemoryCache::builder`]), so that
/// adding a setting is not a breaking change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryCacheOptions {
    /// Upper bound on the memory the entries occupy, in bytes. Each entry counts as its
    /// resident cost, [`entry_weight`](crate::entry_weight): the heap blocks of its value and
    /// key plus [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD), measured. When the bound is
    /// exceeded, the least recently used entries are evicted. A single entry larger than the
    /// bound is refused with [`CacheError::PayloadTooLarge`](session_core::CacheError::PayloadTooLarge).
    ///
    /// Default: [`DEFAULT_MAX_BYTES`] (64 MiB). Must be greater than zero.
    pub max_bytes: u64,
}

impl Default for MemoryCacheOptions {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl MemoryCacheOptions {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::ZeroSize`] when `max_bytes` is zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_bytes == 0 {
            return Err(ConfigError::ZeroSize("max_bytes"));
        }
        Ok(())
    }
}

/// Builds a [`MemoryCache`]; start with [`MemoryCache::builder`].
///
/// ```
/// use cache_memory::MemoryCache;
///
/// let cache = MemoryCache::builder().max_bytes(16 * 1024 * 1024).build().unwrap();
/// assert_eq!(cache.max_bytes(), 16 * 1024 * 1024);
/// assert!(MemoryCache::builder().max_bytes(0).build().is_err());
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MemoryCacheBuilder {
    options: MemoryCacheOptions,
}

impl MemoryCacheBuilder {
    /// A builder with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`MemoryCacheOptions::max_bytes`].
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.options.max_bytes = max_bytes;
        self
    }

    /// Validates the settings and builds the cache.
    ///
    /// # Errors
    /// [`ConfigError::ZeroSize`] when `max_bytes` is zero.
    pub fn build(self) -> Result<MemoryCache, ConfigError> {
        MemoryCache::with_options(self.options)
    }
}
