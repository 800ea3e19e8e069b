//! Only CloudFormation can drive the resource (issue 13). Everyone who may deploy a
//! stack may also invoke the function with a payload of their own; these tests are that
//! caller. Forged Create, Update and Delete requests against a settled stack, an unknown
//! stack, or somebody else's physical id change nothing; a replacement's cleanup Delete,
//! a failed Create's rollback Delete and a failed Update's rollback still succeed; an
//! answer that would not go to CloudFormation is sent nowhere and nothing is done.
//!
//! The emulator plays CloudFormation (its model of each stack); `Cfn::send` shows the
//! stack waiting for each genuine request, `Cfn::send_unannounced` does not: what a
//! forger's request finds is whatever the test set.

use crate::harness::*;
use crate::support::set_stack_model;
use serde_json::{json, Value};

const RO: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const MISSING: &str = "arn:aws:iam::123456789012:policy/vr-does-not-exist";

fn stack(name: &str) -> String {
    format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/0a1b2c3d-2222-3333-4444-555555555555")
}

/// What CloudFormation says of `stack` and its `logical` resource from now on.
async fn cloudformation_says(
    stack: &str,
    status: &str,
    logical: &str,
    resource_status: &str,
    physical: Option<&str>,
) {
    set_stack_model(
        emulator_url(),
        &json!({"StackId": stack, "StackStatus": status, "Merge": true, "Resources": {logical: {
            "ResourceType": "Custom::PlantonIamUser", "ResourceStatus": resource_status,
            "PhysicalResourceId": physical}}}),
    )
    .await
    .unwrap();
}

async fn forged(cfn: &Cfn, event: Value) -> Response {
    cfn.send_unannounced(event, context()).await
}

#[tokio::test]
async fn forged_requests_against_a_settled_stack_change_nothing() {
    let settled = stack("vf-settled");
    let victim = Cfn::with_app(app().await, &settled, "Victim").await;
    let props = json!({"UserName": "vf-victim", "ManagedPolicyArns": [RO]});
    victim.create(props.clone()).await.assert_success();
    cloudformation_says(
        &settled,
        "UPDATE_COMPLETE",
        "Victim",
        "UPDATE_COMPLETE",
        Some("vf-victim"),
    )
    .await;
    let before = user_state("vf-victim").await;
    let why = [
        "CloudFormation does not stand behind this request",
        "UPDATE_COMPLETE",
        "nothing was changed",
    ];

    // Delete the victim's user, with every id copied from its tags.
    forged(
        &victim,
        victim.event("Delete", Some("vf-victim"), props.clone(), None),
    )
    .await
    .assert_failed(&why);
    // Update it to mint a key into a secret the forger chose.
    let evil = json!({"UserName": "vf-victim", "ManagedPolicyArns": [RO],
                      "SecretName": "planton/iam-user/vf-forger-reads-this", "KeySerial": "9"});
    forged(
        &victim,
        victim.event("Update", Some("vf-victim"), evil, Some(props.clone())),
    )
    .await
    .assert_failed(&why);
    // Create another user in the victim's name.
    forged(
        &victim,
        victim.event("Create", None, json!({"UserName": "vf-forged-new"}), None),
    )
    .await
    .assert_failed(&why);

    let after = user_state("vf-victim").await;
    assert!(after.exists);
    assert_eq!(
        (after.keys, after.tags, after.managed),
        (before.keys, before.tags, before.managed)
    );
    assert!(!secret_exists("planton/iam-user/vf-forger-reads-this").await);
    assert!(!user_state("vf-forged-new").await.exists);

    // A stack CloudFormation does not know at all.
    let ghost = Cfn::with_app(app().await, &stack("vf-no-such-stack"), "Ghost").await;
    forged(
        &ghost,
        ghost.event("Create", None, json!({"UserName": "vf-ghost"}), None),
    )
    .await
    .assert_failed(&["knows no such stack"]);
    assert!(!user_state("vf-ghost").await.exists);

    // The forger's own stack, mid-Delete, naming the victim's user: CloudFormation holds
    // another physical id for that logical id.
    let own = stack("vf-forgers-own");
    let forger = Cfn::with_app(app().await, &own, "Mine").await;
    forger
        .create(json!({"UserName": "vf-forger"}))
        .await
        .assert_success();
    cloudformation_says(
        &own,
        "DELETE_IN_PROGRESS",
        "Mine",
        "DELETE_IN_PROGRESS",
        Some("vf-forger"),
    )
    .await;
    forged(
        &forger,
        forger.event("Delete", Some("vf-victim"), props.clone(), None),
    )
    .await
    .assert_failed(&["names physical id vf-victim", "vf-forger"]);
    assert!(user_state("vf-victim").await.exists);
    // A logical id the stack declares as something else.
    set_stack_model(emulator_url(), &json!({"StackId": own, "StackStatus": "DELETE_IN_PROGRESS", "Merge": true,
        "Resources": {"Bucket": {"ResourceType": "AWS::S3::Bucket", "ResourceStatus": "DELETE_IN_PROGRESS", "PhysicalResourceId": "vf-victim"}}}))
        .await
        .unwrap();
    let bucket = Cfn::with_app(app().await, &own, "Bucket").await;
    forged(
        &bucket,
        bucket.event("Delete", Some("vf-victim"), props.clone(), None),
    )
    .await
    .assert_failed(&["AWS::S3::Bucket"]);
    assert!(user_state("vf-victim").await.exists);

    forger
        .delete("vf-forger", json!({"UserName": "vf-forger"}))
        .await
        .assert_success();
    victim.delete("vf-victim", props).await.assert_success();
    assert!(!user_state("vf-victim").await.exists);
}

