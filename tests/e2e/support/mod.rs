//! Local stand-ins shared by the tests, the demo and the benchmark: the strict AWS
//! emulator, a listener standing in for CloudFormation's presigned ResponseURL, and a
//! minimal Lambda Runtime API that drives the real binary.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod runtime_api;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The strict emulator process. Dropping it (or this process ending, which closes the
/// emulator's stdin) stops it.
pub struct Emulator {
    pub url: String,
    child: Child,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    pub fn start(root: &Path) -> Emulator {
        let python = std::env::var("PLANTON_TEST_PYTHON")
            .unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
        let script = root.join("tests/emulator/strict_moto.py");
        let hint = "the AWS emulator could not be started. Install it with `scripts/test` \
                    (or: python3 -m venv .venv && .venv/bin/pip install -r tests/emulator/requirements.txt)";
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{hint}: running {python}: {e}"));
        let stdout = child.stdout.take().expect("emulator stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(url) = line.strip_prefix("PLANTON_EMULATOR_READY ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("{hint}: it did not report ready within 120 s"));
        Emulator { url, child }
    }

    /// The standard SDK configuration pointing at this emulator, as environment
    /// variables: the only way the function learns its endpoint.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request had arrived whole: when CloudFormation would have its answer.
    pub at: std::time::Instant,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Stands in for the presigned S3 URL: records every request and answers with the next
/// queued status (200 once the queue is empty).
#[derive(Clone)]
pub struct CfnListener {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Captured>>>,
    pub statuses: Arc<Mutex<Vec<u16>>>,
}

impl CfnListener {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let statuses: Arc<Mutex<Vec<u16>>> = Arc::new(Mutex::new(Vec::new()));
        let (s2, q2) = (seen.clone(), statuses.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (seen, queue) = (s2.clone(), q2.clone());
                tokio::spawn(async move {
                    while let Some(req) = read_request(&mut sock).await {
                        seen.lock().unwrap().push(req);
                        let status = {
                            let mut q = queue.lock().unwrap();
                            if q.is_empty() {
                                200
                            } else {
                                q.remove(0)
                            }
                        };
                        let resp = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        CfnListener {
            base,
            seen,
            statuses,
        }
    }

    /// A presigned-looking URL unique to `id`.
    pub fn url(&self, id: &str) -> String {
        format!(
            "{}/response/{id}?X-Amz-Signature=presigned-secret-{id}",
            self.base
        )
    }

    pub fn requests_for(&self, id: &str) -> Vec<Captured> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.path.starts_with(&format!("/response/{id}?")))
            .cloned()
            .collect()
    }
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body).
pub async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Captured> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Captured {
        at: std::time::Instant::now(),
        method,
        path,
        headers,
        body,
    })
}

/// What CloudFormation reports while it waits for this request's answer, set in the
/// emulator's model (its test-only `POST /moto-api/planton/stacks`, merged so other
/// resources of the stack stay as they are): the stack mid-operation, the resource in
/// progress under the event's type, holding the event's physical id. The function checks
/// every request against exactly this before any write; a request sent without it (a
/// forgery) finds whatever the stack really is. An event too broken to name a stack or a
/// logical id is left alone: the function refuses it before it asks.
pub async fn cloudformation_is_waiting_for(emulator_url: &str, event: &serde_json::Value) {
    let text = |k: &str| event.get(k).and_then(serde_json::Value::as_str);
    let (Some(stack), Some(logical)) = (text("StackId"), text("LogicalResourceId")) else {
        return;
    };
    let status = match text("RequestType") {
        Some("Create") => "CREATE_IN_PROGRESS",
        Some("Update") => "UPDATE_IN_PROGRESS",
        Some("Delete") => "DELETE_IN_PROGRESS",
        _ => return,
    };
    let model = serde_json::json!({
        "StackId": stack,
        "StackStatus": "UPDATE_IN_PROGRESS",
        "Merge": true,
        "Resources": {logical: {
            "ResourceType": text("ResourceType").unwrap_or("Custom::PlantonIamUser"),
            "ResourceStatus": status,
            "PhysicalResourceId": text("PhysicalResourceId"),
        }},
    });
    // Malformed ids (not a stack ARN, a logical id IAM-style characters cannot name)
    // are refused by the model; the function refuses such events before it asks.
    let _ = set_stack_model(emulator_url, &model).await;
}

/// Sets (or, with `"Merge": true`, updates) a stack in the emulator's CloudFormation
/// model; `Err` with the emulator's answer when it is not 200.
pub async fn set_stack_model(emulator_url: &str, model: &serde_json::Value) -> Result<(), String> {
    post_test_endpoint(emulator_url, "/moto-api/planton/stacks", model)
        .await
        .map(drop)
}

/// POSTs `body` to one of the emulator's test-only endpoints (loopback only, no SDK
/// client knows them): the answer's body; `Err` with the whole answer when it is not
/// 200.
pub async fn post_test_endpoint(
    emulator_url: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<String, String> {
    let addr = emulator_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let body = body.to_string();
    let mut sock = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
        Ok(answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default())
    } else {
        Err(answer.into_owned())
    }
}
