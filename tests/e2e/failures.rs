//! Failure paths that the emulator can produce by itself: a Create or a replacing
//! Update that fails midway, an interrupted Create delivered again, the deadline, the
//! guardrails, and the response PUT under a failing ResponseURL.

use crate::harness::*;
use planton_iam_user::entry as handler;
use planton_iam_user::settings::Settings;
use serde_json::{json, Value};
use std::time::Duration;

const RO: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const MISSING: &str = "arn:aws:iam::123456789012:policy/does-not-exist";

/// A driver whose operator trusts [`MISSING`], so the policy judgement does not read it
/// (it would refuse it before any write) and the Create fails midway, at the attach.
async fn trusting_missing(logical_id: &str) -> Cfn {
    let mut cfn = Cfn::new(logical_id).await;
    cfn.app.settings.guardrails.trusted_policy_arns = vec![MISSING.into()];
    cfn
}

#[tokio::test]
async fn a_policy_that_cannot_be_read_is_refused_before_any_write() {
    let cfn = Cfn::new("MidwayJudged").await;
    let props = json!({"UserName": "fl-unreadable", "ManagedPolicyArns": [RO, MISSING]});
    let r = cfn.create(props.clone()).await;
    r.assert_failed(&["ManagedPolicyArns[1]", "could not be read", "NoSuchEntity"]);
    assert!(
        !user_state("fl-unreadable").await.exists,
        "nothing was made"
    );
    cfn.delete("fl-unreadable", props).await.assert_success();
}

#[tokio::test]
async fn a_create_that_fails_midway_removes_everything_it_made() {
    let cfn = trusting_missing("Midway").await;
    let props = json!({"UserName": "fl-midway", "ManagedPolicyArns": [RO, MISSING],
        "Tags": [{"Key": "t", "Value": "v"}]});
    let r = cfn.create(props.clone()).await;
    r.assert_failed(&[
        "attaching policy arn:aws:iam::123456789012:policy/does-not-exist to user fl-midway",
        "NoSuchEntity",
        "Everything this request created was removed",
    ]);
    assert_eq!(
        r.physical_id(),
        "fl-midway",
        "the deterministic id, for the rollback Delete"
    );
    assert!(!user_state("fl-midway").await.exists, "user removed");
    assert!(
        !secret_exists("planton/iam-user/fl-midway").await,
        "secret removed"
    );
    // The rollback Delete CloudFormation sends next is a safe no-op.
    cfn.delete("fl-midway", props).await.assert_success();
}

#[tokio::test]
async fn a_replacing_update_that_fails_removes_the_new_user_and_keeps_the_old_id() {
    let cfn = trusting_missing("ReplFail").await;
    let v1 = json!({"UserName": "fl-repl-old", "ManagedPolicyArns": [RO]});
    let v2 = json!({"UserName": "fl-repl-new", "ManagedPolicyArns": [RO, MISSING]});
    cfn.create(v1.clone()).await.assert_success();
    let old = user_state("fl-repl-old").await;
    let r = cfn.update("fl-repl-old", v2, v1).await;
    r.assert_failed(&["does-not-exist", "removed"]);
    assert_eq!(r.physical_id(), "fl-repl-old");
    assert!(!user_state("fl-repl-new").await.exists);
    assert!(!secret_exists("planton/iam-user/fl-repl-new").await);
    let now = user_state("fl-repl-old").await;
    assert_eq!(now.keys, old.keys, "the old user is untouched");
    assert_eq!(now.managed, old.managed);
}

#[tokio::test]
async fn an_interrupted_create_delivered_again_completes() {
    // The state a crash right after CreateUser and one attachment leaves behind.
    let (iam, _) = aws().await;
    iam.create_user()
        .user_name("fl-resume")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("planton:stack-id")
                .value(STACK)
                .build()
                .unwrap(),
        )
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("planton:logical-resource-id")
                .value("Resume")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("fl-resume")
        .policy_arn(RO)
        .send()
        .await
        .unwrap();
    let cfn = Cfn::new("Resume").await;
    let r = cfn
        .create(json!({"UserName": "fl-resume", "ManagedPolicyArns": [RO], "InlinePolicies": {"a": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}}))
        .await;
    r.assert_success();
    let u = user_state("fl-resume").await;
    assert_eq!(u.managed, vec![RO.to_string()]);
    assert_eq!(u.inline.len(), 1);
    assert_eq!(u.keys.len(), 1);
    assert_eq!(
        secret_value("planton/iam-user/fl-resume").await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
}

