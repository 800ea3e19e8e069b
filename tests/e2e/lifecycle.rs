//! The lifecycle scenarios, each run twice: straight to the emulator
//! (`lifecycle::direct::*`) and through a fault-injecting proxy
//! (`lifecycle::faulty::*`: 30% of IAM calls throttled, 5% of all calls answered HTTP
//! 500, 20 ms added to every call). Every scenario must end in the same state with one
//! answer per event either way. Plus: fifty users created at once under the same
//! faults.
//!
//! Each scenario's names carry the profile's tag (`Harness::name`), so both runs of it
//! share the one emulator with everything else.

use crate::harness::*;
use serde_json::{json, Value};

const RO: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const SEC_AUDIT: &str = "arn:aws:iam::aws:policy/SecurityAudit";
const S3_RO: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

both_profiles!(
    create_minimal_user_gets_key_in_secret_and_only_arns_back,
    create_full_user_applies_every_property,
    update_converges_each_kind_of_change,
    update_that_changes_nothing_makes_no_write_call,
    update_that_changes_one_tag_costs_one_write,
    out_of_band_drift_is_converged,
    user_deleted_by_hand_is_recreated_on_update,
    replacement_creates_new_user_and_cleanup_delete_removes_old,
    replacement_sharing_an_explicit_secret_name_keeps_the_secret_for_the_new_user,
    case_only_rename_is_refused,
    raising_key_serial_rotates_the_key,
    disabling_keys_removes_key_and_secret_and_enabling_restores_them,
    create_with_keys_disabled_makes_no_key_and_no_secret,
    changing_secret_name_moves_credentials_with_a_fresh_key,
    delete_leaves_nothing_behind_even_hand_made_credentials,
    delete_removes_a_hand_added_group_outside_the_allowlist_and_leaves_unowned_users,
    create_on_a_user_owned_by_someone_else_fails_and_rollback_delete_leaves_it,
    another_stack_cannot_take_or_delete_a_managed_user,
    create_refuses_a_secret_it_does_not_own_before_any_write,
    delete_of_an_unknown_or_generated_id_succeeds_and_touches_nothing,
    the_same_create_delivered_twice_ends_in_one_user_one_key_one_secret,
    bundled_events_run_create_update_delete,
    each_operation_makes_exactly_the_calls_it_needs,
);

fn doc(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

/// The default secret of user `name`.
fn secret_of(name: &str) -> String {
    format!("planton/iam-user/{name}")
}

async fn create_minimal_user_gets_key_in_secret_and_only_arns_back(h: &Harness) {
    let name = h.name("lc-minimal");
    let cfn = h.cfn("MinimalUser").await;
    let r = cfn.create(json!({"UserName": name})).await;
    r.assert_success();
    assert_eq!(r.physical_id(), name);
    assert_eq!(r.data("UserName"), Some(name.as_str()));
    assert!(r.data("Arn").unwrap().ends_with(&format!(":user/{name}")));
    assert!(r.data("UserId").is_some_and(|i| !i.is_empty()));
    let secret_arn = r.data("SecretArn").expect("SecretArn");
    assert!(secret_arn.contains(&secret_of(&name)), "{secret_arn}");
    let data = r.json["Data"].as_object().unwrap();
    assert_eq!(data.len(), 4, "only ARNs and names in Data: {data:?}");

    let u = user_state(&name).await;
    assert_eq!(u.path, "/");
    assert_eq!(u.tag("planton:stack-id"), Some(cfn.stack_id.as_str()));
    assert_eq!(u.tag("planton:logical-resource-id"), Some("MinimalUser"));
    assert_eq!(u.keys.len(), 1);
    assert_eq!(u.keys[0].1, "Active");
    let s = secret_value(&secret_of(&name)).await.unwrap();
    assert_eq!(s["AccessKeyId"], u.keys[0].0.as_str());
    assert_eq!(s["UserName"], name.as_str());
    assert_eq!(s["UserArn"], u.arn.as_str());
    assert!(s["SecretAccessKey"].as_str().is_some_and(|k| k.len() >= 20));
    assert!(
        !r.raw.contains(u.keys[0].0.as_str()),
        "no access key id in the response"
    );
    cfn.assert_no_key_material_leaked().await;
}

fn full_props(name: &str, customer: &str, group: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user",
        "ServiceTimeout": "300",
        "UserName": name,
        "Path": "/service-accounts/ci/",
        "ManagedPolicyArns": [RO, customer],
        "InlinePolicies": {
            "logs": doc("logs:PutLogEvents"),
            "queue": serde_json::to_string(&doc("sqs:SendMessage")).unwrap(),
        },
        "Groups": [group],
        "PermissionsBoundary": SEC_AUDIT,
        "Tags": [{"Key": "team", "Value": "payments"}, {"Key": "cost-center", "Value": "42"}],
        "KeySerial": "3",
        "KeyStatus": "Inactive",
        "SecretName": format!("custom/{name}/credentials"),
    })
}

