//! The StackExchange.Redis configuration-string options, one row each: what this crate does with
//! it ([`STACKEXCHANGE_OPTIONS`]), and how its value is read ([`apply`]), as StackExchange.Redis
//! reads it (booleans `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off`, 32-bit integers).

use std::time::Duration;

use crate::config::StackExchangeConfig;
use crate::error::RedisConfigError;

/// What this crate does with a StackExchange.Redis configuration-string option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionSupport {
    /// Honoured: it has the effect StackExchange.Redis gives it.
    Supported,
    /// Accepted (its value checked as StackExchange.Redis checks it) and ignored: it tunes that
    /// client only. Building the cache logs a warning naming it.
    Ignored,
    /// Refused ([`RedisConfigError::UnsupportedOption`] naming it), for every value or for the
    /// values the note says: ignoring it would change what the application relies on.
    Refused,
}

/// One documented StackExchange.Redis option and its treatment here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackExchangeOption {
    /// The option as StackExchange.Redis documents it (names are case-insensitive);
    /// `$<COMMAND>` stands for the command-map entries.
    pub name: &'static str,
    /// What this crate does with it.
    pub support: OptionSupport,
    /// A value showing the treatment (a refused one for [`OptionSupport::Refused`]).
    pub example: &'static str,
    /// How it is honoured, or why it is ignored or refused.
    pub note: &'static str,
}

const fn row(
    name: &'static str,
    support: OptionSupport,
    example: &'static str,
    note: &'static str,
) -> StackExchangeOption {
    StackExchangeOption {
        name,
        support,
        example,
        note,
    }
}

use OptionSupport::{Ignored, Refused, Supported};