#[tokio::test]
async fn a_deadline_too_close_answers_failed_before_any_write() {
    let cfn = Cfn::new("Deadline").await;
    // 2 s left, 10 s margin: no new AWS call may start.
    let ctx = deadline_in(2);
    let event = cfn.event("Create", None, json!({"UserName": "fl-deadline"}), None);
    let r = cfn.send_with(event, ctx).await;
    r.assert_failed(&["timed out while reading the current state of user fl-deadline"]);
    assert_eq!(cfn.app.calls.snapshot().total(), 0);
    assert!(!user_state("fl-deadline").await.exists);
}

#[tokio::test]
async fn a_deadline_in_the_past_means_unknown_not_expired() {
    // `cargo lambda watch` sends a constant 600000 ms: a deadline in 1970.
    let cfn = Cfn::new("WatchDeadline").await;
    let mut ctx = lambda_runtime::Context::default();
    ctx.deadline = 600_000;
    let event = cfn.event("Create", None, json!({"UserName": "fl-watch"}), None);
    cfn.send_with(event, ctx).await.assert_success();
}

#[tokio::test]
async fn guardrails_refuse_before_any_call_and_fill_in_the_required_boundary() {
    let mut cfn = Cfn::new("Guarded").await;
    cfn.app.settings.guardrails = Settings::from_lookup(|k| match k {
        "PLANTON_ALLOWED_PATH_PREFIX" => Some("/service-accounts/".into()),
        "PLANTON_PERMISSIONS_BOUNDARY" => Some("arn:aws:iam::aws:policy/SecurityAudit".into()),
        "PLANTON_ALLOWED_GROUPS" => Some("fl-allowed".into()),
        "PLANTON_SECRET_KMS_KEY_ARN" => Some(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        ),
        _ => None,
    })
    .guardrails;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"UserName": "fl-g1"}),
            vec!["Path", "PLANTON_ALLOWED_PATH_PREFIX"],
        ),
        (
            json!({"UserName": "fl-g2", "Path": "/service-accounts/", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
            vec!["ManagedPolicyArns", "PLANTON_DENIED_POLICY_ARNS"],
        ),
        (
            json!({"UserName": "fl-g3", "Path": "/service-accounts/", "PermissionsBoundary": RO}),
            vec!["PermissionsBoundary", "PLANTON_PERMISSIONS_BOUNDARY"],
        ),
        (
            json!({"UserName": "fl-g4", "Path": "/service-accounts/", "Groups": ["admins"]}),
            vec!["Groups[0]", "PLANTON_ALLOWED_GROUPS"],
        ),
        (
            json!({"UserName": "fl-g5", "Path": "/service-accounts/", "InlinePolicies": {"esc": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}}}),
            vec!["InlinePolicies.esc", "PLANTON_ALLOW_PRIVILEGED_INLINE"],
        ),
        (
            json!({"UserName": "fl-g6", "Path": "/service-accounts/", "SecretKmsKeyId": "alias/somebody-elses"}),
            vec!["SecretKmsKeyId", "PLANTON_SECRET_KMS_KEY_ARN"],
        ),
    ];
    for (props, needles) in cases {
        let before = cfn.app.calls.snapshot();
        cfn.create(props.clone()).await.assert_failed(&needles);
        assert_eq!(
            cfn.app.calls.snapshot().since(&before).total(),
            0,
            "{props}"
        );
        assert!(!user_state(props["UserName"].as_str().unwrap()).await.exists);
    }
    cfn.create(json!({"UserName": "fl-g-ok", "Path": "/service-accounts/"}))
        .await
        .assert_success();
    let u = user_state("fl-g-ok").await;
    assert_eq!(
        u.boundary.as_deref(),
        Some("arn:aws:iam::aws:policy/SecurityAudit")
    );
}

