//! A fault-injecting HTTP/1.1 reverse proxy between the SDK and the emulator.
//!
//! Point an SDK (the function under test's, through its configuration's endpoint URL,
//! or a process's, through `AWS_ENDPOINT_URL`) at [`FaultProxy::url`] and every request
//! is forwarded to the upstream emulator unchanged (Host included: SigV4 signs it),
//! unless the current [`FaultConfig`] says to answer it with an injected error instead:
//! IAM throttling, HTTP 500s of either protocol, or a scripted failure of one named
//! operation. Each proxy has its own faults and statistics. The proxy runs on
//! its own thread with its own tokio runtime, so it outlives the short-lived runtimes
//! of `#[tokio::test]`s; dropping the [`FaultProxy`] stops it.
//!
//! Random faults are capped per request signature ([`FaultConfig::max_consecutive_faults_per_request`]):
//! a retried SDK request carries the same body, so the SDK's own retry policy always
//! rides through them and the tests stay deterministic.

use super::{read_request, Captured};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

type Upstream = Client<HttpConnector, Full<Bytes>>;

/// Headers that describe one hop, never forwarded in either direction. Content-Length
/// is recomputed for the body actually sent.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Scripted failure of one operation: its next `times` calls are answered with
/// `status`/`code`/`message` (in the service's own error format), then it passes
/// through. Not subject to the consecutive-fault cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOp {
    /// The operation name (`"CreateSecret"`), or `service.name` (`"secretsmanager.CreateSecret"`).
    pub op: String,
    pub times: u32,
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// What to inject. Replace it at any time with [`FaultProxy::set`].
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Added before every request is answered (forwarded or faulted).
    pub latency: Duration,
    /// Fraction (0..=1) of IAM calls answered `400 Throttling` instead of forwarded.
    pub iam_throttle_rate: f64,
    /// Fraction (0..=1) of calls, any service, answered with an HTTP 500.
    pub error_500_rate: f64,
    pub fail_op: Option<FailOp>,
    /// One operation (matched like [`FailOp::op`]) held this long before it is
    /// forwarded: a call still in flight when the function's deadline arrives.
    pub slow_op: Option<(String, Duration)>,
    /// A random fault (throttle or 500) is never injected more than this many times in
    /// a row for the same request signature (operation and body).
    pub max_consecutive_faults_per_request: u32,
    /// Seeds the PRNG that decides random faults; [`FaultProxy::set`] reseeds it.
    pub seed: u64,
    /// Every forwarded request is served in this account of the emulator (moto's
    /// `x-moto-account-id` header): an account of the test's own, which no other test
    /// changes, so what a whole-account read sees is exactly what the test made.
    pub account: Option<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency: Duration::ZERO,
            iam_throttle_rate: 0.0,
            error_500_rate: 0.0,
            fail_op: None,
            slow_op: None,
            max_consecutive_faults_per_request: 3,
            seed: 0x5eed,
            account: None,
        }
    }
}

/// The AWS operation a request invokes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Op {
    /// `iam`, `sts`, `secretsmanager`, ... (`unknown` when it cannot be told).
    pub service: String,
    /// `CreateUser`, `CreateSecret`, ... (`unknown` when it cannot be told).
    pub name: String,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.service, self.name)
    }
}

