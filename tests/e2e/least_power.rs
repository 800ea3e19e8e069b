//! Least power per caller: the audit and the grace sweep run in a function of their own
//! (`PLANTON_SERVES=schedule`) whose role can read users, keys and secrets' descriptions
//! and deactivate keys, nothing else. The emulator does not enforce IAM, so these tests
//! prove the code's side of it: every AWS call the scheduled work makes is one that role
//! holds (no GetSecretValue, no write but UpdateAccessKey), each function refuses the
//! other's callers before any call, and a secret written before the function recorded
//! its key ids is audited honestly and gets its record at the next Update.

use crate::harness::*;
use planton_iam_user::app::App;
use planton_iam_user::aws::calls::Counts;
use planton_iam_user::model::key_ledger;
use planton_iam_user::settings::Settings;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

const AUDIT_EVENT: &str = include_str!("../../events/audit.json");
const END_GRACE_EVENT: &str = include_str!("../../events/end-grace.json");
const ROTATION_EVENT: &str = include_str!("../../events/rotation.json");

/// The role template.yaml gives ScheduledFunction, as operations (read-only ones by
/// prefix, the one write, and telling the owners what it did).
const SCHEDULED_ROLE_WRITES: [&str; 2] = ["UpdateAccessKey", "PutEvents"];

/// Settings as the template sets them on one of the two functions.
fn function_settings(serves: &'static str, path: &str) -> Settings {
    let path = path.to_string();
    Settings {
        response_url_prefixes: vec![planton_iam_user::settings::UrlPrefix::parse(
            "http://127.0.0.1:",
        )
        .unwrap()],
        ..Settings::from_lookup(move |k| match k {
            "PLANTON_SERVES" => Some(serves.to_string()),
            "PLANTON_ALLOWED_PATH_PREFIX" => Some(path.clone()),
            "PLANTON_AUDIT_DEACTIVATE" => Some("true".into()),
            "PLANTON_KEY_MAX_IDLE_DAYS" => Some("30".into()),
            _ => None,
        })
    }
}

async fn function_app(serves: &'static str, path: &str) -> App {
    let mut app = app().await;
    app.settings = function_settings(serves, path);
    assert!(app.settings.check().is_ok(), "{:?}", app.settings.problems);
    app
}

async fn invoke(app: &App, event: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(event).unwrap();
    planton_iam_user::entry::handle_value(app, v, context())
        .await
        .map_err(|e| e.to_string())
}

/// Every call in `calls` is one the scheduled function's role holds.
fn assert_within_the_scheduled_role(calls: &Counts) {
    for op in calls.calls.keys() {
        assert!(
            !op.ends_with("GetSecretValue"),
            "the scheduled work read a secret value: {:?}",
            calls.calls
        );
    }
    for op in calls.writes().keys() {
        let name = op.rsplit('.').next().unwrap_or_default();
        assert!(
            SCHEDULED_ROLE_WRITES.contains(&name),
            "the scheduled work made a write its role does not hold: {op} in {:?}",
            calls.calls
        );
    }
}

#[tokio::test]
async fn the_scheduled_work_reads_no_secret_value_and_writes_only_key_status() {
    const PATH: &str = "/least-power-sched/";
    let writer = Cfn::with_app(
        function_app("custom-resource,rotation", PATH).await,
        STACK,
        "LpSched",
    )
    .await;
    let (rotated, idle) = ("lp-rotated", "lp-idle");
    let r = writer
        .create(json!({"UserName": rotated, "Path": PATH}))
        .await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let old = current_key_id(&secret).await;
    // A KeySerial raise: the old key stays active for its grace period.
    writer
        .update(
            rotated,
            json!({"UserName": rotated, "Path": PATH, "KeySerial": 1}),
            json!({"UserName": rotated, "Path": PATH}),
        )
        .await
        .assert_success();
    let new = current_key_id(&secret).await;
    assert_ne!(old, new);
    // The new key was made 25 hours ago: the old one's grace (24 h) is over.
    let now = SystemTime::now();
    seed_key_dates(&new, Some(now - Duration::from_secs(25 * 3600)), None).await;
    let writer2 = Cfn::with_app(
        function_app("custom-resource,rotation", PATH).await,
        STACK,
        "LpIdle",
    )
    .await;
    writer2
        .create(json!({"UserName": idle, "Path": PATH}))
        .await
        .assert_success();
    let idle_key = user_state(idle).await.keys[0].0.clone();
    seed_key_dates(
        &idle_key,
        Some(now - Duration::from_secs(90 * 86_400)),
        Some(Some(now - Duration::from_secs(60 * 86_400))),
    )
    .await;

    let scheduled = function_app("schedule", PATH).await;
    // A deadline too near to start anyone: nothing is swept, and the summary says so.
    let late: Value = serde_json::from_str(END_GRACE_EVENT).unwrap();
    let late = planton_iam_user::entry::handle_value(&scheduled, late, deadline_in(5))
        .await
        .unwrap();
    assert_eq!(late["covered_users"], 0, "{late}");
    assert_eq!(late["complete"], false, "{late}");
    let sweep = invoke(&scheduled, END_GRACE_EVENT)
        .await
        .expect("the sweep runs");
    assert_eq!(sweep["deactivated_keys"], 1, "{sweep}");
    assert_eq!(sweep["unrecorded_secrets"], 0, "{sweep}");
    assert_eq!(sweep["covered_users"], 2, "{sweep}");
    assert_eq!(sweep["complete"], true, "{sweep}");
    let audit = invoke(&scheduled, AUDIT_EVENT)
        .await
        .expect("the audit runs");
    assert_eq!(audit["DeactivatedKeys"], 1, "the idle key: {audit}");
    assert_eq!(audit["ManagedUsers"], 2, "{audit}");
    assert_within_the_scheduled_role(&scheduled.calls.snapshot());
    assert!(
        scheduled
            .calls
            .snapshot()
            .calls
            .keys()
            .any(|op| op.ends_with("DescribeSecret")),
        "the key ids came from DescribeSecret: {:?}",
        scheduled.calls.snapshot().calls
    );

    let status =
        |u: &UserState, id: &str| u.keys.iter().find(|(k, _)| k == id).map(|(_, s)| s.clone());
    let u = user_state(rotated).await;
    assert_eq!(status(&u, &old).as_deref(), Some("Inactive"), "grace over");
    assert_eq!(status(&u, &new).as_deref(), Some("Active"));
    let i = user_state(idle).await;
    assert_eq!(status(&i, &idle_key).as_deref(), Some("Inactive"));

    for (cfn, name) in [(&writer, rotated), (&writer2, idle)] {
        cfn.delete(name, json!({"UserName": name, "Path": PATH}))
            .await
            .assert_success();
    }
}

