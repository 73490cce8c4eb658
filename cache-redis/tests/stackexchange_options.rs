//! StackExchange.Redis parity of configuration strings: one test walks the option table
//! (`STACKEXCHANGE_OPTIONS`, the README's table, and StackExchange's documented grammar must be
//! the same list) and checks each row's treatment with its example value; the timeouts are
//! checked against a frozen server.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use cache_redis::{
    OptionSupport, RedisCache, RedisConfigError, STACKEXCHANGE_OPTIONS, StackExchangeConfig,
};
use session_core::DistributedCache;

/// The options of StackExchange.Redis' documented grammar (`docs/Configuration.md`: the options
/// table, the obsolete options, and `$COMMAND=` command maps).
const DOCUMENTED: &[&str] = &[
    "abortConnect",
    "allowAdmin",
    "channelPrefix",
    "checkCertificateRevocation",
    "connectRetry",
    "connectTimeout",
    "configChannel",
    "configCheckSeconds",
    "topologyRefreshSeconds",
    "defaultDatabase",
    "keepAlive",
    "tcpKeepAlive",
    "name",
    "password",
    "sentinelPassword",
    "user",
    "sentinelUser",
    "proxy",
    "resolveDns",
    "serviceName",
    "ssl",
    "sslHost",
    "sslProtocols",
    "syncTimeout",
    "asyncTimeout",
    "tiebreaker",
    "version",
    "tunnel",
    "setlib",
    "protocol",
    "highIntegrity",
    "defaults",
    "maintNotifications",
    "maintRelaxedTimeout",
    "maintRelaxedWindowMax",
    "maintPostEventRelaxed",
    "responseTimeout",
    "writeBuffer",
    "$<COMMAND>",
];

fn support_word(support: OptionSupport) -> &'static str {
    match support {
        OptionSupport::Supported => "supported",
        OptionSupport::Ignored => "ignored",
        OptionSupport::Refused => "refused",
        _ => unreachable!("a new kind of support needs a column value"),
    }
}

/// The README's option table, rendered from the crate's: they must be identical.
fn readme_rows() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("| option | here | example | note |")
        .expect("the README has the StackExchange option table");
    readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(str::to_owned)
        .collect()
}

/// `name=example` for a row (`$<COMMAND>` rows give `$COMMAND=...` as their example).
fn option_text(name: &str, value: &str) -> String {
    if name == "$<COMMAND>" {
        format!("${value}")
    } else {
        format!("{name}={value}")
    }
}

fn parse(options: &str) -> Result<StackExchangeConfig, RedisConfigError> {
    StackExchangeConfig::parse(&format!("127.0.0.1:6379,{options}"))
}

/// What a supported option's example must have done to the parsed configuration.
fn check_supported(name: &str, config: &StackExchangeConfig) {
    let ms = Duration::from_millis;
    match name {
        "connectTimeout" => assert_eq!(config.connect_timeout, Some(ms(2500))),
        "defaultDatabase" => assert_eq!(config.default_database, Some(2)),
        "password" => assert_eq!(config.password.as_deref(), Some("secret")),
        "sentinelPassword" => assert_eq!(config.sentinel_password.as_deref(), Some("secret")),
        "user" => assert_eq!(config.user.as_deref(), Some("alice")),
        "sentinelUser" => assert_eq!(config.sentinel_user.as_deref(), Some("watcher")),
        "serviceName" => {
            assert_eq!(config.service_name.as_deref(), Some("mymaster"));
            assert_eq!(config.to_sentinel().unwrap().service_name, "mymaster");
        }
        "ssl" => {
            assert!(config.ssl);
            assert_eq!(config.to_urls(), ["rediss://127.0.0.1:6379"]);
        }
        "sslHost" => assert_eq!(config.ssl_host.as_deref(), Some("redis.example")),
        "syncTimeout" | "asyncTimeout" => {
            assert_eq!(config.operation_timeout(), Some(ms(3000)));
        }
        other => panic!("supported option `{other}` has no check of its effect here"),
    }
}

#[test]
fn every_documented_option_is_supported_ignored_or_refused_as_the_table_says() {
    // One list: StackExchange's grammar, the crate's table, the README's table.
    let names: Vec<&str> = STACKEXCHANGE_OPTIONS.iter().map(|o| o.name).collect();
    assert_eq!(names, DOCUMENTED);
    let rendered: Vec<String> = STACKEXCHANGE_OPTIONS
        .iter()
        .map(|o| {
            format!(
                "| `{}` | {} | `{}` | {} |",
                o.name,
                support_word(o.support),
                o.example,
                o.note
            )
        })
        .collect();
    assert_eq!(
        readme_rows(),
        rendered,
        "README table != STACKEXCHANGE_OPTIONS"
    );

    for option in STACKEXCHANGE_OPTIONS {
        let text = option_text(option.name, option.example);
        let parsed = parse(&text);
        match option.support {
            OptionSupport::Supported => {
                let config = parsed.unwrap_or_else(|e| panic!("{text}: {e}"));
                assert!(config.ignored.is_empty(), "{text}: {:?}", config.ignored);
                check_supported(option.name, &config);
                // Names are case-insensitive, as in StackExchange.
                parse(&text.to_ascii_uppercase().replace("SECRET", "secret"))
                    .unwrap_or_else(|e| panic!("{text} upper-cased: {e}"));
            }
            OptionSupport::Ignored => {
                let config = parsed.unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(config.ignored, [option.name], "{text}");
                // Its value is still checked as StackExchange checks it.
                let typed = option.example.parse::<i64>().is_ok()
                    || ["true", "false"].contains(&option.example);
                if typed {
                    let bad = option_text(option.name, "maybe");
                    assert!(
                        matches!(
                            parse(&bad),
                            Err(RedisConfigError::InvalidValue { option: o, .. }) if o == option.name
                        ),
                        "{bad}"
                    );
                }
            }
            OptionSupport::Refused => {
                let error = parsed.expect_err(&text);
                assert!(
                    matches!(&error, RedisConfigError::UnsupportedOption { .. }),
                    "{text}: {error:?}"
                );
                let name = option.name.trim_start_matches("$<COMMAND>");
                assert!(error.to_string().contains(name), "{text}: {error}");
            }
            _ => unreachable!(),
        }
    }
}