impl Op {
    /// JSON-protocol services (Secrets Manager) name the operation in
    /// `X-Amz-Target: secretsmanager.CreateSecret`. Query-protocol services (IAM, STS)
    /// send `Action=CreateUser&...` as a form body (or query string); their service is
    /// the fourth field of the SigV4 credential scope in `Authorization`
    /// (`Credential=AKID/20240101/us-east-1/iam/aws4_request`).
    pub fn identify(headers: &[(String, String)], path: &str, body: &[u8]) -> Op {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if let Some(target) = header("x-amz-target") {
            let (prefix, name) = target.rsplit_once('.').unwrap_or(("", target));
            let service = prefix.to_ascii_lowercase();
            let service = if service.starts_with("secretsmanager") {
                "secretsmanager".to_string()
            } else if service.is_empty() {
                "unknown".to_string()
            } else {
                service
            };
            return Op {
                service,
                name: name.to_string(),
            };
        }
        let scope_service = header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split([',', ' ']).next())
            .and_then(|scope| scope.split('/').nth(3))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let action = form_value(&String::from_utf8_lossy(body), "Action").or_else(|| {
            path.split_once('?')
                .and_then(|(_, query)| form_value(query, "Action"))
        });
        Op {
            service: scope_service.unwrap_or_else(|| "unknown".into()),
            name: action.unwrap_or_else(|| "unknown".into()),
        }
    }

    /// `service.name`, the key of [`Stats::by_op`].
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// Whether a [`FailOp::op`] names this operation.
    fn matches(&self, spec: &str) -> bool {
        spec == self.name || spec == self.key()
    }

    /// JSON-protocol services answer errors in JSON; the rest in query-protocol XML.
    fn is_json(&self) -> bool {
        self.service == "secretsmanager"
    }
}

/// The decoded value of `key` in an `application/x-www-form-urlencoded` string.
fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Counters since the proxy started or [`FaultProxy::reset_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every request received.
    pub requests: u64,
    /// Requests sent on to the upstream.
    pub forwarded: u64,
    /// Answered with an injected `Throttling`.
    pub throttled: u64,
    /// Answered with an injected random HTTP 500.
    pub errors_500: u64,
    /// Answered by [`FaultConfig::fail_op`].
    pub failed_op: u64,
    /// Every request received, by `service.name` (`"iam.CreateUser"`).
    pub by_op: BTreeMap<String, u64>,
    /// The most requests the proxy was handling at the same moment.
    pub peak_in_flight: u64,
}

impl Stats {
    /// Requests received for `service.name` (0 when none).
    pub fn op(&self, key: &str) -> u64 {
        self.by_op.get(key).copied().unwrap_or(0)
    }
}

/// An error the proxy answers with instead of forwarding.
struct Fault {
    status: u16,
    code: String,
    message: String,
}

struct State {
    /// Requests being handled now.
    in_flight: u64,
    config: FaultConfig,
    rng: u64,
    fail_op_left: u32,
    /// Random faults injected in a row, by request signature.
    streaks: HashMap<u64, u32>,
    stats: Stats,
    faults_injected: u64,
    minted_secrets: Vec<String>,
    minted_key_ids: Vec<String>,
}

impl State {
    /// splitmix64, uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn roll(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.next_f64() < rate
    }

    /// Counts the request and decides its fate: `None` forwards it.
    fn decide(&mut self, op: &Op, signature: u64) -> Option<Fault> {
        self.stats.requests += 1;
        *self.stats.by_op.entry(op.key()).or_insert(0) += 1;

        if let Some(f) = self.config.fail_op.clone() {
            if self.fail_op_left > 0 && op.matches(&f.op) {
                self.fail_op_left -= 1;
                self.stats.failed_op += 1;
                return Some(Fault {
                    status: f.status,
                    code: f.code,
                    message: f.message,
                });
            }
        }

        let streak = self.streaks.get(&signature).copied().unwrap_or(0);
        if streak < self.config.max_consecutive_faults_per_request {
            let fault = if op.service == "iam" && self.roll(self.config.iam_throttle_rate) {
                self.stats.throttled += 1;
                Some(Fault {
                    status: 400,
                    code: "Throttling".into(),
                    message: "Rate exceeded".into(),
                })
            } else if self.roll(self.config.error_500_rate) {
                self.stats.errors_500 += 1;
                let code = if op.is_json() {
                    "InternalServiceError"
                } else {
                    "ServiceFailure"
                };
                Some(Fault {
                    status: 500,
                    code: code.into(),
                    message: "injected".into(),
                })
            } else {
                None
            };
            if fault.is_some() {
                self.streaks.insert(signature, streak + 1);
                return fault;
            }
        }
        self.streaks.remove(&signature);
        self.stats.forwarded += 1;
        None
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the counters inconsistent enough to
    // matter; keep serving rather than cascade the panic into every later request.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running proxy. Dropping it stops it.
pub struct FaultProxy {
    url: String,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (an ephemeral port) forwarding to `upstream`
    /// (`http://127.0.0.1:PORT`), on its own thread and tokio runtime, with no faults.
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_end_matches('/').to_string();
        assert!(
            upstream.starts_with("http://"),
            "FaultProxy forwards plain HTTP only; upstream was {upstream:?}"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("FaultProxy: binding 127.0.0.1:0: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("FaultProxy: setting the listener non-blocking: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("FaultProxy: reading the listener address: {e}"));
        let config = FaultConfig::default();
        let state: Shared = Arc::new(Mutex::new(State {
            rng: config.seed,
            config,
            in_flight: 0,
            fail_op_left: 0,
            streaks: HashMap::new(),
            stats: Stats::default(),
            faults_injected: 0,
            minted_secrets: Vec::new(),
            minted_key_ids: Vec::new(),
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("fault-proxy-worker")
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("FaultProxy: building its tokio runtime: {e}"));
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener)
                        .unwrap_or_else(|e| panic!("FaultProxy: registering the listener: {e}"));
                    let client: Upstream =
                        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
                    tokio::select! {
                        _ = rx => {}
                        _ = accept_loop(listener, client, upstream, st) => {}
                    }
                });
                rt.shutdown_background();
            })
            .unwrap_or_else(|e| panic!("FaultProxy: spawning its thread: {e}"));
        FaultProxy {
            url: format!("http://{addr}"),
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give the SDK.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Replaces the fault configuration: reseeds the PRNG, re-arms `fail_op` with its
    /// full `times`, and forgets the consecutive-fault streaks. Statistics are kept.
    pub fn set(&self, config: FaultConfig) {
        let mut s = lock(&self.state);
        s.rng = config.seed;
        s.fail_op_left = config.fail_op.as_ref().map_or(0, |f| f.times);
        s.streaks.clear();
        s.config = config;
    }

    /// The configuration in force.
    pub fn config(&self) -> FaultConfig {
        lock(&self.state).config.clone()
    }

    pub fn stats(&self) -> Stats {
        lock(&self.state).stats.clone()
    }

    pub fn reset_stats(&self) {
        lock(&self.state).stats = Stats::default();
    }

    /// Every `SecretAccessKey` in a forwarded IAM `CreateAccessKey` response, in order.
    pub fn minted_secrets(&self) -> Vec<String> {
        lock(&self.state).minted_secrets.clone()
    }

    /// Every `AccessKeyId` in a forwarded IAM `CreateAccessKey` response, in order.
    pub fn minted_key_ids(&self) -> Vec<String> {
        lock(&self.state).minted_key_ids.clone()
    }
}

