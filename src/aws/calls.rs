//! Counts the AWS calls an invocation makes, per operation, through an SDK interceptor
//! on the real clients. The count is logged with every answer, so an operator (and the
//! benchmark) can see the API economy of each request without a proxy.

use aws_sdk_iam::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_iam::config::RuntimeComponents;
use aws_sdk_iam::config::{ConfigBag, Intercept};
use aws_sdk_iam::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct CallLog {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Logical calls (one per SDK operation invoked), by "Service.Operation".
    pub calls: BTreeMap<String, u32>,
    /// Attempts on the wire, retries included.
    pub attempts: u32,
}

impl Counts {
    pub fn total(&self) -> u32 {
        self.calls.values().sum()
    }

    /// Calls other than reads (Get*, List*, Describe*, and GenerateCredentialReport,
    /// which AWS files under Read: it makes IAM's report of the account's credentials,
    /// changing nothing).
    pub fn writes(&self) -> BTreeMap<String, u32> {
        self.calls
            .iter()
            .filter(|(op, _)| {
                let name = op.rsplit('.').next().unwrap_or("");
                !(name.starts_with("Get")
                    || name.starts_with("List")
                    || name.starts_with("Describe")
                    || name == "GenerateCredentialReport")
            })
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// What happened since `earlier`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        let mut calls = BTreeMap::new();
        for (k, v) in &self.calls {
            let d = v - earlier.calls.get(k).copied().unwrap_or(0);
            if d > 0 {
                calls.insert(k.clone(), d);
            }
        }
        Counts {
            calls,
            attempts: self.attempts - earlier.attempts,
        }
    }
}

impl CallLog {
    pub fn snapshot(&self) -> Counts {
        self.inner.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "PlantonCallLog"
    }

    // Not `read_before_execution`: client interceptors run that hook before the
    // operation's metadata is in the config bag.
    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            let key = format!("{}.{}", m.service(), m.name());
            if let Ok(mut c) = self.inner.lock() {
                *c.calls.entry(key).or_default() += 1;
            }
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(mut c) = self.inner.lock() {
            c.attempts += 1;
        }
        Ok(())
    }
}