async fn create_full_user_applies_every_property(h: &Harness) {
    let name = h.name("lc-full");
    let group = h.name("lc-deployers");
    create_group(&group).await;
    let customer = customer_policy(&h.name("lc-full-policy")).await;
    let cfn = h.cfn("FullUser").await;
    let r = cfn.create(full_props(&name, &customer, &group)).await;
    r.assert_success();
    let u = user_state(&name).await;
    assert_eq!(u.path, "/service-accounts/ci/");
    let mut want = vec![RO.to_string(), customer.clone()];
    want.sort();
    assert_eq!(u.managed, want);
    let inline: Vec<&str> = u.inline.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(inline, vec!["logs", "queue"]);
    assert_eq!(
        u.inline[1].1,
        doc("sqs:SendMessage"),
        "a JSON-string document is stored as JSON"
    );
    assert_eq!(u.groups, vec![group]);
    assert_eq!(u.boundary.as_deref(), Some(SEC_AUDIT));
    assert_eq!(u.tag("team"), Some("payments"));
    assert_eq!(u.tag("cost-center"), Some("42"));
    let secret = format!("custom/{name}/credentials");
    assert_eq!(u.tag("planton:secret-name"), Some(secret.as_str()));
    assert_eq!(u.keys.len(), 1);
    assert_eq!(u.keys[0].1, "Inactive");
    let s = secret_value(&secret).await.unwrap();
    assert_eq!(s["AccessKeyId"], u.keys[0].0.as_str());
    assert!(r.data("SecretArn").unwrap().contains(&secret));
    cfn.assert_no_key_material_leaked().await;
}

async fn update_converges_each_kind_of_change(h: &Harness) {
    let name = h.name("lc-upd");
    let (group_a, group_b) = (h.name("lc-upd-a"), h.name("lc-upd-b"));
    create_group(&group_a).await;
    create_group(&group_b).await;
    let cfn = h.cfn("UpdUser").await;
    let v1 = json!({
        "UserName": name,
        "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject"), "b": doc("sqs:SendMessage")},
        "Groups": [group_a],
        "Tags": [{"Key": "keep", "Value": "1"}, {"Key": "drop", "Value": "x"}],
    });
    cfn.create(v1.clone()).await.assert_success();
    let key0 = user_state(&name).await.keys[0].0.clone();

    // Every kind of change at once, including the boundary and path.
    let v2 = json!({
        "UserName": name,
        "Path": "/moved/",
        "ManagedPolicyArns": [S3_RO],
        "InlinePolicies": {"a": doc("s3:PutObject"), "c": doc("sns:Publish")},
        "Groups": [group_b],
        "PermissionsBoundary": SEC_AUDIT,
        "Tags": [{"Key": "keep", "Value": "2"}, {"Key": "new", "Value": "y"}],
        "KeyStatus": "Inactive",
    });
    let r = cfn.update(&name, v2.clone(), v1.clone()).await;
    r.assert_success();
    assert_eq!(r.physical_id(), name);
    let u = user_state(&name).await;
    assert_eq!(u.path, "/moved/");
    assert_eq!(u.managed, vec![S3_RO.to_string()]);
    assert_eq!(
        u.inline,
        vec![
            ("a".to_string(), doc("s3:PutObject")),
            ("c".to_string(), doc("sns:Publish"))
        ]
    );
    assert_eq!(u.groups, vec![group_b]);
    assert_eq!(u.boundary.as_deref(), Some(SEC_AUDIT));
    assert_eq!(u.tag("keep"), Some("2"));
    assert_eq!(u.tag("new"), Some("y"));
    assert_eq!(u.tag("drop"), None);
    assert_eq!(
        u.tag("planton:stack-id"),
        Some(cfn.stack_id.as_str()),
        "ownership tags survive"
    );
    assert_eq!(
        u.keys,
        vec![(key0.clone(), "Inactive".to_string())],
        "same key, now inactive"
    );

    // And back: the boundary is removed, the key re-activated.
    let r = cfn.update(&name, v1.clone(), v2).await;
    r.assert_success();
    let u = user_state(&name).await;
    assert_eq!(u.path, "/");
    assert_eq!(u.boundary, None);
    assert_eq!(u.managed, vec![RO.to_string()]);
    assert_eq!(u.groups, vec![group_a]);
    assert_eq!(u.keys, vec![(key0, "Active".to_string())]);
    cfn.assert_no_key_material_leaked().await;
}