#[tokio::test]
async fn a_replacement_and_its_cleanup_delete_succeed() {
    let s = stack("vr-replacing");
    let cfn = Cfn::with_app(app().await, &s, "Replaced").await;
    let v1 = json!({"UserName": "vr-old"});
    let v2 = json!({"UserName": "vr-new"});
    cfn.create(v1.clone()).await.assert_success();
    let r = cfn.update("vr-old", v2.clone(), v1.clone()).await;
    r.assert_success();
    assert_eq!(r.physical_id(), "vr-new");
    // The cleanup phase: the logical id already holds the new user, settled.
    cloudformation_says(
        &s,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "Replaced",
        "UPDATE_COMPLETE",
        Some("vr-new"),
    )
    .await;
    forged(&cfn, cfn.event("Delete", Some("vr-old"), v1.clone(), None))
        .await
        .assert_success();
    assert!(
        !user_state("vr-old").await.exists,
        "the replaced user is cleaned up"
    );
    // The same phase never deletes the current user.
    forged(&cfn, cfn.event("Delete", Some("vr-new"), v2.clone(), None))
        .await
        .assert_failed(&["cleanup"]);
    assert!(user_state("vr-new").await.exists);
    // And after a rolled-back replacement, the cleanup deletes the new one.
    cloudformation_says(
        &s,
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "Replaced",
        "UPDATE_COMPLETE",
        Some("vr-old"),
    )
    .await;
    forged(&cfn, cfn.event("Delete", Some("vr-new"), v2.clone(), None))
        .await
        .assert_success();
    assert!(!user_state("vr-new").await.exists);
}

#[tokio::test]
async fn rollbacks_of_a_failed_create_and_a_failed_update_succeed() {
    let s = stack("vb-rolling-back");
    let mut cfn = Cfn::with_app(app().await, &s, "Failing").await;
    // Trusted, so the judgement does not read it and the Create fails at the attach.
    cfn.app.settings.guardrails.trusted_policy_arns = vec![MISSING.into()];
    let bad = json!({"UserName": "vb-user", "ManagedPolicyArns": [RO, MISSING]});
    let r = cfn.create(bad.clone()).await;
    r.assert_failed(&["NoSuchEntity"]);
    assert_eq!(r.physical_id(), "vb-user");
    cloudformation_says(
        &s,
        "ROLLBACK_IN_PROGRESS",
        "Failing",
        "DELETE_IN_PROGRESS",
        Some("vb-user"),
    )
    .await;
    forged(
        &cfn,
        cfn.event("Delete", Some("vb-user"), bad.clone(), None),
    )
    .await
    .assert_success();

    let good = json!({"UserName": "vb-user", "ManagedPolicyArns": [RO], "Tags": [{"Key": "v", "Value": "1"}]});
    cfn.create(good.clone()).await.assert_success();
    let before = user_state("vb-user").await;
    let worse = json!({"UserName": "vb-user", "ManagedPolicyArns": [RO, MISSING], "Tags": [{"Key": "v", "Value": "2"}]});
    cfn.update("vb-user", worse.clone(), good.clone())
        .await
        .assert_failed(&["NoSuchEntity"]);
    // CloudFormation rolls the Update back with the properties swapped.
    cloudformation_says(
        &s,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "Failing",
        "UPDATE_IN_PROGRESS",
        Some("vb-user"),
    )
    .await;
    forged(
        &cfn,
        cfn.event("Update", Some("vb-user"), good.clone(), Some(worse)),
    )
    .await
    .assert_success();
    let after = user_state("vb-user").await;
    assert_eq!(after.managed, before.managed);
    assert_eq!(after.tag("v"), Some("1"));
    cfn.delete("vb-user", good).await.assert_success();
}

#[tokio::test]
async fn an_answer_that_would_not_go_to_cloudformation_is_sent_nowhere_and_nothing_is_done() {
    let mut cfn = Cfn::new("NotCloudFormation").await;
    // As in AWS: no extra prefix trusted, so the local listener is just some http host.
    cfn.app.settings.response_url_prefixes = Vec::new();
    for (i, url) in [
        cfn.listener.url("elsewhere"),
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.example/x".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("vu-{i}");
        let mut e = cfn.event("Create", None, json!({"UserName": name}), None);
        e["ResponseURL"] = json!(url);
        crate::support::cloudformation_is_waiting_for(emulator_url(), &e).await;
        let r = planton_iam_user::entry::handle_value(&cfn.app, e, context()).await;
        let err = r.expect_err("the invocation fails").to_string();
        assert!(err.contains("CloudFormation's response bucket"), "{err}");
        assert!(!user_state(&name).await.exists, "no work done");
    }
    assert!(cfn.listener.requests_for("elsewhere").is_empty(), "no PUT");
}
