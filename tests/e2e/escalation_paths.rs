//! Issue 22, layer 2, end to end: every published escalation path
//! (tests/policies/paths.json, the pinned public sources) is refused before any write
//! whichever way a template hands it to a user: as an inline policy, as a customer
//! managed policy, as a group's inline policy, and split across two documents (an
//! inline policy and a managed one, judged together).

use crate::harness::*;
use futures::StreamExt;
use serde_json::{json, Value};
use std::path::PathBuf;

fn paths() -> Vec<(String, Vec<String>)> {
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/policies/paths.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // Paths through a service AWS discontinued cannot be walked: no policy can grant
    // their actions (the unit test counts them).
    let retired: Vec<&str> = file["unknown_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["reason"].as_str().unwrap().contains("discontinued"))
        .flat_map(|u| {
            u["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
        })
        .collect();
    file["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !retired.contains(&p["id"].as_str().unwrap()))
        .map(|p| {
            let spelled = p["spelling"].as_array().unwrap();
            (
                p["id"].as_str().unwrap().to_string(),
                spelled
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn allow(actions: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
}

/// A Create that must be refused with `needles` in its Reason and leave no user.
async fn refused(cfn: &Cfn, id: &str, shape: &str, props: Value, needles: &[&str]) {
    let name = props["UserName"].as_str().unwrap().to_string();
    let r = cfn.create(props).await;
    assert_eq!(r.status(), "FAILED", "{id} as {shape}: {}", r.raw);
    for n in needles {
        assert!(
            r.reason().contains(n),
            "{id} as {shape}: {n:?} not in {}",
            r.reason()
        );
    }
    assert!(
        !user_state(&name).await.exists,
        "{id} as {shape}: refused before any write"
    );
}

async fn try_path(cfn: &Cfn, i: usize, id: &str, actions: &[String]) {
    let (iam, _) = aws().await;
    let doc = allow(actions);
    // Inline.
    refused(
        cfn,
        id,
        "an inline policy",
        json!({"UserName": format!("ep-{i}-i"), "InlinePolicies": {"path": doc}}),
        &["InlinePolicies.path"],
    )
    .await;
    // A customer managed policy.
    let arn = iam
        .create_policy()
        .policy_name(format!("ep-{i}"))
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    refused(
        cfn,
        id,
        "a managed policy",
        json!({"UserName": format!("ep-{i}-m"), "ManagedPolicyArns": [arn]}),
        &["ManagedPolicyArns[0]", &arn],
    )
    .await;
    // A group's inline policy.
    let group = format!("ep-{i}-g");
    create_group(&group).await;
    iam.put_group_policy()
        .group_name(&group)
        .policy_name("path")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();
    refused(
        cfn,
        id,
        "a group's inline policy",
        json!({"UserName": format!("ep-{i}-gu"), "Groups": [group]}),
        &["Groups[0]", "inline policy path"],
    )
    .await;
    // Split: the first action inline, the rest in a managed policy.
    if actions.len() > 1 {
        let rest = iam
            .create_policy()
            .policy_name(format!("ep-{i}-rest"))
            .policy_document(allow(&actions[1..]).to_string())
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap();
        refused(
            cfn,
            id,
            "two documents",
            json!({"UserName": format!("ep-{i}-s"), "InlinePolicies": {"first": allow(&actions[..1])},
                   "ManagedPolicyArns": [rest]}),
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn every_published_path_is_refused_every_way_before_any_write() {
    let cfn = Cfn::new("EscalationPaths").await;
    let all = paths();
    assert!(all.len() >= 100, "{} paths", all.len());
    // Eight at a time: each path's four requests depend on nothing the others make.
    futures::stream::iter(all.iter().enumerate())
        .for_each_concurrent(8, |(i, (id, actions))| {
            let cfn = &cfn;
            async move { try_path(cfn, i, id, actions).await }
        })
        .await;
    println!(
        "published paths: {} refused as inline, managed, group and split policies",
        all.len()
    );
}
