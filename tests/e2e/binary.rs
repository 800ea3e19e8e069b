//! The real `planton-iam-user` binary, run as Lambda runs it (under a local Runtime API),
//! with logging at TRACE: the bundled events (Create, Update, the four rotation steps,
//! the grace sweep, the audit, Delete) complete, every log line is structured JSON an
//! operator can use, and no key material appears in anything it writes.
//!
//! It shares the emulator with every other test, so its user is renamed (the lifecycle
//! scenarios deploy the bundled events too), and its sweep and audit are confined to the
//! bundled events' path (`PLANTON_ALLOWED_PATH_PREFIX`), so its sweep cannot end the
//! grace of another test's aged key before that test's own sweep does.

use crate::harness::{aws, emulator};
use crate::support::runtime_api::RuntimeApi;
use crate::support::CfnListener;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The bundled events' user, renamed to one no other test uses.
const USER: &str = "payments-ci-deployer-binary";

fn event(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file);
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for props in ["ResourceProperties", "OldResourceProperties"] {
        if let Some(p) = e.get_mut(props) {
            assert_eq!(p["UserName"], "payments-ci-deployer");
            p["UserName"] = json!(USER);
            assert_eq!(p["Path"], "/service-accounts/");
        }
    }
    if e.get("PhysicalResourceId").is_some() {
        e["PhysicalResourceId"] = json!(USER);
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_events_through_the_real_binary_leak_nothing_at_trace_level() {
    let emulator = emulator();
    let listener = CfnListener::start().await;
    let runtime = RuntimeApi::start().await;
    let log_path = std::env::temp_dir().join(format!("planton-binary-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = runtime
        .command(Path::new(env!("CARGO_BIN_EXE_planton-iam-user")), emulator)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .env("RUST_LOG", "trace")
        .env("PLANTON_ALLOWED_PATH_PREFIX", "/service-accounts/")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();

    let (_, sm) = aws().await;
    let mut secrets = Vec::new();
    let mut answers = Vec::new();
    let secret_id = "planton/iam-user/payments-ci-deployer-binary";
    let read_key = |stage: &'static str| {
        let sm = sm.clone();
        async move {
            let v = sm
                .get_secret_value()
                .secret_id(secret_id)
                .version_stage(stage)
                .send()
                .await
                .unwrap();
            let j: Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
            [
                j["SecretAccessKey"].as_str().unwrap().to_string(),
                j["AccessKeyId"].as_str().unwrap().to_string(),
            ]
        }
    };
    for name in [
        "create",
        "update",
        "rotation",
        "end-grace",
        "audit",
        "delete",
    ] {
        if name == "rotation" {
            // Secrets Manager's part: stage a version, then the four steps, each an
            // invocation of the binary; then the new key is in AWSCURRENT.
            let token = sm
                .rotate_secret()
                .secret_id(secret_id)
                .rotation_lambda_arn(
                    "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user",
                )
                .send()
                .await
                .unwrap()
                .version_id()
                .unwrap()
                .to_string();
            for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
                let mut e = event("rotation.json");
                e["Step"] = json!(step);
                e["SecretId"] = json!(secret_id);
                e["ClientRequestToken"] = json!(token);
                let inv = runtime.invoke(step, e, Duration::from_secs(120)).await;
                assert!(inv.ok, "{step}: {}", inv.body);
                answers.push(inv.body);
            }
            secrets.extend(read_key("AWSCURRENT").await);
            continue;
        }
        if name == "end-grace" || name == "audit" {
            let inv = runtime
                .invoke(
                    name,
                    event(&format!("{name}.json")),
                    Duration::from_secs(120),
                )
                .await;
            assert!(inv.ok, "{name}: {}", inv.body);
            answers.push(inv.body);
            continue;
        }
        let mut e = event(&format!("{name}.json"));
        e["ResponseURL"] = json!(listener.url(name));
        crate::support::cloudformation_is_waiting_for(&emulator.url, &e).await;
        let inv = runtime.invoke(name, e, Duration::from_secs(120)).await;
        assert!(inv.ok, "{name}: {}", inv.body);
        assert!(!inv.body.contains("SecretAccessKey"));
        let puts = listener.requests_for(name);
        assert_eq!(puts.len(), 1, "{name}: one answer");
        let body: Value = serde_json::from_slice(&puts[0].body).unwrap();
        assert_eq!(body["Status"], "SUCCESS", "{name}: {body}");
        answers.push(String::from_utf8(puts[0].body.clone()).unwrap());
        answers.push(inv.body);
        if name != "delete" {
            secrets.extend(read_key("AWSCURRENT").await);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        secrets.len(),
        6,
        "three keys: created, rotated by KeySerial 1 -> 2, rotated on schedule"
    );

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.lines().count() >= 9,
        "planned, handled and answered, per request"
    );
    // The audit's per-key and access_keys drift records name keys by id (as CloudTrail
    // does); nothing else may carry an id, and nothing at all a secret access key.
    let audit_record = |l: &str| {
        l.starts_with(r#"{"record":"planton.audit.key""#)
            || l.starts_with(r#"{"record":"planton.audit.drift""#)
    };
    assert!(
        text.lines().any(audit_record),
        "the audit ran through the binary and wrote its records"
    );
    assert!(
        text.contains(r#""record":"planton.grace.summary""#),
        "the grace sweep ran through the binary"
    );
    for s in &secrets {
        let is_key_id = s.starts_with("AKIA");
        if let Some(line) = text
            .lines()
            .find(|l| l.contains(s.as_str()) && !(is_key_id && audit_record(l)))
        {
            let shown: String = line
                .replace(s.as_str(), "<KEY>")
                .chars()
                .take(600)
                .collect();
            panic!("key material in the function's output: {shown}");
        }
        for a in &answers {
            assert!(!a.contains(s.as_str()), "key material in an answer");
        }
    }
    assert!(
        !text.contains("presigned-secret"),
        "the ResponseURL signature is never logged"
    );

    // Operators get one structured record per request with what they alarm on.
    let handled: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request handled")
        .collect();
    assert_eq!(handled.len(), 3, "one record per request");
    for (v, kind) in handled.iter().zip(["Create", "Update", "Delete"]) {
        assert_eq!(v["fields"]["outcome"], "SUCCESS");
        assert!(v["fields"]["duration_ms"].is_u64());
        assert!(v["fields"]["aws_calls"].as_u64().unwrap() > 0);
        let span = &v["span"];
        assert_eq!(span["request_type"], kind, "{v}");
        assert_eq!(span["logical_id"], "DeployerUser");
        assert!(span["stack_id"]
            .as_str()
            .unwrap()
            .contains(":stack/payments-ci/"));
        assert!(v["spans"].to_string().contains(kind), "{v}");
    }
    let _ = std::fs::remove_file(&log_path);
}
