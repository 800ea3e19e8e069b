//! Every validation rule, through the real handler: one FAILED answer naming the
//! property and the rule, no AWS call at all, nothing created.

use crate::harness::*;
use serde_json::{json, Value};

fn big_doc(chars: usize) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{}", "b".repeat(chars))}]})
}

fn cases() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let tags = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect()
    };
    let arns = |n: usize| -> Value {
        (0..n)
            .map(|i| json!(format!("arn:aws:iam::123456789012:policy/p{i}")))
            .collect()
    };
    let groups = |n: usize| -> Value { (0..n).map(|i| json!(format!("g{i}"))).collect() };
    vec![
        ("missing UserName", json!({}), vec!["UserName", "required"]),
        (
            "UserName too long",
            json!({"UserName": "u".repeat(65)}),
            vec!["UserName", "1-64"],
        ),
        (
            "UserName bad char",
            json!({"UserName": "has space"}),
            vec!["UserName", "letters, digits"],
        ),
        (
            "UserName wrong type",
            json!({"UserName": ["a"]}),
            vec!["UserName", "must be a string"],
        ),
        (
            "Path no slashes",
            json!({"UserName": "v-path", "Path": "ci"}),
            vec!["Path", "must be /"],
        ),
        (
            "Path too long",
            json!({"UserName": "v-path2", "Path": format!("/{}/", "p".repeat(511))}),
            vec!["Path", "at most 512"],
        ),
        (
            "policy ARN malformed",
            json!({"UserName": "v-arn", "ManagedPolicyArns": ["ReadOnlyAccess"]}),
            vec!["ManagedPolicyArns[0]", "managed policy ARN"],
        ),
        (
            "policy ARN bad partition",
            json!({"UserName": "v-arn2", "ManagedPolicyArns": ["arn:aws-xx:iam::aws:policy/ReadOnlyAccess"]}),
            vec!["ManagedPolicyArns[0]", "partition"],
        ),
        (
            "policy ARN other partition than the stack",
            json!({"UserName": "v-arn3", "ManagedPolicyArns": ["arn:aws-cn:iam::aws:policy/ReadOnlyAccess"]}),
            vec![
                "ManagedPolicyArns[0]",
                "partition aws-cn",
                "stack is in partition aws",
            ],
        ),
        (
            "policy ARN duplicate",
            json!({"UserName": "v-arn4", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"]}),
            vec!["ManagedPolicyArns[1]", "twice"],
        ),
        (
            "too many managed policies",
            json!({"UserName": "v-arn5", "ManagedPolicyArns": arns(21)}),
            vec!["ManagedPolicyArns", "at most 20"],
        ),
        (
            "ManagedPolicyArns not a list",
            json!({"UserName": "v-arn6", "ManagedPolicyArns": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            vec!["ManagedPolicyArns", "list of strings"],
        ),
        (
            "inline policy name",
            json!({"UserName": "v-in1", "InlinePolicies": {"bad name": {"Version": "2012-10-17", "Statement": []}}}),
            vec!["InlinePolicies.bad name", "letters, digits"],
        ),
        (
            "inline document invalid JSON",
            json!({"UserName": "v-in2", "InlinePolicies": {"p": "{not json"}}),
            vec!["InlinePolicies.p", "not valid JSON"],
        ),
        (
            "inline document no Version",
            json!({"UserName": "v-in3", "InlinePolicies": {"p": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}}),
            vec!["InlinePolicies.p", "2012-10-17"],
        ),
        (
            "inline document no Statement",
            json!({"UserName": "v-in4", "InlinePolicies": {"p": {"Version": "2012-10-17"}}}),
            vec!["InlinePolicies.p", "Statement"],
        ),
        (
            "inline documents over 2048",
            json!({"UserName": "v-in5", "InlinePolicies": {"a": big_doc(1000), "b": big_doc(1000)}}),
            vec!["InlinePolicies", "2048"],
        ),
        (
            "InlinePolicies not an object",
            json!({"UserName": "v-in6", "InlinePolicies": ["x"]}),
            vec!["InlinePolicies", "must be an object"],
        ),
        (
            "too many groups",
            json!({"UserName": "v-g1", "Groups": groups(11)}),
            vec!["Groups", "at most 10"],
        ),
        (
            "group twice",
            json!({"UserName": "v-g2", "Groups": ["Devs", "devs"]}),
            vec!["Groups[1]", "twice"],
        ),
        (
            "boundary malformed",
            json!({"UserName": "v-b1", "PermissionsBoundary": "Admin"}),
            vec!["PermissionsBoundary", "managed policy ARN"],
        ),
        (
            "too many tags",
            json!({"UserName": "v-t1", "Tags": tags(47)}),
            vec!["Tags", "at most 46"],
        ),
        (
            "aws: tag",
            json!({"UserName": "v-t2", "Tags": [{"Key": "aws:cloudformation:x", "Value": "v"}]}),
            vec!["Tags[0].Key", "aws: prefix"],
        ),
        (
            "planton: tag",
            json!({"UserName": "v-t3", "Tags": [{"Key": "planton:stack-id", "Value": "v"}]}),
            vec!["Tags[0].Key", "reserved"],
        ),
        (
            "tag key too long",
            json!({"UserName": "v-t4", "Tags": [{"Key": "k".repeat(129), "Value": "v"}]}),
            vec!["Tags[0].Key", "1-128"],
        ),
        (
            "tag value too long",
            json!({"UserName": "v-t5", "Tags": [{"Key": "k", "Value": "v".repeat(257)}]}),
            vec!["Tags[0].Value", "0-256"],
        ),
        (
            "tag duplicate",
            json!({"UserName": "v-t6", "Tags": [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]}),
            vec!["Tags[1].Key", "twice"],
        ),
        (
            "tags not a list",
            json!({"UserName": "v-t7", "Tags": {"team": "a"}}),
            vec!["Tags", "list of {Key, Value}"],
        ),
        (
            "DisableAccessKeys not a bool",
            json!({"UserName": "v-k1", "DisableAccessKeys": "yes"}),
            vec!["DisableAccessKeys", "true or false"],
        ),
        (
            "KeySerial negative",
            json!({"UserName": "v-k2", "KeySerial": "-1"}),
            vec!["KeySerial", "whole number"],
        ),
        (
            "KeyStatus unknown",
            json!({"UserName": "v-k3", "KeyStatus": "Disabled"}),
            vec!["KeyStatus", "Active or Inactive"],
        ),
        (
            "SecretName bad char",
            json!({"UserName": "v-s1", "SecretName": "has space"}),
            vec!["SecretName", "letters, digits"],
        ),
        (
            "SecretName too long",
            json!({"UserName": "v-s2", "SecretName": "s".repeat(257)}),
            vec!["SecretName", "1-256"],
        ),
        (
            "SecretKmsKeyId empty",
            json!({"UserName": "v-s3", "SecretKmsKeyId": ""}),
            vec!["SecretKmsKeyId", "KMS key"],
        ),
        (
            "unknown property",
            json!({"UserName": "v-u1", "Username": "x"}),
            vec!["Username", "not a property", "did you mean UserName"],
        ),
        (
            "properties not an object",
            json!("UserName=x"),
            vec!["ResourceProperties", "must be an object"],
        ),
    ]
}

#[tokio::test]
async fn every_rule_fails_clearly_before_any_aws_call() {
    let cfn = Cfn::new("Invalid").await;
    for (name, props, needles) in cases() {
        let before = cfn.app.calls.snapshot();
        let r = cfn.create(props.clone()).await;
        assert_eq!(r.status(), "FAILED", "{name}: {}", r.raw);
        for n in &needles {
            assert!(
                r.reason().contains(n),
                "{name}: Reason should contain {n:?}: {}",
                r.reason()
            );
        }
        assert!(
            r.reason().starts_with("invalid properties: "),
            "{name}: {}",
            r.reason()
        );
        let calls = cfn.app.calls.snapshot().since(&before);
        assert_eq!(
            calls.total(),
            0,
            "{name}: no AWS call before validation passes: {:?}",
            calls.calls
        );
        if let Some(user) = props.get("UserName").and_then(Value::as_str) {
            assert!(!user_state(user).await.exists, "{name}: nothing created");
            assert_eq!(
                r.physical_id(),
                if user.len() <= 64 && !user.contains(' ') {
                    user.to_string()
                } else {
                    "planton-iam-user-invalid-Invalid".to_string()
                },
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn all_violations_are_reported_at_once() {
    let cfn = Cfn::new("Many").await;
    let r = cfn
        .create(json!({"UserName": "bad name", "Path": "x", "KeyStatus": "On", "Tagz": []}))
        .await;
    r.assert_failed(&[
        "UserName:",
        "Path:",
        "KeyStatus:",
        "Tagz:",
        "did you mean Tags",
    ]);
}

#[tokio::test]
async fn an_invalid_update_fails_keeping_the_old_id_and_changes_nothing() {
    let cfn = Cfn::new("InvalidUpdate").await;
    let good = json!({"UserName": "v-upd", "Tags": [{"Key": "a", "Value": "1"}]});
    cfn.create(good.clone()).await.assert_success();
    let before = user_state("v-upd").await;
    let r = cfn
        .update(
            "v-upd",
            json!({"UserName": "v-upd", "Tags": [{"Key": "aws:x", "Value": "1"}]}),
            good,
        )
        .await;
    r.assert_failed(&["Tags[0].Key"]);
    assert_eq!(r.physical_id(), "v-upd", "a failed Update keeps its id");
    let after = user_state("v-upd").await;
    assert_eq!(before.tags, after.tags);
    assert_eq!(before.keys, after.keys);
}

#[tokio::test]
async fn a_scalar_sent_as_a_string_is_accepted() {
    let cfn = Cfn::new("Strings").await;
    let r = cfn
        .create(json!({"UserName": "v-strings", "DisableAccessKeys": "false", "KeySerial": "14", "KeyStatus": "Active"}))
        .await;
    r.assert_success();
    assert_eq!(user_state("v-strings").await.keys.len(), 1);
}

#[tokio::test]
async fn malformed_envelopes_still_get_one_failed_answer() {
    let cfn = Cfn::new("Envelope").await;
    let mut e = cfn.event("Create", None, json!({"UserName": "v-env"}), None);
    e["RequestType"] = json!("Upsert");
    cfn.send(e).await.assert_failed(&["RequestType", "Upsert"]);
    let e = cfn.event(
        "Update",
        None,
        json!({"UserName": "v-env"}),
        Some(json!({})),
    );
    cfn.send(e)
        .await
        .assert_failed(&["PhysicalResourceId is missing"]);
    let mut e = cfn.event("Create", None, json!({"UserName": "v-env"}), None);
    e.as_object_mut().unwrap().remove("StackId");
    cfn.send(e).await.assert_failed(&["StackId is missing"]);
    assert!(!user_state("v-env").await.exists);
}

#[tokio::test]
async fn an_event_without_a_response_url_is_an_invocation_error() {
    let app = app().await;
    for event in [
        json!({"RequestType": "Create"}),
        json!("hello"),
        json!({"ResponseURL": "ftp://x"}),
    ] {
        let r =
            planton_iam_user::entry::handle_value(&app, event, lambda_runtime::Context::default())
                .await;
        assert!(r.is_err(), "nobody to answer: the invocation itself fails");
    }
}
