//! The README's quick start and "Walkthrough with curl", checked against what they show.
//!
//! The walkthrough is run as written: every `curl` line of that block is sent
//! (in process) to the example's routes over the in-memory cache, with one cookie jar for the
//! lines that use `-c jar -b jar` and none for the others, and every answer must equal the
//! comment at the end of its line byte for byte (key order included), where `...` stands for
//! any run of characters other than `"`. The claims of the prose under the block that the
//! answers alone cannot show (a new key fingerprint, the same session id after the login) are
//! checked too.

use actix_web::cookie::Key;
use cache_memory::MemoryCache;
use integration_tests::http::client;
use session_actix::SessionMiddleware;

/// One `curl` line of the walkthrough.
#[derive(Debug)]
struct Step {
    line: String,
    post: bool,
    with_jar: bool,
    path: String,
    expected: String,
}

/// The `sh` block under the walkthrough heading, parsed.
fn walkthrough() -> Vec<Step> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split_once("## Walkthrough with curl")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("the README has no walkthrough section"));
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("the walkthrough has no sh block"));
    block
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(parse)
        .collect()
}

fn parse(line: &str) -> Step {
    let (command, expected) = line
        .split_once(" # ")
        .unwrap_or_else(|| panic!("no expected answer on: {line}"));
    let words: Vec<&str> = command.split_whitespace().collect();
    let url = words
        .iter()
        .map(|w| w.trim_matches('\''))
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL on: {line}"));
    let path = url
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap_or_else(|| panic!("not the example's address: {line}"));
    let has = |pair: [&str; 2]| words.windows(2).any(|w| w == pair);
    let with_jar = has(["-c", "jar"]) && has(["-b", "jar"]);
    Step {
        line: line.to_owned(),
        post: has(["-X", "POST"]),
        with_jar,
        path: path.to_owned(),
        expected: expected.trim().to_owned(),
    }
}

/// Whether `actual` matches `pattern`, where each `...` matches any run of characters other
/// than `"` (so it never spans past the end of a JSON string).
fn matches(pattern: &str, actual: &str) -> bool {
    let Some((literal, rest)) = pattern.split_once("...") else {
        return pattern == actual;
    };
    let Some(after) = actual.strip_prefix(literal) else {
        return false;
    };
    let wild = after.find('"').unwrap_or(after.len());
    (0..=wild).any(|k| after.is_char_boundary(k) && matches(rest, &after[k..]))
}

/// The README's quick-start program is the downstream example crate's `main.rs`, which CI
/// builds as a user's project would be built (path dependencies, outside the workspace).
#[test]
fn the_quick_start_is_the_downstream_example() {
    let readme = include_str!("../../README.md");
    let snippet = readme
        .split_once("## Quick start")
        .and_then(|(_, rest)| rest.split_once("```rust,no_run\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(code, _)| code)
        .unwrap_or_else(|| panic!("the README has no quick-start program"));
    assert_eq!(
        snippet,
        include_str!("../../examples/quickstart/src/main.rs"),
        "README quick start and examples/quickstart/src/main.rs differ"
    );
}

#[test]
fn the_matcher_means_what_the_readme_says() {
    assert!(matches(r#"{"a":"..."}"#, r#"{"a":"xyz"}"#));
    assert!(matches(r#"{"a":"...","b":1}"#, r#"{"a":"","b":1}"#));
    assert!(!matches(r#"{"a":"..."}"#, r#"{"a":"x","b":"y"}"#));
    assert!(!matches(r#"{"a":1}"#, r#"{"a":1} "#));
    assert!(matches("ok", "ok"));
    assert!(!matches("ok", "okay"));
}

#[actix_web::test]
async fn the_readme_walkthrough_answers_as_written() {
    let steps = walkthrough();
    assert!(
        steps.len() >= 10,
        "the walkthrough lost its lines: {steps:?}"
    );
    let sessions = SessionMiddleware::new(MemoryCache::new(), Key::generate())
        .unwrap_or_else(|e| panic!("the defaults are valid: {e}"));
    let mut jarred = client(sessions.clone()).await;
    let mut bare = client(sessions).await;
    let mut diag = Vec::new();
    for step in &steps {
        let c = if step.with_jar {
            &mut jarred
        } else {
            &mut bare
        };
        if !step.with_jar {
            c.jar = Default::default();
        }
        let reply = if step.post {
            c.post(&step.path).await
        } else {
            c.get(&step.path).await
        };
        let body = reply.text();
        assert!(
            matches(&step.expected, &body),
            "README line\n  {}\nanswered\n  {body}",
            step.line
        );
        if step.path == "/diag/session" {
            diag.push(reply.json());
        }
    }
    let [before, after] = diag.as_slice() else {
        panic!("the walkthrough calls /diag/session twice, around the login: {diag:?}");
    };
    assert_ne!(
        before["keyFingerprint"], after["keyFingerprint"],
        "the login renews the key"
    );
    assert_eq!(
        before["sessionId"], after["sessionId"],
        "the renewal carries the session"
    );
}
