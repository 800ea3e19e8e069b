//! The fault proxy itself, proven against the strict emulator with the real SDK
//! clients: it passes requests through untouched, names operations correctly, injects
//! exactly the faults it is told to (in a shape the SDK parses), and captures minted
//! secrets for the leak checks.

use crate::harness::emulator_url;
use crate::support;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fault_proxy::{FailOp, FaultConfig, FaultProxy, Op};
use tokio::io::AsyncWriteExt;

/// A proxy of its own for each test, so the statistics are the test's own.
fn proxy() -> FaultProxy {
    FaultProxy::start(emulator_url())
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A name no other test uses (every test shares one emulator).
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

async fn sdk_config(endpoint: &str, max_attempts: u32) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(max_attempts)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .load()
        .await
}

/// Clients talking through `endpoint` with `max_attempts` attempts per call (1: no retries).
async fn clients(
    endpoint: &str,
    max_attempts: u32,
) -> (aws_sdk_iam::Client, aws_sdk_secretsmanager::Client) {
    let conf = sdk_config(endpoint, max_attempts).await;
    (
        aws_sdk_iam::Client::new(&conf),
        aws_sdk_secretsmanager::Client::new(&conf),
    )
}

/// Clients talking to the emulator directly, to check what really reached it.
async fn direct() -> (aws_sdk_iam::Client, aws_sdk_secretsmanager::Client) {
    clients(emulator_url(), 1).await
}

/// The error code, HTTP status and message of a failed SDK call; panics on success.
fn failure<T: std::fmt::Debug, E>(
    what: &str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> (String, u16, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(v) => panic!("{what} should have failed, but returned {v:?}"),
        Err(e) => {
            let status = e
                .raw_response()
                .map(|r| r.status().as_u16())
                .unwrap_or_else(|| panic!("{what}: no HTTP response: {}", DisplayErrorContext(&e)));
            (
                e.code().unwrap_or("<no code>").to_string(),
                status,
                e.message().unwrap_or("").to_string(),
            )
        }
    }
}

#[test]
fn identifies_operations() {
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let scope = |svc: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/{svc}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
        )
    };
    let iam = Op::identify(
        &h(&[("authorization", &scope("iam"))]),
        "/",
        b"Action=CreateUser&Version=2010-05-08&UserName=a%2Bb",
    );
    assert_eq!(
        (iam.service.as_str(), iam.name.as_str()),
        ("iam", "CreateUser")
    );
    assert_eq!(iam.key(), "iam.CreateUser");
    let sts = Op::identify(
        &h(&[("Authorization", &scope("sts"))]),
        "/",
        b"Version=2011-06-15&Action=GetCallerIdentity",
    );
    assert_eq!(sts.key(), "sts.GetCallerIdentity");
    let sm = Op::identify(
        &h(&[
            ("Authorization", &scope("secretsmanager")),
            ("X-Amz-Target", "secretsmanager.CreateSecret"),
        ]),
        "/",
        br#"{"Name":"Action=DeleteUser"}"#,
    );
    assert_eq!(sm.key(), "secretsmanager.CreateSecret");
    let query = Op::identify(
        &h(&[("authorization", &scope("iam"))]),
        "/?Action=ListUsers",
        b"",
    );
    assert_eq!(query.key(), "iam.ListUsers");
    let nothing = Op::identify(&[], "/", b"");
    assert_eq!(nothing.key(), "unknown.unknown");
}

