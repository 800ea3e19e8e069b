//! The source-IP fence end to end: the exact policy IAM stores for IPv4, IPv6 and VPC
//! endpoints, the fence following Updates, and a fence that does not fit refused before
//! anything is made. Each scenario runs under both profiles (`fence::direct::*`,
//! `fence::faulty::*`).

use crate::harness::*;
use serde_json::{json, Value};

both_profiles!(
    the_fence_is_added_changed_and_removed_by_updates,
    a_fence_that_does_not_fit_is_refused_before_anything_is_made,
    the_reserved_name_and_meaningless_fences_are_refused,
);

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

async fn the_fence_is_added_changed_and_removed_by_updates(h: &Harness) {
    let user = h.name("fence-a");
    let cfn = h.cfn("Fenced").await;
    let v4 = json!({"UserName": user, "AllowedSourceIps": ["198.51.100.7", "203.0.113.0/24"]});
    let v6 = json!({"UserName": user, "AllowedSourceIps": ["2001:DB8::/32"]});
    let vpce = json!({"UserName": user,
        "AllowedSourceIps": ["203.0.113.0/24"],
        "AllowedVpcEndpoints": ["vpce-0123456789abcdef0", "vpce-1a2b3c4d"]});
    let only_vpce = json!({"UserName": user, "AllowedVpcEndpoints": ["vpce-1a2b3c4d"]});
    let none = json!({"UserName": user, "InlinePolicies": {"read": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}});

    cfn.create(v4.clone()).await.assert_success();
    assert_eq!(
        fence_of(&user_state(&user).await),
        Some(deny(json!({
            "NotIpAddress": {"aws:SourceIp": ["198.51.100.7/32", "203.0.113.0/24"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    cfn.update(&user, v6.clone(), v4).await.assert_success();
    assert_eq!(
        fence_of(&user_state(&user).await),
        Some(deny(json!({
            "NotIpAddress": {"aws:SourceIp": ["2001:db8::/32"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    cfn.update(&user, vpce.clone(), v6).await.assert_success();
    assert_eq!(
        fence_of(&user_state(&user).await),
        Some(deny(json!({
            "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]},
            "StringNotEquals": {"aws:SourceVpce": ["vpce-0123456789abcdef0", "vpce-1a2b3c4d"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    cfn.update(&user, only_vpce.clone(), vpce)
        .await
        .assert_success();
    assert_eq!(
        fence_of(&user_state(&user).await),
        Some(deny(json!({
            "StringNotEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"}
        })))
    );

    // Removed: the fence goes, the template's own inline policy stays.
    cfn.update(&user, none.clone(), only_vpce)
        .await
        .assert_success();
    let u = user_state(&user).await;
    assert_eq!(fence_of(&u), None);
    assert_eq!(u.inline.len(), 1);
    cfn.delete(&user, none).await.assert_success();
    assert!(!user_state(&user).await.exists);
}

async fn a_fence_that_does_not_fit_is_refused_before_anything_is_made(h: &Harness) {
    let user = h.name("fence-big");
    let cfn = h.cfn("FenceTooBig").await;
    // 100 /32 addresses: each is small, together they pass IAM's 2048 characters.
    let ips: Vec<String> = (0..100).map(|i| format!("198.51.100.{i}")).collect();
    let r = cfn
        .create(json!({"UserName": user, "AllowedSourceIps": ips}))
        .await;
    r.assert_failed(&["AllowedSourceIps", "2048"]);
    assert!(!user_state(&user).await.exists, "nothing left behind");

    // On Update the old fence stays as it was.
    let small = json!({"UserName": user, "AllowedSourceIps": ["203.0.113.0/24"]});
    cfn.create(small.clone()).await.assert_success();
    let before = fence_of(&user_state(&user).await);
    let r = cfn
        .update(
            &user,
            json!({"UserName": user, "AllowedSourceIps": ips}),
            small,
        )
        .await;
    r.assert_failed(&["AllowedSourceIps", "2048"]);
    assert_eq!(fence_of(&user_state(&user).await), before);
}

async fn the_reserved_name_and_meaningless_fences_are_refused(h: &Harness) {
    let user = h.name("fence-bad");
    let cfn = h.cfn("FenceBad").await;
    for (props, needles) in [
        (
            json!({"UserName": user, "InlinePolicies": {"PlantonSourceFence": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}}),
            vec!["InlinePolicies.PlantonSourceFence", "reserved"],
        ),
        (
            json!({"UserName": user, "AllowedSourceIps": ["0.0.0.0/0"]}),
            vec!["AllowedSourceIps[0]"],
        ),
        (
            json!({"UserName": user, "AllowedSourceIps": ["::/0"]}),
            vec!["AllowedSourceIps[0]"],
        ),
        (
            json!({"UserName": user, "AllowedSourceIps": []}),
            vec!["AllowedSourceIps", "omit"],
        ),
        (
            json!({"UserName": user, "AllowedVpcEndpoints": ["vpc-123"]}),
            vec!["AllowedVpcEndpoints[0]", "vpce-"],
        ),
    ] {
        cfn.create(props).await.assert_failed(&needles);
        assert!(!user_state(&user).await.exists);
    }
}