#[tokio::test]
async fn each_function_refuses_the_other_functions_callers_before_any_call() {
    const PATH: &str = "/least-power-refuse/";
    // The scheduled function, sent a custom-resource request: FAILED, saying why.
    let scheduled = Cfn::with_app(function_app("schedule", PATH).await, STACK, "LpRefuse").await;
    let r = scheduled
        .send_unannounced(
            scheduled.event(
                "Create",
                None,
                json!({"UserName": "lp-refused", "Path": PATH}),
                None,
            ),
            context(),
        )
        .await;
    r.assert_failed(&[
        "does not answer custom-resource requests",
        "PLANTON_SERVES",
        "ServiceToken",
    ]);
    let mut rotation: Value = serde_json::from_str(ROTATION_EVENT).unwrap();
    rotation["SecretId"] = json!("planton/iam-user/lp-refused");
    let e = invoke(&scheduled.app, &rotation.to_string())
        .await
        .unwrap_err();
    assert!(e.contains("does not answer rotation steps"), "{e}");
    assert_eq!(
        scheduled.app.calls.snapshot().total(),
        0,
        "no AWS call at all"
    );
    assert!(!user_state("lp-refused").await.exists);

    // The write function, sent the schedules' payloads: the invocation fails, no call.
    let writer = function_app("custom-resource,rotation", PATH).await;
    for event in [AUDIT_EVENT, END_GRACE_EVENT] {
        let e = invoke(&writer, event).await.unwrap_err();
        assert!(e.contains("does not answer the scheduled"), "{e}");
    }
    assert_eq!(writer.calls.snapshot().total(), 0, "no AWS call at all");
}

#[tokio::test]
async fn a_secret_without_its_key_record_is_audited_honestly_and_recorded_at_the_next_update() {
    const PATH: &str = "/least-power-legacy/";
    let user = "lp-legacy";
    let props = json!({"UserName": user, "Path": PATH});
    let cfn = Cfn::with_app(
        function_app("custom-resource,rotation", PATH).await,
        STACK,
        "LpLegacy",
    )
    .await;
    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let key = current_key_id(&secret).await;
    let recorded = secret_description(&secret).await;
    assert!(
        key_ledger::parse(&recorded).values().any(|k| *k == key),
        "a new secret records its key id: {recorded}"
    );
    assert!(!recorded.contains("SecretAccessKey"));

    // As a secret written by an earlier version of the function: no record.
    let (_, sm) = aws().await;
    let sentence = recorded
        .split(key_ledger::MARKER)
        .next()
        .unwrap()
        .to_string();
    sm.update_secret()
        .secret_id(&secret)
        .description(&sentence)
        .send()
        .await
        .unwrap();

    let scheduled = function_app("schedule", PATH).await;
    let audit = invoke(&scheduled, AUDIT_EVENT)
        .await
        .expect("the audit runs");
    assert_eq!(audit["DriftedUsers"], 1, "{audit}");
    let report = planton_iam_user::audit::run(
        &scheduled.clients,
        &scheduled.settings.audit,
        4,
        SystemTime::now(),
    )
    .await
    .unwrap();
    let drifts: Vec<_> = report.drifts.iter().filter(|d| d.user == user).collect();
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(drifts[0].aspect, "secret");
    assert!(
        drifts[0].detail.contains("does not record"),
        "{}",
        drifts[0].detail
    );
    let keyrec = report.keys.iter().find(|k| k.user == user).unwrap();
    assert!(!keyrec.in_secret, "unknown, so not claimed");
    assert_within_the_scheduled_role(&scheduled.calls.snapshot());

    // The next Update (nothing else changed) writes the record; the audit is clean.
    cfn.update(user, props.clone(), props.clone())
        .await
        .assert_success();
    let now_recorded = secret_description(&secret).await;
    assert!(now_recorded.starts_with(&sentence), "{now_recorded}");
    assert!(
        key_ledger::parse(&now_recorded).values().any(|k| *k == key),
        "{now_recorded}"
    );
    let report = planton_iam_user::audit::run(
        &scheduled.clients,
        &scheduled.settings.audit,
        4,
        SystemTime::now(),
    )
    .await
    .unwrap();
    assert!(
        report.drifts.iter().all(|d| d.user != user),
        "{:?}",
        report.drifts
    );
    assert!(
        report
            .keys
            .iter()
            .find(|k| k.user == user)
            .unwrap()
            .in_secret
    );
    cfn.delete(user, props).await.assert_success();
}