/// The cases of the issue, and the values a refused option still accepts.
#[test]
fn values_read_as_stackexchange_reads_them() {
    for ssl in ["ssl=true", "ssl=True", "ssl=1", "ssl=yes", "ssl=ON"] {
        assert!(parse(ssl).unwrap().ssl, "{ssl}");
    }
    for bad in [
        "abortConnect=maybe",
        "asyncTimeout=abc",
        "syncTimeout=0",
        "defaultDatabase=2147483648",
        "defaultDatabase=-1",
        "connectTimeout=1.5",
    ] {
        assert!(
            matches!(parse(bad), Err(RedisConfigError::InvalidValue { .. })),
            "{bad}"
        );
    }
    assert_eq!(
        parse("defaultDatabase=2147483647")
            .unwrap()
            .default_database,
        Some(2_147_483_647)
    );
    // asyncTimeout wins over syncTimeout (its default in StackExchange).
    let both = parse("syncTimeout=100,asyncTimeout=200").unwrap();
    assert_eq!(both.operation_timeout(), Some(Duration::from_millis(200)));
    for accepted in [
        "proxy=None",
        "protocol=resp2",
        "highIntegrity=false",
        "$INFO=",
    ] {
        parse(accepted).unwrap_or_else(|e| panic!("{accepted}: {e}"));
    }
    assert!(matches!(
        parse("frobnicate=1"),
        Err(RedisConfigError::UnknownOption(o)) if o == "frobnicate"
    ));
    // Several endpoints for a standalone cache: one clear error.
    assert!(matches!(
        RedisCache::from_configuration("a:1,b:2"),
        Err(RedisConfigError::MultipleEndpoints(2))
    ));
    // Sentinel credentials fall back to the server's, as in StackExchange; empty: none.
    let sentinel = parse("serviceName=m,user=u,password=p")
        .unwrap()
        .to_sentinel()
        .unwrap();
    assert_eq!(
        (
            sentinel.sentinel_user.as_deref(),
            sentinel.sentinel_password.as_deref()
        ),
        (Some("u"), Some("p"))
    );
    let sentinel = parse("serviceName=m,password=p,sentinelPassword=")
        .unwrap()
        .to_sentinel()
        .unwrap();
    assert_eq!(sentinel.sentinel_password, None);
}

/// A `Write` into a shared buffer, for capturing log output.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Building a cache logs one warning per ignored option given, naming it; none for the others.
#[test]
fn ignored_options_are_logged_when_building() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        RedisCache::from_configuration(
            "127.0.0.1:6379,abortConnect=false,allowAdmin=true,ssl=false",
        )
        .unwrap();
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{log}");
    assert!(warnings[0].contains("abortConnect"), "{log}");
    assert!(warnings[1].contains("allowAdmin"), "{log}");
}

/// `syncTimeout` bounds each operation; without it StackExchange's 5 s apply (not the session's
/// much longer IO timeout).
#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn operation_timeout_bounds_an_operation_on_a_frozen_server() {
    let Some(mut server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let port = server.port();
    // No idle check on reuse: the `PING` it sends is bounded by the connect timeout instead.
    let cache = |options: &str| {
        RedisCache::builder()
            .configuration(format!("127.0.0.1:{port}{options}"))
            .idle_check_after(Duration::from_secs(600))
            .build()
            .unwrap()
    };
    let short = cache(",syncTimeout=300");
    let default = cache("");
    // Connected before the freeze: the limit under test is the reply's, not the connect's.
    short.ping().await.unwrap();
    default.ping().await.unwrap();
    server.freeze().unwrap();
    for (cache, low, high) in [
        (&short, Duration::from_millis(250), Duration::from_secs(2)),
        (
            &default,
            Duration::from_millis(4500),
            Duration::from_secs(8),
        ),
    ] {
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(20), cache.get("k"))
            .await
            .expect("bounded by the operation timeout");
        let took = started.elapsed();
        assert!(result.is_err());
        assert!(
            (low..high).contains(&took),
            "{took:?} not in {low:?}..{high:?}"
        );
    }
    server.thaw().unwrap();
}
