//! Clients whose every call is answered by `aws-smithy-mocks` rules: the unit tests of
//! the error and retry paths the emulator cannot produce, on the real client types. A
//! call no rule matches panics. Retries are off, so a rule's `num_calls()` is the number
//! of calls the code made.

use crate::aws::Clients;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::operation::create_access_key::CreateAccessKeyOutput;
use aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyOutput;
use aws_sdk_iam::types::{AccessKey, StatusType};
use aws_sdk_secretsmanager::types::error::EncryptionFailure;
use aws_smithy_mocks::{
    create_mock_http_client, mock, mock_client, MockResponseInterceptor, Rule, RuleMode,
};
use std::sync::{Arc, Mutex};

/// The rules answer in any order ([`RuleMode::MatchAny`]): the first rule that
/// matches a request and still has a response gives it.
pub(crate) fn clients(iam: &[&Rule], sm: &[&Rule], sts: &[&Rule]) -> Clients {
    let no_retries = || RetryConfig::disabled();
    let mut sts_mock = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in sts {
        sts_mock = sts_mock.with_rule(r);
    }
    Clients {
        iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, iam.iter().copied(), |c| c
            .retry_config(no_retries())),
        sm: mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            sm.iter().copied(),
            |c| c.retry_config(no_retries())
        ),
        // Nothing a unit test sends is published (no rule answers it).
        events: mock_client!(
            aws_sdk_eventbridge,
            RuleMode::MatchAny,
            std::iter::empty::<&Rule>(),
            |c| c.retry_config(no_retries())
        ),
        aws_managed: Default::default(),
        // A configuration, not a client: testSecret builds its client from it with
        // the pending key's credentials, and the mock (an interceptor) comes along.
        sts: aws_sdk_sts::Config::builder()
            .with_test_defaults_v2()
            .http_client(create_mock_http_client())
            .interceptor(sts_mock)
            .retry_config(no_retries())
            .build(),
    }
}

/// A service error with `code`, as the SDK parses one.
pub(crate) fn error_meta(code: &str) -> aws_sdk_iam::error::ErrorMetadata {
    aws_sdk_iam::error::ErrorMetadata::builder()
        .code(code)
        .message(format!("mocked {code}"))
        .build()
}

/// CreateAccessKey for `user`, answered with key `key_id`.
pub(crate) fn minted_key(user: &'static str, key_id: &'static str) -> Rule {
    mock!(aws_sdk_iam::Client::create_access_key)
        .match_requests(move |r| r.user_name() == Some(user))
        .then_output(move || {
            CreateAccessKeyOutput::builder()
                .access_key(
                    AccessKey::builder()
                        .user_name(user)
                        .access_key_id(key_id)
                        .secret_access_key("wJalrXUtnFEMI/K7MDENG/mocked")
                        .status(StatusType::Active)
                        .build()
                        .expect("every required field is set"),
                )
                .build()
        })
}

/// DeleteAccessKey of `user`'s keys, answering every call and recording which key each
/// was for.
pub(crate) fn recording_delete(user: &'static str) -> (Rule, Arc<Mutex<Vec<String>>>) {
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let seen = deleted.clone();
    let rule = mock!(aws_sdk_iam::Client::delete_access_key).then_compute_output(move |r| {
        assert_eq!(r.user_name(), Some(user));
        seen.lock()
            .expect("not poisoned")
            .push(r.access_key_id().unwrap_or_default().to_string());
        DeleteAccessKeyOutput::builder().build()
    });
    (rule, deleted)
}

/// Secrets Manager refusing to encrypt: a store that fails after the key was minted.
pub(crate) fn encryption_failure() -> EncryptionFailure {
    EncryptionFailure::builder()
        .message("mocked: the KMS key is disabled")
        .meta(error_meta("EncryptionFailure"))
        .build()
}
