//! Typed helpers over the byte values: UTF-8 strings, .NET-compatible `i32`, and JSON.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::SessionError;

use super::Session;

impl Session {
    /// The UTF-8 string under `key` (as .NET's `GetString`).
    ///
    /// # Errors
    /// As [`Session::get`]; [`SessionError::InvalidValue`] if the value is not UTF-8.
    pub async fn get_string(&self, key: &str) -> Result<Option<String>, SessionError> {
        self.get(key)
            .await?
            .map(|bytes| decode_str(key, &bytes).map(str::to_owned))
            .transpose()
    }

    /// Stores `value` as UTF-8 (as .NET's `SetString`).
    ///
    /// # Errors
    /// As [`Session::set`].
    pub async fn set_string(
        &self,
        key: impl Into<String>,
        value: impl AsRef<str>,
    ) -> Result<(), SessionError> {
        self.set(key, Bytes::copy_from_slice(value.as_ref().as_bytes()))
            .await
    }

    /// The `i32` under `key`: 4 bytes, big-endian (as .NET's `GetInt32`).
    ///
    /// # Errors
    /// As [`Session::get`]; [`SessionError::InvalidValue`] if the value is not 4 bytes.
    pub async fn get_i32(&self, key: &str) -> Result<Option<i32>, SessionError> {
        self.get(key)
            .await?
            .map(|bytes| decode_i32(key, &bytes))
            .transpose()
    }

    /// Read-modify-write of the `i32` under `key` that never loses a concurrent update:
    /// [`update`](Self::update) with .NET's `Int32` encoding. Commits at once and returns the
    /// value stored (`f` may run again on a newer value if another request changed it).
    ///
    /// ```
    /// # use session_core::{Session, SessionError};
    /// async fn count(session: &Session) -> Result<i32, SessionError> {
    ///     session
    ///         .update_i32("counter", |n| n.unwrap_or(0).saturating_add(1))
    ///         .await
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`update`](Self::update); [`SessionError::InvalidValue`] if the stored value is not 4 bytes.
    pub async fn update_i32<F>(&self, key: impl Into<String>, f: F) -> Result<i32, SessionError>
    where
        F: Fn(Option<i32>) -> i32 + Send + Sync + 'static,
    {
        let key = key.into();
        let name = key.clone();
        let stored = self
            .update(key, move |current| {
                let current = current.map(|b| decode_i32(&name, b)).transpose()?;
                Ok(Bytes::copy_from_slice(&f(current).to_be_bytes()))
            })
            .await?;
        decode_i32("", &stored)
    }

    /// Read-modify-write of the UTF-8 string under `key`: [`update`](Self::update) for strings.
    /// Commits at once and returns the value stored.
    ///
    /// # Errors
    /// As [`update`](Self::update); [`SessionError::InvalidValue`] if the stored value is not UTF-8.
    pub async fn update_string<F>(
        &self,
        key: impl Into<String>,
        f: F,
    ) -> Result<String, SessionError>
    where
        F: Fn(Option<&str>) -> String + Send + Sync + 'static,
    {
        let key = key.into();
        let name = key.clone();
        let stored = self
            .update(key, move |current| {
                let current = current.map(|b| decode_str(&name, b)).transpose()?;
                Ok(Bytes::from(f(current)))
            })
            .await?;
        decode_str("", &stored).map(str::to_owned)
    }

    /// Stores `value` as 4 bytes, big-endian (as .NET's `SetInt32`).
    ///
    /// # Errors
    /// As [`Session::set`].
    pub async fn set_i32(&self, key: impl Into<String>, value: i32) -> Result<(), SessionError> {
        self.set(key, Bytes::copy_from_slice(&value.to_be_bytes()))
            .await
    }

    /// The JSON value under `key`, deserialised.
    ///
    /// # Errors
    /// As [`Session::get`]; [`SessionError::InvalidValue`] if it does not deserialise.
    #[cfg(feature = "serde")]
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        self.get(key)
            .await?
            .map(|bytes| decode_json(key, &bytes))
            .transpose()
    }

    /// Read-modify-write of the JSON value under `key`: [`update`](Self::update) for any
    /// serde type. Commits at once and returns the value stored.
    ///
    /// # Errors
    /// As [`update`](Self::update); [`SessionError::InvalidValue`] if the stored value does
    /// not deserialise or the new one does not serialise.
    #[cfg(feature = "serde")]
    pub async fn update_json<T, F>(&self, key: impl Into<String>, f: F) -> Result<T, SessionError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        F: Fn(Option<T>) -> T + Send + Sync + 'static,
    {
        let key = key.into();
        let name = key.clone();
        let stored = self
            .update(key, move |current| {
                let current = current.map(|b| decode_json(&name, b)).transpose()?;
                encode_json(&name, &f(current)).map(Bytes::from)
            })
            .await?;
        decode_json("", &stored)
    }

    /// Stores `value` serialised as JSON.
    ///
    /// # Errors
    /// As [`Session::set`]; [`SessionError::InvalidValue`] if it does not serialise.
    #[cfg(feature = "serde")]
    pub async fn set_json<T: serde::Serialize + ?Sized>(
        &self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), SessionError> {
        let key = key.into();
        let json = encode_json(&key, value)?;
        self.set(key, json).await
    }
}

fn decode_i32(key: &str, bytes: &[u8]) -> Result<i32, SessionError> {
    let array: [u8; 4] = bytes.try_into().map_err(|_| SessionError::InvalidValue {
        key: key.to_owned(),
        expected: "i32 (4 bytes)",
        source: None,
    })?;
    Ok(i32::from_be_bytes(array))
}

fn decode_str<'a>(key: &str, bytes: &'a [u8]) -> Result<&'a str, SessionError> {
    std::str::from_utf8(bytes).map_err(|e| SessionError::InvalidValue {
        key: key.to_owned(),
        expected: "UTF-8 string",
        source: Some(Arc::new(e)),
    })
}

#[cfg(feature = "serde")]
fn decode_json<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, SessionError> {
    serde_json::from_slice(bytes).map_err(|e| SessionError::InvalidValue {
        key: key.to_owned(),
        expected: "JSON value",
        source: Some(Arc::new(e)),
    })
}

#[cfg(feature = "serde")]
fn encode_json<T: serde::Serialize + ?Sized>(
    key: &str,
    value: &T,
) -> Result<Vec<u8>, SessionError> {
    serde_json::to_vec(value).map_err(|e| SessionError::InvalidValue {
        key: key.to_owned(),
        expected: "JSON value",
        source: Some(Arc::new(e)),
    })
}
