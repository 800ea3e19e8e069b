//! The SDK clients, built once per process from the standard configuration (region,
//! credentials, `AWS_ENDPOINT_URL`), each with the retry policy a deputy under IAM's
//! throttling needs and the call log the invocation summary reads.

use crate::aws::calls::CallLog;
use std::time::Duration;

/// The SDK clients, built once per process and shared by every invocation.
#[derive(Clone, Debug)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    /// EventBridge: the events a key's owners route on.
    pub events: aws_sdk_eventbridge::Client,
    /// AWS managed policies' documents this process read lately (the judgement's).
    pub aws_managed: crate::aws::policies::AwsManagedDocuments,
    /// STS settings (endpoint, region, retries) without credentials of its own: each
    /// rotation test signs with the key under test.
    pub sts: aws_sdk_sts::Config,
}

/// The standard SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) with this
/// function's retry and timeout policy.
pub async fn load_config() -> aws_config::SdkConfig {
    loader().load().await
}

/// The loader [`load_config`] uses, for a caller that must set more before loading (an
/// endpoint set on the loader wins over the environment's; one set on the loaded
/// configuration does not).
pub fn loader() -> aws_config::ConfigLoader {
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5));
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(15))
        .build();
    // Lambda gives a function its role's credentials in environment variables, where
    // the default chain would look first anyway. Naming that provider skips building
    // the rest of the chain (its IMDS and container clients read the machine's ~150
    // root certificates): 5 ms of every cold start, measured (docs/benchmarks.md).
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .retry_config(retry)
        .timeout_config(timeouts)
}

/// The CloudFormation client, apart from [`Clients`]: only a custom-resource request
/// needs it (to check the request against the stack), so the other callers never hold
/// it.
pub fn cloudformation(
    config: &aws_config::SdkConfig,
    calls: &CallLog,
) -> aws_sdk_cloudformation::Client {
    let conf = aws_sdk_cloudformation::config::Builder::from(config)
        .interceptor(calls.clone())
        .build();
    aws_sdk_cloudformation::Client::from_conf(conf)
}

impl Clients {
    /// Builds the clients from a loaded SDK configuration, all logging to `calls`.
    pub fn from_config(config: &aws_config::SdkConfig, calls: &CallLog) -> Clients {
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
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_partition(partition("planton-iam"))
            .interceptor(calls.clone())
            .build();
        let sm = aws_sdk_secretsmanager::config::Builder::from(config)
            .retry_partition(partition("planton-secretsmanager"))
            .interceptor(calls.clone())
            .build();
        let events = aws_sdk_eventbridge::config::Builder::from(config)
            .retry_partition(partition("planton-events"))
            .interceptor(calls.clone())
            .build();
        let sts = aws_sdk_sts::config::Builder::from(config)
            .retry_partition(partition("planton-sts"))
            .interceptor(calls.clone())
            .build();
        Clients {
            iam: aws_sdk_iam::Client::from_conf(iam),
            sm: aws_sdk_secretsmanager::Client::from_conf(sm),
            events: aws_sdk_eventbridge::Client::from_conf(events),
            aws_managed: Default::default(),
            sts,
        }
    }
}

#[cfg(test)]
pub(crate) mod mocked;
