//! The hostile-event corpus: every file in tests/corpus/*.json is one raw event text as
//! Lambda would deliver it (malformed, huge, deeply nested, lone surrogates, missing
//! envelope fields...), sent through the real handler. Its top-level `_expect` field says
//! what must happen:
//!
//! - `{"answer": true, "reason": [...]}`: exactly one FAILED answer PUT, whose Reason
//!   names the problem (each substring), within 4096 bytes, before any AWS call, and
//!   nothing created under the event's UserName;
//! - `{"answer": false}`: there is nobody to answer, so nothing is PUT and the invocation
//!   itself fails.
//!
//! The files are written by tests/corpus/generate.py (kept so the huge and nested ones
//! are reproducible). Set CORPUS_VERBOSE=1 to print every event's answer.

use crate::harness::*;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
const MIN_EVENTS: usize = 45;
const MAX_BODY: usize = 4096;
const MAX_TIME: Duration = Duration::from_secs(1);

/// The top level of an event, read without building values, so events nested beyond
/// serde_json's recursion limit or holding lone surrogates can still be inspected.
type Fields = BTreeMap<String, Box<RawValue>>;

#[derive(Debug)]
enum Expect {
    /// One FAILED answer whose Reason contains each of these.
    Failed(Vec<String>),
    /// No usable ResponseURL: no answer, an invocation error.
    NoAnswer,
}

/// The raw `_expect` member. An event that is not an object carries it elsewhere: a
/// string event inside its (decoded) text, a list event (or one whose top level
/// serde_json cannot read) in its first `"_expect"` member.
fn expect_raw(text: &str) -> Option<String> {
    if let Ok(fields) = serde_json::from_str::<Fields>(text) {
        return fields.get("_expect").map(|r| r.get().to_string());
    }
    if let Ok(inner) = serde_json::from_str::<String>(text) {
        return expect_raw(&inner);
    }
    const MARK: &str = "\"_expect\"";
    let at = text.find(MARK)? + MARK.len();
    let rest = text[at..].trim_start().strip_prefix(':')?;
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Box<RawValue>>();
    values.next()?.ok().map(|r| r.get().to_string())
}

fn expectation(text: &str) -> Result<Expect, String> {
    let raw = expect_raw(text).ok_or("no readable top-level \"_expect\" field")?;
    let v: Value = serde_json::from_str(&raw).map_err(|e| format!("_expect: {e}"))?;
    match v["answer"].as_bool() {
        Some(true) => {
            let reason = v["reason"]
                .as_array()
                .filter(|r| !r.is_empty())
                .ok_or("_expect.reason must be a non-empty list")?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("_expect.reason must hold strings")?;
            Ok(Expect::Failed(reason))
        }
        Some(false) => Ok(Expect::NoAnswer),
        None => Err(format!("_expect.answer must be true or false: {raw}")),
    }
}

/// ResourceProperties.UserName when it is a readable string.
fn user_name(text: &str) -> Option<String> {
    let fields: Fields = serde_json::from_str(text).ok()?;
    let props: Fields = serde_json::from_str(fields.get("ResourceProperties")?.get()).ok()?;
    serde_json::from_str(props.get("UserName")?.get()).ok()
}

/// A name IAM would accept, from this corpus: the ones to check were never created.
fn corpus_user(name: &str) -> bool {
    name.starts_with("corpus-")
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DIR)
        .expect("tests/corpus")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[derive(Default)]
struct Tally {
    events: usize,
    failed: usize,
    unanswerable: usize,
    slowest: (Duration, String),
}

