//! The watch against the strict emulator. moto emits no CloudTrail events, so each test
//! makes a hand change with plain SDK clients and builds the event CloudTrail would
//! have delivered for that call (`trail`), then hands it to the real entry point.
//! Forged events (nothing happened), users the function does not own, the deployment's
//! own role, redelivery and a fan-out under a small in-flight bound are each shown to
//! change nothing they should not.

use crate::harness::*;
use crate::support::fault_proxy::FaultConfig;
use planton_iam_user::app::App;
use planton_iam_user::model::watch::Mode;
use serde_json::{json, Value};
use std::time::Duration;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const DETAIL_TYPE: &str = "Planton User Changed Outside CloudFormation";
const ROLE: &str = "arn:aws:iam::123456789012:role/planton-iam-user/planton-FunctionRole-ABC";
const ADMIN_DOC: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

static NEXT_EVENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The EventBridge event CloudTrail delivers for `name` with `params`, made by `caller`
/// (an assumed-role session of the role `issuer`).
fn trail(name: &str, params: Value, issuer: &str) -> Value {
    let n = NEXT_EVENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "5e0c1b1e-0000-4000-8000-{:012}",
        n + std::process::id() as u64 * 1000
    );
    let role_name = issuer.rsplit('/').next().unwrap();
    json!({
        "version": "0",
        "id": format!("eb-{id}"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::123456789012:assumed-role/{role_name}/alice"),
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer}}
            },
            "eventTime": "2026-12-07T18:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.9",
            "userAgent": "aws-cli/2.22",
            "requestParameters": params,
            "eventID": id,
        }
    })
}

fn by_hand(name: &str, params: Value) -> Value {
    trail(name, params, "arn:aws:iam::123456789012:role/admin")
}

async fn watch_app(h: &Harness, mode: Mode) -> App {
    let mut app = h.app().await;
    app.settings.change_response = mode;
    app.settings.own_role_arns = vec![ROLE.to_string()];
    app
}

async fn deliver(app: &App, event: &Value) -> Value {
    planton_iam_user::entry::handle_value(app, event.clone(), context())
        .await
        .expect("the watch ends normally")
}

async fn managed_user(h: &Harness, logical: &str, base: &str, extra: Value) -> (Cfn, String) {
    let name = h.name(base);
    let cfn = h.cfn(logical).await;
    let mut props = json!({"UserName": name, "Path": "/watch/"});
    if let (Some(p), Some(x)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(x.clone());
    }
    cfn.create(props).await.assert_success();
    (cfn, name)
}

async fn attach_by_hand(user: &str, arn: &str) {
    let (iam, _) = aws().await;
    iam.attach_user_policy()
        .user_name(user)
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
}

fn active(u: &UserState) -> usize {
    u.keys.iter().filter(|(_, s)| s == "Active").count()
}

fn changed_events(user: &str, all: &[Value]) -> Vec<Value> {
    all.iter()
        .filter(|e| e["DetailType"] == DETAIL_TYPE && e["Detail"]["user"] == user)
        .cloned()
        .collect()
}

async fn one_event(user: &str) -> Value {
    let got = changed_events(user, &events_for(user).await);
    assert_eq!(got.len(), 1, "one event for {user}: {got:?}");
    got[0]["Detail"].clone()
}

async fn each_mode_answers_a_hand_attached_admin_policy(h: &Harness) {
    for (mode, base) in [
        (Mode::Quarantine, "w-quarantine"),
        (Mode::Alert, "w-alert"),
        (Mode::Revert, "w-revert"),
    ] {
        let (_cfn, user) = managed_user(h, &format!("Watch{}", mode.name()), base, json!({})).await;
        assert_eq!(active(&user_state(&user).await), 1);
        attach_by_hand(&user, ADMIN).await;
        let app = watch_app(h, mode).await;
        let summary = deliver(
            &app,
            &by_hand(
                "AttachUserPolicy",
                json!({"userName": user, "policyArn": ADMIN}),
            ),
        )
        .await;
        assert_eq!(summary["users_changed"], 1, "{summary}");
        let u = user_state(&user).await;
        let d = one_event(&user).await;
        assert_eq!(
            d["claimed_by_event"]["caller_arn"],
            "arn:aws:sts::123456789012:assumed-role/admin/alice"
        );
        assert_eq!(d["claimed_by_event"]["event_name"], "AttachUserPolicy");
        assert_eq!(d["response"], mode.name());
        assert!(!d["findings"].as_array().unwrap().is_empty(), "{d}");
        match mode {
            Mode::Quarantine => {
                assert_eq!(active(&u), 0, "the managed key is deactivated: {u:?}");
                assert!(u.managed.contains(&ADMIN.to_string()));
                assert!(d["recover"].as_str().unwrap().contains("stack Update"));
            }
            Mode::Alert => {
                assert_eq!(active(&u), 1);
                assert!(u.managed.contains(&ADMIN.to_string()));
            }
            Mode::Revert => {
                assert_eq!(active(&u), 1, "a plain addition is undone, not quarantined");
                assert!(!u.managed.contains(&ADMIN.to_string()), "{u:?}");
                assert_eq!(
                    d["done"][0],
                    format!("detached hand-attached policy {ADMIN}")
                );
            }
        }
    }
}