/// Every option of StackExchange.Redis' documented configuration-string grammar (its
/// `Configuration.md`, obsolete options included), in its order. The README's table is this
/// one; `tests/stackexchange_options.rs` walks both.
pub const STACKEXCHANGE_OPTIONS: &[StackExchangeOption] = &[
    row(
        "abortConnect",
        Ignored,
        "false",
        "connections are opened lazily; `RedisCacheBuilder::connect` checks the store at start",
    ),
    row(
        "allowAdmin",
        Ignored,
        "true",
        "no admin command is ever sent",
    ),
    row("channelPrefix", Ignored, "app:", "no pub/sub is used"),
    row(
        "checkCertificateRevocation",
        Ignored,
        "true",
        "rustls checks no revocation lists",
    ),
    row(
        "connectRetry",
        Ignored,
        "3",
        "each attempt is bounded by `connectTimeout`; the next operation connects again",
    ),
    row(
        "connectTimeout",
        Supported,
        "2500",
        "milliseconds, > 0: the connect timeout (TCP, TLS, `AUTH`, `SELECT`)",
    ),
    row(
        "configChannel",
        Ignored,
        "cfg",
        "StackExchange's own topology broadcasts",
    ),
    row(
        "configCheckSeconds",
        Ignored,
        "60",
        "idle pooled connections are `PING`ed before reuse instead",
    ),
    row(
        "topologyRefreshSeconds",
        Ignored,
        "1800",
        "cluster clients follow slot moves; Sentinel is asked at each new connection",
    ),
    row(
        "defaultDatabase",
        Supported,
        "2",
        "0 to 2147483647 (StackExchange's 32-bit range); the server refuses one it lacks",
    ),
    row(
        "keepAlive",
        Ignored,
        "60",
        "idle pooled connections are `PING`ed before reuse instead",
    ),
    row("tcpKeepAlive", Ignored, "true", "operating-system defaults"),
    row("name", Ignored, "web-1", "`CLIENT SETNAME` is not sent"),
    row(
        "password",
        Supported,
        "secret",
        "the server's (the primary's with `serviceName`)",
    ),
    row(
        "sentinelPassword",
        Supported,
        "secret",
        "the sentinels'; without it they get `password`, as in StackExchange; empty: none",
    ),
    row(
        "user",
        Supported,
        "alice",
        "ACL user; without `password` it authenticates with an empty one, never as `default`",
    ),
    row(
        "sentinelUser",
        Supported,
        "watcher",
        "the sentinels' ACL user; without it they get `user`, as in StackExchange",
    ),
    row(
        "proxy",
        Refused,
        "twemproxy",
        "`None` is accepted; a proxy (`twemproxy`, `envoyproxy`) would not run the Lua scripts every operation uses",
    ),
    row(
        "resolveDns",
        Ignored,
        "true",
        "names are resolved at each connection",
    ),
    row(
        "serviceName",
        Supported,
        "mymaster",
        "Sentinel: the endpoints are sentinels (default port 26379), which name the primary (feature `sentinel`)",
    ),
    row(
        "ssl",
        Supported,
        "true",
        "TLS (feature `tls`): `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` as in StackExchange; default port 6380",
    ),
    row(
        "sslHost",
        Supported,
        "redis.example",
        "the name the certificate must carry; standalone only",
    ),
    row(
        "sslProtocols",
        Ignored,
        "Tls12",
        "rustls negotiates TLS 1.2 or 1.3",
    ),
    row(
        "syncTimeout",
        Supported,
        "3000",
        "milliseconds, > 0: the per-operation timeout unless `asyncTimeout` is given; default 5000 as in StackExchange",
    ),
    row(
        "asyncTimeout",
        Supported,
        "3000",
        "milliseconds, > 0: the per-operation timeout (this client is asynchronous)",
    ),
    row(
        "tiebreaker",
        Ignored,
        "__tie",
        "the primary comes from the configuration, Sentinel or the cluster",
    ),
    row(
        "version",
        Ignored,
        "7.2",
        "server features are not guessed from a version",
    ),
    row(
        "tunnel",
        Refused,
        "http:proxy:8080",
        "no HTTP `CONNECT` tunnel: connecting directly instead would bypass it",
    ),
    row("setlib", Ignored, "false", "redis-rs' own `CLIENT SETINFO`"),
    row(
        "protocol",
        Refused,
        "resp3",
        "`resp2` is accepted; RESP3 is not used",
    ),
    row(
        "highIntegrity",
        Refused,
        "true",
        "`false` is accepted; per-command sequence checks are not implemented",
    ),
    row("defaults", Ignored, "azure", "this crate's defaults apply"),
    row(
        "maintNotifications",
        Ignored,
        "disabled",
        "maintenance notifications are not requested",
    ),
    row(
        "maintRelaxedTimeout",
        Ignored,
        "10",
        "maintenance notifications are not requested",
    ),
    row(
        "maintRelaxedWindowMax",
        Ignored,
        "30",
        "maintenance notifications are not requested",
    ),
    row(
        "maintPostEventRelaxed",
        Ignored,
        "20",
        "maintenance notifications are not requested",
    ),
    row(
        "responseTimeout",
        Ignored,
        "5000",
        "obsolete in StackExchange too (no effect there)",
    ),
    row(
        "writeBuffer",
        Ignored,
        "4096",
        "obsolete in StackExchange too (no effect there)",
    ),
    row(
        "$<COMMAND>",
        Refused,
        "EVALSHA=",
        "renaming or disabling a command this crate sends (`EVALSHA`, `SCRIPT`, `HMGET`, ...) is refused; other command maps are ignored",
    ),
];

/// The commands this crate (or redis-rs for it) may send; a command map touching one is refused.
const COMMANDS_SENT: &[&str] = &[
    "AUTH", "CLIENT", "DEL", "EVAL", "EVALSHA", "EXEC", "GET", "HELLO", "HMGET", "HSET", "MULTI",
    "PERSIST", "PEXPIRE", "PING", "ROLE", "SCRIPT", "SELECT", "SENTINEL", "SET", "UNLINK",
    "CLUSTER", "READONLY", "ASKING",
];