async fn update_that_changes_nothing_makes_no_write_call(h: &Harness) {
    let name = h.name("lc-noop");
    let cfn = h.cfn("NoopUser").await;
    let props = json!({"UserName": name, "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject")}, "Tags": [{"Key": "t", "Value": "v"}]});
    cfn.create(props.clone()).await.assert_success();
    let before = cfn.app.calls.snapshot();
    cfn.update(&name, props.clone(), props)
        .await
        .assert_success();
    let calls = cfn.app.calls.snapshot().since(&before);
    assert!(
        calls.writes().is_empty(),
        "writes on a no-op update: {:?}",
        calls.calls
    );
    assert!(
        calls.total() > 0,
        "it did read the state: {:?}",
        calls.calls
    );
}

async fn update_that_changes_one_tag_costs_one_write(h: &Harness) {
    let name = h.name("lc-onetag");
    let cfn = h.cfn("OneTag").await;
    let v1 = json!({"UserName": name, "Tags": [{"Key": "t", "Value": "1"}]});
    let v2 = json!({"UserName": name, "Tags": [{"Key": "t", "Value": "2"}]});
    cfn.create(v1.clone()).await.assert_success();
    let before = cfn.app.calls.snapshot();
    cfn.update(&name, v2, v1).await.assert_success();
    let calls = cfn.app.calls.snapshot().since(&before);
    // One write to the user; template tags are mirrored on the secret, so it gets the
    // same one-tag write, in the same round trip.
    let writes: Vec<(String, u32)> = calls.writes().into_iter().collect();
    assert_eq!(
        writes,
        vec![
            ("IAM.TagUser".to_string(), 1),
            ("Secrets Manager.TagResource".to_string(), 1)
        ]
    );
}

async fn out_of_band_drift_is_converged(h: &Harness) {
    let name = h.name("lc-drift");
    let group = h.name("lc-drift-g");
    create_group(&group).await;
    let cfn = h.cfn("DriftUser").await;
    let props = json!({"UserName": name, "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject")},
        "Tags": [{"Key": "owner", "Value": "payments"}]});
    cfn.create(props.clone()).await.assert_success();
    let key0 = user_state(&name).await.keys[0].0.clone();

    // Someone changes the user in the console.
    let (iam, _) = aws().await;
    iam.attach_user_policy()
        .user_name(&name)
        .policy_arn(S3_RO)
        .send()
        .await
        .unwrap();
    iam.detach_user_policy()
        .user_name(&name)
        .policy_arn(RO)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(&name)
        .policy_name("sneaky")
        .policy_document(doc("iam:*").to_string())
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(&name)
        .policy_name("a")
        .policy_document(doc("s3:*").to_string())
        .send()
        .await
        .unwrap();
    iam.untag_user()
        .user_name(&name)
        .tag_keys("owner")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .user_name(&name)
        .group_name(&group)
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap();

    cfn.update(&name, props.clone(), props)
        .await
        .assert_success();
    let u = user_state(&name).await;
    assert_eq!(u.managed, vec![RO.to_string()]);
    assert_eq!(u.inline, vec![("a".to_string(), doc("s3:GetObject"))]);
    assert_eq!(u.tag("owner"), Some("payments"));
    assert!(u.groups.is_empty());
    assert_eq!(
        u.keys,
        vec![(key0, "Active".to_string())],
        "the hand-made key is removed"
    );
}

async fn user_deleted_by_hand_is_recreated_on_update(h: &Harness) {
    let name = h.name("lc-gone");
    let cfn = h.cfn("GoneUser").await;
    let props = json!({"UserName": name, "DisableAccessKeys": "true"});
    cfn.create(props.clone()).await.assert_success();
    let (iam, _) = aws().await;
    iam.delete_user().user_name(&name).send().await.unwrap();
    cfn.update(&name, props.clone(), props)
        .await
        .assert_success();
    assert!(user_state(&name).await.exists);
}

async fn replacement_creates_new_user_and_cleanup_delete_removes_old(h: &Harness) {
    let (old, new_name) = (h.name("lc-repl-old"), h.name("lc-repl-new"));
    let cfn = h.cfn("Replaced").await;
    let v1 = json!({"UserName": old, "ManagedPolicyArns": [RO]});
    let v2 = json!({"UserName": new_name, "ManagedPolicyArns": [RO]});
    cfn.create(v1.clone()).await.assert_success();
    let r = cfn.update(&old, v2.clone(), v1.clone()).await;
    r.assert_success();
    assert_eq!(
        r.physical_id(),
        new_name,
        "a new id tells CloudFormation it is a replacement"
    );
    assert!(
        user_state(&old).await.exists,
        "old user waits for the cleanup Delete"
    );
    assert!(user_state(&new_name).await.exists);
    assert!(secret_exists(&secret_of(&new_name)).await);

    // CloudFormation's cleanup Delete of the old physical id.
    cfn.delete(&old, v1).await.assert_success();
    assert!(!user_state(&old).await.exists);
    assert!(!secret_exists(&secret_of(&old)).await);
    let new = user_state(&new_name).await;
    assert_eq!(new.keys.len(), 1);
    assert_eq!(
        secret_value(&secret_of(&new_name)).await.unwrap()["AccessKeyId"],
        new.keys[0].0.as_str()
    );
}

