// The lifecycle scenarios, shared by tests/lifecycle.rs (straight to the emulator) and
// tests/lifecycle_under_faults.rs (through the fault-injecting proxy). Included with
// `include!`, so it is not a test crate of its own.

use serde_json::{json, Value};

const RO: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const SEC_AUDIT: &str = "arn:aws:iam::aws:policy/SecurityAudit";
const S3_RO: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

fn doc(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

#[tokio::test]
async fn create_minimal_user_gets_key_in_secret_and_only_arns_back() {
    let cfn = Cfn::new("MinimalUser").await;
    let r = cfn.create(json!({"UserName": "lc-minimal"})).await;
    r.assert_success();
    assert_eq!(r.physical_id(), "lc-minimal");
    assert_eq!(r.data("UserName"), Some("lc-minimal"));
    assert!(r.data("Arn").unwrap().ends_with(":user/lc-minimal"));
    assert!(r.data("UserId").is_some_and(|i| !i.is_empty()));
    let secret_arn = r.data("SecretArn").expect("SecretArn");
    assert!(
        secret_arn.contains("planton/iam-user/lc-minimal"),
        "{secret_arn}"
    );
    let data = r.json["Data"].as_object().unwrap();
    assert_eq!(data.len(), 4, "only ARNs and names in Data: {data:?}");

    let u = user_state("lc-minimal").await;
    assert_eq!(u.path, "/");
    assert_eq!(u.tag("planton:stack-id"), Some(STACK));
    assert_eq!(u.tag("planton:logical-resource-id"), Some("MinimalUser"));
    assert_eq!(u.keys.len(), 1);
    assert_eq!(u.keys[0].1, "Active");
    let s = secret_value("planton/iam-user/lc-minimal").await.unwrap();
    assert_eq!(s["AccessKeyId"], u.keys[0].0.as_str());
    assert_eq!(s["UserName"], "lc-minimal");
    assert_eq!(s["UserArn"], u.arn.as_str());
    assert!(s["SecretAccessKey"].as_str().is_some_and(|k| k.len() >= 20));
    assert!(
        !r.raw.contains(u.keys[0].0.as_str()),
        "no access key id in the response"
    );
    cfn.assert_no_key_material_leaked().await;
}

fn full_props(name: &str, customer: &str) -> Value {
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
        "Groups": ["lc-deployers"],
        "PermissionsBoundary": SEC_AUDIT,
        "Tags": [{"Key": "team", "Value": "payments"}, {"Key": "cost-center", "Value": "42"}],
        "KeySerial": "3",
        "KeyStatus": "Inactive",
        "SecretName": format!("custom/{name}/credentials"),
    })
}

#[tokio::test]
async fn create_full_user_applies_every_property() {
    create_group("lc-deployers").await;
    let customer = customer_policy("lc-full-policy").await;
    let cfn = Cfn::new("FullUser").await;
    let r = cfn.create(full_props("lc-full", &customer)).await;
    r.assert_success();
    let u = user_state("lc-full").await;
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
    assert_eq!(u.groups, vec!["lc-deployers"]);
    assert_eq!(u.boundary.as_deref(), Some(SEC_AUDIT));
    assert_eq!(u.tag("team"), Some("payments"));
    assert_eq!(u.tag("cost-center"), Some("42"));
    assert_eq!(
        u.tag("planton:secret-name"),
        Some("custom/lc-full/credentials")
    );
    assert_eq!(u.keys.len(), 1);
    assert_eq!(u.keys[0].1, "Inactive");
    let s = secret_value("custom/lc-full/credentials").await.unwrap();
    assert_eq!(s["AccessKeyId"], u.keys[0].0.as_str());
    assert!(r
        .data("SecretArn")
        .unwrap()
        .contains("custom/lc-full/credentials"));
    cfn.assert_no_key_material_leaked().await;
}

