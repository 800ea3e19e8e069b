//! A minimal Lambda Runtime API (the 2018-06-01 interface the real runtime client
//! speaks): hands queued events to the function's process on `/invocation/next` and
//! collects what it posts back. Enough to run the real binary locally, as Lambda would.

use super::read_request;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot, Mutex};

#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// Posted to `/response` (true) or `/error` (false).
    pub ok: bool,
    pub body: String,
}

/// Invocations handed out and not yet answered, by request id.
type Waiting = Vec<(String, oneshot::Sender<Invocation>)>;

struct Pending {
    id: String,
    event: Value,
    deadline_ms: u64,
    done: oneshot::Sender<Invocation>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    /// `host:port`, the value of AWS_LAMBDA_RUNTIME_API.
    pub addr: String,
    queue: mpsc::UnboundedSender<Pending>,
    /// When the process first asked for an event: the end of its cold start.
    pub first_next: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl RuntimeApi {
    /// The real function binary set up as Lambda starts it: this Runtime API, the
    /// standard Lambda variables, and the emulator's SDK configuration. Callers add
    /// logging settings and output handling.
    pub fn command(
        &self,
        binary: &std::path::Path,
        emulator: &super::Emulator,
    ) -> std::process::Command {
        let mut c = std::process::Command::new(binary);
        c.envs(emulator.env())
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", "planton-iam-user")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            // The stand-in ResponseURL listens on loopback.
            .env("PLANTON_RESPONSE_URL_PREFIXES", "http://127.0.0.1:")
            .stdin(std::process::Stdio::null());
        c
    }

    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = mpsc::unbounded_channel::<Pending>();
        let rx = Arc::new(Mutex::new(rx));
        let waiting: Arc<Mutex<Waiting>> = Arc::default();
        let first_next: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
        let fnx = first_next.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (rx, waiting, fnx) = (rx.clone(), waiting.clone(), fnx.clone());
                tokio::spawn(async move {
                    while let Some(req) = read_request(&mut sock).await {
                        let reply = if req.path.ends_with("/invocation/next") {
                            fnx.lock().unwrap().get_or_insert_with(Instant::now);
                            let Some(p) = rx.lock().await.recv().await else {
                                return;
                            };
                            let body = p.event.to_string();
                            waiting.lock().await.push((p.id.clone(), p.done));
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                                 Lambda-Runtime-Aws-Request-Id: {}\r\n\
                                 Lambda-Runtime-Deadline-Ms: {}\r\n\
                                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user\r\n\
                                 Content-Length: {}\r\n\r\n{}",
                                p.id,
                                p.deadline_ms,
                                body.len(),
                                body
                            )
                        } else if let Some(rest) =
                            req.path.strip_prefix("/2018-06-01/runtime/invocation/")
                        {
                            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                            let mut w = waiting.lock().await;
                            if let Some(i) = w.iter().position(|(x, _)| x == id) {
                                let (id, done) = w.remove(i);
                                let _ = done.send(Invocation {
                                    request_id: id,
                                    ok: kind == "response",
                                    body: String::from_utf8_lossy(&req.body).into_owned(),
                                });
                            }
                            "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}".to_string()
                        } else {
                            // /runtime/init/error and anything else.
                            eprintln!(
                                "runtime API stand-in: {} {}: {}",
                                req.method,
                                req.path,
                                String::from_utf8_lossy(&req.body)
                            );
                            "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}".to_string()
                        };
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        RuntimeApi {
            addr,
            queue: tx,
            first_next,
        }
    }

    /// Delivers one event with `budget` until the deadline and waits for the function's
    /// result.
    pub async fn invoke(&self, id: &str, event: Value, budget: Duration) -> Invocation {
        let deadline_ms = (SystemTime::now() + budget)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Pending {
                id: id.to_string(),
                event,
                deadline_ms,
                done,
            })
            .unwrap_or_else(|_| panic!("runtime API stand-in stopped"));
        tokio::time::timeout(budget + Duration::from_secs(30), wait)
            .await
            .expect("the function did not finish the invocation")
            .expect("runtime API stand-in dropped the invocation")
    }
}