#[tokio::test]
async fn the_answer_is_retried_on_5xx_and_not_on_403() {
    let cfn = Cfn::new("Put").await;
    let app = &cfn.app;
    let l = &cfn.listener;

    *l.statuses.lock().unwrap() = vec![500, 503, 200];
    let mut e = cfn.event("Delete", Some("fl-put-never"), json!({}), None);
    e["ResponseURL"] = json!(l.url("retry"));
    let r = handler::handle_value(app, e, lambda_runtime::Context::default()).await;
    assert!(r.is_ok(), "{r:?}");
    let puts = l.requests_for("retry");
    assert_eq!(puts.len(), 3, "two failures, then delivered");
    assert!(puts
        .iter()
        .all(|p| p.body == puts[0].body && p.header("content-type") == Some("")));

    *l.statuses.lock().unwrap() = vec![403];
    let mut e = cfn.event("Delete", Some("fl-put-never"), json!({}), None);
    e["ResponseURL"] = json!(l.url("denied"));
    let r = handler::handle_value(app, e, lambda_runtime::Context::default()).await;
    let err = r.expect_err("an answer S3 refused is an invocation error");
    assert!(err.to_string().contains("HTTP 403"), "{err}");
    assert!(
        !err.to_string().contains("presigned-secret"),
        "the signature is never shown: {err}"
    );
    assert_eq!(l.requests_for("denied").len(), 1, "a 403 is final");
}

#[tokio::test]
async fn an_unreachable_response_url_gives_up_within_the_deadline() {
    let cfn = Cfn::new("Unreachable").await;
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut e = cfn.event("Delete", Some("fl-unreach"), json!({}), None);
    e["ResponseURL"] = json!(format!("http://127.0.0.1:{port}/r?X-Amz-Signature=s"));
    let ctx = deadline_in(13);
    let started = std::time::Instant::now();
    let r = handler::handle_value(&cfn.app, e, ctx).await;
    assert!(r.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(13),
        "stopped before the Lambda deadline"
    );
}

#[test]
fn the_release_profile_keeps_panics_catchable() {
    // cargo lambda build defaults to panic = "abort" unless the profile says otherwise;
    // with abort, a panic would kill the process before it could answer FAILED.
    let manifest = include_str!("../../Cargo.toml");
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("a release profile");
    let release = release.split("\n[").next().unwrap();
    assert!(release.contains("panic = \"unwind\""), "{release}");
}

/// A setting the function cannot read refuses every request, naming the variable, and
/// nothing is made or removed; the scheduled callers fail their invocation the same way.
#[tokio::test]
async fn an_unreadable_setting_refuses_every_request_naming_it() {
    let mut cfn = Cfn::new("BadSetting").await;
    let props = json!({"UserName": "fl-bad-setting"});
    cfn.create(props.clone()).await.assert_success();
    let broken = Settings::from_lookup(|k| match k {
        "PLANTON_MAX_IN_FLIGHT" => Some("0".into()),
        "PLANTON_PERMISSIONS_BOUNDARY" => Some("not-an-arn".into()),
        _ => None,
    });
    cfn.app.settings.problems = broken.problems;
    for r in [
        cfn.create(json!({"UserName": "fl-bad-setting-2"})).await,
        cfn.update(
            "fl-bad-setting",
            json!({"UserName": "fl-bad-setting", "Tags": [{"Key": "a", "Value": "b"}]}),
            props.clone(),
        )
        .await,
        cfn.delete("fl-bad-setting", props.clone()).await,
    ] {
        r.assert_failed(&[
            "the function's configuration is invalid",
            "PLANTON_MAX_IN_FLIGHT",
            "PLANTON_PERMISSIONS_BOUNDARY",
        ]);
    }
    assert!(!user_state("fl-bad-setting-2").await.exists);
    let u = user_state("fl-bad-setting").await;
    assert!(u.exists && u.tag("a").is_none(), "nothing changed");
    let audit: Value = serde_json::from_str(include_str!("../../events/audit.json")).unwrap();
    let err = handler::handle_value(&cfn.app, audit, context())
        .await
        .expect_err("the audit fails its invocation");
    assert!(err.to_string().contains("PLANTON_MAX_IN_FLIGHT"), "{err}");
    cfn.app.settings.problems.clear();
    cfn.delete("fl-bad-setting", props).await.assert_success();
}