#[tokio::test]
async fn passes_iam_and_secrets_manager_through() {
    let proxy = proxy();
    let (iam, sm) = clients(&proxy.url(), 1).await;
    let user = unique("fp-pass");
    let created = iam
        .create_user()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateUser through the proxy: {}", DisplayErrorContext(&e)));
    let got = iam
        .get_user()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetUser through the proxy: {}", DisplayErrorContext(&e)));
    let (created, got) = (
        created.user.expect("CreateUser returns the user"),
        got.user.expect("GetUser returns the user"),
    );
    assert_eq!(got.user_name(), user);
    assert_eq!(got.arn(), created.arn());

    let secret = unique("fp/pass");
    let value = r#"{"k":"v & <w>"}"#;
    sm.create_secret()
        .name(&secret)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "CreateSecret through the proxy: {}",
                DisplayErrorContext(&e)
            )
        });
    let read = sm
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "GetSecretValue through the proxy: {}",
                DisplayErrorContext(&e)
            )
        });
    assert_eq!(read.secret_string(), Some(value));

    // What reached the emulator is what the SDK sent.
    let (iam_direct, _) = direct().await;
    iam_direct
        .get_user()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the user is in the emulator: {}", DisplayErrorContext(&e)));

    let stats = proxy.stats();
    let by_op: Vec<(&str, u64)> = stats.by_op.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        by_op,
        vec![
            ("iam.CreateUser", 1),
            ("iam.GetUser", 1),
            ("secretsmanager.CreateSecret", 1),
            ("secretsmanager.GetSecretValue", 1),
        ],
        "{stats:?}"
    );
    assert_eq!((stats.requests, stats.forwarded), (4, 4), "{stats:?}");
    assert_eq!(
        (stats.throttled, stats.errors_500, stats.failed_op),
        (0, 0, 0),
        "{stats:?}"
    );
    proxy.reset_stats();
    assert_eq!(proxy.stats(), Default::default());
}

#[tokio::test]
async fn throttling_at_half_rate_is_ridden_out_by_retries() {
    let proxy = proxy();
    proxy.set(FaultConfig {
        iam_throttle_rate: 0.5,
        seed: 42,
        ..FaultConfig::default()
    });
    let (iam, _) = clients(&proxy.url(), 10).await;
    let users: Vec<String> = (0..20).map(|_| unique("fp-throttle")).collect();
    for u in &users {
        iam.create_user()
            .user_name(u)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateUser {u} despite throttling: {}",
                    DisplayErrorContext(&e)
                )
            });
    }
    let stats = proxy.stats();
    assert!(stats.throttled > 0, "nothing was throttled: {stats:?}");
    assert_eq!(stats.forwarded, 20, "{stats:?}");
    assert_eq!(
        stats.op("iam.CreateUser"),
        20 + stats.throttled,
        "{stats:?}"
    );
    assert!(
        stats.throttled <= 20 * 3,
        "the per-request cap of 3 was exceeded: {stats:?}"
    );
    let (iam_direct, _) = direct().await;
    for u in &users {
        iam_direct
            .get_user()
            .user_name(u)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{u} should exist: {}", DisplayErrorContext(&e)));
    }
}

#[tokio::test]
async fn throttling_surfaces_without_retries_and_is_capped_per_request() {
    let proxy = proxy();
    proxy.set(FaultConfig {
        iam_throttle_rate: 1.0,
        ..FaultConfig::default()
    });
    let (iam, sm) = clients(&proxy.url(), 1).await;
    let user = unique("fp-nothrottle");
    for attempt in 1..=3 {
        let (code, status, message) = failure(
            "CreateUser while throttled",
            iam.create_user().user_name(&user).send().await,
        );
        assert_eq!(
            (code.as_str(), status, message.as_str()),
            ("Throttling", 400, "Rate exceeded"),
            "attempt {attempt}"
        );
    }
    // Throttled calls never reached the emulator.
    let (iam_direct, _) = direct().await;
    let (code, _, _) = failure(
        "GetUser of a user whose creation was throttled",
        iam_direct.get_user().user_name(&user).send().await,
    );
    assert_eq!(code, "NoSuchEntity");
    // The fourth identical request passes: at most 3 faults in a row per request.
    iam.create_user()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the 4th identical CreateUser passes: {}",
                DisplayErrorContext(&e)
            )
        });
    // Throttling is IAM's alone.
    sm.list_secrets().send().await.unwrap_or_else(|e| {
        panic!(
            "Secrets Manager is never throttled: {}",
            DisplayErrorContext(&e)
        )
    });
    let stats = proxy.stats();
    assert_eq!(
        (stats.throttled, stats.forwarded, stats.requests),
        (3, 2, 5),
        "{stats:?}"
    );
}