/// Sends one corpus event and returns everything wrong with how it was handled.
async fn check(cfn: &Cfn, file: &str, text: &str, tally: &mut Tally) -> Vec<String> {
    let mut problems = Vec::new();
    let expect = match expectation(text) {
        Ok(e) => e,
        Err(e) => return vec![format!("the file itself: {e}")],
    };
    let prefix = format!("corpus-{}", &file[..2]);
    let user = user_name(text).filter(|n| corpus_user(n));
    if let Some(u) = &user {
        if !u.starts_with(&prefix) {
            problems.push(format!("UserName {u} should start with {prefix}"));
        }
    }

    let before = cfn.app.calls.snapshot();
    let started = Instant::now();
    let (result, puts) = cfn.send_raw(text).await;
    let took = started.elapsed();
    let calls = cfn.app.calls.snapshot().since(&before);

    tally.events += 1;
    if took > tally.slowest.0 {
        tally.slowest = (took, file.to_string());
    }
    if took >= MAX_TIME {
        problems.push(format!("took {} ms (at most 1 s)", took.as_millis()));
    }
    if !calls.writes().is_empty() {
        problems.push(format!("AWS writes: {:?}", calls.writes()));
    }
    if calls.total() != 0 {
        problems.push(format!(
            "AWS calls before the event was refused: {:?}",
            calls.calls
        ));
    }

    match expect {
        Expect::NoAnswer => {
            tally.unanswerable += usize::from(puts.is_empty());
            if !puts.is_empty() {
                problems.push(format!("expected no answer, got {} PUTs", puts.len()));
            }
            if result.is_ok() {
                problems.push(format!(
                    "with nobody to answer the invocation must fail, got {result:?}"
                ));
            }
            if std::env::var_os("CORPUS_VERBOSE").is_some() {
                eprintln!("{file}: no answer: {result:?}");
            }
        }
        Expect::Failed(needles) => {
            if puts.len() != 1 {
                problems.push(format!(
                    "expected exactly one answer, got {} PUTs (invocation: {result:?})",
                    puts.len()
                ));
            }
            if let Some(put) = puts.first() {
                if put.method != "PUT" {
                    problems.push(format!("answered with {}", put.method));
                }
                if put.header("content-type") != Some("") {
                    problems.push(format!(
                        "Content-Type must be present and empty: {:?}",
                        put.headers
                    ));
                }
                if put.body.len() > MAX_BODY {
                    problems.push(format!("the body is {} bytes", put.body.len()));
                }
                let body = String::from_utf8_lossy(&put.body);
                if body.contains("presigned-secret-") {
                    problems.push("the body leaks the presigned ResponseURL".into());
                }
                match serde_json::from_str::<Value>(&body) {
                    Err(e) => problems.push(format!("the body is not JSON ({e})")),
                    Ok(json) => {
                        let status = json["Status"].as_str().unwrap_or("");
                        let reason = json["Reason"].as_str().unwrap_or("");
                        tally.failed += usize::from(status == "FAILED");
                        if status != "FAILED" {
                            problems.push(format!("Status {status:?}, expected FAILED"));
                        }
                        let shown: String = reason.chars().take(300).collect();
                        for n in &needles {
                            if !reason.contains(n.as_str()) {
                                problems.push(format!("Reason lacks {n:?}: {shown}"));
                            }
                        }
                        if json["PhysicalResourceId"].as_str().unwrap_or("").is_empty() {
                            problems.push("empty PhysicalResourceId".into());
                        }
                        if std::env::var_os("CORPUS_VERBOSE").is_some() {
                            eprintln!(
                                "{file}: {status} in {} ms, {} bytes, id {:?}: {shown}",
                                took.as_millis(),
                                put.body.len(),
                                json["PhysicalResourceId"].as_str().unwrap_or("")
                            );
                        }
                    }
                }
            }
            if let Err(e) = &result {
                problems.push(format!("after answering the invocation must succeed: {e}"));
            }
        }
    }

    if let Some(u) = &user {
        if user_state(u).await.exists {
            problems.push(format!("user {u} was created"));
        }
    }
    problems
}

#[tokio::test]
async fn every_hostile_event_is_refused_or_rejected_without_touching_aws() {
    let files = corpus_files();
    assert!(
        files.len() >= MIN_EVENTS,
        "the corpus has {} events, expected at least {MIN_EVENTS}",
        files.len()
    );
    let cfn = Cfn::new("Corpus").await;
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        for p in check(&cfn, &file, &text, &mut tally).await {
            failures.push(format!("{file}: {p}"));
        }
    }
    println!(
        "corpus: {} events, {} answered FAILED, {} unanswerable, slowest {} ms",
        tally.events,
        tally.failed,
        tally.unanswerable,
        tally.slowest.0.as_millis()
    );
    assert!(
        failures.is_empty(),
        "{} problem(s) (slowest event: {}):\n{}",
        failures.len(),
        tally.slowest.1,
        failures.join("\n")
    );
}
