//! Starts a private `redis-server` for tests (written by the Redis issue).