#[tokio::test]
async fn errors_500_take_each_services_shape() {
    let proxy = proxy();
    proxy.set(FaultConfig {
        error_500_rate: 1.0,
        ..FaultConfig::default()
    });
    let (iam, sm) = clients(&proxy.url(), 1).await;
    let (code, status, _) = failure("GetUser", iam.get_user().user_name("nobody").send().await);
    assert_eq!((code.as_str(), status), ("ServiceFailure", 500));
    let (code, status, message) = failure("ListSecrets", sm.list_secrets().send().await);
    assert_eq!(
        (code.as_str(), status, message.as_str()),
        ("InternalServiceError", 500, "injected")
    );
    // With retries the SDK rides through: two more faults (3 in a row), then through.
    let (_, sm_retrying) = clients(&proxy.url(), 10).await;
    sm_retrying
        .list_secrets()
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListSecrets with retries: {}", DisplayErrorContext(&e)));
    let stats = proxy.stats();
    assert_eq!((stats.errors_500, stats.forwarded), (4, 1), "{stats:?}");
    assert_eq!(stats.op("secretsmanager.ListSecrets"), 4, "{stats:?}");
}

#[tokio::test]
async fn fail_op_fails_exactly_that_many_times() {
    let proxy = proxy();
    proxy.set(FaultConfig {
        fail_op: Some(FailOp {
            op: "CreateSecret".into(),
            times: 2,
            status: 400,
            code: "LimitExceededException".into(),
            message: "injected limit".into(),
        }),
        ..FaultConfig::default()
    });
    let (_, sm) = clients(&proxy.url(), 1).await;
    let secret = unique("fp/failop");
    for attempt in 1..=2 {
        let (code, status, message) = failure(
            "CreateSecret under fail_op",
            sm.create_secret()
                .name(&secret)
                .secret_string("v1")
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), status, message.as_str()),
            ("LimitExceededException", 400, "injected limit"),
            "attempt {attempt}"
        );
    }
    // Other operations are untouched meanwhile.
    sm.list_secrets().send().await.unwrap_or_else(|e| {
        panic!(
            "ListSecrets is not the failing op: {}",
            DisplayErrorContext(&e)
        )
    });
    sm.create_secret()
        .name(&secret)
        .secret_string("v1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("the 3rd CreateSecret passes: {}", DisplayErrorContext(&e)));
    let stats = proxy.stats();
    assert_eq!(
        (
            stats.failed_op,
            stats.forwarded,
            stats.op("secretsmanager.CreateSecret")
        ),
        (2, 2, 3),
        "{stats:?}"
    );

    // fail_op ignores the consecutive-fault cap and matches `service.name` too.
    proxy.set(FaultConfig {
        max_consecutive_faults_per_request: 1,
        fail_op: Some(FailOp {
            op: "secretsmanager.PutSecretValue".into(),
            times: 4,
            status: 500,
            code: "InternalServiceError".into(),
            message: "down".into(),
        }),
        ..FaultConfig::default()
    });
    for attempt in 1..=4 {
        let (code, status, _) = failure(
            "PutSecretValue under fail_op",
            sm.put_secret_value()
                .secret_id(&secret)
                .secret_string("v2")
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), status),
            ("InternalServiceError", 500),
            "attempt {attempt}"
        );
    }
    sm.put_secret_value()
        .secret_id(&secret)
        .secret_string("v2")
        .send()
        .await
        .unwrap_or_else(|e| panic!("the 5th PutSecretValue passes: {}", DisplayErrorContext(&e)));
    assert_eq!(proxy.stats().failed_op, 6);
}

#[tokio::test]
async fn latency_delays_every_call() {
    let proxy = proxy();
    let (iam, _) = clients(&proxy.url(), 1).await;
    // Warm the connection so only the injected latency is measured.
    let _ = iam.list_users().send().await;
    proxy.set(FaultConfig {
        latency: Duration::from_millis(200),
        ..FaultConfig::default()
    });
    let started = Instant::now();
    iam.list_users()
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListUsers with latency: {}", DisplayErrorContext(&e)));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "took only {took:?}");
}

