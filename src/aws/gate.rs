//! The bound on AWS calls in flight (`PLANTON_MAX_IN_FLIGHT`), enforced where every call
//! passes: the SDK clients' HTTP connector. So reads, judgement reads, writes and retry
//! attempts all count against one number, whichever code path starts them; no caller
//! has to remember to take a slot. Lambda runs one invocation at a time per process, so
//! a bound per process is a bound per invocation. The limit can change between
//! invocations (it is the invocation's setting), so it is a counter rather than a fixed
//! set of semaphore permits.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub struct Gate(Arc<State>);

#[derive(Debug)]
struct State {
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    freed: Notify,
}

/// One call's place inside the gate, given back when the call ends.
struct Pass(Arc<State>);

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_waiters();
    }
}

impl Gate {
    pub fn new(limit: usize) -> Gate {
        Gate(Arc::new(State {
            limit: AtomicUsize::new(limit.max(1)),
            in_flight: AtomicUsize::new(0),
            freed: Notify::new(),
        }))
    }

    /// Runs `work` with the limit adapting to throttling: every quarter second, if any
    /// call was retried since the last look (`calls`' attempts beyond its calls), the
    /// limit halves, else it grows by one up to `max` ([`crate::model::pace`]). Returns
    /// the work's output and the lowest limit it ran at.
    pub async fn paced<F: std::future::Future>(
        &self,
        calls: &crate::aws::calls::CallLog,
        max: usize,
        work: F,
    ) -> (F::Output, usize) {
        let retries = || {
            let c = calls.snapshot();
            c.attempts.saturating_sub(c.total())
        };
        let mut limit = max.max(1);
        let mut lowest = limit;
        self.set_limit(limit);
        let mut seen = retries();
        let mut work = std::pin::pin!(work);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let out = loop {
            tokio::select! {
                out = &mut work => break out,
                _ = tick.tick() => {
                    let now = retries();
                    limit = crate::model::pace::next_limit(limit, max, now > seen);
                    lowest = lowest.min(limit);
                    seen = now;
                    self.set_limit(limit);
                }
            }
        };
        self.set_limit(max);
        (out, lowest)
    }

    pub fn set_limit(&self, limit: usize) {
        self.0.limit.store(limit.max(1), Ordering::Release);
        self.0.freed.notify_waiters();
    }

    async fn enter(&self) -> Pass {
        loop {
            // Registered before the check, so a call ending in between still wakes us.
            let freed = self.0.freed.notified();
            let now = self.0.in_flight.load(Ordering::Acquire);
            if now < self.0.limit.load(Ordering::Acquire)
                && self
                    .0
                    .in_flight
                    .compare_exchange(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return Pass(self.0.clone());
            }
            freed.await;
        }
    }

    /// `config` with every call through its HTTP client waiting for a place in this
    /// gate; every client built from it shares the one bound.
    pub fn around(&self, config: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        // The client the SDK would choose itself when none is configured: hyper 1 and
        // rustls with aws-lc.
        let inner = config.http_client().unwrap_or_else(|| {
            use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .build_https()
        });
        config
            .to_builder()
            .http_client(GatedClient {
                inner,
                gate: self.clone(),
            })
            .build()
    }
}

#[derive(Debug)]
struct GatedClient {
    inner: SharedHttpClient,
    gate: Gate,
}

impl HttpClient for GatedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(GatedConnector {
            inner: self.inner.http_connector(settings, components),
            gate: self.gate.clone(),
        })
    }
}

#[derive(Debug)]
struct GatedConnector {
    inner: SharedHttpConnector,
    gate: Gate,
}

impl HttpConnector for GatedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let gate = self.gate.clone();
        HttpConnectorFuture::new(async move {
            let _pass = gate.enter().await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn never_more_than_the_limit_and_the_limit_can_change() {
        let gate = Gate::new(2);
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let run = |n: usize| {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (gate, peak, now) = (gate.clone(), peak.clone(), now.clone());
                    tokio::spawn(async move {
                        let _p = gate.enter().await;
                        let cur = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(cur, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            futures::future::join_all(tasks)
        };
        run(20).await;
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        gate.set_limit(5);
        peak.store(0, Ordering::SeqCst);
        run(20).await;
        assert_eq!(peak.load(Ordering::SeqCst), 5);
    }
}
