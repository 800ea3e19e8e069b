//! The main job: runs the real `planton-iam-user` binary under a local Lambda Runtime
//! API, against the strict AWS emulator, and sends it the Create, Update and Delete
//! events from `events/`. Prints what CloudFormation would receive and the IAM state
//! after each step. Run it with `scripts/demo`.

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::runtime_api::RuntimeApi;
use support::{CfnListener, Emulator};

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = function_binary();
    println!("Starting the local AWS emulator (moto, strict mode)...");
    let emulator = Emulator::start(root);
    // The demo's own inspection clients use the same standard configuration.
    for (k, v) in emulator.env() {
        std::env::set_var(k, v);
    }
    let listener = CfnListener::start().await;
    let runtime = RuntimeApi::start().await;

    let log_path = root.join("target/demo-function.log");
    let log = std::fs::File::create(&log_path).expect("function log file");
    let mut function = runtime
        .command(&binary, &emulator)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
    println!(
        "Function {} running under a local Lambda Runtime API at {}",
        binary.display(),
        runtime.addr
    );
    println!(
        "Endpoint for the SDK (AWS_ENDPOINT_URL): {}\n",
        emulator.url
    );

    let (iam, sm) = clients().await;
    for (step, file) in [
        ("Create", "create"),
        ("Update", "update"),
        ("Delete", "delete"),
    ] {
        let path = root.join(format!("events/{file}.json"));
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("event file"))
                .expect("event JSON");
        // The only change: answer the local listener instead of S3.
        event["ResponseURL"] = Value::String(listener.url(file));
        let user = event["ResourceProperties"]["UserName"]
            .as_str()
            .unwrap_or("")
            .to_string();
        println!("=== {step}: events/{file}.json ===");
        // CloudFormation is mid-operation on this stack while it waits for the answer;
        // the function checks that before any write (the emulator's model plays it).
        support::cloudformation_is_waiting_for(&emulator.url, &event).await;
        let result = runtime
            .invoke(&format!("demo-{file}"), event, Duration::from_secs(300))
            .await;
        let answer = listener.requests_for(file);
        match answer.first() {
            Some(put) => {
                let body: Value = serde_json::from_slice(&put.body).unwrap_or(Value::Null);
                println!(
                    "CloudFormation receives (HTTP {} {}, Content-Type: {:?}):",
                    put.method,
                    put.path.split('?').next().unwrap_or(""),
                    put.header("content-type").unwrap_or("<absent>")
                );
                println!(
                    "{}",
                    serde_json::to_string_pretty(&body).unwrap_or_default()
                );
            }
            None => println!("CloudFormation received NO answer (this is a bug)"),
        }
        println!(
            "Lambda invocation result: {} {}",
            if result.ok { "success" } else { "error" },
            result.body
        );
        println!("IAM state after {step}:");
        print_state(&iam, &sm, &user).await;
        println!();
    }
    let _ = function.kill();
    let _ = function.wait();
    println!(
        "Function log (structured JSON, no credentials): {}",
        log_path.display()
    );
    drop(emulator);
}

fn function_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/examples/demo -> target/<profile>/planton-iam-user
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join("planton-iam-user");
    if !bin.exists() {
        panic!(
            "{} is missing: build it first with `cargo build --bin planton-iam-user` (scripts/demo does)",
            bin.display()
        );
    }
    bin
}

async fn clients() -> (aws_sdk_iam::Client, aws_sdk_secretsmanager::Client) {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    (
        aws_sdk_iam::Client::new(&conf),
        aws_sdk_secretsmanager::Client::new(&conf),
    )
}

/// An access key id shortened the way the console shows it.
fn masked(id: &str) -> String {
    if id.len() > 8 {
        format!("{}...{}", &id[..4], &id[id.len() - 4..])
    } else {
        "****".into()
    }
}

async fn print_state(iam: &aws_sdk_iam::Client, sm: &aws_sdk_secretsmanager::Client, user: &str) {
    let u = match iam.get_user().user_name(user).send().await {
        Ok(o) => o.user.expect("user"),
        Err(_) => {
            println!("  user {user}: does not exist");
            print_secret(sm, &format!("planton/iam-user/{user}")).await;
            return;
        }
    };
    println!(
        "  user {}  path {}  arn {}",
        u.user_name(),
        u.path(),
        u.arn()
    );
    let boundary = u
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
        .unwrap_or("-");
    println!("  permissions boundary: {boundary}");
    let tags: Vec<String> = u
        .tags()
        .iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect();
    println!("  tags: {}", tags.join(", "));
    if let Ok(p) = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
    {
        let arns: Vec<&str> = p
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        println!("  managed policies: {}", list(&arns));
    }
    if let Ok(p) = iam.list_user_policies().user_name(user).send().await {
        let names: Vec<&str> = p.policy_names().iter().map(String::as_str).collect();
        println!("  inline policies: {}", list(&names));
    }
    if let Ok(g) = iam.list_groups_for_user().user_name(user).send().await {
        let names: Vec<&str> = g.groups().iter().map(|g| g.group_name()).collect();
        println!("  groups: {}", list(&names));
    }
    if let Ok(k) = iam.list_access_keys().user_name(user).send().await {
        let keys: Vec<String> = k
            .access_key_metadata()
            .iter()
            .map(|k| {
                format!(
                    "{} ({})",
                    masked(k.access_key_id().unwrap_or("")),
                    k.status().map(|s| s.as_str()).unwrap_or("?")
                )
            })
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        println!("  access keys: {}", list(&keys));
    }
    let secret_name = u
        .tags()
        .iter()
        .find(|t| t.key() == "planton:secret-name")
        .map(|t| t.value().to_string())
        .unwrap_or_else(|| format!("planton/iam-user/{user}"));
    print_secret(sm, &secret_name).await;
}

async fn print_secret(sm: &aws_sdk_secretsmanager::Client, name: &str) {
    match sm.get_secret_value().secret_id(name).send().await {
        Ok(v) => {
            let j: Value =
                serde_json::from_str(v.secret_string().unwrap_or("{}")).unwrap_or_default();
            let mut fields: Vec<&str> = j
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            fields.sort();
            println!(
                "  secret {name}: holds key {} of {} (fields: {}; values not shown)",
                masked(j["AccessKeyId"].as_str().unwrap_or("")),
                j["UserName"].as_str().unwrap_or("?"),
                fields.join(", ")
            );
        }
        Err(_) => println!("  secret {name}: does not exist"),
    }
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}