#[tokio::test]
async fn create_access_key_secrets_are_captured() {
    let proxy = proxy();
    let (iam, _) = clients(&proxy.url(), 1).await;
    let user = unique("fp-keys");
    iam.create_user()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateUser: {}", DisplayErrorContext(&e)));
    assert!(proxy.minted_secrets().is_empty());
    let key = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAccessKey: {}", DisplayErrorContext(&e)))
        .access_key
        .expect("CreateAccessKey returns the key");
    assert!(!key.secret_access_key().is_empty());
    assert_eq!(
        proxy.minted_secrets(),
        vec![key.secret_access_key().to_string()]
    );
    assert_eq!(
        proxy.minted_key_ids(),
        vec![key.access_key_id().to_string()]
    );
    // Listing keys mints nothing.
    iam.list_access_keys()
        .user_name(&user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListAccessKeys: {}", DisplayErrorContext(&e)));
    assert_eq!(proxy.minted_key_ids().len(), 1);
}

/// Sends `raw` on `sock` and reads one response: (status, headers, body).
async fn exchange(sock: &mut tokio::net::TcpStream, raw: &str) -> (u16, support::Captured) {
    sock.write_all(raw.as_bytes())
        .await
        .expect("writing to the proxy");
    // A response head parses like a request head: "HTTP/1.1" "200" headers, body.
    let resp = support::read_request(sock)
        .await
        .expect("the proxy answered");
    let status = resp
        .path
        .parse()
        .unwrap_or_else(|_| panic!("status line: {} {}", resp.method, resp.path));
    (status, resp)
}

#[tokio::test]
async fn forwards_host_and_headers_unchanged_and_recomputes_length() {
    let upstream = support::CfnListener::start().await;
    let proxy = FaultProxy::start(&upstream.base);
    let mut sock = tokio::net::TcpStream::connect(proxy.url().trim_start_matches("http://"))
        .await
        .expect("connecting to the proxy");
    let body = "Action=CreateUser&UserName=x";
    let raw = format!(
        "POST /some/path?a=1&b=%2F HTTP/1.1\r\nHost: iam.signed.example:4566\r\n\
         X-Custom: kept\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for round in 0..2 {
        let (status, resp) = exchange(&mut sock, &raw).await;
        assert_eq!(status, 200, "round {round}: {resp:?}");
        assert_eq!(resp.header("content-length"), Some("0"), "{resp:?}");
    }
    let seen = upstream.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "both keep-alive requests were forwarded: {seen:?}"
    );
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/some/path?a=1&b=%2F");
    assert_eq!(
        req.header("host"),
        Some("iam.signed.example:4566"),
        "{req:?}"
    );
    assert_eq!(req.header("x-custom"), Some("kept"), "{req:?}");
    assert_eq!(req.body, body.as_bytes());
    let lengths: Vec<&str> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(lengths, vec![body.len().to_string().as_str()], "{req:?}");
    assert_eq!(
        req.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("host"))
            .count(),
        1,
        "{req:?}"
    );
    // Unsigned, so no service: counted under unknown.
    assert_eq!(proxy.stats().op("unknown.CreateUser"), 2);
}

#[tokio::test]
async fn serves_fifty_concurrent_connections() {
    let upstream = support::CfnListener::start().await;
    let proxy = FaultProxy::start(&upstream.base);
    let addr = proxy.url().trim_start_matches("http://").to_string();
    let all_open = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (addr, all_open) = (addr.clone(), all_open.clone());
        tasks.push(tokio::spawn(async move {
            let mut sock = tokio::net::TcpStream::connect(&addr)
                .await
                .unwrap_or_else(|e| panic!("connection {i}: {e}"));
            all_open.wait().await;
            let mut statuses = Vec::new();
            for round in 0..2 {
                let raw =
                    format!("GET /c{i}/r{round} HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
                statuses.push(exchange(&mut sock, &raw).await.0);
            }
            statuses
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let statuses = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .unwrap_or_else(|_| panic!("connection {i} hung"))
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(statuses, vec![200, 200], "connection {i}");
    }
    let stats = proxy.stats();
    assert_eq!((stats.requests, stats.forwarded), (100, 100), "{stats:?}");
    assert_eq!(upstream.seen.lock().unwrap().len(), 100);
}
