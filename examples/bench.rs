//! The benchmark behind `scripts/bench`: the real release binary under a local Lambda
//! Runtime API, talking to the strict emulator through a proxy that adds a fixed latency
//! L to every AWS call. Prints, for Create, Update (one tag) and Delete: wall time,
//! wall time / L (the sequential round trips on the critical path), and the AWS calls
//! per operation; then cold start, memory over 100 invocations, and the zip size.
//!
//! Environment: BENCH_LATENCY_MS (default 100), BENCH_RUNS (default 5),
//! BENCH_THROTTLE_RATE (fraction of IAM calls answered Throttling during the timed runs,
//! default 0), and PLANTON_MAX_IN_FLIGHT, passed through to the function.

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::fault_proxy::{FaultConfig, FaultProxy};
use support::runtime_api::RuntimeApi;
use support::{CfnListener, Emulator};

const STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/11111111-2222-3333-4444-555555555555";

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("planton-iam-user");
    assert!(bin.exists(), "{} missing: run scripts/bench", bin.display());
    bin
}

fn spawn(runtime: &RuntimeApi, endpoint: &str, emulator: &Emulator) -> Child {
    runtime
        .command(&binary(), emulator)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the function")
}

/// (VmHWM, VmRSS) in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

struct Driver {
    runtime: RuntimeApi,
    listener: CfnListener,
    /// Straight to the emulator (never through the latency proxy): where the test
    /// plays CloudFormation, showing the stack waiting for each request.
    emulator_url: String,
    n: u64,
    /// When the last answer reached "CloudFormation": the wait a stack sees (events for
    /// key owners go out beside it and may finish later).
    answered_at: Option<Instant>,
}

impl Driver {
    async fn send(&mut self, request_type: &str, physical: Option<&str>, props: Value) -> Value {
        self.n += 1;
        let id = format!("b{}", self.n);
        let mut e = json!({
            "RequestType": request_type, "RequestId": id, "ResponseURL": self.listener.url(&id),
            "StackId": STACK, "LogicalResourceId": "BenchUser",
            "ResourceType": "Custom::PlantonIamUser", "ResourceProperties": props,
        });
        if let Some(p) = physical {
            e["PhysicalResourceId"] = json!(p);
            e["OldResourceProperties"] = json!({});
        }
        support::cloudformation_is_waiting_for(&self.emulator_url, &e).await;
        let inv = self.runtime.invoke(&id, e, Duration::from_secs(120)).await;
        assert!(inv.ok, "{}", inv.body);
        let put = self.listener.requests_for(&id);
        assert_eq!(put.len(), 1);
        let body: Value = serde_json::from_slice(&put[0].body).unwrap();
        assert_eq!(body["Status"], "SUCCESS", "{body}");
        self.answered_at = Some(put[0].at);
        body
    }
}

fn props(user: &str, tag: &str) -> Value {
    let managed: Vec<String> = [
        "ReadOnlyAccess",
        "SecurityAudit",
        "AmazonS3ReadOnlyAccess",
        "AmazonEC2ReadOnlyAccess",
        "AmazonDynamoDBReadOnlyAccess",
        "CloudWatchReadOnlyAccess",
    ]
    .iter()
    .map(|p| format!("arn:aws:iam::aws:policy/{p}"))
    .collect();
    let doc = |a: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": a, "Resource": "*"}]});
    json!({
        "UserName": user,
        "Path": "/bench/",
        "ManagedPolicyArns": managed,
        "InlinePolicies": {"logs": doc("logs:PutLogEvents"), "sqs": doc("sqs:SendMessage"), "sns": doc("sns:Publish")},
        "Groups": ["bench-a", "bench-b"],
        "Tags": [{"Key": "team", "Value": tag}, {"Key": "env", "Value": "bench"}],
    })
}