#[tokio::test]
async fn update_converges_each_kind_of_change() {
    create_group("lc-upd-a").await;
    create_group("lc-upd-b").await;
    let cfn = Cfn::new("UpdUser").await;
    let v1 = json!({
        "UserName": "lc-upd",
        "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject"), "b": doc("sqs:SendMessage")},
        "Groups": ["lc-upd-a"],
        "Tags": [{"Key": "keep", "Value": "1"}, {"Key": "drop", "Value": "x"}],
    });
    cfn.create(v1.clone()).await.assert_success();
    let key0 = user_state("lc-upd").await.keys[0].0.clone();

    // Every kind of change at once, including the boundary and path.
    let v2 = json!({
        "UserName": "lc-upd",
        "Path": "/moved/",
        "ManagedPolicyArns": [S3_RO],
        "InlinePolicies": {"a": doc("s3:PutObject"), "c": doc("sns:Publish")},
        "Groups": ["lc-upd-b"],
        "PermissionsBoundary": SEC_AUDIT,
        "Tags": [{"Key": "keep", "Value": "2"}, {"Key": "new", "Value": "y"}],
        "KeyStatus": "Inactive",
    });
    let r = cfn.update("lc-upd", v2.clone(), v1.clone()).await;
    r.assert_success();
    assert_eq!(r.physical_id(), "lc-upd");
    let u = user_state("lc-upd").await;
    assert_eq!(u.path, "/moved/");
    assert_eq!(u.managed, vec![S3_RO.to_string()]);
    assert_eq!(
        u.inline,
        vec![
            ("a".to_string(), doc("s3:PutObject")),
            ("c".to_string(), doc("sns:Publish"))
        ]
    );
    assert_eq!(u.groups, vec!["lc-upd-b"]);
    assert_eq!(u.boundary.as_deref(), Some(SEC_AUDIT));
    assert_eq!(u.tag("keep"), Some("2"));
    assert_eq!(u.tag("new"), Some("y"));
    assert_eq!(u.tag("drop"), None);
    assert_eq!(
        u.tag("planton:stack-id"),
        Some(STACK),
        "ownership tags survive"
    );
    assert_eq!(
        u.keys,
        vec![(key0.clone(), "Inactive".to_string())],
        "same key, now inactive"
    );

    // And back: the boundary is removed, the key re-activated.
    let r = cfn.update("lc-upd", v1.clone(), v2).await;
    r.assert_success();
    let u = user_state("lc-upd").await;
    assert_eq!(u.path, "/");
    assert_eq!(u.boundary, None);
    assert_eq!(u.managed, vec![RO.to_string()]);
    assert_eq!(u.groups, vec!["lc-upd-a"]);
    assert_eq!(u.keys, vec![(key0, "Active".to_string())]);
    cfn.assert_no_key_material_leaked().await;
}

#[tokio::test]
async fn update_that_changes_nothing_makes_no_write_call() {
    let cfn = Cfn::new("NoopUser").await;
    let props = json!({"UserName": "lc-noop", "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject")}, "Tags": [{"Key": "t", "Value": "v"}]});
    cfn.create(props.clone()).await.assert_success();
    let before = cfn.app.calls.snapshot();
    cfn.update("lc-noop", props.clone(), props)
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

#[tokio::test]
async fn update_that_changes_one_tag_costs_one_write() {
    let cfn = Cfn::new("OneTag").await;
    let v1 = json!({"UserName": "lc-onetag", "Tags": [{"Key": "t", "Value": "1"}]});
    let v2 = json!({"UserName": "lc-onetag", "Tags": [{"Key": "t", "Value": "2"}]});
    cfn.create(v1.clone()).await.assert_success();
    let before = cfn.app.calls.snapshot();
    cfn.update("lc-onetag", v2, v1).await.assert_success();
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

#[tokio::test]
async fn out_of_band_drift_is_converged() {
    create_group("lc-drift-g").await;
    let cfn = Cfn::new("DriftUser").await;
    let props = json!({"UserName": "lc-drift", "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject")},
        "Tags": [{"Key": "owner", "Value": "payments"}]});
    cfn.create(props.clone()).await.assert_success();
    let key0 = user_state("lc-drift").await.keys[0].0.clone();

    // Someone changes the user in the console.
    let (iam, _) = aws().await;
    iam.attach_user_policy()
        .user_name("lc-drift")
        .policy_arn(S3_RO)
        .send()
        .await
        .unwrap();
    iam.detach_user_policy()
        .user_name("lc-drift")
        .policy_arn(RO)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("lc-drift")
        .policy_name("sneaky")
        .policy_document(doc("iam:*").to_string())
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("lc-drift")
        .policy_name("a")
        .policy_document(doc("s3:*").to_string())
        .send()
        .await
        .unwrap();
    iam.untag_user()
        .user_name("lc-drift")
        .tag_keys("owner")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .user_name("lc-drift")
        .group_name("lc-drift-g")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("lc-drift")
        .send()
        .await
        .unwrap();

    cfn.update("lc-drift", props.clone(), props)
        .await
        .assert_success();
    let u = user_state("lc-drift").await;
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

