//! The benchmark's one error type.

/// Anything that stops a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad command line.
    #[error("invalid arguments: {0}")]
    Cli(#[from] crate::cli::CliError),
    /// Process, socket or file I/O.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The private redis-server or a Redis variant's connection.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A server answered something the load generator cannot use.
    #[error("HTTP: {0}")]
    Http(String),
    /// A child process (server, load generator, memory probe) misbehaved.
    #[error("{0}")]
    Child(String),
    /// A variant could not be set up (library configuration error).
    #[error("setting up {variant}: {source}")]
    Setup {
        /// The variant being set up.
        variant: &'static str,
        /// The library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl BenchError {
    /// Wraps a library error raised while building `variant`.
    pub fn setup(
        variant: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Setup {
            variant,
            source: source.into(),
        }
    }
}
