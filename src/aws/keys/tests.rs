use super::*;
use crate::aws::clients::mocked::{self, error_meta};
use aws_sdk_iam::operation::delete_access_key::{DeleteAccessKeyError, DeleteAccessKeyOutput};
use aws_sdk_iam::operation::update_access_key::{UpdateAccessKeyError, UpdateAccessKeyOutput};
use aws_sdk_iam::types::error::{NoSuchEntityException, ServiceFailureException};
use aws_smithy_mocks::mock;

const USER: &str = "svc-ci";
const KEY: &str = "AKIAMOCKEDKEY0000001";

#[test]
fn secret_string_debug_is_redacted() {
    let s = credentials_json("AKIAEXAMPLE", "wJalrXUtnFEMI", "u", "arn:aws:iam::1:user/u");
    let shown = format!("{s:?}");
    assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
    assert!(s.0.contains("wJalrXUtnFEMI"));
    let v: serde_json::Value = serde_json::from_str(&s.0).unwrap();
    for k in ["AccessKeyId", "SecretAccessKey", "UserName", "UserArn"] {
        assert!(v.get(k).is_some(), "{k}");
    }
}

fn no_such_entity() -> NoSuchEntityException {
    NoSuchEntityException::builder()
        .message("The Access Key with id AKIAMOCKEDKEY0000001 cannot be found.")
        .meta(error_meta("NoSuchEntity"))
        .build()
}

fn service_failure() -> ServiceFailureException {
    ServiceFailureException::builder()
        .message("mocked ServiceFailure")
        .meta(error_meta("ServiceFailure"))
        .build()
}

#[tokio::test]
async fn deleting_a_key_already_gone_succeeds() {
    let gone = mock!(aws_sdk_iam::Client::delete_access_key)
        .match_requests(|r| r.user_name() == Some(USER) && r.access_key_id() == Some(KEY))
        .then_error(|| DeleteAccessKeyError::NoSuchEntityException(no_such_entity()));
    let c = mocked::clients(&[&gone], &[], &[]);
    delete_key(&c.iam, USER, KEY, " to make room")
        .await
        .unwrap();
    assert_eq!(gone.num_calls(), 1);

    let deleted = mock!(aws_sdk_iam::Client::delete_access_key)
        .then_output(|| DeleteAccessKeyOutput::builder().build());
    let c = mocked::clients(&[&deleted], &[], &[]);
    delete_key(&c.iam, USER, KEY, "").await.unwrap();
    assert_eq!(deleted.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_delete_fails_and_names_the_user() {
    let failing = mock!(aws_sdk_iam::Client::delete_access_key)
        .then_error(|| DeleteAccessKeyError::ServiceFailureException(service_failure()));
    let c = mocked::clients(&[&failing], &[], &[]);
    let e = delete_key(&c.iam, USER, KEY, " to make room for the new one")
        .await
        .unwrap_err();
    match &e {
        Error::Aws { action, code, .. } => {
            assert_eq!(
                action,
                "deleting an access key of user svc-ci to make room for the new one"
            );
            assert_eq!(code, "ServiceFailure");
        }
        other => panic!("expected an AWS error, got {other:?}"),
    }
    assert!(e.to_string().contains(USER), "{e}");
}

#[tokio::test]
async fn deactivating_a_key_already_gone_is_nothing_to_do() {
    let gone = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(|r| {
            r.user_name() == Some(USER)
                && r.access_key_id() == Some(KEY)
                && r.status() == Some(&StatusType::Inactive)
        })
        .then_error(|| UpdateAccessKeyError::NoSuchEntityException(no_such_entity()));
    let c = mocked::clients(&[&gone], &[], &[]);
    let deactivated = deactivate_key(&c.iam, USER, KEY, "the previous access key")
        .await
        .unwrap();
    assert!(!deactivated, "a key already gone was not deactivated");
    assert_eq!(gone.num_calls(), 1);

    let found = mock!(aws_sdk_iam::Client::update_access_key)
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let c = mocked::clients(&[&found], &[], &[]);
    assert!(deactivate_key(&c.iam, USER, KEY, "the previous access key")
        .await
        .unwrap());

    let failing = mock!(aws_sdk_iam::Client::update_access_key)
        .then_error(|| UpdateAccessKeyError::ServiceFailureException(service_failure()));
    let c = mocked::clients(&[&failing], &[], &[]);
    let e = deactivate_key(&c.iam, USER, KEY, "idle key AKIA...")
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("deactivating idle key AKIA... of user svc-ci: ServiceFailure"),
        "{e}"
    );
}
