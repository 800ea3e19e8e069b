//! The source-IP fence end to end: the exact policy IAM stores for IPv4, IPv6 and VPC
//! endpoints, the fence following Updates, and a fence that does not fit refused before
//! anything is made.

mod common;

use common::*;
use serde_json::{json, Value};

const FAULTS: Option<fn() -> FaultConfig> = None;

fn fence_of(u: &UserState) -> Option<Value> {
    u.inline
        .iter()
        .find(|(n, _)| n == "PlantonSourceFence")
        .map(|(_, d)| d.clone())
}

fn deny(condition: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PlantonDenyOutsideAllowedNetworks",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": condition
        }]
    })
}

#[tokio::test]
async fn the_fence_is_added_changed_and_removed_by_updates() {
    let cfn = Cfn::new("Fenced").await;
    let v4 = json!({"UserName": "fence-a", "AllowedSourceIps": ["198.51.100.7", "203.0.113.0/24"]});
    let v6 = json!({"UserName": "fence-a", "AllowedSourceIps": ["2001:DB8::/32"]});
    let vpce = json!({"UserName": "fence-a",
        "AllowedSourceIps": ["203.0.113.0/24"],
        "AllowedVpcEndpoints": ["vpce-0123456789abcdef0", "vpce-1a2b3c4d"]});
    let only_vpce = json!({"UserName": "fence-a", "AllowedVpcEndpoints": ["vpce-1a2b3c4d"]});
    let none = json!({"UserName": "fence-a", "InlinePolicies": {"read": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}});

    cfn.create(v4.clone()).await.assert_success();
    assert_eq!(
        fence_of(&user_state("fence-a").await),
        Some(deny(json!({
            "NotIpAddress": {"aws:SourceIp": ["198.51.100.7/32", "203.0.113.0/24"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    cfn.update("fence-a", v6.clone(), v4).await.assert_success();
    assert_eq!(
        fence_of(&user_state("fence-a").await),
        Some(deny(json!({
            "NotIpAddress": {"aws:SourceIp": ["2001:db8::/32"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    cfn.update("fence-a", vpce.clone(), v6)
        .await
        .assert_success();
    assert_eq!(
        fence_of(&user_state("fence-a").await),
        Some(deny(json!({
            "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]},
            "StringNotEquals": {"aws:SourceVpce": ["vpce-0123456789abcdef0", "vpce-1a2b3c4d"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    cfn.update("fence-a", only_vpce.clone(), vpce)
        .await
        .assert_success();
    assert_eq!(
        fence_of(&user_state("fence-a").await),
        Some(deny(json!({
            "StringNotEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    // Removed: the fence goes, the template's own inline policy stays.
    cfn.update("fence-a", none.clone(), only_vpce)
        .await
        .assert_success();
    let u = user_state("fence-a").await;
    assert_eq!(fence_of(&u), None);
    assert_eq!(u.inline.len(), 1);
    cfn.delete("fence-a", none).await.assert_success();
    assert!(!user_state("fence-a").await.exists);
}

#[tokio::test]
async fn a_fence_that_does_not_fit_is_refused_before_anything_is_made() {
    let cfn = Cfn::new("FenceTooBig").await;
    // 100 /32 addresses: each is small, together they pass IAM's 2048 characters.
    let ips: Vec<String> = (0..100).map(|i| format!("198.51.100.{i}")).collect();
    let r = cfn
        .create(json!({"UserName": "fence-big", "AllowedSourceIps": ips}))
        .await;
    r.assert_failed(&["AllowedSourceIps", "2048"]);
    assert!(!user_state("fence-big").await.exists, "nothing left behind");

    // On Update the old fence stays as it was.
    let small = json!({"UserName": "fence-big", "AllowedSourceIps": ["203.0.113.0/24"]});
    cfn.create(small.clone()).await.assert_success();
    let before = fence_of(&user_state("fence-big").await);
    let r = cfn
        .update(
            "fence-big",
            json!({"UserName": "fence-big", "AllowedSourceIps": ips}),
            small,
        )
        .await;
    r.assert_failed(&["AllowedSourceIps", "2048"]);
    assert_eq!(fence_of(&user_state("fence-big").await), before);
}

#[tokio::test]
async fn the_reserved_name_and_meaningless_fences_are_refused() {
    let cfn = Cfn::new("FenceBad").await;
    for (props, needles) in [
        (
            json!({"UserName": "fence-bad", "InlinePolicies": {"PlantonSourceFence": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}}),
            vec!["InlinePolicies.PlantonSourceFence", "reserved"],
        ),
        (
            json!({"UserName": "fence-bad", "AllowedSourceIps": ["0.0.0.0/0"]}),
            vec!["AllowedSourceIps[0]"],
        ),
        (
            json!({"UserName": "fence-bad", "AllowedSourceIps": ["::/0"]}),
            vec!["AllowedSourceIps[0]"],
        ),
        (
            json!({"UserName": "fence-bad", "AllowedSourceIps": []}),
            vec!["AllowedSourceIps", "omit"],
        ),
        (
            json!({"UserName": "fence-bad", "AllowedVpcEndpoints": ["vpc-123"]}),
            vec!["AllowedVpcEndpoints[0]", "vpce-"],
        ),
    ] {
        cfn.create(props).await.assert_failed(&needles);
        assert!(!user_state("fence-bad").await.exists);
    }
}