#[tokio::test]
async fn user_deleted_by_hand_is_recreated_on_update() {
    let cfn = Cfn::new("GoneUser").await;
    let props = json!({"UserName": "lc-gone", "DisableAccessKeys": "true"});
    cfn.create(props.clone()).await.assert_success();
    let (iam, _) = aws().await;
    iam.delete_user().user_name("lc-gone").send().await.unwrap();
    cfn.update("lc-gone", props.clone(), props)
        .await
        .assert_success();
    assert!(user_state("lc-gone").await.exists);
}

#[tokio::test]
async fn replacement_creates_new_user_and_cleanup_delete_removes_old() {
    let cfn = Cfn::new("Replaced").await;
    let v1 = json!({"UserName": "lc-repl-old", "ManagedPolicyArns": [RO]});
    let v2 = json!({"UserName": "lc-repl-new", "ManagedPolicyArns": [RO]});
    cfn.create(v1.clone()).await.assert_success();
    let r = cfn.update("lc-repl-old", v2.clone(), v1.clone()).await;
    r.assert_success();
    assert_eq!(
        r.physical_id(),
        "lc-repl-new",
        "a new id tells CloudFormation it is a replacement"
    );
    assert!(
        user_state("lc-repl-old").await.exists,
        "old user waits for the cleanup Delete"
    );
    assert!(user_state("lc-repl-new").await.exists);
    assert!(secret_exists("planton/iam-user/lc-repl-new").await);

    // CloudFormation's cleanup Delete of the old physical id.
    cfn.delete("lc-repl-old", v1).await.assert_success();
    assert!(!user_state("lc-repl-old").await.exists);
    assert!(!secret_exists("planton/iam-user/lc-repl-old").await);
    let new = user_state("lc-repl-new").await;
    assert_eq!(new.keys.len(), 1);
    assert_eq!(
        secret_value("planton/iam-user/lc-repl-new").await.unwrap()["AccessKeyId"],
        new.keys[0].0.as_str()
    );
}

#[tokio::test]
async fn replacement_sharing_an_explicit_secret_name_keeps_the_secret_for_the_new_user() {
    let cfn = Cfn::new("SharedSecret").await;
    let v1 = json!({"UserName": "lc-share-old", "SecretName": "lc/shared"});
    let v2 = json!({"UserName": "lc-share-new", "SecretName": "lc/shared"});
    cfn.create(v1.clone()).await.assert_success();
    cfn.update("lc-share-old", v2.clone(), v1.clone())
        .await
        .assert_success();
    cfn.delete("lc-share-old", v1).await.assert_success();
    assert!(!user_state("lc-share-old").await.exists);
    let new = user_state("lc-share-new").await;
    let s = secret_value("lc/shared")
        .await
        .expect("the new user's secret survives the cleanup");
    assert_eq!(s["UserName"], "lc-share-new");
    assert_eq!(s["AccessKeyId"], new.keys[0].0.as_str());
}

#[tokio::test]
async fn case_only_rename_is_refused() {
    let cfn = Cfn::new("CaseUser").await;
    let v1 = json!({"UserName": "lc-case"});
    let v2 = json!({"UserName": "LC-case"});
    cfn.create(v1.clone()).await.assert_success();
    let r = cfn.update("lc-case", v2, v1).await;
    r.assert_failed(&["UserName", "case"]);
    assert_eq!(r.physical_id(), "lc-case");
    assert!(user_state("lc-case").await.exists);
}

