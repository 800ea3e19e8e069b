//! The scheduled audit at scale, behind `scripts/bench-audit`: N managed users seeded
//! straight into the emulator (ownership tags, a key, a secret recording its key id and
//! the key's creation time, as the function writes them), then the real release binary,
//! as the scheduled function, audits them through the latency proxy (+L per AWS call)
//! with and without throttling. Each size runs in an emptied emulator (the audit reads
//! the whole account, so the account holds exactly those N users). Each invocation gets
//! the template's 300 s; a run that returns a continuation is continued the way the
//! template's AuditContinueRule does, until the audit is complete. Prints, per size and
//! throttle rate: wall time, invocations, users covered, AWS calls per user, throttled
//! calls, the proxy's peak in flight, the grace sweep's figures, then every run's calls
//! by action.
//!
//! Environment: BENCH_AUDIT_SIZES (default 100,1000,5000), BENCH_LATENCY_MS (default
//! 50), BENCH_THROTTLE_RATES (default 0,0.3), BENCH_SWEEP_ONLY (1: the grace sweep
//! alone), BENCH_BINARY (the function's binary; default the release build next to this
//! example: another build, such as the previous version's, is measured the same way),
//! PLANTON_MAX_IN_FLIGHT (passed through).

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use futures::StreamExt;
use planton_iam_user::model::key_ledger;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::fault_proxy::{FaultConfig, FaultProxy};
use support::runtime_api::RuntimeApi;
use support::Emulator;

const STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/bench-audit/11111111-2222-3333-4444-555555555555";

fn binary() -> PathBuf {
    if let Ok(b) = std::env::var("BENCH_BINARY") {
        return PathBuf::from(b);
    }
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("planton-iam-user");
    assert!(
        bin.exists(),
        "{} missing: run scripts/bench-audit",
        bin.display()
    );
    bin
}

fn tag(k: &str, v: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .unwrap()
}

