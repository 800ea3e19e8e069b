//! The rotation steps' error and retry paths, on mocked clients: a new key whose store
//! fails is deleted again, and testSecret backs off while IAM's new key propagates.

use super::*;
use crate::aws::clients::mocked::{self, error_meta};
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};
use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueError, GetSecretValueOutput,
};
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use aws_sdk_secretsmanager::operation::update_secret::UpdateSecretOutput;
use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sts::error::BoxError;
use aws_sdk_sts::operation::get_caller_identity::{
    GetCallerIdentityError, GetCallerIdentityOutput,
};
use aws_smithy_mocks::{mock, Rule};
use std::sync::{Arc, Mutex};

const USER: &str = "svc-ci";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/svc-ci";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:planton/iam-user/svc-ci-AbCdEf";
const TOKEN: &str = "5f0c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b";
const CURRENT_KEY: &str = "AKIACURRENTKEY000001";
const NEW_KEY: &str = "AKIANEWKEY0000000002";
const PENDING_KEY: &str = "AKIAPENDINGKEY000003";

fn target() -> Target {
    Target {
        secret_arn: SECRET_ARN.into(),
        user: USER.into(),
        user_arn: USER_ARN.into(),
    }
}

fn secret_value(v: serde_json::Value) -> GetSecretValueOutput {
    GetSecretValueOutput::builder()
        .arn(SECRET_ARN)
        .secret_string(v.to_string())
        .build()
}

#[tokio::test]
async fn create_deletes_the_new_key_when_the_pending_version_cannot_be_stored() {
    // No pending value yet: this is the step's first attempt.
    let no_pending = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.version_stage() == Some(PENDING) && r.version_id() == Some(TOKEN))
        .then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(error_meta("ResourceNotFoundException"))
                    .build(),
            )
        });
    let current = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.version_stage() == Some(CURRENT))
        .then_output(|| secret_value(serde_json::json!({"AccessKeyId": CURRENT_KEY})));
    let listed = mock!(aws_sdk_iam::Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(
                AccessKeyMetadata::builder()
                    .user_name(USER)
                    .access_key_id(CURRENT_KEY)
                    .status(StatusType::Active)
                    .build(),
            )
            .build()
            .unwrap()
    });
    let minted = mocked::minted_key(USER, NEW_KEY);
    let store = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
        .match_requests(|r| {
            r.secret_id() == Some(SECRET_ARN)
                && r.client_request_token() == Some(TOKEN)
                && r.version_stages() == [PENDING.to_string()]
        })
        .then_error(|| PutSecretValueError::EncryptionFailure(mocked::encryption_failure()));
    let recorded = mock!(aws_sdk_secretsmanager::Client::update_secret)
        .match_requests(|r| {
            r.secret_id() == Some(SECRET_ARN)
                && r.secret_string().is_none()
                && r.description().is_some_and(|d| {
                    crate::model::key_ledger::parse(d)
                        .get(TOKEN)
                        .map(String::as_str)
                        == Some(NEW_KEY)
                })
        })
        .then_output(|| UpdateSecretOutput::builder().build());
    let (delete, deleted) = mocked::recording_delete(USER);
    let c = mocked::clients(
        &[&listed, &minted, &delete],
        &[&no_pending, &current, &recorded, &store],
        &[],
    );

    let seen = Seen {
        description: String::new(),
        stages: [(
            "v-current-0000000000000000000000000".to_string(),
            vec![CURRENT.to_string()],
        )]
        .into(),
    };
    let e = create(&c, &target(), TOKEN, &seen).await.unwrap_err();

    match &e {
        Error::Aws { action, code, .. } => {
            assert!(
                action.starts_with(
                    "storing the new access key of user svc-ci as the pending version"
                ),
                "{action}"
            );
            assert_eq!(code, "EncryptionFailure");
        }
        other => panic!("expected the store's error, got {other:?}"),
    }
    assert_eq!((minted.num_calls(), store.num_calls()), (1, 1));
    assert_eq!(
        recorded.num_calls(),
        1,
        "the new key's id is recorded before its value"
    );
    assert_eq!(
        *deleted.lock().unwrap(),
        vec![NEW_KEY.to_string()],
        "the key minted for the failed store, and only it, is deleted"
    );
}