#[tokio::test]
async fn raising_key_serial_rotates_the_key() {
    let cfn = Cfn::new("Rotated").await;
    let v1 = json!({"UserName": "lc-rot", "KeySerial": "1"});
    let v2 = json!({"UserName": "lc-rot", "KeySerial": "2"});
    cfn.create(v1.clone()).await.assert_success();
    let old = user_state("lc-rot").await.keys[0].0.clone();
    let old_secret = secret_value("planton/iam-user/lc-rot").await.unwrap();

    cfn.update("lc-rot", v2.clone(), v1.clone())
        .await
        .assert_success();
    let u = user_state("lc-rot").await;
    let s = secret_value("planton/iam-user/lc-rot").await.unwrap();
    let current = s["AccessKeyId"].as_str().unwrap().to_string();
    assert_ne!(current, old);
    assert_ne!(s["SecretAccessKey"], old_secret["SecretAccessKey"]);
    let mut want = vec![(current.clone(), "Active".to_string()), (old.clone(), "Active".to_string())];
    let mut got = u.keys.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "new key active; old key kept working for its grace period");
    let current_key = || async {
        secret_value("planton/iam-user/lc-rot").await.unwrap()["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Same serial again: nothing rotates.
    cfn.update("lc-rot", v2.clone(), v2.clone())
        .await
        .assert_success();
    assert_eq!(current_key().await, current);
    assert_eq!(user_state("lc-rot").await.keys.len(), 2);
    // A lower serial (what a rollback sends) never rotates and never fails.
    cfn.update("lc-rot", v1.clone(), v2.clone())
        .await
        .assert_success();
    assert_eq!(current_key().await, current);
    // Raising from the recorded serial rotates again: the grace key makes room.
    cfn.update("lc-rot", v2, v1).await.assert_success();
    let third = current_key().await;
    assert_ne!(third, current);
    let ids: Vec<String> = user_state("lc-rot").await.keys.into_iter().map(|k| k.0).collect();
    assert!(!ids.contains(&old), "the first key made room for the third");
    assert!(ids.contains(&current) && ids.contains(&third));
    cfn.assert_no_key_material_leaked().await;
    for gone in [
        old.as_str(),
        old_secret["SecretAccessKey"].as_str().unwrap(),
        s["SecretAccessKey"].as_str().unwrap(),
    ] {
        assert!(!cfn.any_answer_contains(gone), "rotated-away key material answered");
    }
}

#[tokio::test]
async fn disabling_keys_removes_key_and_secret_and_enabling_restores_them() {
    let cfn = Cfn::new("Toggle").await;
    let on = json!({"UserName": "lc-toggle"});
    let off = json!({"UserName": "lc-toggle", "DisableAccessKeys": "true"});
    cfn.create(on.clone()).await.assert_success();
    let r = cfn.update("lc-toggle", off.clone(), on.clone()).await;
    r.assert_success();
    assert_eq!(r.data("SecretArn"), None);
    let u = user_state("lc-toggle").await;
    assert!(u.keys.is_empty());
    assert_eq!(u.tag("planton:secret-name"), None);
    assert!(!secret_exists("planton/iam-user/lc-toggle").await);

    let r = cfn.update("lc-toggle", on.clone(), off).await;
    r.assert_success();
    assert!(r.data("SecretArn").is_some());
    let u = user_state("lc-toggle").await;
    assert_eq!(u.keys.len(), 1);
    assert_eq!(
        secret_value("planton/iam-user/lc-toggle").await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
}

#[tokio::test]
async fn create_with_keys_disabled_makes_no_key_and_no_secret() {
    let cfn = Cfn::new("NoKeys").await;
    let r = cfn
        .create(json!({"UserName": "lc-nokeys", "DisableAccessKeys": true}))
        .await;
    r.assert_success();
    assert_eq!(r.data("SecretArn"), None);
    assert!(user_state("lc-nokeys").await.keys.is_empty());
    assert!(!secret_exists("planton/iam-user/lc-nokeys").await);
}

#[tokio::test]
async fn changing_secret_name_moves_credentials_with_a_fresh_key() {
    let cfn = Cfn::new("Moved").await;
    let v1 = json!({"UserName": "lc-move", "SecretName": "lc/move/one"});
    let v2 = json!({"UserName": "lc-move", "SecretName": "lc/move/two"});
    cfn.create(v1.clone()).await.assert_success();
    let old_key = user_state("lc-move").await.keys[0].0.clone();
    let r = cfn.update("lc-move", v2, v1).await;
    r.assert_success();
    assert!(r.data("SecretArn").unwrap().contains("lc/move/two"));
    assert!(!secret_exists("lc/move/one").await, "old secret removed");
    let u = user_state("lc-move").await;
    assert_eq!(u.keys.len(), 1);
    assert_ne!(
        u.keys[0].0, old_key,
        "the old key is not usable from anywhere"
    );
    assert_eq!(
        secret_value("lc/move/two").await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
    assert_eq!(u.tag("planton:secret-name"), Some("lc/move/two"));
}

#[tokio::test]
async fn delete_leaves_nothing_behind_even_hand_made_credentials() {
    create_group("lc-del-g").await;
    let cfn = Cfn::new("Deleted").await;
    let props = json!({"UserName": "lc-del", "ManagedPolicyArns": [RO],
        "InlinePolicies": {"a": doc("s3:GetObject")}, "Groups": ["lc-del-g"],
        "PermissionsBoundary": SEC_AUDIT});
    cfn.create(props.clone()).await.assert_success();
    // Things people add by hand, each of which blocks DeleteUser in AWS.
    let (iam, _) = aws().await;
    iam.create_login_profile()
        .user_name("lc-del")
        .password("Xx1!xxxxxxxxxxxxxxx")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("lc-del")
        .send()
        .await
        .unwrap();
    iam.upload_ssh_public_key()
        .user_name("lc-del")
        .ssh_public_key_body("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDBlahBlahBlah lc-del")
        .send()
        .await
        .unwrap();
    let mfa = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("lc-del-mfa")
        .send()
        .await
        .unwrap()
        .virtual_mfa_device
        .unwrap()
        .serial_number;
    iam.enable_mfa_device()
        .user_name("lc-del")
        .serial_number(&mfa)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    iam.create_service_specific_credential()
        .user_name("lc-del")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();

    let r = cfn.delete("lc-del", props).await;
    r.assert_success();
    assert!(!user_state("lc-del").await.exists, "user deleted");
    assert!(
        !secret_exists("planton/iam-user/lc-del").await,
        "secret deleted"
    );
    let g = iam.get_group().group_name("lc-del-g").send().await.unwrap();
    assert!(g.users().is_empty(), "group no longer lists the user");

    // A second Delete (Lambda retry) is a no-op success.
    cfn.delete("lc-del", json!({"UserName": "lc-del"}))
        .await
        .assert_success();
}

#[tokio::test]
async fn create_on_a_user_owned_by_someone_else_fails_and_rollback_delete_leaves_it() {
    let (iam, _) = aws().await;
    iam.create_user()
        .user_name("lc-foreign")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("lc-foreign")
        .policy_arn(RO)
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("lc-foreign")
        .send()
        .await
        .unwrap();
    let key_id = key.access_key.unwrap().access_key_id;
    let before = user_state("lc-foreign").await;

    let cfn = Cfn::new("Foreign").await;
    let props = json!({"UserName": "lc-foreign"});
    let r = cfn.create(props.clone()).await;
    r.assert_failed(&["lc-foreign", "not managed by this resource"]);
    assert_eq!(r.physical_id(), "lc-foreign");
    assert!(
        !secret_exists("planton/iam-user/lc-foreign").await,
        "no secret made"
    );

    // The rollback Delete that follows.
    cfn.delete(r.physical_id(), props).await.assert_success();
    let after = user_state("lc-foreign").await;
    assert!(after.exists);
    assert_eq!(after.managed, before.managed);
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.keys, vec![(key_id, "Active".to_string())]);
}

#[tokio::test]
async fn another_stack_cannot_take_or_delete_a_managed_user() {
    let mine = Cfn::new("Owned").await;
    let props = json!({"UserName": "lc-owned"});
    mine.create(props.clone()).await.assert_success();
    let theirs = Cfn::with_stack(OTHER_STACK, "Owned").await;
    theirs
        .create(props.clone())
        .await
        .assert_failed(&["not managed by this resource"]);
    theirs
        .update("lc-owned", props.clone(), props.clone())
        .await
        .assert_failed(&["not managed"]);
    theirs.delete("lc-owned", props).await.assert_success();
    let u = user_state("lc-owned").await;
    assert!(u.exists);
    assert_eq!(u.keys.len(), 1);
    assert!(secret_exists("planton/iam-user/lc-owned").await);
}

#[tokio::test]
async fn create_refuses_a_secret_it_does_not_own_before_any_write() {
    let (_, sm) = aws().await;
    sm.create_secret()
        .name("planton/iam-user/lc-taken")
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let cfn = Cfn::new("Taken").await;
    let r = cfn.create(json!({"UserName": "lc-taken"})).await;
    r.assert_failed(&["secret planton/iam-user/lc-taken", "not managed"]);
    assert!(!user_state("lc-taken").await.exists, "no user made");
    cfn.delete("lc-taken", json!({"UserName": "lc-taken"}))
        .await
        .assert_success();
    assert!(
        secret_exists("planton/iam-user/lc-taken").await,
        "their secret is untouched"
    );
}

#[tokio::test]
async fn delete_of_an_unknown_or_generated_id_succeeds_and_touches_nothing() {
    let cfn = Cfn::new("Unknown").await;
    cfn.delete("lc-never-created", json!({"UserName": "lc-never-created"}))
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

#[tokio::test]
async fn the_same_create_delivered_twice_ends_in_one_user_one_key_one_secret() {
    let cfn = Cfn::new("Twice").await;
    let e = cfn.event(
        "Create",
        None,
        json!({"UserName": "lc-twice", "ManagedPolicyArns": [RO]}),
        None,
    );
    let a = cfn.send(e.clone()).await;
    let b = cfn.send(e).await;
    a.assert_success();
    b.assert_success();
    assert_eq!(a.json["Data"], b.json["Data"]);
    let u = user_state("lc-twice").await;
    assert_eq!(u.keys.len(), 1);
    assert_eq!(
        secret_value("planton/iam-user/lc-twice").await.unwrap()["AccessKeyId"],
        u.keys[0].0.as_str()
    );
}

#[tokio::test]
async fn bundled_events_run_create_update_delete() {
    let cfn = Cfn::new("DeployerUser").await;
    let mut create: Value = serde_json::from_str(CREATE).unwrap();
    let mut update: Value = serde_json::from_str(UPDATE).unwrap();
    let mut delete: Value = serde_json::from_str(DELETE).unwrap();
    for e in [&mut create, &mut update, &mut delete] {
        e["StackId"] = json!(STACK);
    }
    let r = cfn.send(create).await;
    r.assert_success();
    let k1 = user_state("payments-ci-deployer").await.keys[0].0.clone();
    cfn.send(update).await.assert_success();
    let u = user_state("payments-ci-deployer").await;
    assert_eq!(u.managed.len(), 2);
    assert_eq!(u.inline.len(), 2);
    assert_eq!(u.tag("team"), Some("payments-platform"));
    let current = secret_value("planton/iam-user/payments-ci-deployer").await.unwrap();
    assert_ne!(current["AccessKeyId"], k1.as_str(), "KeySerial 1 -> 2 rotated the key");
    assert!(
        u.keys.contains(&(k1.clone(), "Active".to_string())),
        "the old key keeps working for its grace period: {:?}",
        u.keys
    );
    cfn.send(delete).await.assert_success();
    assert!(!user_state("payments-ci-deployer").await.exists);
    assert!(!secret_exists("planton/iam-user/payments-ci-deployer").await);
}

/// API economy: the calls each operation makes, exactly. A Create probes and never
/// lists what cannot exist or reads back what it wrote; an Update of one tag writes that
/// tag (on the user and its mirror on the secret) and nothing else; an Update that
/// changes nothing writes nothing. Counted per operation by the function's own call log
/// (retries are attempts, not calls), so faults do not change the figures.
#[tokio::test]
async fn each_operation_makes_exactly_the_calls_it_needs() {
    let cfn = Cfn::new("Economy").await;
    for g in ["lc-econ-a", "lc-econ-b"] {
        create_group(g).await;
    }
    let props = |team: &str| {
        let mut p = wide_user("lc-econ", ["lc-econ-a", "lc-econ-b"]);
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
                    .replacen("Secrets Manager.", "secretsmanager.", 1);
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
            ("iam.AddUserToGroup", 2),
            ("iam.AttachUserPolicy", 6),
            ("iam.CreateAccessKey", 1),
            ("iam.CreateUser", 1),
            ("iam.GetUser", 1),
            ("iam.PutUserPolicy", 3),
            ("secretsmanager.CreateSecret", 1),
            ("secretsmanager.DescribeSecret", 1),
        ]),
        "Create: one probe each, then only writes"
    );

    let reads = [
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
    cfn.update("lc-econ", props("a"), props("a"))
        .await
        .assert_success();
    assert_eq!(counted(&before), want(&reads), "an Update that changes nothing only reads");

    let before = cfn.app.calls.snapshot();
    cfn.update("lc-econ", props("b"), props("a"))
        .await
        .assert_success();
    let mut one_tag = reads.to_vec();
    one_tag.extend([("iam.TagUser", 1), ("secretsmanager.TagResource", 1)]);
    assert_eq!(counted(&before), want(&one_tag), "one tag changed: reads plus that tag");

    let before = cfn.app.calls.snapshot();
    cfn.delete("lc-econ", props("b")).await.assert_success();
    assert_eq!(
        counted(&before),
        want(&[
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