async fn seed(conf: &aws_config::SdkConfig, path: &str, prefix: &str, n: usize) {
    let iam = aws_sdk_iam::Client::new(conf);
    let sm = aws_sdk_secretsmanager::Client::new(conf);
    futures::stream::iter(0..n)
        .map(|i| {
            let (iam, sm) = (iam.clone(), sm.clone());
            async move {
                let name = format!("{prefix}{i:05}");
                let secret = format!("planton/bench-audit/{name}");
                iam.create_user()
                    .user_name(&name)
                    .path(path)
                    .tags(tag("planton:stack-id", STACK))
                    .tags(tag("planton:logical-resource-id", &format!("U{i}")))
                    .tags(tag("planton:secret-name", &secret))
                    .tags(tag("owner", "bench"))
                    .send()
                    .await
                    .expect("CreateUser");
                let key = iam
                    .create_access_key()
                    .user_name(&name)
                    .send()
                    .await
                    .expect("CreateAccessKey")
                    .access_key
                    .unwrap();
                let version = key_ledger::version_for_key(&key.access_key_id);
                let description = key_ledger::render(
                    &format!("Access key of IAM user {name}"),
                    [(version.as_str(), key.access_key_id.as_str())],
                    &|_| true,
                    None,
                );
                // The key's creation time beside its id, as the function records it.
                let description = match key.create_date.and_then(|d| u64::try_from(d.secs()).ok()) {
                    Some(t) => key_ledger::with_created(&description, &key.access_key_id, t),
                    None => description,
                };
                let st = |k: &str, v: &str| {
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                };
                sm.create_secret()
                    .name(&secret)
                    .client_request_token(&version)
                    .description(description)
                    .secret_string(
                        json!({"AccessKeyId": key.access_key_id, "SecretAccessKey": "x"})
                            .to_string(),
                    )
                    .tags(st("planton:stack-id", STACK))
                    .tags(st("planton:logical-resource-id", &format!("U{i}")))
                    .tags(st("planton:user-name", &name))
                    .send()
                    .await
                    .expect("CreateSecret");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sizes: Vec<usize> = std::env::var("BENCH_AUDIT_SIZES")
        .unwrap_or_else(|_| "100,1000,5000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rates: Vec<f64> = std::env::var("BENCH_THROTTLE_RATES")
        .unwrap_or_else(|_| "0,0.3".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let latency = Duration::from_millis(
        std::env::var("BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    );
    println!(
        "planton-iam-user audit benchmark: L = {} ms per AWS call, PLANTON_MAX_IN_FLIGHT={}, 300 s per invocation",
        latency.as_millis(),
        std::env::var("PLANTON_MAX_IN_FLIGHT").unwrap_or_else(|_| "default (16)".into())
    );
    println!("| users | throttled | audit wall | invocations | covered | complete | calls per user | throttled calls | peak in flight | function's peak RSS | grace sweep |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");

    let emulator = Emulator::start(root);
    for (k, v) in emulator.env() {
        std::env::set_var(k, v);
    }
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let proxy = FaultProxy::start(&emulator.url);
    let event: Value = serde_json::from_str(include_str!("../events/audit.json")).unwrap();

    let mut by_action: Vec<String> = Vec::new();
    for &n in &sizes {
        let path = format!("/bench-audit-{n}/");
        let prefix = format!("ba{n}-");
        // An empty account: the audit reads all of it.
        support::post_test_endpoint(&emulator.url, "/moto-api/reset", &json!({}))
            .await
            .expect("the emulator resets");
        let t = Instant::now();
        seed(&conf, &path, &prefix, n).await;
        eprintln!("seeded {n} users in {:.1} s", t.elapsed().as_secs_f64());
        for &rate in &rates {
            proxy.set(FaultConfig {
                latency,
                iam_throttle_rate: rate,
                ..FaultConfig::default()
            });
            proxy.reset_stats();
            // A report made for this run, as a daily audit finds none younger than four
            // hours (the emulator makes it at once; IAM takes a while).
            support::post_test_endpoint(
                &emulator.url,
                "/moto-api/planton/credential-report",
                &json!({"discard": true}),
            )
            .await
            .expect("the credential report is discarded");
            let rt = RuntimeApi::start().await;
            let mut child = rt
                .command(&binary(), &emulator)
                .env("AWS_ENDPOINT_URL", proxy.url())
                .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
                .env("AWS_LAMBDA_FUNCTION_NAME", "planton-audit")
                .env("PLANTON_SERVES", "schedule")
                .env("PLANTON_ALLOWED_PATH_PREFIX", &path)
                .env("PLANTON_EVENT_BUS", "none")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the function");
            let t = Instant::now();
            let mut invocations = 0;
            let mut covered = 0u64;
            let mut next = event.clone();
            let sweep_only = std::env::var("BENCH_SWEEP_ONLY").is_ok_and(|v| v == "1");
            let summary = loop {
                if sweep_only {
                    break json!({"complete": "-"});
                }
                invocations += 1;
                let inv = rt
                    .invoke(
                        &format!("a{n}-{rate}-{invocations}"),
                        next.clone(),
                        Duration::from_secs(300),
                    )
                    .await;
                assert!(inv.ok, "{}", inv.body);
                let s: Value = serde_json::from_str(&inv.body).expect("the summary");
                covered += s["CoveredUsers"].as_u64().unwrap_or(0);
                match s["continuation"]["resume-from"].as_str() {
                    Some(from) if invocations < 20 => {
                        next["detail"] = json!({"resume-from": from});
                    }
                    _ => break s,
                }
            };
            let wall = t.elapsed().as_secs_f64();
            let stats = proxy.stats();
            // The function process's peak resident memory over the audit (Lambda gives it 128 MB).
            let peak_rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                })
                .map_or("?".to_string(), |kb| format!("{:.1} MiB", kb / 1024.0));
            let ops: Vec<String> = stats
                .by_op
                .iter()
                .map(|(op, k)| format!("{op} {k}"))
                .collect();
            by_action.push(format!(
                "{n} users, {:.0}% throttled: {} (credential report: {}; reads: {})",
                rate * 100.0,
                ops.join(", "),
                summary["credential_report"],
                summary["reads"],
            ));
            // The hourly grace sweep over the same users, in the same process.
            proxy.reset_stats();
            let t = Instant::now();
            let sweep: Value =
                serde_json::from_str(include_str!("../events/end-grace.json")).unwrap();
            let inv = rt
                .invoke(&format!("g{n}-{rate}"), sweep, Duration::from_secs(300))
                .await;
            assert!(inv.ok, "{}", inv.body);
            let swept: Value = serde_json::from_str(&inv.body).expect("the sweep's summary");
            let sweep_wall = t.elapsed().as_secs_f64();
            let sweep_stats = proxy.stats();
            let _ = child.kill();
            let _ = child.wait();
            println!(
                "| {n} | {:.0}% | {wall:.1} s | {invocations} | {covered} | {} | {:.3} | {} | {} | {peak_rss} | {sweep_wall:.1} s, {:.1} calls per user, {} managed |",
                rate * 100.0,
                summary["complete"],
                stats.requests as f64 / n as f64,
                stats.throttled,
                stats.peak_in_flight,
                sweep_stats.requests as f64 / n as f64,
                swept["managed_users"],
            );
        }
    }
    println!();
    println!("AWS calls by action (every request the proxy saw, retries included):");
    for line in by_action {
        println!("- {line}");
    }
    drop(emulator);
}
