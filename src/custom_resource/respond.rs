//! Delivers the answer to CloudFormation: one HTTP PUT of the body to the presigned
//! ResponseURL, with an EMPTY Content-Type (a content type is not part of the signature,
//! and S3 answers 403 SignatureDoesNotMatch when one is sent), bounded time per attempt,
//! and a few jittered retries. The URL is logged without its query string.

use crate::custom_resource::envelope::redact_url;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

const ATTEMPTS: u32 = 5;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The HTTP client is built on the first answer, not at start: building it reads the
/// machine's root certificates (~150 files), which only a custom-resource invocation
/// needs, and which the cold start of every caller paid before.
#[derive(Clone, Debug, Default)]
pub struct Responder {
    client: std::sync::Arc<std::sync::OnceLock<Result<Https, String>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("answering CloudFormation at {url} failed after {attempts} attempt(s): {last}")]
pub struct DeliveryError {
    pub url: String,
    pub attempts: u32,
    pub last: String,
}

impl Responder {
    pub fn new() -> std::io::Result<Self> {
        Ok(Responder::default())
    }

    fn client(&self) -> Result<&Https, String> {
        self.client
            .get_or_init(|| {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_connect_timeout(Some(Duration::from_secs(5)));
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                    .map_err(|e| format!("loading the root certificates: {e}"))?
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http);
                Ok(Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// PUTs `body` until S3 accepts it, giving up at `until` (just before the Lambda
    /// deadline). A 4xx other than 408/429 is final: the URL is wrong or expired and
    /// retrying cannot help.
    pub async fn send(
        &self,
        url: &str,
        body: Vec<u8>,
        until: Option<tokio::time::Instant>,
    ) -> Result<u16, DeliveryError> {
        let shown = redact_url(url);
        let body = Bytes::from(body);
        let mut last;
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let limit = match until {
                Some(u) => {
                    ATTEMPT_TIMEOUT.min(u.saturating_duration_since(tokio::time::Instant::now()))
                }
                None => ATTEMPT_TIMEOUT,
            };
            let retryable = match self.attempt(url, body.clone(), limit).await {
                Ok(status) if status < 400 => {
                    tracing::info!(url = %shown, status, attempt = attempts, ms = started.elapsed().as_millis() as u64, "answered CloudFormation");
                    return Ok(status);
                }
                Ok(status) => {
                    last = format!("HTTP {status}");
                    status >= 500 || status == 408 || status == 429
                }
                Err(e) => {
                    last = e;
                    true
                }
            };
            let pause = backoff(attempts);
            let out_of_time = until.is_some_and(|u| tokio::time::Instant::now() + pause >= u);
            if !retryable || attempts == ATTEMPTS || out_of_time {
                break;
            }
            tracing::warn!(url = %shown, attempt = attempts, error = %last, "answer not delivered, retrying");
            tokio::time::sleep(pause).await;
        }
        Err(DeliveryError {
            url: shown,
            attempts,
            last,
        })
    }

    async fn attempt(&self, url: &str, body: Bytes, limit: Duration) -> Result<u16, String> {
        let len = body.len();
        let req = Request::builder()
            .method(Method::PUT)
            .uri(url)
            .header(CONTENT_TYPE, HeaderValue::from_static(""))
            .header(CONTENT_LENGTH, len)
            .body(Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        let client = self.client()?;
        let call = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| format!("sending: {e}"))?;
            let status = resp.status().as_u16();
            // Drain the body so the connection can be reused; its content is not needed.
            let _ = resp.into_body().collect().await;
            Ok(status)
        };
        tokio::time::timeout(limit, call)
            .await
            .map_err(|_| format!("no answer within {} ms", limit.as_millis()))?
    }
}

/// Exponential backoff with full jitter; the jitter comes from the clock, which is
/// random enough to de-synchronise retries and needs no extra dependency.
fn backoff(attempt: u32) -> Duration {
    let cap = 200u64.saturating_mul(1 << attempt.min(5));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    Duration::from_millis(cap / 2 + nanos % (cap / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for a in 1..=8 {
            let d = backoff(a).as_millis() as u64;
            let cap = 200u64 * (1 << a.min(5));
            assert!(d >= cap / 2 && d <= cap, "attempt {a}: {d}ms");
        }
    }
}