async fn replacement_sharing_an_explicit_secret_name_keeps_the_secret_for_the_new_user(
    h: &Harness,
) {
    let (old, new_name) = (h.name("lc-share-old"), h.name("lc-share-new"));
    let shared = h.name("lc/shared");
    let cfn = h.cfn("SharedSecret").await;
    let v1 = json!({"UserName": old, "SecretName": shared});
    let v2 = json!({"UserName": new_name, "SecretName": shared});
    cfn.create(v1.clone()).await.assert_success();
    cfn.update(&old, v2.clone(), v1.clone())
        .await
        .assert_success();
    cfn.delete(&old, v1).await.assert_success();
    assert!(!user_state(&old).await.exists);
    let new = user_state(&new_name).await;
    let s = secret_value(&shared)
        .await
        .expect("the new user's secret survives the cleanup");
    assert_eq!(s["UserName"], new_name.as_str());
    assert_eq!(s["AccessKeyId"], new.keys[0].0.as_str());
}

async fn case_only_rename_is_refused(h: &Harness) {
    let (name, upper) = (h.name("lc-case"), h.name("LC-case"));
    let cfn = h.cfn("CaseUser").await;
    let v1 = json!({"UserName": name});
    let v2 = json!({"UserName": upper});
    cfn.create(v1.clone()).await.assert_success();
    let r = cfn.update(&name, v2, v1).await;
    r.assert_failed(&["UserName", "case"]);
    assert_eq!(r.physical_id(), name);
    assert!(user_state(&name).await.exists);
}

