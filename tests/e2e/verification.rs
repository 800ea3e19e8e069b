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

/// Issue 22: a Create is acted on only for a resource this function serves, being
/// created, with no physical id yet. A forger who may deploy stacks tries both ways
/// around that: a Create naming a `WaitCondition` in a stack of their own that is being
/// created right now (claiming that type, or this one), whose user CloudFormation would
/// never delete; and a Create naming another team's resource while CloudFormation
/// updates it in place, whose user would be tagged and reported as theirs. Neither
/// makes anything.
#[tokio::test]
async fn a_forged_create_for_a_resource_that_is_not_being_created_makes_nothing() {
    let own = stack("vc-forgers-own");
    set_stack_model(
        emulator_url(),
        &json!({"StackId": own, "StackStatus": "CREATE_IN_PROGRESS", "Merge": true, "Resources": {
            "Wait": {"ResourceType": "AWS::CloudFormation::WaitCondition",
                     "ResourceStatus": "CREATE_IN_PROGRESS", "PhysicalResourceId": null}}}),
    )
    .await
    .unwrap();
    let wait = Cfn::with_app(app().await, &own, "Wait").await;
    let props = json!({"UserName": "vc-orphan"});
    let mut as_wait = wait.event("Create", None, props.clone(), None);
    as_wait["ResourceType"] = json!("AWS::CloudFormation::WaitCondition");
    forged(&wait, as_wait).await.assert_failed(&[
        "CloudFormation does not stand behind this request",
        "AWS::CloudFormation::WaitCondition",
        "does not serve",
    ]);
    forged(&wait, wait.event("Create", None, props, None))
        .await
        .assert_failed(&["AWS::CloudFormation::WaitCondition", "does not serve"]);
    assert!(!user_state("vc-orphan").await.exists);

    // Another team's resource, updated in place by its own stack right now.
    let theirs = stack("vc-victims");
    let victim = Cfn::with_app(app().await, &theirs, "Victim").await;
    let victim_props = json!({"UserName": "vc-victim"});
    victim.create(victim_props.clone()).await.assert_success();
    for (stack_status, resource_status) in [
        ("UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_IN_PROGRESS"),
        ("DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS"),
    ] {
        cloudformation_says(
            &theirs,
            stack_status,
            "Victim",
            resource_status,
            Some("vc-victim"),
        )
        .await;
        let e = victim.event("Create", None, json!({"UserName": "vc-impostor"}), None);
        forged(&victim, e)
            .await
            .assert_failed(&[resource_status, "sends a Create only while it creates"]);
        assert!(!user_state("vc-impostor").await.exists, "{stack_status}");
    }
    // Being created, but already holding an id: not a Create CloudFormation would send.
    cloudformation_says(
        &theirs,
        "UPDATE_IN_PROGRESS",
        "Victim",
        "CREATE_IN_PROGRESS",
        Some("vc-victim"),
    )
    .await;
    let e = victim.event("Create", None, json!({"UserName": "vc-impostor"}), None);
    forged(&victim, e)
        .await
        .assert_failed(&["already is vc-victim"]);
    assert!(!user_state("vc-impostor").await.exists);
    let u = user_state("vc-victim").await;
    assert_eq!(u.tag("planton:logical-resource-id"), Some("Victim"));
    victim
        .delete("vc-victim", victim_props)
        .await
        .assert_success();
}

/// The generic custom resource type, which a template may declare this function's
/// resource as, is served like `Custom::PlantonIamUser`: CloudFormation reports the type
/// but not the ServiceToken, so it is accepted (docs/security.md says what that leaves).
#[tokio::test]
async fn the_generic_custom_resource_type_is_served() {
    let cfn = Cfn::with_app(app().await, &stack("vg-generic"), "Generic").await;
    let props = json!({"UserName": "vg-user"});
    let mut create = cfn.event("Create", None, props.clone(), None);
    create["ResourceType"] = json!("AWS::CloudFormation::CustomResource");
    cfn.send(create).await.assert_success();
    assert!(user_state("vg-user").await.exists);
    let mut delete = cfn.event("Delete", Some("vg-user"), props, None);
    delete["ResourceType"] = json!("AWS::CloudFormation::CustomResource");
    cfn.send(delete).await.assert_success();
    assert!(!user_state("vg-user").await.exists);
}

/// Issue 22: `PLANTON_RESPONSE_URL_PREFIXES` is a list of URLs, not text. The operator
/// trusts `http://127.0.0.1:1`; the forger's ResponseURL starts with exactly that text,
/// but what precedes its `@` is a user name and its host is the forger's listener
/// (here the test's). As a text prefix it passed and the answer, with the request's
/// ids, went to the forger; now it gets no PUT and no work. The listener's own URL, on
/// another port than the trusted one, does not pass either.
#[tokio::test]
async fn a_user_name_in_the_response_url_does_not_pass_for_a_trusted_host() {
    let mut cfn = Cfn::new("UrlUserInfo").await;
    cfn.app.settings.response_url_prefixes =
        vec![planton_iam_user::settings::UrlPrefix::parse("http://127.0.0.1:1").unwrap()];
    // The listener's own URL names another port than 1, so it is refused too.
    let listener = cfn.listener.url("forger");
    let userinfo = listener.replace("http://", "http://127.0.0.1:1@");
    assert!(userinfo.starts_with("http://127.0.0.1:1"), "{userinfo}");
    for (i, url) in [userinfo, listener].into_iter().enumerate() {
        let name = format!("vu-userinfo-{i}");
        let mut e = cfn.event("Create", None, json!({"UserName": name}), None);
        e["ResponseURL"] = json!(url);
        crate::support::cloudformation_is_waiting_for(emulator_url(), &e).await;
        let r = planton_iam_user::entry::handle_value(&cfn.app, e, context()).await;
        let err = r.expect_err("the invocation fails").to_string();
        assert!(err.contains("CloudFormation's response bucket"), "{err}");
        if i == 0 {
            assert!(err.contains("user name"), "{err}");
        }
        assert!(!user_state(&name).await.exists, "no work done");
    }
    assert!(cfn.listener.requests_for("forger").is_empty(), "no PUT");
}