async fn a_customer_policy_given_an_admin_version_is_quarantined(h: &Harness) {
    let policy = customer_policy(&h.name("w-cp")).await;
    let (_cfn, user) = managed_user(
        h,
        "WatchPolicy",
        "w-cp-user",
        json!({"ManagedPolicyArns": [policy]}),
    )
    .await;
    let (iam, _) = aws().await;
    iam.create_policy_version()
        .policy_arn(&policy)
        .policy_document(ADMIN_DOC)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let app = watch_app(h, Mode::Quarantine).await;
    let event = by_hand(
        "CreatePolicyVersion",
        json!({"policyArn": policy, "policyDocument": ADMIN_DOC, "setAsDefault": true}),
    );
    deliver(&app, &event).await;
    // Put the policy back for the other profile's run before asserting.
    let versions = iam
        .list_policy_versions()
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    for v in versions.versions() {
        if v.version_id() == Some("v1") {
            iam.set_default_policy_version()
                .policy_arn(&policy)
                .version_id("v1")
                .send()
                .await
                .unwrap();
        }
    }
    for v in versions.versions() {
        if v.version_id() != Some("v1") {
            let _ = iam
                .delete_policy_version()
                .policy_arn(&policy)
                .version_id(v.version_id().unwrap())
                .send()
                .await;
        }
    }
    assert_eq!(active(&user_state(&user).await), 0);
    let d = one_event(&user).await;
    assert!(d["findings"].to_string().contains(&policy), "{d}");
    assert!(
        d["observed"]["drifted"].as_array().unwrap().is_empty(),
        "no aspect drifted: {d}"
    );
}

async fn forged_foreign_and_own_role_events_change_nothing(h: &Harness) {
    let (_cfn, user) = managed_user(h, "WatchForged", "w-forged", json!({})).await;
    let app = watch_app(h, Mode::Revert).await;
    let before = app.calls.snapshot();
    // Forged: claims an admin attachment that never happened.
    let s = deliver(
        &app,
        &by_hand(
            "AttachUserPolicy",
            json!({"userName": user, "policyArn": ADMIN}),
        ),
    )
    .await;
    assert_eq!(s["users_changed"], 0, "{s}");
    assert!(
        app.calls.snapshot().since(&before).writes().is_empty(),
        "{:?}",
        app.calls.snapshot().since(&before).writes()
    );
    assert!(changed_events(&user, &events_for(&user).await).is_empty());

    // Not this function's: a hand-made user with admin and a key.
    let foreign = h.name("w-foreign");
    let (iam, _) = aws().await;
    iam.create_user()
        .user_name(&foreign)
        .path("/watch/")
        .send()
        .await
        .unwrap();
    attach_by_hand(&foreign, ADMIN).await;
    iam.create_access_key()
        .user_name(&foreign)
        .send()
        .await
        .unwrap();
    let before = app.calls.snapshot();
    let s = deliver(
        &app,
        &by_hand(
            "AttachUserPolicy",
            json!({"userName": foreign, "policyArn": ADMIN}),
        ),
    )
    .await;
    assert_eq!(s["users_changed"], 0, "{s}");
    assert!(app.calls.snapshot().since(&before).writes().is_empty());
    assert!(
        events_for(&foreign).await.is_empty(),
        "nothing published about it"
    );
    let f = user_state(&foreign).await;
    assert_eq!(active(&f), 1);
    assert!(f.managed.contains(&ADMIN.to_string()));

    // Caused by the deployment's own role: ignored, even though the change is there.
    attach_by_hand(&user, ADMIN).await;
    let before = app.calls.snapshot();
    let s = deliver(
        &app,
        &trail(
            "AttachUserPolicy",
            json!({"userName": user, "policyArn": ADMIN}),
            ROLE,
        ),
    )
    .await;
    assert_eq!(s["handled"], false, "{s}");
    assert_eq!(
        app.calls.snapshot().since(&before).total(),
        0,
        "not one AWS call"
    );
    assert!(user_state(&user).await.managed.contains(&ADMIN.to_string()));
    // An unrelated or failed call ends normally too.
    let mut failed = by_hand(
        "AttachUserPolicy",
        json!({"userName": user, "policyArn": ADMIN}),
    );
    failed["detail"]["errorCode"] = json!("AccessDenied");
    assert_eq!(deliver(&app, &failed).await["handled"], false);
    let (iam, _) = aws().await;
    iam.detach_user_policy()
        .user_name(&user)
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
}