async fn accept_loop(listener: TcpListener, client: Upstream, upstream: String, state: Shared) {
    let upstream = Arc::new(upstream);
    loop {
        let sock = match listener.accept().await {
            Ok((sock, _)) => sock,
            Err(e) => {
                // Typically EMFILE under load: back off instead of spinning or dying.
                eprintln!("FaultProxy: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let (client, upstream, state) = (client.clone(), upstream.clone(), state.clone());
        tokio::spawn(serve_connection(sock, client, upstream, state));
    }
}

/// Serves one downstream connection, request after request (keep-alive), until the
/// client closes it or asks to.
async fn serve_connection(
    mut sock: TcpStream,
    client: Upstream,
    upstream: Arc<String>,
    state: Shared,
) {
    while let Some(req) = read_request(&mut sock).await {
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (status, headers, body) = handle(req, &client, &upstream, &state).await;
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n",
            status,
            hyper::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Unknown")
        )
        .into_bytes();
        for (k, v) in &headers {
            if is_hop_by_hop(k) {
                continue;
            }
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        if sock.write_all(&out).await.is_err() || close {
            return;
        }
    }
}

type Answer = (u16, Vec<(String, Vec<u8>)>, Bytes);

/// Counts a request in flight from its arrival until it is answered (or dropped).
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(state: &'a Shared) -> Self {
        let mut s = lock(state);
        s.in_flight += 1;
        s.stats.peak_in_flight = s.stats.peak_in_flight.max(s.in_flight);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut s = lock(self.0);
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

async fn handle(req: Captured, client: &Upstream, upstream: &str, state: &Shared) -> Answer {
    let _in_flight = InFlight::enter(state);
    let op = Op::identify(&req.headers, &req.path, &req.body);
    let signature = {
        let mut h = DefaultHasher::new();
        op.hash(&mut h);
        req.header("x-amz-target").unwrap_or("").hash(&mut h);
        req.body.hash(&mut h);
        h.finish()
    };
    let latency = lock(state).config.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let slow = lock(state)
        .config
        .slow_op
        .clone()
        .filter(|(spec, _)| op.matches(spec));
    if let Some((_, hold)) = slow {
        tokio::time::sleep(hold).await;
    }
    let fault = lock(state).decide(&op, signature);
    if let Some(f) = fault {
        let n = {
            let mut s = lock(state);
            s.faults_injected += 1;
            s.faults_injected
        };
        return fault_answer(&op, &f, n);
    }

    let account = lock(state).config.account.clone();
    let (status, headers, body) = match forward(&req, client, upstream, account.as_deref()).await {
        Ok(answer) => answer,
        Err(e) => {
            return (
                502,
                vec![("Content-Type".into(), b"text/plain".to_vec())],
                Bytes::from(format!(
                    "FaultProxy: forwarding {op} to {upstream} failed: {e}"
                )),
            );
        }
    };
    if op.service == "iam" && op.name == "CreateAccessKey" && (200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        let mut s = lock(state);
        s.minted_secrets.extend(xml_text(&text, "SecretAccessKey"));
        s.minted_key_ids.extend(xml_text(&text, "AccessKeyId"));
    }
    (status, headers, body)
}

async fn forward(
    req: &Captured,
    client: &Upstream,
    upstream: &str,
    account: Option<&str>,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(format!("{upstream}{}", req.path));
    let headers = builder
        .headers_mut()
        .ok_or("the request line did not parse into a request")?;
    for (k, v) in &req.headers {
        if is_hop_by_hop(k) {
            continue;
        }
        // The Host header is forwarded as the client sent it (the client library only
        // fills it in when absent): SigV4 signs it.
        headers.append(
            HeaderName::from_bytes(k.as_bytes())?,
            HeaderValue::from_bytes(v.as_bytes())?,
        );
    }
    if let Some(a) = account {
        headers.insert(
            HeaderName::from_static("x-moto-account-id"),
            HeaderValue::from_str(a)?,
        );
    }
    let request = builder.body(Full::new(Bytes::from(req.body.clone())))?;
    let response = client.request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    Ok((parts.status.as_u16(), headers, body))
}

/// The injected error in the service's own format: JSON for Secrets Manager (what the
/// awsJson1_1 protocol parses), query-protocol XML otherwise.
fn fault_answer(op: &Op, f: &Fault, n: u64) -> Answer {
    let request_id = format!("fault-{n}");
    let (content_type, body) = if op.is_json() {
        let body = serde_json::json!({ "__type": f.code, "message": f.message });
        ("application/x-amz-json-1.1", body.to_string())
    } else {
        let ns = match op.service.as_str() {
            "sts" => "https://sts.amazonaws.com/doc/2011-06-15/",
            _ => "https://iam.amazonaws.com/doc/2010-05-08/",
        };
        let kind = if f.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml_escape(&f.code),
            xml_escape(&f.message),
        );
        ("text/xml", body)
    };
    (
        f.status,
        vec![
            ("Content-Type".into(), content_type.as_bytes().to_vec()),
            ("x-amzn-RequestId".into(), request_id.into_bytes()),
        ],
        Bytes::from(body),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of every `<tag>...</tag>` element in `xml`.
fn xml_text(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(after[..end].trim().to_string());
        rest = &after[end + close.len()..];
    }
    found
}