fn calls(stats: &BTreeMap<String, u64>) -> String {
    let total: u64 = stats.values().sum();
    let detail: Vec<String> = stats.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{total} ({})", detail.join(", "))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let latency = Duration::from_millis(env_u64("BENCH_LATENCY_MS", 100));
    let runs = env_u64("BENCH_RUNS", 5).max(1);
    let throttle: f64 = std::env::var("BENCH_THROTTLE_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let l = latency.as_secs_f64();
    println!(
        "planton-iam-user benchmark: L = {} ms per AWS call, {runs} runs, medians, IAM throttling {:.0}%, PLANTON_MAX_IN_FLIGHT={}",
        latency.as_millis(),
        throttle * 100.0,
        std::env::var("PLANTON_MAX_IN_FLIGHT").unwrap_or_else(|_| "default".into())
    );

    let emulator = Emulator::start(root);
    for (k, v) in emulator.env() {
        std::env::set_var(k, v);
    }
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let iam = aws_sdk_iam::Client::new(&conf);
    for g in ["bench-a", "bench-b"] {
        let _ = iam.create_group().group_name(g).send().await;
    }
    let proxy = FaultProxy::start(&emulator.url);
    proxy.set(FaultConfig {
        latency,
        iam_throttle_rate: throttle,
        ..FaultConfig::default()
    });

    let runtime = RuntimeApi::start().await;
    let mut child = spawn(&runtime, &proxy.url(), &emulator);
    let pid = child.id();
    let mut d = Driver {
        runtime,
        listener: CfnListener::start().await,
        emulator_url: emulator.url.clone(),
        n: 0,
        answered_at: None,
    };

    // Each operation at latency L and at latency 0: the difference divided by L is the
    // number of sequential round trips, free of the emulator's own processing time.
    type Row = (Vec<f64>, Vec<f64>, String);
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for (pass, lat) in [(0, latency), (1, Duration::ZERO)] {
        proxy.set(FaultConfig {
            latency: lat,
            iam_throttle_rate: throttle,
            ..FaultConfig::default()
        });
        for i in 0..runs {
            let user = format!("bench-user-{pass}-{i}");
            for (op, request, physical, p) in [
                (
                    "1 Create (6 managed, 3 inline, 2 groups, tags, key)",
                    "Create",
                    None,
                    props(&user, "a"),
                ),
                (
                    "2 Update (one tag changed)",
                    "Update",
                    Some(user.as_str()),
                    props(&user, "b"),
                ),
                ("3 Delete", "Delete", Some(user.as_str()), props(&user, "b")),
            ] {
                proxy.reset_stats();
                let t = Instant::now();
                d.send(request, physical, p).await;
                // Until CloudFormation has its answer, the time a stack waits.
                let wall = d
                    .answered_at
                    .map_or(t.elapsed(), |at| at.duration_since(t))
                    .as_secs_f64();
                let entry = rows.entry(op).or_default();
                if pass == 0 {
                    entry.0.push(wall);
                    entry.2 = calls(&proxy.stats().by_op);
                } else {
                    entry.1.push(wall);
                }
            }
        }
    }
    println!();
    println!("| operation | wall at L (median) | wall at 0 | round trips (wall at L - wall at 0) / L | wall at L / L | AWS calls (last run) |");
    println!("|---|---|---|---|---|---|");
    for (op, (walls, base, c)) in &rows {
        let (m, b) = (median(walls.clone()), median(base.clone()));
        println!(
            "| {} | {:.0} ms | {:.0} ms | {:.2} | {:.2} | {} |",
            &op[2..],
            m * 1000.0,
            b * 1000.0,
            (m - b) / l,
            m / l,
            c
        );
    }

    // Memory: 100 invocations on the same process, no added latency.
    proxy.set(FaultConfig::default());
    let (hwm_before, _) = memory(pid);
    let mut rss_at_10 = 0;
    for i in 0..100u64 {
        let user = format!("bench-mem-{}", i / 3);
        match i % 3 {
            0 => d.send("Create", None, props(&user, "a")).await,
            1 => d.send("Update", Some(&user), props(&user, "b")).await,
            _ => d.send("Delete", Some(&user), props(&user, "b")).await,
        };
        if i == 9 {
            rss_at_10 = memory(pid).1;
        }
    }
    let (hwm, rss_at_100) = memory(pid);
    let _ = child.kill();
    let _ = child.wait();
    println!();
    println!(
        "memory: peak RSS {:.1} MiB after {} invocations (before the first: {:.1} MiB); RSS after 10: {:.1} MiB, after 100: {:.1} MiB",
        hwm as f64 / 1024.0,
        100 + 3 * runs,
        hwm_before as f64 / 1024.0,
        rss_at_10 as f64 / 1024.0,
        rss_at_100 as f64 / 1024.0
    );

    // Cold start: process start to the first request for an event, 10 times.
    let mut starts = Vec::new();
    for _ in 0..10 {
        let rt = RuntimeApi::start().await;
        let t = Instant::now();
        let mut c = spawn(&rt, &proxy.url(), &emulator);
        let deadline = Instant::now() + Duration::from_secs(10);
        let first = loop {
            if let Some(at) = *rt.first_next.lock().unwrap() {
                break at;
            }
            assert!(
                Instant::now() < deadline,
                "no request for an event within 10 s"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        starts.push(first.duration_since(t).as_secs_f64() * 1000.0);
        let _ = c.kill();
        let _ = c.wait();
    }
    println!(
        "cold start: median {:.1} ms (min {:.1}, max {:.1}) from process start to the first request for an event",
        median(starts.clone()),
        starts.iter().cloned().fold(f64::MAX, f64::min),
        starts.iter().cloned().fold(0.0, f64::max)
    );
    // Where the cold start goes (the function logs each phase at DEBUG), and what the
    // first invocation costs against the second: a Delete of a user that never existed
    // (reads only), at L = 0, so only the process's own work is timed.
    proxy.set(FaultConfig::default());
    let mut phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut totals, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..10 {
        let rt = RuntimeApi::start().await;
        let t = Instant::now();
        let mut c = rt
            .command(&binary(), &emulator)
            .env("AWS_ENDPOINT_URL", proxy.url())
            .env("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the function");
        let deadline = Instant::now() + Duration::from_secs(10);
        let at = loop {
            if let Some(at) = *rt.first_next.lock().unwrap() {
                break at;
            }
            assert!(
                Instant::now() < deadline,
                "no request for an event within 10 s"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        totals.push(at.duration_since(t).as_secs_f64() * 1000.0);
        let mut d = Driver {
            runtime: rt,
            listener: CfnListener::start().await,
            emulator_url: emulator.url.clone(),
            n: 1000 + 10 * i,
            answered_at: None,
        };
        for times in [&mut first, &mut second] {
            let t = Instant::now();
            d.send(
                "Delete",
                Some("bench-never-existed"),
                json!({"UserName": "bench-never-existed"}),
            )
            .await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let _ = c.kill();
        let out = c.wait_with_output().expect("the function's output");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let f = &v["fields"];
            if f["message"] == "startup" {
                if let (Some(p), Some(us)) = (f["phase"].as_str(), f["us"].as_u64()) {
                    phases
                        .entry(p.to_string())
                        .or_default()
                        .push(us as f64 / 1000.0);
                }
            }
        }
    }
    let total = median(totals.clone());
    println!("cold start by phase (median of 10, at DEBUG; process start to the first request for an event {total:.1} ms):");
    let mut inside = 0.0;
    for p in ["logging", "sdk_config", "settings", "clients"] {
        let m = phases.get(p).cloned().map(median).unwrap_or(0.0);
        inside += m;
        println!("  {p:<12} {m:6.2} ms");
    }
    println!(
        "  {:<12} {:6.2} ms (exec, loading the binary, the runtime's start, the first /next)",
        "the rest",
        (total - inside).max(0.0)
    );
    println!(
        "first invocation (a Delete of a user that never existed, L = 0): median {:.1} ms; the second: {:.1} ms",
        median(first),
        median(second)
    );

    let bin = std::fs::metadata(binary()).map(|m| m.len()).unwrap_or(0);
    println!(
        "binary: {:.2} MiB ({})",
        bin as f64 / 1048576.0,
        binary().display()
    );
    let zip = root.join("target/lambda/planton-iam-user/bootstrap.zip");
    match std::fs::metadata(&zip) {
        Ok(m) => println!(
            "zip: {:.2} MiB ({})",
            m.len() as f64 / 1048576.0,
            zip.display()
        ),
        Err(_) => println!("zip: not built (scripts/package builds it)"),
    }
    drop(emulator);
}