async fn raising_key_serial_rotates_the_key(h: &Harness) {
    let name = h.name("lc-rot");
    let secret = secret_of(&name);
    let cfn = h.cfn("Rotated").await;
    let v1 = json!({"UserName": name, "KeySerial": "1"});
    let v2 = json!({"UserName": name, "KeySerial": "2"});
    cfn.create(v1.clone()).await.assert_success();
    let old = user_state(&name).await.keys[0].0.clone();
    let old_secret = secret_value(&secret).await.unwrap();

    cfn.update(&name, v2.clone(), v1.clone())
        .await
        .assert_success();
    let u = user_state(&name).await;
    let s = secret_value(&secret).await.unwrap();
    let current = s["AccessKeyId"].as_str().unwrap().to_string();
    assert_ne!(current, old);
    assert_ne!(s["SecretAccessKey"], old_secret["SecretAccessKey"]);
    let mut want = vec![
        (current.clone(), "Active".to_string()),
        (old.clone(), "Active".to_string()),
    ];
    let mut got = u.keys.clone();
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "new key active; old key kept working for its grace period"
    );
    let current_key = || async {
        secret_value(&secret).await.unwrap()["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Same serial again: nothing rotates.
    cfn.update(&name, v2.clone(), v2.clone())
        .await
        .assert_success();
    assert_eq!(current_key().await, current);
    assert_eq!(user_state(&name).await.keys.len(), 2);
    // A lower serial (what a rollback sends) never rotates and never fails.
    cfn.update(&name, v1.clone(), v2.clone())
        .await
        .assert_success();
    assert_eq!(current_key().await, current);
    // Raising from the recorded serial rotates again: the grace key makes room.
    cfn.update(&name, v2, v1).await.assert_success();
    let third = current_key().await;
    assert_ne!(third, current);
    let ids: Vec<String> = user_state(&name)
        .await
        .keys
        .into_iter()
        .map(|k| k.0)
        .collect();
    assert!(!ids.contains(&old), "the first key made room for the third");
    assert!(ids.contains(&current) && ids.contains(&third));
    cfn.assert_no_key_material_leaked().await;
    for gone in [
        old.as_str(),
        old_secret["SecretAccessKey"].as_str().unwrap(),
        s["SecretAccessKey"].as_str().unwrap(),
    ] {
        assert!(
            !cfn.any_answer_contains(gone),
            "rotated-away key material answered"
        );
    }
}

async fn disabling_keys_removes_key_and_secret_and_enabling_restores_them(h: &Harness) {
    let name = h.name("lc-toggle");
    let cfn = h.cfn("Toggle").await;
    let on = json!({"UserName": name});
    let off = json!({"UserName": name, "DisableAccessKeys": "true"});
    cfn.create(on.clone()).await.assert_success();
    let r = cfn.update(&name, off.clone(), on.clone()).await;
    r.assert_success();
    assert_eq!(r.data("SecretArn"), None);
    let u = user_state(&name).await;
    assert!(u.keys.is_empty());
    assert_eq!(u.tag("planton:secret-name"), None);
    assert!(!secret_exists(&secret_of(&name)).await);

    let r = cfn.update(&name, on.clone(), off).await;
    r.assert_success();
    assert!(r.data("SecretArn").is_some());
    let u = user_state(&name).await;
    assert_eq!(u.keys.len(), 1);
    assert_eq!(
        secret_value(&secret_of(&name)).await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
}

async fn create_with_keys_disabled_makes_no_key_and_no_secret(h: &Harness) {
    let name = h.name("lc-nokeys");
    let cfn = h.cfn("NoKeys").await;
    let r = cfn
        .create(json!({"UserName": name, "DisableAccessKeys": true}))
        .await;
    r.assert_success();
    assert_eq!(r.data("SecretArn"), None);
    assert!(user_state(&name).await.keys.is_empty());
    assert!(!secret_exists(&secret_of(&name)).await);
}

async fn changing_secret_name_moves_credentials_with_a_fresh_key(h: &Harness) {
    let name = h.name("lc-move");
    let (one, two) = (h.name("lc/move/one"), h.name("lc/move/two"));
    let cfn = h.cfn("Moved").await;
    let v1 = json!({"UserName": name, "SecretName": one});
    let v2 = json!({"UserName": name, "SecretName": two});
    cfn.create(v1.clone()).await.assert_success();
    let old_key = user_state(&name).await.keys[0].0.clone();
    let r = cfn.update(&name, v2, v1).await;
    r.assert_success();
    assert!(r.data("SecretArn").unwrap().contains(&two));
    assert!(!secret_exists(&one).await, "old secret removed");
    let u = user_state(&name).await;
    assert_eq!(u.keys.len(), 1);
    assert_ne!(
        u.keys[0].0, old_key,
        "the old key is not usable from anywhere"
    );
    assert_eq!(
        secret_value(&two).await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
    assert_eq!(u.tag("planton:secret-name"), Some(two.as_str()));
}

async fn delete_leaves_nothing_behind_even_hand_made_credentials(h: &Harness) {
    let name = h.name("lc-del");
    let group = h.name("lc-del-g");
    create_group(&group).await;
    let cfn = h.cfn("Deleted").await;
    let props = json!({"UserName": name, "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject")}, "Groups": [group],
        "PermissionsBoundary": SEC_AUDIT});
    cfn.create(props.clone()).await.assert_success();
    // Things people add by hand, each of which blocks DeleteUser in AWS.
    let (iam, _) = aws().await;
    iam.create_login_profile()
        .user_name(&name)
        .password("Xx1!xxxxxxxxxxxxxxx")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap();
    iam.upload_ssh_public_key()
        .user_name(&name)
        .ssh_public_key_body(format!(
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDBlahBlahBlah {name}"
        ))
        .send()
        .await
        .unwrap();
    let mfa = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(h.name("lc-del-mfa"))
        .send()
        .await
        .unwrap()
        .virtual_mfa_device
        .unwrap()
        .serial_number;
    iam.enable_mfa_device()
        .user_name(&name)
        .serial_number(&mfa)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    iam.create_service_specific_credential()
        .user_name(&name)
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();

    let r = cfn.delete(&name, props).await;
    r.assert_success();
    assert!(!user_state(&name).await.exists, "user deleted");
    assert!(!secret_exists(&secret_of(&name)).await, "secret deleted");
    let g = iam.get_group().group_name(&group).send().await.unwrap();
    assert!(g.users().is_empty(), "group no longer lists the user");

    // A second Delete (Lambda retry) is a no-op success.
    cfn.delete(&name, json!({"UserName": name}))
        .await
        .assert_success();
}

/// Issue 22: someone added the managed user by hand to a group the deployment does not
/// allow (PLANTON_ALLOWED_GROUPS). The Delete removes that membership like any other
/// (DeleteUser fails while one remains) instead of failing; removing a user from a group
/// only takes privilege away. A user this resource does not own, in the same group, is
/// never touched, even by a Delete that names it. (In AWS this needs the role's
/// iam:RemoveUserFromGroup on any group; the emulator does not enforce the role.)
async fn delete_removes_a_hand_added_group_outside_the_allowlist_and_leaves_unowned_users(
    h: &Harness,
) {
    let name = h.name("lc-hg");
    let theirs = h.name("lc-hg-theirs");
    let allowed = h.name("lc-hg-ok");
    let outside = h.name("lc-hg-out");
    create_group(&allowed).await;
    create_group(&outside).await;
    let mut cfn = h.cfn("HandGroup").await;
    cfn.app.settings.guardrails.allowed_groups = Some(vec![allowed.clone()]);
    let props = json!({"UserName": name, "Groups": [allowed]});
    cfn.create(props.clone()).await.assert_success();
    // The template itself may not name the other group.
    let joined = json!({"UserName": name, "Groups": [allowed, outside]});
    cfn.update(&name, joined, props.clone())
        .await
        .assert_failed(&["Groups[1]", "PLANTON_ALLOWED_GROUPS"]);
    let (iam, _) = aws().await;
    iam.add_user_to_group()
        .group_name(&outside)
        .user_name(&name)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name(&theirs).send().await.unwrap();
    iam.add_user_to_group()
        .group_name(&outside)
        .user_name(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(user_state(&name).await.groups.len(), 2);

    cfn.delete(&name, props).await.assert_success();
    assert!(!user_state(&name).await.exists, "user deleted");
    let members = |group: String| {
        let iam = iam.clone();
        async move {
            iam.get_group()
                .group_name(group)
                .send()
                .await
                .unwrap()
                .users()
                .iter()
                .map(|u| u.user_name().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(members(allowed.clone()).await.is_empty());
    assert_eq!(members(outside.clone()).await, vec![theirs.clone()]);

    // A Delete naming the unowned user (the rollback of a Create that found it) leaves
    // it and its membership exactly as they were.
    let other = h.cfn("HandGroupTheirs").await;
    other
        .delete(&theirs, json!({"UserName": theirs}))
        .await
        .assert_success();
    assert_eq!(user_state(&theirs).await.groups, vec![outside.clone()]);
    assert_eq!(members(outside.clone()).await, vec![theirs.clone()]);
    iam.remove_user_from_group()
        .group_name(&outside)
        .user_name(&theirs)
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name(&theirs).send().await.unwrap();
}

async fn create_on_a_user_owned_by_someone_else_fails_and_rollback_delete_leaves_it(h: &Harness) {
    let name = h.name("lc-foreign");
    let (iam, _) = aws().await;
    iam.create_user().user_name(&name).send().await.unwrap();
    iam.attach_user_policy()
        .user_name(&name)
        .policy_arn(RO)
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap();
    let key_id = key.access_key.unwrap().access_key_id;
    let before = user_state(&name).await;

    let cfn = h.cfn("Foreign").await;
    let props = json!({"UserName": name});
    let r = cfn.create(props.clone()).await;
    r.assert_failed(&[name.as_str(), "not managed by this resource"]);
    assert_eq!(r.physical_id(), name);
    assert!(!secret_exists(&secret_of(&name)).await, "no secret made");

    // The rollback Delete that follows.
    cfn.delete(r.physical_id(), props).await.assert_success();
    let after = user_state(&name).await;
    assert!(after.exists);
    assert_eq!(after.managed, before.managed);
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.keys, vec![(key_id, "Active".to_string())]);
}

async fn another_stack_cannot_take_or_delete_a_managed_user(h: &Harness) {
    let name = h.name("lc-owned");
    let mine = h.cfn("Owned").await;
    let props = json!({"UserName": name});
    mine.create(props.clone()).await.assert_success();
    let theirs = h.cfn_with_stack(OTHER_STACK, "Owned").await;
    theirs
        .create(props.clone())
        .await
        .assert_failed(&["not managed by this resource"]);
    theirs
        .update(&name, props.clone(), props.clone())
        .await
        .assert_failed(&["not managed"]);
    theirs.delete(&name, props).await.assert_success();
    let u = user_state(&name).await;
    assert!(u.exists);
    assert_eq!(u.keys.len(), 1);
    assert!(secret_exists(&secret_of(&name)).await);
}

async fn create_refuses_a_secret_it_does_not_own_before_any_write(h: &Harness) {
    let name = h.name("lc-taken");
    let (_, sm) = aws().await;
    sm.create_secret()
        .name(secret_of(&name))
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let cfn = h.cfn("Taken").await;
    let r = cfn.create(json!({"UserName": name})).await;
    let needle = format!("secret {}", secret_of(&name));
    r.assert_failed(&[needle.as_str(), "not managed"]);
    assert!(!user_state(&name).await.exists, "no user made");
    cfn.delete(&name, json!({"UserName": name}))
        .await
        .assert_success();
    assert!(
        secret_exists(&secret_of(&name)).await,
        "their secret is untouched"
    );
}

async fn delete_of_an_unknown_or_generated_id_succeeds_and_touches_nothing(h: &Harness) {
    let never = h.name("lc-never-created");
    let cfn = h.cfn("Unknown").await;
    cfn.delete(&never, json!({"UserName": never}))
        .await
        .assert_success();
    cfn.delete("test-stack-Unknown-1A2B3C4D5E6F", json!({}))
        .await
        .assert_success();
    cfn.delete("arn:aws:something/not-a-user", Value::Null)
        .await
        .assert_success();
    let calls = cfn.app.calls.snapshot();
    assert!(calls.writes().is_empty(), "{:?}", calls.calls);
}

async fn the_same_create_delivered_twice_ends_in_one_user_one_key_one_secret(h: &Harness) {
    let name = h.name("lc-twice");
    let cfn = h.cfn("Twice").await;
    let e = cfn.event(
        "Create",
        None,
        json!({"UserName": name, "ManagedPolicyArns": [RO]}),
        None,
    );
    let a = cfn.send(e.clone()).await;
    let b = cfn.send(e).await;
    a.assert_success();
    b.assert_success();
    assert_eq!(a.json["Data"], b.json["Data"]);
    let u = user_state(&name).await;
    assert_eq!(u.keys.len(), 1);
    assert_eq!(
        secret_value(&secret_of(&name)).await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
}

async fn bundled_events_run_create_update_delete(h: &Harness) {
    // The bundled events name payments-ci-deployer; each profile deploys its own.
    let name = h.name("payments-ci-deployer");
    let cfn = h.cfn("DeployerUser").await;
    let mut create: Value = serde_json::from_str(CREATE).unwrap();
    let mut update: Value = serde_json::from_str(UPDATE).unwrap();
    let mut delete: Value = serde_json::from_str(DELETE).unwrap();
    for e in [&mut create, &mut update, &mut delete] {
        e["StackId"] = json!(STACK);
        for props in ["ResourceProperties", "OldResourceProperties"] {
            if let Some(p) = e.get_mut(props) {
                assert_eq!(p["UserName"], "payments-ci-deployer");
                p["UserName"] = json!(name);
            }
        }
        if e.get("PhysicalResourceId").is_some() {
            e["PhysicalResourceId"] = json!(name);
        }
    }
    let r = cfn.send(create).await;
    r.assert_success();
    let k1 = user_state(&name).await.keys[0].0.clone();
    cfn.send(update).await.assert_success();
    let u = user_state(&name).await;
    assert_eq!(u.managed.len(), 2);
    assert_eq!(u.inline.len(), 2);
    assert_eq!(u.tag("team"), Some("payments-platform"));
    let current = secret_value(&secret_of(&name)).await.unwrap();
    assert_ne!(
        current["AccessKeyId"],
        k1.as_str(),
        "KeySerial 1 -> 2 rotated the key"
    );
    assert!(
        u.keys.contains(&(k1.clone(), "Active".to_string())),
        "the old key keeps working for its grace period: {:?}",
        u.keys
    );
    cfn.send(delete).await.assert_success();
    assert!(!user_state(&name).await.exists);
    assert!(!secret_exists(&secret_of(&name)).await);
}

/// API economy: the calls each operation makes, exactly. A Create probes and never
/// lists what cannot exist or reads back what it wrote; an Update of one tag writes that
/// tag (on the user and its mirror on the secret) and nothing else; an Update that
/// changes nothing writes nothing. Every request asks CloudFormation about itself
/// (DescribeStacks, DescribeStackResource) alongside its other reads. Create and Update
/// also read what every requested
/// managed policy and group grants (the policy judgement: GetPolicy and
/// GetPolicyVersion per managed policy, the two group listings per group), alongside
/// the other reads. A Create that issues a key tells its owners (one PutEvents, sent
/// beside the answer, not before it). Counted per operation by the function's own call log
/// (retries are attempts, not calls), so faults do not change the figures.
async fn each_operation_makes_exactly_the_calls_it_needs(h: &Harness) {
    let name = h.name("lc-econ");
    let groups = [h.name("lc-econ-a"), h.name("lc-econ-b")];
    let cfn = h.cfn("Economy").await;
    for g in &groups {
        create_group(g).await;
    }
    let props = |team: &str| {
        let mut p = wide_user(&name, [groups[0].as_str(), groups[1].as_str()]);
        p["Tags"] = json!([{"Key": "team", "Value": team}, {"Key": "env", "Value": "test"}]);
        p
    };
    let counted = |before: &planton_iam_user::aws::calls::Counts| {
        let c = cfn.app.calls.snapshot().since(before);
        c.calls
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| {
                let k = k
                    .replacen("IAM.", "iam.", 1)
                    .replacen("Secrets Manager.", "secretsmanager.", 1)
                    .replacen("CloudFormation.", "cloudformation.", 1);
                (k, n)
            })
            .collect::<std::collections::BTreeMap<String, u32>>()
    };
    let want = |pairs: &[(&str, u32)]| {
        pairs
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect::<std::collections::BTreeMap<String, u32>>()
    };

    let before = cfn.app.calls.snapshot();
    cfn.create(props("a")).await.assert_success();
    assert_eq!(
        counted(&before),
        want(&[
            ("EventBridge.PutEvents", 1),
            ("cloudformation.DescribeStackResource", 1),
            ("cloudformation.DescribeStacks", 1),
            ("iam.AddUserToGroup", 2),
            ("iam.AttachUserPolicy", 6),
            ("iam.CreateAccessKey", 1),
            ("iam.CreateUser", 1),
            ("iam.GetPolicy", 6),
            ("iam.GetPolicyVersion", 6),
            ("iam.GetUser", 1),
            ("iam.ListAttachedGroupPolicies", 2),
            ("iam.ListGroupPolicies", 2),
            ("iam.PutUserPolicy", 3),
            ("secretsmanager.CreateSecret", 1),
            ("secretsmanager.DescribeSecret", 1),
        ]),
        "Create: one probe each, then only writes"
    );

    // The six AWS managed policies were read by the Create: a warm process judges them
    // from what it read (for 15 minutes), so only the groups are read again.
    let reads = [
        ("cloudformation.DescribeStackResource", 1),
        ("cloudformation.DescribeStacks", 1),
        ("iam.ListAttachedGroupPolicies", 2),
        ("iam.ListGroupPolicies", 2),
        ("iam.GetUser", 1),
        ("iam.GetUserPolicy", 3),
        ("iam.ListAccessKeys", 1),
        ("iam.ListAttachedUserPolicies", 1),
        ("iam.ListGroupsForUser", 1),
        ("iam.ListUserPolicies", 1),
        ("secretsmanager.DescribeSecret", 1),
        ("secretsmanager.GetSecretValue", 3),
    ];
    let before = cfn.app.calls.snapshot();
    cfn.update(&name, props("a"), props("a"))
        .await
        .assert_success();
    assert_eq!(
        counted(&before),
        want(&reads),
        "an Update that changes nothing only reads"
    );

    let before = cfn.app.calls.snapshot();
    cfn.update(&name, props("b"), props("a"))
        .await
        .assert_success();
    let mut one_tag = reads.to_vec();
    one_tag.extend([("iam.TagUser", 1), ("secretsmanager.TagResource", 1)]);
    assert_eq!(
        counted(&before),
        want(&one_tag),
        "one tag changed: reads plus that tag"
    );

    let before = cfn.app.calls.snapshot();
    cfn.delete(&name, props("b")).await.assert_success();
    assert_eq!(
        counted(&before),
        want(&[
            ("cloudformation.DescribeStackResource", 1),
            ("cloudformation.DescribeStacks", 1),
            ("iam.DeleteAccessKey", 1),
            ("iam.DeleteUser", 1),
            ("iam.DeleteUserPolicy", 3),
            ("iam.DetachUserPolicy", 6),
            ("iam.GetLoginProfile", 1),
            ("iam.GetUser", 1),
            ("iam.ListAccessKeys", 1),
            ("iam.ListAttachedUserPolicies", 1),
            ("iam.ListGroupsForUser", 1),
            ("iam.ListMFADevices", 1),
            ("iam.ListSSHPublicKeys", 1),
            ("iam.ListServiceSpecificCredentials", 1),
            ("iam.ListSigningCertificates", 1),
            ("iam.ListUserPolicies", 1),
            ("iam.RemoveUserFromGroup", 2),
            ("secretsmanager.DeleteSecret", 1),
            ("secretsmanager.DescribeSecret", 1),
            ("secretsmanager.GetSecretValue", 3),
        ]),
        "Delete: every read at once, every removal, the user, the secret"
    );
}

/// Fifty users created, then deleted, all at once, under the faulty profile's faults,
/// through a proxy of this test's own (so its figures are this test's alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_created_and_deleted_at_once_under_throttling() {
    let h = std::sync::Arc::new(Harness::new(Profile::Faulty));
    let before = h.proxy().stats();
    let mut jobs = Vec::new();
    for i in 0..50 {
        let h = h.clone();
        jobs.push(tokio::spawn(async move {
            let cfn = h.cfn(&format!("Fifty{i}")).await;
            let name = format!("lf-fifty-{i}");
            let props = json!({"UserName": name, "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                "Tags": [{"Key": "batch", "Value": "fifty"}]});
            let r = cfn.create(props.clone()).await;
            (cfn, name, props, r)
        }));
    }
    let mut created = Vec::new();
    for j in jobs {
        let (cfn, name, props, r) = j.await.unwrap();
        r.assert_success();
        created.push((cfn, name, props));
    }
    for (_, name, _) in &created {
        let u = user_state(name).await;
        assert_eq!(u.keys.len(), 1, "{name}");
        assert_eq!(u.managed.len(), 1, "{name}");
    }
    let mut deletes = Vec::new();
    for (cfn, name, props) in created {
        deletes.push(tokio::spawn(async move {
            let r = cfn.delete(&name, props).await;
            (name, r)
        }));
    }
    for d in deletes {
        let (name, r) = d.await.unwrap();
        r.assert_success();
        assert!(!user_state(&name).await.exists, "{name}");
    }
    let s = h.proxy().stats();
    let throttled = s.throttled - before.throttled;
    let requests = s.requests - before.requests;
    println!(
        "fifty users: {requests} AWS requests through the proxy, {throttled} answered Throttling, {} answered 500",
        s.errors_500 - before.errors_500
    );
    assert!(throttled > 0, "faults were injected");
}
