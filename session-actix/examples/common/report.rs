//! How an example fails: one line on stderr with the error's `Display` chain, each cause once,
//! naming the environment variable at fault; exit status 1. (Returning the error from `main`
//! would print its `Debug` form, e.g. `Error: TlsNotEnabled`, which names neither the message
//! nor the setting.)

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

use super::BoxError;

/// An error caused by a setting: its message names the variable (and the value, when that is no
/// secret), its source says what is wrong.
#[derive(Debug)]
pub struct SettingError {
    message: String,
    source: BoxError,
}

impl SettingError {
    /// `message` (naming the setting) caused by `source`.
    pub fn new(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            message: message.into(),
            source: source.into(),
        }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for SettingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// A `map_err` that blames the environment variable `variable` (its value is not repeated: it
/// may hold a password).
#[allow(dead_code)] // not every example has settings of its own
pub fn blame<E: Into<BoxError>>(variable: &'static str) -> impl FnOnce(E) -> BoxError {
    move |e| SettingError::new(variable, e).into()
}

/// The error's message and its causes on one line, `: `-separated, leaving out a cause whose
/// message the line already contains (drivers often repeat their cause in their own message).
#[must_use]
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line.replace('\n', " ")
}

/// The exit of an example's `main`: success, or the error's [`chain`] on stderr and status 1.
#[must_use]
pub fn exit(result: Result<(), BoxError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", chain(&*error));
            ExitCode::FAILURE
        }
    }
}
