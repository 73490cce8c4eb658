//! Typed values over the byte values: any serde type as JSON (`get`, `insert`, `update`; feature
//! `serde`), and ASP.NET Core's own encodings (`*_string`: UTF-8, `*_i32`: 4 bytes big-endian),
//! which a .NET service sharing the store reads with `GetString` / `GetInt32`.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::SessionError;

use super::Session;

impl Session {
    /// The UTF-8 string under `key` (as .NET's `GetString`).
    ///
    /// # Errors
    /// As [`Session::get_bytes`]; [`SessionError::InvalidValue`] if the value is not UTF-8.
    pub async fn get_string(&self, key: &str) -> Result<Option<String>, SessionError> {
        self.get_bytes(key)
            .await?
            .map(|bytes| decode_str(key, &bytes).map(str::to_owned))
            .transpose()
    }

    /// Stores `value` as UTF-8 (as .NET's `SetString`).
    ///
    /// # Errors
    /// As [`Session::insert_bytes`].
    pub async fn set_string(
        &self,
        key: impl Into<String>,
        value: impl AsRef<str>,
    ) -> Result<(), SessionError> {
        self.insert_bytes(key, Bytes::copy_from_slice(value.as_ref().as_bytes()))
            .await
    }

    /// The `i32` under `key`: 4 bytes, big-endian (as .NET's `GetInt32`).
    ///
    /// # Errors
    /// As [`Session::get_bytes`]; [`SessionError::InvalidValue`] if the value is not 4 bytes.
    pub async fn get_i32(&self, key: &str) -> Result<Option<i32>, SessionError> {
        self.get_bytes(key)
            .await?
            .map(|bytes| decode_i32(key, &bytes))
            .transpose()
    }

    /// Read-modify-write of the `i32` under `key` that never loses a concurrent update:
    /// [`update_bytes`](Self::update_bytes) with .NET's `Int32` encoding. Commits at once and returns the
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
    /// As [`update_bytes`](Self::update_bytes); [`SessionError::InvalidValue`] if the stored value is not 4 bytes.
    pub async fn update_i32<F>(&self, key: impl Into<String>, f: F) -> Result<i32, SessionError>
    where
        F: Fn(Option<i32>) -> i32 + Send + Sync + 'static,
    {
        let key = key.into();
        let name = key.clone();
        let stored = self
            .update_bytes(key, move |current| {
                let current = current.map(|b| decode_i32(&name, b)).transpose()?;
                Ok(Bytes::copy_from_slice(&f(current).to_be_bytes()))
            })
            .await?;
        decode_i32("", &stored)
    }

    /// Read-modify-write of the UTF-8 string under `key`: [`update_bytes`](Self::update_bytes) for strings.
    /// Commits at once and returns the value stored.
    ///
    /// # Errors
    /// As [`update_bytes`](Self::update_bytes); [`SessionError::InvalidValue`] if the stored value is not UTF-8.
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
            .update_bytes(key, move |current| {
                let current = current.map(|b| decode_str(&name, b)).transpose()?;
                Ok(Bytes::from(f(current)))
            })
            .await?;
        decode_str("", &stored).map(str::to_owned)
    }

    /// Stores `value` as 4 bytes, big-endian (as .NET's `SetInt32`).
    ///
    /// # Errors
    /// As [`Session::insert_bytes`].
    pub async fn set_i32(&self, key: impl Into<String>, value: i32) -> Result<(), SessionError> {
        self.insert_bytes(key, Bytes::copy_from_slice(&value.to_be_bytes()))
            .await
    }

    /// The value under `key`, deserialised from JSON; `None` if there is none.
    ///
    /// ```
    /// # use session_core::{Session, SessionError};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Cart { items: Vec<String> }
    ///
    /// async fn cart(session: &Session) -> Result<Cart, SessionError> {
    ///     Ok(session.get::<Cart>("cart").await?.unwrap_or(Cart { items: Vec::new() }))
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`Session::get_bytes`]; [`SessionError::InvalidValue`] if it does not deserialise.
    #[cfg(feature = "serde")]
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        self.get_bytes(key)
            .await?
            .map(|bytes| decode_json(key, &bytes))
            .transpose()
    }

    /// Read-modify-write of the JSON value under `key` that never loses a concurrent update:
    /// `f` gets the current value and returns the new one; the change commits at once and, if
    /// another request changed the session meanwhile, `f` is applied again to its result (see
    /// [`update_bytes`](Self::update_bytes)). Returns the value stored.
    ///
    /// ```
    /// # use session_core::{Session, SessionError};
    /// async fn visit(session: &Session) -> Result<u64, SessionError> {
    ///     session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1).await
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`update_bytes`](Self::update_bytes); [`SessionError::InvalidValue`] if the stored value does
    /// not deserialise or the new one does not serialise.
    #[cfg(feature = "serde")]
    pub async fn update<T, F>(&self, key: impl Into<String>, f: F) -> Result<T, SessionError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        F: Fn(Option<T>) -> T + Send + Sync + 'static,
    {
        let key = key.into();
        let name = key.clone();
        let stored = self
            .update_bytes(key, move |current| {
                let current = current.map(|b| decode_json(&name, b)).transpose()?;
                encode_json(&name, &f(current)).map(Bytes::from)
            })
            .await?;
        decode_json("", &stored)
    }

    /// Stores `value` serialised as JSON (written at the end of the request, or at
    /// [`commit`](Self::commit)).
    ///
    /// ```
    /// # use session_core::{Session, SessionError};
    /// async fn login(session: &Session, user: &str) -> Result<(), SessionError> {
    ///     session.renew().await?; // a new key at login: no session fixation
    ///     session.insert("user", user).await
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`Session::insert_bytes`]; [`SessionError::InvalidValue`] if it does not serialise.
    #[cfg(feature = "serde")]
    pub async fn insert<T: serde::Serialize + ?Sized>(
        &self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), SessionError> {
        let key = key.into();
        let json = encode_json(&key, value)?;
        self.insert_bytes(key, json).await
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