async fn a_redelivery_does_nothing_twice(h: &Harness) {
    let (_cfn, user) = managed_user(h, "WatchTwice", "w-twice", json!({})).await;
    let (iam, _) = aws().await;
    iam.create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let app = watch_app(h, Mode::Alert).await;
    let event = by_hand("CreateAccessKey", json!({"userName": user}));
    let first = deliver(&app, &event).await;
    assert_eq!(first["users_changed"], 1, "{first}");
    let d = one_event(&user).await;
    assert_eq!(
        d["observed"]["hand_made_keys"].as_array().unwrap().len(),
        1,
        "{d}"
    );
    let before = app.calls.snapshot();
    let again = deliver(&app, &event).await;
    assert_eq!(again["users_changed"], 0, "{again}");
    assert!(app.calls.snapshot().since(&before).writes().is_empty());
    one_event(&user).await;
    // Quarantine of the same key, delivered twice: deactivated once.
    let app = watch_app(h, Mode::Quarantine).await;
    let event = by_hand("CreateAccessKey", json!({"userName": user}));
    deliver(&app, &event).await;
    let before = app.calls.snapshot();
    deliver(&app, &event).await;
    assert!(app.calls.snapshot().since(&before).writes().is_empty());
    assert_eq!(active(&user_state(&user).await), 0);
}

both_profiles!(
    each_mode_answers_a_hand_attached_admin_policy,
    a_customer_policy_given_an_admin_version_is_quarantined,
    forged_foreign_and_own_role_events_change_nothing,
    a_redelivery_does_nothing_twice,
);

/// A group policy change reaches every member: eight managed users examined at once,
/// through a proxy adding 50 ms per call, never more than PLANTON_MAX_IN_FLIGHT calls
/// in flight.
#[tokio::test]
async fn a_burst_stays_within_the_in_flight_bound() {
    let h = Harness::with_faults(FaultConfig::default());
    let group = h.name("w-burst-g");
    create_group(&group).await;
    let mut users = Vec::new();
    for i in 0..8 {
        let (_cfn, u) = managed_user(
            &h,
            &format!("WatchBurst{i}"),
            &format!("w-burst-{i}"),
            json!({}),
        )
        .await;
        let (iam, _) = aws().await;
        iam.add_user_to_group()
            .user_name(&u)
            .group_name(&group)
            .send()
            .await
            .unwrap();
        users.push(u);
    }
    let (iam, _) = aws().await;
    iam.put_group_policy()
        .group_name(&group)
        .policy_name("admin")
        .policy_document(ADMIN_DOC)
        .send()
        .await
        .unwrap();
    let mut app = watch_app(&h, Mode::Quarantine).await;
    app.settings.max_in_flight = 3;
    h.proxy().set(FaultConfig {
        latency: Duration::from_millis(50),
        ..FaultConfig::default()
    });
    h.proxy().reset_stats();
    let s = deliver(
        &app,
        &by_hand(
            "PutGroupPolicy",
            json!({"groupName": group, "policyName": "admin"}),
        ),
    )
    .await;
    let peak = h.proxy().stats().peak_in_flight;
    h.proxy().set(FaultConfig::default());
    iam.delete_group_policy()
        .group_name(&group)
        .policy_name("admin")
        .send()
        .await
        .unwrap();
    assert!(peak <= 3, "bounded by 3: peak {peak}");
    assert_eq!(s["users_examined"], 8, "{s}");
    assert_eq!(s["users_quarantined"], 8, "{s}");
    for u in &users {
        assert_eq!(active(&user_state(u).await), 0, "{u}");
    }
}