/// Applies the option `name=value` (name as written) to `config`.
pub(crate) fn apply(
    config: &mut StackExchangeConfig,
    name: &str,
    value: &str,
) -> Result<(), RedisConfigError> {
    if let Some(command) = name.strip_prefix('$') {
        if COMMANDS_SENT
            .iter()
            .any(|c| c.eq_ignore_ascii_case(command))
        {
            return Err(unsupported(
                format!("${command}"),
                "it renames or disables a command this crate sends",
            ));
        }
        config.ignored.push("$<COMMAND>");
        return Ok(());
    }
    let Some(option) = STACKEXCHANGE_OPTIONS
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(name))
    else {
        return Err(RedisConfigError::UnknownOption(name.to_owned()));
    };
    let text = || Some(value.to_owned());
    match option.name {
        "password" => config.password = text(),
        "user" => config.user = text(),
        "sentinelPassword" => config.sentinel_password = text(),
        "sentinelUser" => config.sentinel_user = text(),
        "ssl" => config.ssl = parse_bool(option.name, value)?,
        "sslHost" => {
            let valid = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
            if !valid {
                return Err(invalid(option.name, value));
            }
            config.ssl_host = text();
        }
        "serviceName" if value.is_empty() => return Err(invalid(option.name, value)),
        "serviceName" => config.service_name = text(),
        "defaultDatabase" => {
            let db = parse_int(option.name, value)?;
            if db < 0 {
                return Err(invalid(option.name, value));
            }
            config.default_database = Some(i64::from(db));
        }
        "connectTimeout" => config.connect_timeout = Some(parse_millis(option.name, value)?),
        "syncTimeout" => config.sync_timeout = Some(parse_millis(option.name, value)?),
        "asyncTimeout" => config.async_timeout = Some(parse_millis(option.name, value)?),
        "proxy" if value.eq_ignore_ascii_case("none") => {}
        "protocol" if value.eq_ignore_ascii_case("resp2") => {}
        "highIntegrity" if !parse_bool(option.name, value)? => {}
        _ => match option.support {
            Refused => return Err(unsupported(format!("{}={value}", option.name), option.note)),
            Supported | Ignored => {
                // Checked as StackExchange would, so a typo fails here as it fails there. The
                // example's form (integer, boolean or text) is the option's type.
                if option.example.parse::<i64>().is_ok() {
                    parse_int(option.name, value)?;
                } else if parse_bool(option.name, option.example).is_ok() {
                    parse_bool(option.name, value)?;
                }
                config.ignored.push(option.name);
            }
        },
    }
    Ok(())
}

fn invalid(option: &'static str, value: &str) -> RedisConfigError {
    RedisConfigError::InvalidValue {
        option,
        value: value.to_owned(),
    }
}

fn unsupported(option: String, reason: &'static str) -> RedisConfigError {
    RedisConfigError::UnsupportedOption { option, reason }
}

/// A boolean as StackExchange.Redis reads one (`Format.TryParseBoolean`): `true`/`false` in any
/// case, `1`/`0`, `yes`/`no`, `on`/`off` in any case.
pub(crate) fn parse_bool(option: &'static str, value: &str) -> Result<bool, RedisConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(option, value)),
    }
}

/// A 32-bit integer as .NET's `int.Parse(.., NumberStyles.Integer)` reads one: optional sign,
/// decimal digits, surrounding white space.
fn parse_int(option: &'static str, value: &str) -> Result<i32, RedisConfigError> {
    let digits = value.trim();
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(option, value));
    }
    digits
        .strip_prefix('+')
        .unwrap_or(digits)
        .parse()
        .map_err(|_| invalid(option, value))
}

/// A positive number of milliseconds.
fn parse_millis(option: &'static str, value: &str) -> Result<Duration, RedisConfigError> {
    match parse_int(option, value)? {
        ms @ 1.. => Ok(Duration::from_millis(ms.unsigned_abs().into())),
        _ => Err(invalid(option, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_and_integers_read_as_in_stackexchange() {
        for (text, value) in [
            ("true", true),
            ("True", true),
            ("1", true),
            ("YES", true),
            ("on", true),
            ("false", false),
            ("0", false),
            ("no", false),
            ("Off", false),
        ] {
            assert_eq!(parse_bool("ssl", text).unwrap(), value, "{text}");
        }
        for text in ["maybe", "", "2", "tru"] {
            assert!(parse_bool("ssl", text).is_err(), "{text}");
        }
        assert_eq!(parse_int("n", " +42 ").unwrap(), 42);
        assert_eq!(parse_int("n", "-7").unwrap(), -7);
        assert_eq!(parse_int("n", "2147483647").unwrap(), i32::MAX);
        for text in ["2147483648", "abc", "1.5", "", "+", "0x10", "1_000"] {
            assert!(parse_int("n", text).is_err(), "{text}");
        }
    }

    #[test]
    fn the_table_has_each_option_once() {
        let mut names: Vec<String> = STACKEXCHANGE_OPTIONS
            .iter()
            .map(|o| o.name.to_ascii_lowercase())
            .collect();
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
