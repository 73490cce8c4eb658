//! Typed helpers over the byte values: UTF-8 strings, .NET-compatible `i32`, and JSON.

use bytes::Bytes;

use crate::error::SessionError;

use super::Session;

impl Session {
    /// The UTF-8 string under `key` (as .NET's `GetString`).
    ///
    /// # Errors
    /// As [`Session::get`]; [`SessionError::InvalidValue`] if the value is not UTF-8.
    pub async fn get_string(&self, key: &str) -> Result<Option<String>, SessionError> {
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|e| SessionError::InvalidValue {
                key: key.to_owned(),
                expected: "UTF-8 string",
                source: Some(Box::new(e)),
            })
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
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        let array: [u8; 4] = bytes[..]
            .try_into()
            .map_err(|_| SessionError::InvalidValue {
                key: key.to_owned(),
                expected: "i32 (4 bytes)",
                source: None,
            })?;
        Ok(Some(i32::from_be_bytes(array)))
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
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SessionError::InvalidValue {
                key: key.to_owned(),
                expected: "JSON value",
                source: Some(Box::new(e)),
            })
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
        let json = serde_json::to_vec(value).map_err(|e| SessionError::InvalidValue {
            key: key.clone(),
            expected: "JSON value",
            source: Some(Box::new(e)),
        })?;
        self.set(key, json).await
    }
}
