//! `Custom::PlantonIamUser`: a CloudFormation custom resource that manages an IAM
//! service-account user and keeps its access key only in Secrets Manager.
//!
//! Data flows one way: [`envelope`] (event) -> [`spec`] (validated properties) ->
//! [`observe`] (AWS state) -> [`plan`] (pure diff) -> [`apply`] (AWS writes) ->
//! [`respond`] (the one answer). [`handler`] wires them together.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod apply;
pub mod audit;
pub mod calls;
pub mod deployed;
pub mod envelope;
pub mod error;
pub mod fence;
pub mod grace;
pub mod guardrails;
pub mod handler;
pub mod logging;
pub mod observe;
pub mod plan;
pub mod respond;
pub mod rotation;
pub mod spec;
pub mod state;

use std::time::Duration;

/// Builds the process-wide state. The SDK reads region, credentials and endpoint
/// (`AWS_ENDPOINT_URL`) from the standard configuration, nothing else.
pub async fn app_from_env() -> Result<handler::App, std::io::Error> {
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5));
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(15))
        .build();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts)
        .load()
        .await;
    app_from_config(&config, handler::Settings::from_env())
}

/// Builds the clients from a loaded SDK configuration, each with its own call log.
pub fn app_from_config(
    config: &aws_config::SdkConfig,
    settings: handler::Settings,
) -> Result<handler::App, std::io::Error> {
    use aws_sdk_iam::config::retry::{RetryPartition, TokenBucket};
    // The SDK's default retry quota (a token bucket of 500 shared by every client of a
    // service in the process, 5 tokens per throttling retry) is a circuit breaker for
    // outages; under IAM's routine throttling it runs dry and turns throttles into
    // failures. Retries here are bounded by the attempt limit and the deadline instead.
    let partition = |name: &'static str| {
        RetryPartition::custom(name)
            .token_bucket(TokenBucket::unlimited())
            .build()
    };
    let calls = calls::CallLog::default();
    let iam = aws_sdk_iam::config::Builder::from(config)
        .retry_partition(partition("planton-iam"))
        .interceptor(calls.clone())
        .build();
    let sm = aws_sdk_secretsmanager::config::Builder::from(config)
        .retry_partition(partition("planton-secretsmanager"))
        .interceptor(calls.clone())
        .build();
    let sts = aws_sdk_sts::config::Builder::from(config)
        .retry_partition(partition("planton-sts"))
        .interceptor(calls.clone())
        .build();
    Ok(handler::App {
        clients: observe::Clients {
            iam: aws_sdk_iam::Client::from_conf(iam),
            sm: aws_sdk_secretsmanager::Client::from_conf(sm),
            sts,
        },
        responder: respond::Responder::new()?,
        settings,
        guardrails: guardrails::Guardrails::from_env(),
        calls,
    })
}