/// A Secrets Manager holding `PENDING_KEY` as version TOKEN's AWSPENDING value.
fn pending_value() -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.version_stage() == Some(PENDING) && r.version_id() == Some(TOKEN))
        .then_output(|| {
            secret_value(serde_json::json!({
                "AccessKeyId": PENDING_KEY,
                "SecretAccessKey": "pending-secret/mocked",
                "UserName": USER,
                "UserArn": USER_ARN,
            }))
        })
}

fn sts_error(code: &'static str) -> impl Fn() -> GetCallerIdentityError + Send + Sync {
    move || GetCallerIdentityError::generic(error_meta(code))
}

fn caller(arn: &'static str) -> impl Fn() -> GetCallerIdentityOutput + Send + Sync {
    move || {
        GetCallerIdentityOutput::builder()
            .account("123456789012")
            .arn(arn)
            .user_id("AIDAMOCKEDUSERID0001")
            .build()
    }
}

/// Records the `Authorization` header of every STS request as signed.
#[derive(Debug, Clone, Default)]
struct Signatures(Arc<Mutex<Vec<String>>>);

impl Intercept for Signatures {
    fn name(&self) -> &'static str {
        "Signatures"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let auth = ctx
            .request()
            .headers()
            .get("authorization")
            .unwrap_or_default()
            .to_string();
        self.0.lock().unwrap().push(auth);
        Ok(())
    }
}

/// Clients whose STS answers with `sts`, recording each request's signature.
fn testing_clients(sts: &Rule) -> (Clients, Signatures) {
    let mut c = mocked::clients(&[], &[&pending_value()], &[sts]);
    let signatures = Signatures::default();
    c.sts = c.sts.to_builder().interceptor(signatures.clone()).build();
    (c, signatures)
}

#[tokio::test(start_paused = true)]
async fn test_retries_a_key_sts_does_not_know_yet() {
    let sts = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .error(sts_error("InvalidClientTokenId"))
        .times(2)
        .output(caller(USER_ARN))
        .build();
    let (c, signatures) = testing_clients(&sts);
    let start = Instant::now();

    test(&c, &target(), TOKEN, start + TEST_PATIENCE)
        .await
        .unwrap();

    assert_eq!(sts.num_calls(), 3);
    // Backed off 250 ms, then 500 ms.
    assert_eq!(start.elapsed(), Duration::from_millis(750));
    let signatures = signatures.0.lock().unwrap();
    assert_eq!(signatures.len(), 3);
    for s in signatures.iter() {
        assert!(
            s.contains(&format!("Credential={PENDING_KEY}/")),
            "signed with the pending key: {s}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn test_gives_up_at_its_deadline_and_says_how_often_it_tried() {
    let sts = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .error(sts_error("AccessDenied"))
        .repeatedly()
        .build();
    let (c, _) = testing_clients(&sts);
    let start = Instant::now();

    let e = test(&c, &target(), TOKEN, start + Duration::from_secs(5))
        .await
        .unwrap_err();

    // Tried at 0, 0.25, 0.75, 1.75 and 3.75 s; the next wait (4 s) would pass 5 s.
    assert_eq!(sts.num_calls(), 5);
    assert_eq!(start.elapsed(), Duration::from_millis(3750));
    match &e {
        Error::Aws { action, code, .. } => {
            assert_eq!(
                action,
                "testing the pending key of user svc-ci with STS GetCallerIdentity (5 attempts)"
            );
            assert_eq!(code, "AccessDenied");
        }
        other => panic!("expected STS's refusal, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn test_does_not_retry_an_error_a_new_key_does_not_explain() {
    let sts = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .error(sts_error("ExpiredToken"))
        .repeatedly()
        .build();
    let (c, _) = testing_clients(&sts);

    let e = test(&c, &target(), TOKEN, Instant::now() + TEST_PATIENCE)
        .await
        .unwrap_err();

    assert_eq!(sts.num_calls(), 1);
    assert!(e.to_string().contains("(1 attempts): ExpiredToken"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn test_refuses_a_key_of_another_user() {
    const OTHER: &str = "arn:aws:iam::123456789012:user/someone-else";
    let sts = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .output(caller(OTHER))
        .repeatedly()
        .build();
    let (c, _) = testing_clients(&sts);

    let e = test(&c, &target(), TOKEN, Instant::now() + TEST_PATIENCE)
        .await
        .unwrap_err();

    assert_eq!(sts.num_calls(), 1, "a wrong user is not retried");
    match &e {
        Error::Rotation(m) => {
            assert!(m.contains(&format!("authenticates as {OTHER}")), "{m}");
            assert!(m.contains(USER_ARN), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
