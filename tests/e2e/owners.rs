//! Legacy users and leaked keys (issue 14): adopting an existing user safely, killing a
//! leaked key in the Update that replaces it, and the events that tell a key's owners
//! what changed, recorded by the emulator as EventBridge received them.

use crate::harness::*;
use crate::support::set_stack_model;
use planton_iam_user::aws::events::Publisher;
use planton_iam_user::model::key_ledger;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

const SEC_AUDIT: &str = "arn:aws:iam::aws:policy/SecurityAudit";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const AUDIT_EVENT: &str = include_str!("../../events/audit.json");
const END_GRACE_EVENT: &str = include_str!("../../events/end-grace.json");

fn of_type<'a>(events: &'a [Value], detail_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["DetailType"] == detail_type)
        .collect()
}

/// The documented shape: every field present, the owner routed, no key material.
fn assert_documented(e: &Value, user: &str, owner: &str) {
    assert_eq!(e["Source"], "planton.iam-user", "{e}");
    let d = &e["Detail"];
    for field in [
        "user",
        "user_arn",
        "stack_id",
        "logical_resource_id",
        "secret_arn",
        "owner_tag_key",
        "owner",
        "access_key_id",
    ] {
        assert!(d.get(field).is_some(), "{field} missing from {e}");
    }
    assert_eq!(d["user"], user);
    assert_eq!(d["owner"], owner, "{e}");
    assert_eq!(d["owner_tag_key"], "owner");
    assert!(d["stack_id"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:cloudformation:"));
    let text = e.to_string();
    assert!(!text.contains("SecretAccessKey"), "{text}");
}

async fn works(access_key_id: &str, secret: &str) -> bool {
    let creds = aws_sdk_sts::config::Credentials::new(access_key_id, secret, None, None, "t");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator_url())
        .credentials_provider(creds)
        .load()
        .await;
    aws_sdk_sts::Client::new(&conf)
        .get_caller_identity()
        .send()
        .await
        .is_ok()
}

fn status_of(u: &UserState, id: &str) -> Option<String> {
    u.keys.iter().find(|(k, _)| k == id).map(|(_, s)| s.clone())
}

#[tokio::test]
async fn a_leaked_key_stops_working_before_the_update_answers() {
    let user = "ow-leaked";
    let cfn = Cfn::new("OwLeaked").await;
    let props = json!({"UserName": user, "Tags": [{"Key": "owner", "Value": "payments"}]});
    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let leaked = secret_value(&secret).await.unwrap();
    let leaked_id = leaked["AccessKeyId"].as_str().unwrap().to_string();
    let leaked_secret = leaked["SecretAccessKey"].as_str().unwrap().to_string();
    assert!(works(&leaked_id, &leaked_secret).await);

    // The runbook: one template change.
    let killed = json!({"UserName": user, "Tags": [{"Key": "owner", "Value": "payments"}],
        "KeySerial": 1, "PreviousKeyGraceHours": 0});
    cfn.update(user, killed.clone(), props)
        .await
        .assert_success();

    let u = user_state(user).await;
    let active: Vec<&(String, String)> = u.keys.iter().filter(|(_, s)| s == "Active").collect();
    assert_eq!(
        active.len(),
        1,
        "exactly one Active key at SUCCESS: {:?}",
        u.keys
    );
    assert_eq!(status_of(&u, &leaked_id).as_deref(), Some("Inactive"));
    assert!(
        !works(&leaked_id, &leaked_secret).await,
        "the leaked key no longer works"
    );
    let fresh = secret_value(&secret).await.unwrap();
    assert_ne!(fresh["AccessKeyId"], leaked["AccessKeyId"]);
    assert_eq!(&active[0].0, fresh["AccessKeyId"].as_str().unwrap());
    // The secret records the resource's grace, for the sweep and scheduled rotations.
    assert_eq!(
        key_ledger::parse_grace(&secret_description(&secret).await),
        Some(0)
    );

    let events = events_for(user).await;
    let rotated = of_type(&events, "Planton Access Key Rotated");
    assert_eq!(rotated.len(), 1, "{events:#?}");
    assert_eq!(rotated[0]["Detail"]["grace_hours"], 0);
    assert_eq!(
        rotated[0]["Detail"]["previous_access_key_id"],
        leaked_id.as_str()
    );
    let dead = of_type(&events, "Planton Previous Access Key Deactivated");
    assert_eq!(dead.len(), 1, "{events:#?}");
    assert_eq!(dead[0]["Detail"]["access_key_id"], leaked_id.as_str());
    for e in &events {
        assert_documented(e, user, "payments");
        assert!(!e.to_string().contains(&leaked_secret));
    }
    cfn.delete(user, killed).await.assert_success();
}

#[tokio::test]
async fn each_event_type_is_published_once_with_its_documented_shape() {
    const PATH: &str = "/owners-events/";
    let user = "ow-events";
    let mut cfn = Cfn::new("OwEvents").await;
    cfn.app.settings.guardrails.allowed_path_prefix = PATH.into();
    cfn.app.settings.audit.path_prefix = PATH.into();
    cfn.app.settings.audit.deactivate = true;
    cfn.app.settings.audit.max_idle_days = 30;
    let props =
        json!({"UserName": user, "Path": PATH, "Tags": [{"Key": "owner", "Value": "payments"}]});
    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let first = current_key_id(&secret).await;

    let raised = json!({"UserName": user, "Path": PATH, "KeySerial": 1,
        "Tags": [{"Key": "owner", "Value": "payments"}]});
    cfn.update(user, raised.clone(), props)
        .await
        .assert_success();
    let second = current_key_id(&secret).await;
    // The grace period (24 h by default) is over: the hourly sweep ends it.
    let now = SystemTime::now();
    seed_key_dates(&second, Some(now - Duration::from_secs(25 * 3600)), None).await;
    let sweep: Value = serde_json::from_str(END_GRACE_EVENT).unwrap();
    let summary = planton_iam_user::entry::handle_value(&cfn.app, sweep, context())
        .await
        .unwrap();
    assert!(
        summary["deactivated_keys"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    // Idle for 60 days, and a policy attached by hand: the audit deactivates and tells.
    seed_key_dates(
        &second,
        Some(now - Duration::from_secs(90 * 86_400)),
        Some(Some(now - Duration::from_secs(60 * 86_400))),
    )
    .await;
    let (iam, _) = aws().await;
    iam.attach_user_policy()
        .user_name(user)
        .policy_arn(SEC_AUDIT)
        .send()
        .await
        .unwrap();
    let audit: Value = serde_json::from_str(AUDIT_EVENT).unwrap();
    planton_iam_user::entry::handle_value(&cfn.app, audit, context())
        .await
        .unwrap();

    let events = events_for(user).await;
    for (detail_type, key) in [
        ("Planton Access Key Created", Some(first.as_str())),
        ("Planton Access Key Rotated", None),
        (
            "Planton Previous Access Key Deactivated",
            Some(first.as_str()),
        ),
        (
            "Planton Access Key Deactivated By Audit",
            Some(second.as_str()),
        ),
        ("Planton IAM User Drift Found", None),
    ] {
        let found = of_type(&events, detail_type);
        assert_eq!(found.len(), 1, "{detail_type} once: {events:#?}");
        assert_documented(found[0], user, "payments");
        if let Some(k) = key {
            assert_eq!(found[0]["Detail"]["access_key_id"], k, "{detail_type}");
        }
        assert_eq!(found[0]["EventBusName"], "default");
    }
    let drift = of_type(&events, "Planton IAM User Drift Found");
    assert!(
        drift[0]["Detail"]["aspects"]
            .as_array()
            .unwrap()
            .contains(&json!("managed_policies")),
        "{drift:?}"
    );
    iam.detach_user_policy()
        .user_name(user)
        .policy_arn(SEC_AUDIT)
        .send()
        .await
        .unwrap();
    cfn.delete(user, raised).await.assert_success();
}

#[tokio::test]
async fn a_bus_that_fails_never_fails_the_operation() {
    let user = "ow-no-bus";
    let mut cfn = Cfn::new("OwNoBus").await;
    cfn.app.settings.events.bus = Some("no-such-bus".into());
    let publisher = Publisher {
        clients: &cfn.app.clients,
        settings: &cfn.app.settings.events,
        function: "planton-iam-user",
    };
    let mut probe = planton_iam_user::model::events::Event::new(
        planton_iam_user::model::events::Kind::KeyCreated,
        user,
        STACK,
        "OwNoBus",
    );
    probe.owner = Some("payments".into());
    let p = publisher.publish(&[probe]).await;
    assert_eq!(
        (p.sent, p.failed),
        (0, 1),
        "the emulator refuses an unknown bus"
    );
    let props = json!({"UserName": user});
    cfn.create(props.clone()).await.assert_success();
    assert!(user_state(user).await.exists);
    assert!(events_for(user).await.is_empty());
    cfn.app.settings.events.bus = None;
    cfn.delete(user, props).await.assert_success();
}

/// A user made by hand the way legacy service accounts were: two keys, an inline and a
/// managed policy, a group, tags.
async fn legacy_user(name: &str, path: &str, group: &str) -> (String, String) {
    let (iam, _) = aws().await;
    create_group(group).await;
    iam.create_user()
        .user_name(name)
        .path(path)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("legacy")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name(name)
        .policy_arn(SEC_AUDIT)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("legacy-s3")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::legacy/*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .user_name(name)
        .group_name(group)
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let k = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .unwrap();
        ids.push(k.access_key.unwrap().access_key_id);
    }
    (ids[0].clone(), ids[1].clone())
}

async fn adopting_cfn(logical: &str, path: &str) -> Cfn {
    let mut cfn = Cfn::new(logical).await;
    cfn.app.settings.allow_adoption = true;
    cfn.app.settings.guardrails.allowed_path_prefix = path.into();
    cfn.app.settings.audit.path_prefix = path.into();
    cfn
}

#[tokio::test]
async fn a_legacy_user_is_adopted_converged_and_its_old_keys_end_with_the_grace_period() {
    const PATH: &str = "/owners-adopt/";
    let user = "ow-legacy";
    let (used, idle) = legacy_user(user, PATH, "ow-legacy-readers").await;
    let now = SystemTime::now();
    seed_key_dates(
        &used,
        None,
        Some(Some(now - Duration::from_secs(2 * 86_400))),
    )
    .await;
    seed_key_dates(&idle, None, Some(None)).await;
    let cfn = adopting_cfn("OwAdopt", PATH).await;
    let props = json!({"UserName": user, "Path": PATH, "AdoptExistingUser": true,
        "ManagedPolicyArns": [SEC_AUDIT], "Tags": [{"Key": "owner", "Value": "payments"}]});

    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let u = user_state(user).await;
    // Owned, and converged to the template.
    assert_eq!(u.tag("planton:stack-id"), Some(STACK));
    assert_eq!(u.tag("owner"), Some("payments"));
    assert_eq!(u.tag("team"), None, "tags converge to the template's");
    assert!(u.inline.is_empty(), "{:?}", u.inline);
    assert!(u.groups.is_empty(), "{:?}", u.groups);
    assert_eq!(u.managed, vec![SEC_AUDIT.to_string()]);
    // The managed key works; the key in use keeps working; the idle one made room.
    let managed = secret_value(&secret).await.unwrap();
    let managed_id = managed["AccessKeyId"].as_str().unwrap().to_string();
    assert!(works(&managed_id, managed["SecretAccessKey"].as_str().unwrap()).await);
    assert_eq!(status_of(&u, &used).as_deref(), Some("Active"));
    assert_eq!(status_of(&u, &idle), None, "the never-used key made room");
    assert_eq!(u.keys.len(), 2);
    // Adoption is idempotent: a re-delivered Create changes nothing more.
    cfn.create(props.clone()).await.assert_success();
    let again = user_state(user).await;
    assert_eq!(again.keys, u.keys);

    // The grace period (24 h) from the adoption, then the sweep deactivates, never
    // deletes; the clock is an input.
    let sweep = |at: SystemTime| {
        let app = &cfn.app;
        async move {
            planton_iam_user::grace::sweep(
                &app.clients,
                PATH,
                app.settings.rotation_grace,
                4,
                &Publisher {
                    clients: &app.clients,
                    settings: &app.settings.events,
                    function: "planton-audit",
                },
                None,
                at,
            )
            .await
            .unwrap()
        }
    };
    let early = sweep(now + Duration::from_secs(23 * 3600)).await;
    assert_eq!(early["deactivated_keys"], 0, "{early}");
    assert_eq!(
        status_of(&user_state(user).await, &used).as_deref(),
        Some("Active")
    );
    let late = sweep(now + Duration::from_secs(25 * 3600)).await;
    assert_eq!(late["deactivated_keys"], 1, "{late}");
    let after = user_state(user).await;
    assert_eq!(
        status_of(&after, &used).as_deref(),
        Some("Inactive"),
        "deactivated, not deleted"
    );
    assert_eq!(status_of(&after, &managed_id).as_deref(), Some("Active"));

    // The audit knows the old key came with the user: no "made outside the function".
    let report = planton_iam_user::audit::run(&cfn.app.clients, &cfn.app.settings.audit, 4, now)
        .await
        .unwrap();
    assert!(
        report.drifts.iter().all(|d| d.user != user),
        "{:?}",
        report.drifts
    );

    let events = events_for(user).await;
    let adopted = of_type(&events, "Planton IAM User Adopted");
    assert_eq!(adopted.len(), 1, "once, re-delivery included: {events:#?}");
    assert_documented(adopted[0], user, "payments");
    assert_eq!(adopted[0]["Detail"]["kept_access_key_ids"], json!([used]));
    assert_eq!(adopted[0]["Detail"]["removed_access_key_id"], idle.as_str());
    let ended = of_type(&events, "Planton Previous Access Key Deactivated");
    assert_eq!(ended.len(), 1, "{events:#?}");
    assert_eq!(ended[0]["Detail"]["access_key_id"], used.as_str());

    // The first Update settles the adoption: its snapshot goes.
    let snapshot = format!("{}/adoption-snapshot", "planton/iam-user/ow-legacy");
    assert!(secret_exists(&snapshot).await);
    cfn.update(user, props.clone(), props.clone())
        .await
        .assert_success();
    assert!(!secret_exists(&snapshot).await, "settled");
    cfn.delete(user, props).await.assert_success();
    assert!(!user_state(user).await.exists);
}

#[tokio::test]
async fn adoption_is_refused_without_the_operator_for_an_owned_user_and_for_escalating_grants() {
    const PATH: &str = "/owners-refused/";
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "ow-not-allowed",
            "OwNotAllowed",
            &["AdoptExistingUser", "PLANTON_ALLOW_ADOPTION"],
        ),
        (
            "ow-owned",
            "OwOwned",
            &["AdoptExistingUser", "managed by another", "stack/other"],
        ),
        (
            "ow-admin",
            "OwAdmin",
            &["AdoptExistingUser", "already holds", "AdministratorAccess"],
        ),
    ];
    for (user, logical, why) in cases {
        legacy_user(user, PATH, "ow-refused-readers").await;
        let (iam, _) = aws().await;
        match user {
            "ow-owned" => {
                iam.tag_user()
                    .user_name(user)
                    .tags(
                        aws_sdk_iam::types::Tag::builder()
                            .key("planton:stack-id")
                            .value("arn:aws:cloudformation:us-east-1:123456789012:stack/other/1")
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
            "ow-admin" => {
                iam.attach_user_policy()
                    .user_name(user)
                    .policy_arn(ADMIN)
                    .send()
                    .await
                    .unwrap();
            }
            _ => {}
        }
        let before = user_state(user).await;
        let mut cfn = adopting_cfn(logical, PATH).await;
        cfn.app.settings.allow_adoption = user != "ow-not-allowed";
        let props = json!({"UserName": user, "Path": PATH, "AdoptExistingUser": true});
        cfn.create(props).await.assert_failed(why);
        let after = user_state(user).await;
        assert_eq!(after.tags, before.tags, "{user}: no change");
        assert_eq!(after.keys, before.keys, "{user}: no change");
        assert_eq!(after.managed, before.managed, "{user}: no change");
        assert_eq!(after.inline.len(), before.inline.len(), "{user}: no change");
        assert!(!secret_exists(&format!("planton/iam-user/{user}")).await);
        assert!(!secret_exists(&format!("planton/iam-user/{user}/adoption-snapshot")).await);
        assert!(events_for(user).await.is_empty());
    }
}

#[tokio::test]
async fn a_rolled_back_adopting_create_gives_the_user_back() {
    const PATH: &str = "/owners-rollback/";
    let user = "ow-rollback";
    let (used, idle) = legacy_user(user, PATH, "ow-rollback-readers").await;
    seed_key_dates(&used, None, Some(Some(SystemTime::now()))).await;
    let before = user_state(user).await;
    let s = "arn:aws:cloudformation:us-east-1:123456789012:stack/ow-rolling-back/0a1b2c3d-2222-3333-4444-555555555555";
    let mut cfn = Cfn::with_app(app().await, s, "OwRollback").await;
    cfn.app.settings.allow_adoption = true;
    cfn.app.settings.guardrails.allowed_path_prefix = PATH.into();
    let props = json!({"UserName": user, "Path": PATH, "AdoptExistingUser": true,
        "Tags": [{"Key": "owner", "Value": "payments"}]});
    cfn.create(props.clone()).await.assert_success();
    assert_eq!(user_state(user).await.tag("planton:stack-id"), Some(s));

    // Another resource of the stack failed: CloudFormation rolls the Create back.
    set_stack_model(
        emulator_url(),
        &json!({"StackId": s, "StackStatus": "ROLLBACK_IN_PROGRESS", "Merge": true, "Resources": {"OwRollback": {
            "ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "DELETE_IN_PROGRESS",
            "PhysicalResourceId": user}}}),
    )
    .await
    .unwrap();
    let r = cfn
        .send_unannounced(cfn.event("Delete", Some(user), props, None), context())
        .await;
    r.assert_success();
    let after = user_state(user).await;
    assert!(after.exists, "given back, not deleted");
    assert_eq!(after.tags, before.tags, "untagged, its own tags back");
    assert_eq!(after.managed, before.managed);
    assert_eq!(after.inline, before.inline);
    assert_eq!(after.groups, before.groups);
    assert_eq!(status_of(&after, &used).as_deref(), Some("Active"));
    assert_eq!(
        after.keys.len(),
        1,
        "the managed key is gone: {:?}",
        after.keys
    );
    // What could not be restored is said: the key that made room.
    assert!(r.reason().contains(&idle), "{}", r.reason());
    assert!(r.reason().contains("cannot be restored"), "{}", r.reason());
    assert!(!secret_exists(&format!("planton/iam-user/{user}")).await);
    assert!(!secret_exists(&format!("planton/iam-user/{user}/adoption-snapshot")).await);
}

/// What the CDK construct renders for `bucket.grantRead(user)` (cdk/test/principal.test.ts
/// checks the synthesized side): the grant is part of the user's own `InlinePolicies`,
/// so the function keeps it through every Update instead of reverting it as drift, and
/// a grant attached from outside (an `AWS::IAM::Policy`) would be removed.
#[tokio::test]
async fn a_cdk_grant_survives_updates_because_it_is_part_of_the_users_own_properties() {
    let user = "ow-cdk-grant";
    let cfn = Cfn::new("OwCdkGrant").await;
    let grants = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
        "Resource": ["arn:aws:s3:::app-bucket", "arn:aws:s3:::app-bucket/*"]}]});
    let props = |tag: &str| {
        json!({"UserName": user, "InlinePolicies": {"CdkGrants": grants},
            "Tags": [{"Key": "deploy", "Value": tag}]})
    };
    cfn.create(props("1")).await.assert_success();
    // A policy attached by hand (what an IAM Policy resource outside the user would be).
    let (iam, _) = aws().await;
    iam.put_user_policy()
        .user_name(user)
        .policy_name("outside")
        .policy_document(grants.to_string())
        .send()
        .await
        .unwrap();
    cfn.update(user, props("2"), props("1"))
        .await
        .assert_success();
    let u = user_state(user).await;
    let names: Vec<&str> = u.inline.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["CdkGrants"],
        "the grant stays, the outside policy goes"
    );
    assert_eq!(u.inline[0].1, grants);
    cfn.delete(user, props("2")).await.assert_success();
}

/// Whoever may write secrets under the prefix could rewrite the snapshot (its tags copied
/// with it) so that a rollback "restores" an administrator's policy: the user's own
/// record names the snapshot the adoption saved, and a changed one is not restored from.
#[tokio::test]
async fn a_rollback_never_restores_from_a_rewritten_snapshot() {
    const PATH: &str = "/owners-forged-snapshot/";
    let user = "ow-forged-snapshot";
    legacy_user(user, PATH, "ow-forged-readers").await;
    let s = "arn:aws:cloudformation:us-east-1:123456789012:stack/ow-forged/0a1b2c3d-2222-3333-4444-555555555555";
    let mut cfn = Cfn::with_app(app().await, s, "OwForged").await;
    cfn.app.settings.allow_adoption = true;
    cfn.app.settings.guardrails.allowed_path_prefix = PATH.into();
    let props = json!({"UserName": user, "Path": PATH, "AdoptExistingUser": true});
    cfn.create(props.clone()).await.assert_success();
    let (_, sm) = aws().await;
    let name = format!("planton/iam-user/{user}/adoption-snapshot");
    let mut snap = secret_value(&name).await.unwrap();
    snap["managed"] = json!([SEC_AUDIT, ADMIN]);
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string(snap.to_string())
        .send()
        .await
        .unwrap();
    set_stack_model(
        emulator_url(),
        &json!({"StackId": s, "StackStatus": "ROLLBACK_IN_PROGRESS", "Merge": true, "Resources": {"OwForged": {
            "ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "DELETE_IN_PROGRESS",
            "PhysicalResourceId": user}}}),
    )
    .await
    .unwrap();
    let r = cfn
        .send_unannounced(cfn.event("Delete", Some(user), props, None), context())
        .await;
    r.assert_success();
    assert!(
        r.reason().contains("changed after the adoption"),
        "{}",
        r.reason()
    );
    let after = user_state(user).await;
    assert!(after.exists);
    assert!(
        !after.managed.iter().any(|m| m == ADMIN),
        "{:?}",
        after.managed
    );
    assert_eq!(after.tag("planton:stack-id"), None, "released");
    assert!(!secret_exists(&name).await);
}
