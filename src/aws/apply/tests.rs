//! The executor's compensation on mocked clients: a key whose secret cannot be written
//! is deleted again, so no key ever lives without a secret holding it.

use super::*;
use crate::aws::clients::mocked;
use crate::model::plan::Step;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use aws_sdk_secretsmanager::operation::update_secret::UpdateSecretOutput;
use aws_smithy_mocks::mock;

const USER: &str = "svc-ci";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/svc-ci";
const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/0f1e2d3c";
const SECRET: &str = "planton/iam-user/svc-ci";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:planton/iam-user/svc-ci-AbCdEf";
const NEW_KEY: &str = "AKIANEWKEY0000000002";

fn issue_key(store: Store) -> Plan {
    Plan {
        steps: vec![Step {
            change: Change::IssueKey {
                status: KeyStatus::Active,
                store,
            },
            after: vec![],
        }],
    }
}

/// Runs `plan` for USER, whose ARN is already known, and returns its result, the
/// outcome, and the key the budget still holds as minted but not stored.
async fn run(c: &Clients, plan: &Plan) -> (Result<()>, Outcome, Option<(String, String)>) {
    let budget = Budget {
        max_in_flight: 4,
        ..Budget::default()
    };
    let ex = Executor::new(c, USER, STACK, &budget);
    ex.set_known(Outcome {
        user_arn: Some(USER_ARN.into()),
        ..Outcome::default()
    });
    let r = ex.run(plan).await;
    (r, ex.outcome(), budget.progress.take_unstored_key())
}

#[tokio::test]
async fn a_key_whose_new_secret_fails_is_deleted_again() {
    let minted = mocked::minted_key(USER, NEW_KEY);
    let (delete, deleted) = mocked::recording_delete(USER);
    let store = mock!(aws_sdk_secretsmanager::Client::create_secret)
        .match_requests(|r| {
            r.name() == Some(SECRET) && r.secret_string().is_some_and(|s| s.contains(NEW_KEY))
        })
        .then_error(|| CreateSecretError::EncryptionFailure(mocked::encryption_failure()));
    let c = mocked::clients(&[&minted, &delete], &[&store], &[]);
    let plan = issue_key(Store::Create {
        name: SECRET.into(),
        kms_key_id: None,
        tags: vec![("planton:stack-id".into(), STACK.into())],
        grace_hours: None,
    });

    let (r, outcome, unstored) = run(&c, &plan).await;

    match r {
        Err(Error::Aws { action, code, .. }) => {
            assert_eq!(action, format!("creating secret {SECRET}"));
            assert_eq!(code, "EncryptionFailure");
        }
        other => panic!("expected the store's error, got {other:?}"),
    }
    assert_eq!((minted.num_calls(), store.num_calls()), (1, 1));
    assert_eq!(
        *deleted.lock().unwrap(),
        vec![NEW_KEY.to_string()],
        "the key minted for the failed store, and only it, is deleted"
    );
    assert!(
        !outcome.key_issued && !outcome.secret_created,
        "{outcome:?}"
    );
    assert_eq!(
        unstored, None,
        "the deadline guard has nothing left to clean up"
    );
}

#[tokio::test]
async fn a_key_whose_new_version_fails_is_deleted_again() {
    let minted = mocked::minted_key(USER, NEW_KEY);
    let (delete, deleted) = mocked::recording_delete(USER);
    let store = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
        .match_requests(|r| {
            r.secret_id() == Some(SECRET_ARN)
                && r.secret_string().is_some_and(|s| s.contains(NEW_KEY))
        })
        .then_error(|| PutSecretValueError::EncryptionFailure(mocked::encryption_failure()));
    let record = mock!(aws_sdk_secretsmanager::Client::update_secret)
        .match_requests(|r| {
            r.secret_id() == Some(SECRET_ARN)
                && r.description().is_some_and(|d| d.contains(NEW_KEY))
                && r.secret_string().is_none()
        })
        .then_output(|| UpdateSecretOutput::builder().build());
    let c = mocked::clients(&[&minted, &delete], &[&record, &store], &[]);
    let plan = issue_key(Store::Put {
        secret_id: SECRET_ARN.into(),
        restore: false,
        description: String::new(),
        key_versions: vec![],
    });

    let (r, outcome, unstored) = run(&c, &plan).await;

    let e = r.unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "storing the new access key in secret {SECRET_ARN}: EncryptionFailure"
        )),
        "{e}"
    );
    assert_eq!(*deleted.lock().unwrap(), vec![NEW_KEY.to_string()]);
    assert!(!outcome.key_issued, "{outcome:?}");
    assert_eq!(unstored, None);
}
