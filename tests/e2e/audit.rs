//! The scheduled audit against the strict emulator: users made by the real handler,
//! then aged (the emulator's own test endpoint seeds a key's CreateDate and last use) or
//! changed by hand with plain SDK clients, next to users the function does not own.
//! Each test lists only its own path, so tests in this binary never see each other's
//! users; the dispatch test audits everything, in report-only mode.

use crate::harness::*;
use crate::support::fault_proxy::FaultConfig;
use planton_iam_user::audit::{self, DriftRecord, KeyRecord, Report};
use planton_iam_user::settings::AuditConfig;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

const AUDIT_EVENT: &str = include_str!("../../events/audit.json");
const RO: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const SEC_AUDIT: &str = "arn:aws:iam::aws:policy/SecurityAudit";
const DAY: u64 = 86_400;

fn days_ago(now: SystemTime, days: u64) -> SystemTime {
    now - Duration::from_secs(days * DAY)
}

fn cfg(path: &str, max_age_days: u64, max_idle_days: u64, deactivate: bool) -> AuditConfig {
    AuditConfig {
        max_age_days,
        max_idle_days,
        deactivate,
        path_prefix: path.to_string(),
        ..AuditConfig::default()
    }
}

async fn run(cfg: &AuditConfig, now: SystemTime) -> Report {
    // A report made now, after everything the test changed (IAM reuses one for four
    // hours; the summary states the age of the one it judged by).
    fresh_credential_report(None).await;
    let app = app().await;
    let report = audit::run(&app.clients, cfg, app.settings.max_in_flight, now)
        .await
        .expect("the audit runs");
    for line in report.lines("planton-iam-user") {
        println!("{line}");
    }
    report
}

fn key<'a>(r: &'a Report, user: &str) -> &'a KeyRecord {
    let found: Vec<&KeyRecord> = r.keys.iter().filter(|k| k.user == user).collect();
    assert_eq!(found.len(), 1, "one key record for {user}: {:?}", r.keys);
    found[0]
}

fn drifts_of<'a>(r: &'a Report, user: &str) -> Vec<&'a DriftRecord> {
    r.drifts.iter().filter(|d| d.user == user).collect()
}

/// No record of the report names `user`, in any field.
fn never_named(r: &Report, user: &str) {
    for line in r.lines("f") {
        assert!(!line.contains(user), "{user} appears in {line}");
    }
}

async fn create(logical: &str, props: Value) -> (Cfn, String) {
    let cfn = Cfn::new(logical).await;
    cfn.create(props.clone()).await.assert_success();
    let name = props["UserName"].as_str().unwrap().to_string();
    (cfn, name)
}

/// A user made by hand, not by the function; `stack_only` gives it one ownership tag.
async fn hand_made_user(name: &str, path: &str, stack_only: bool) -> String {
    let (iam, _) = aws().await;
    let mut req = iam.create_user().user_name(name).path(path);
    if stack_only {
        req = req.tags(
            aws_sdk_iam::types::Tag::builder()
                .key("planton:stack-id")
                .value(STACK)
                .build()
                .unwrap(),
        );
    }
    req.send().await.unwrap();
    iam.attach_user_policy()
        .user_name(name)
        .policy_arn(SEC_AUDIT)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    k.access_key.unwrap().access_key_id
}

async fn remove_hand_made_user(name: &str, key_id: &str) {
    let (iam, _) = aws().await;
    let _ = iam
        .delete_access_key()
        .user_name(name)
        .access_key_id(key_id)
        .send()
        .await;
    let _ = iam
        .detach_user_policy()
        .user_name(name)
        .policy_arn(SEC_AUDIT)
        .send()
        .await;
    let _ = iam.delete_user().user_name(name).send().await;
}

#[tokio::test]
async fn the_audit_reports_exactly_the_stale_and_idle_keys_and_deactivates_only_when_told() {
    const PATH: &str = "/audit-keys/";
    let now = SystemTime::now();
    let mut made = Vec::new();
    for (logical, name) in [
        ("KeyFresh", "ak-fresh"),
        ("KeyUsed", "ak-old-but-used"),
        ("KeyIdle", "ak-idle"),
        ("KeyNever", "ak-never-used"),
    ] {
        made.push(create(logical, json!({"UserName": name, "Path": PATH})).await);
    }
    let id = |name: &'static str| async move { user_state(name).await.keys[0].0.clone() };
    // fresh: made now, never used. old-but-used: 200 days old, used 2 days ago.
    // idle: 60 days old, last used 45 days ago. never-used: 100 days old, never used.
    seed_key_dates(
        &id("ak-old-but-used").await,
        Some(days_ago(now, 200)),
        Some(Some(days_ago(now, 2))),
    )
    .await;
    seed_key_dates(
        &id("ak-idle").await,
        Some(days_ago(now, 60)),
        Some(Some(days_ago(now, 45))),
    )
    .await;
    seed_key_dates(&id("ak-never-used").await, Some(days_ago(now, 100)), None).await;
    // Somebody else's users on the same path, with old idle keys: never reported,
    // never deactivated.
    let stranger_key = hand_made_user("ak-stranger", PATH, false).await;
    let half_key = hand_made_user("ak-half-tagged", PATH, true).await;
    seed_key_dates(&stranger_key, Some(days_ago(now, 400)), Some(None)).await;
    seed_key_dates(&half_key, Some(days_ago(now, 400)), Some(None)).await;

    // Report only: max age 90 days, max idle 30 days.
    let r = run(&cfg(PATH, 90, 30, false), now).await;
    let flags = |u: &str| {
        let k = key(&r, u);
        (k.stale, k.idle, k.deactivated)
    };
    assert_eq!(r.keys.len(), 4, "{:?}", r.keys);
    assert_eq!(flags("ak-fresh"), (false, false, false));
    assert_eq!(flags("ak-old-but-used"), (true, false, false));
    assert_eq!(flags("ak-idle"), (false, true, false));
    assert_eq!(flags("ak-never-used"), (true, true, false));
    let used = key(&r, "ak-old-but-used");
    assert_eq!(used.age_days, Some(200));
    assert_eq!(used.idle_days, Some(2));
    assert_eq!(
        used.last_used.as_deref(),
        Some(iso(days_ago(now, 2)).as_str())
    );
    assert_eq!(used.last_used_service.as_deref(), Some("sts"));
    assert!(used.in_secret && used.status == "Active");
    let never = key(&r, "ak-never-used");
    assert_eq!(
        (never.last_used.as_ref(), never.idle_days),
        (None, Some(100))
    );
    assert_eq!(key(&r, "ak-fresh").age_days, Some(0));
    assert!(
        r.drifts.is_empty(),
        "users as deployed have no drift: {:?}",
        r.drifts
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let s = &r.summary;
    assert_eq!(
        (
            s.listed_users,
            s.managed_users,
            s.keys,
            s.stale_keys,
            s.idle_keys,
            s.deactivated_keys,
            s.drifted_users,
            s.audit_errors
        ),
        (6, 4, 4, 2, 2, 0, 0, 0)
    );
    for u in ["ak-fresh", "ak-old-but-used", "ak-idle", "ak-never-used"] {
        assert_eq!(user_state(u).await.keys[0].1, "Active", "report only: {u}");
    }
    never_named(&r, "ak-stranger");
    never_named(&r, "ak-half-tagged");
    let summary = r.summary_record("planton-iam-user");
    assert_eq!(summary["StaleKeys"], 2);
    assert_eq!(summary["IdleKeys"], 2);

    // Told to deactivate: exactly the idle keys of owned users.
    let r = run(&cfg(PATH, 90, 30, true), now).await;
    let deactivated: Vec<&str> = r
        .keys
        .iter()
        .filter(|k| k.deactivated)
        .map(|k| k.user.as_str())
        .collect();
    assert_eq!(deactivated, vec!["ak-idle", "ak-never-used"]);
    assert_eq!(r.summary.deactivated_keys, 2);
    for (u, want) in [
        ("ak-fresh", "Active"),
        ("ak-old-but-used", "Active"),
        ("ak-idle", "Inactive"),
        ("ak-never-used", "Inactive"),
        ("ak-stranger", "Active"),
        ("ak-half-tagged", "Active"),
    ] {
        assert_eq!(user_state(u).await.keys[0].1, want, "{u}");
    }
    never_named(&r, "ak-stranger");

    // A key already inactive is not deactivated again; the change shows as drift from
    // the deployed KeyStatus until the next Update (or a KeyStatus: Inactive) settles it.
    let r = run(&cfg(PATH, 90, 30, true), now).await;
    assert_eq!(r.summary.deactivated_keys, 0);
    assert_eq!(r.summary.idle_keys, 2);
    assert_eq!(key(&r, "ak-idle").status, "Inactive");
    let d = drifts_of(&r, "ak-idle");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].aspect.as_str(), &d[0].now, &d[0].deployed),
        ("key_status", &json!("Inactive"), &Some(json!("Active")))
    );

    remove_hand_made_user("ak-stranger", &stranger_key).await;
    remove_hand_made_user("ak-half-tagged", &half_key).await;
    for (cfn, name) in made {
        cfn.delete(&name, json!({"UserName": name}))
            .await
            .assert_success();
    }
}

#[tokio::test]
async fn hand_made_changes_appear_in_the_drift_report_and_nobody_elses_user_does() {
    const PATH: &str = "/audit-drift/";
    let props = |name: &str| {
        json!({
            "UserName": name,
            "Path": PATH,
            "ManagedPolicyArns": [RO],
            "InlinePolicies": {"logs": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}},
            "Tags": [{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}],
        })
    };
    let mut made = Vec::new();
    for (logical, name) in [
        ("DriftClean", "dr-clean"),
        ("DriftPolicy", "dr-policy"),
        ("DriftTag", "dr-tag"),
        ("DriftKey", "dr-extra-key"),
        ("DriftStatus", "dr-status"),
        ("DriftSecret", "dr-secret"),
        ("DriftRecord", "dr-record"),
    ] {
        made.push(create(logical, props(name)).await);
    }
    let (iam, sm) = aws().await;
    // By hand: a policy attached, a tag removed, a key created, the key deactivated,
    // the secret deleted, the deployment record removed.
    iam.attach_user_policy()
        .user_name("dr-policy")
        .policy_arn(SEC_AUDIT)
        .send()
        .await
        .unwrap();
    iam.untag_user()
        .user_name("dr-tag")
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let extra = iam
        .create_access_key()
        .user_name("dr-extra-key")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let status_key = user_state("dr-status").await.keys[0].0.clone();
    iam.update_access_key()
        .user_name("dr-status")
        .access_key_id(&status_key)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    sm.delete_secret()
        .secret_id("planton/iam-user/dr-secret")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    iam.untag_user()
        .user_name("dr-record")
        .tag_keys("planton:deployed")
        .send()
        .await
        .unwrap();
    // Somebody else's user, changed in every way the report looks for.
    let stranger_key = hand_made_user("dr-stranger", PATH, false).await;
    let half_key = hand_made_user("dr-half-tagged", PATH, true).await;

    let mut before = Vec::new();
    for (_, n) in &made {
        before.push(format!("{:?}", user_state(n).await));
    }
    let mut secrets = Vec::new();
    for (_, n) in &made {
        if let Some(v) = secret_value(&format!("planton/iam-user/{n}")).await {
            secrets.push(v["SecretAccessKey"].as_str().unwrap().to_string());
        }
    }

    let r = run(&cfg(PATH, 90, 90, false), SystemTime::now()).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let aspects =
        |u: &str| -> Vec<String> { drifts_of(&r, u).iter().map(|d| d.aspect.clone()).collect() };
    assert!(
        aspects("dr-clean").is_empty(),
        "{:?}",
        drifts_of(&r, "dr-clean")
    );

    let d = drifts_of(&r, "dr-policy");
    assert_eq!(aspects("dr-policy"), vec!["managed_policies"]);
    assert_eq!(d[0].added, vec![SEC_AUDIT]);
    let mut now = vec![RO, SEC_AUDIT];
    now.sort();
    assert_eq!(d[0].now, json!(now));
    assert_eq!(
        (d[0].stack_id.as_str(), d[0].logical_id.as_str()),
        (STACK, "DriftPolicy")
    );
    assert_eq!(d[0].hint, "the next stack Update converges it");

    let d = drifts_of(&r, "dr-tag");
    assert_eq!(aspects("dr-tag"), vec!["tags"]);
    assert_eq!(d[0].removed, vec!["env"]);
    assert!(d[0].added.is_empty() && d[0].changed.is_empty());
    assert_eq!(d[0].now, json!({"team": "payments"}));
    assert_eq!(
        d[0].deployed,
        Some(json!({"team": "payments", "env": "prod"}))
    );

    let d = drifts_of(&r, "dr-extra-key");
    assert_eq!(aspects("dr-extra-key"), vec!["access_keys"]);
    assert_eq!(d[0].added, vec![extra.access_key_id.clone()]);

    let d = drifts_of(&r, "dr-status");
    assert_eq!(aspects("dr-status"), vec!["key_status"]);
    assert_eq!(d[0].now, json!("Inactive"));
    assert_eq!(d[0].deployed, Some(json!("Active")));

    let d = drifts_of(&r, "dr-secret");
    assert_eq!(aspects("dr-secret"), vec!["secret", "access_keys"]);
    assert!(d[0].detail.contains("does not exist"), "{}", d[0].detail);

    assert_eq!(aspects("dr-record"), vec!["record"]);

    assert_eq!(r.summary.managed_users, 7);
    assert_eq!(r.summary.drifted_users, 6);
    assert_eq!(r.summary.drifts, 7);
    never_named(&r, "dr-stranger");
    never_named(&r, "dr-half-tagged");
    for line in r.lines("f") {
        assert!(!line.contains("SecretAccessKey"), "{line}");
        for s in &secrets {
            assert!(!line.contains(s.as_str()), "a secret key in {line}");
        }
    }
    // The report changed nothing.
    for ((_, n), b) in made.iter().zip(&before) {
        assert_eq!(&format!("{:?}", user_state(n).await), b, "{n} was changed");
    }

    // The next Update converges what drifted (same properties, as a stack update that
    // touches the resource sends them).
    for (cfn, name) in &made[1..] {
        cfn.update(name, props(name), props(name))
            .await
            .assert_success();
    }
    let r = run(&cfg(PATH, 90, 90, false), SystemTime::now()).await;
    for u in [
        "dr-clean",
        "dr-policy",
        "dr-tag",
        "dr-extra-key",
        "dr-status",
        "dr-secret",
        "dr-record",
    ] {
        assert!(aspects_of(&r, u).is_empty(), "{u}: {:?}", drifts_of(&r, u));
    }

    remove_hand_made_user("dr-stranger", &stranger_key).await;
    remove_hand_made_user("dr-half-tagged", &half_key).await;
    for (cfn, name) in made {
        cfn.delete(&name, props(&name)).await.assert_success();
    }
}

fn aspects_of(r: &Report, u: &str) -> Vec<String> {
    drifts_of(r, u).iter().map(|d| d.aspect.clone()).collect()
}

#[tokio::test]
async fn a_scheduled_event_reaches_the_audit_through_the_handler() {
    let cfn = Cfn::new("AuditDispatch").await;
    cfn.create(json!({"UserName": "ad-dispatched", "Path": "/audit-dispatch/"}))
        .await
        .assert_success();
    let (result, puts) = cfn.send_raw(AUDIT_EVENT).await;
    assert!(puts.is_empty(), "nothing is sent to CloudFormation");
    let summary = result.expect("the audit succeeds");
    assert_eq!(summary["record"], "planton.audit.summary");
    assert_eq!(summary["deactivate"], false, "report only by default");
    assert_eq!(summary["max_age_days"], 90);
    assert_eq!(summary["max_idle_days"], 90);
    assert_eq!(
        summary["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Planton/IamUser"
    );
    assert!(summary["ManagedUsers"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["Keys"].as_u64().unwrap() >= 1, "{summary}");
    cfn.delete("ad-dispatched", json!({"UserName": "ad-dispatched"}))
        .await
        .assert_success();
}

/// An account too large for one invocation is covered in several: a run that runs out
/// of time says how far it got and where the next one starts (the template's rule on the
/// function's results starts it), and a continued run audits only the rest.
#[tokio::test]
async fn a_run_out_of_time_says_where_the_next_begins_and_the_next_covers_the_rest() {
    const PATH: &str = "/audit-continue/";
    let mut made = Vec::new();
    for (logical, name) in [("ContA", "ac-a"), ("ContB", "ac-b"), ("ContC", "ac-c")] {
        made.push(create(logical, json!({"UserName": name, "Path": PATH})).await);
    }
    let app = app().await;
    let c = cfg(PATH, 90, 90, false);
    let now = SystemTime::now();
    // No time at all: nothing started, nothing silently skipped.
    let none = audit::run_scoped(
        &app.clients,
        &c,
        8,
        now,
        &audit::Scope {
            resume_from: None,
            stop_at: Some(tokio::time::Instant::now()),
            ..audit::Scope::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(none.summary.covered_users, 0);
    assert!(!none.summary.complete);
    assert_eq!(none.summary.resume_from.as_deref(), Some("ac-a"));
    let record = none.summary_record("f");
    assert_eq!(record["continuation"]["resume-from"], "ac-a", "{record}");
    assert_eq!(record["CoveredUsers"], 0);
    // Resumed at ac-b: ac-b and ac-c, and the run is complete.
    let rest = audit::run_scoped(
        &app.clients,
        &c,
        8,
        now,
        &audit::Scope {
            resume_from: Some("ac-b".into()),
            stop_at: None,
            ..audit::Scope::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.summary.managed_users, 2, "{:?}", rest.summary);
    assert!(rest.summary.complete);
    assert!(rest.keys.iter().all(|k| k.user != "ac-a"));
    assert!(rest.summary_record("f")["continuation"].is_null());

    // Through the handler, as the continuation rule sends it, and with a deadline too
    // near to start anyone.
    let mut scheduled = app;
    scheduled.settings.audit = c.clone();
    let mut resumed: Value = serde_json::from_str(AUDIT_EVENT).unwrap();
    resumed["detail"] = json!({"resume-from": "ac-c"});
    let summary = planton_iam_user::entry::handle_value(&scheduled, resumed, context())
        .await
        .unwrap();
    assert_eq!(summary["ManagedUsers"], 1, "{summary}");
    assert_eq!(summary["complete"], true);
    let audit_event: Value = serde_json::from_str(AUDIT_EVENT).unwrap();
    // The deadline leaves no time to start a user (three margins, 30 s) but time to
    // read the account's pages (until a third of a margin before it).
    let late = planton_iam_user::entry::handle_value(&scheduled, audit_event, deadline_in(12))
        .await
        .unwrap();
    assert_eq!(late["complete"], false, "{late}");
    assert_eq!(late["continuation"]["resume-from"], "ac-a", "{late}");
    for (cfn, name) in made {
        cfn.delete(&name, json!({"UserName": name, "Path": PATH}))
            .await
            .assert_success();
    }
}

/// The audit's calls grow with pages, not users, pinned the way a Create's are: in an
/// account of the test's own (so every page holds exactly what the test made), with
/// small pages to make the paging visible, counted by the function's own call log
/// (retries are attempts, not calls, so the faulty run pins the same figures).
/// A clean account costs its pages and the credential report, not one call per user;
/// only users the pages cannot prove (a key made by hand, a secret deleted by hand) are
/// read on their own, and a key is read again before the one write the audit makes.
async fn the_audit_reads_the_account_in_pages(faults: FaultConfig, account: &str) {
    use planton_iam_user::aws::calls::Counts;
    use planton_iam_user::aws::inventory::PageSizes;
    const PATH: &str = "/audit-pages/";
    const USERS: usize = 5;
    let h = Harness::with_faults(FaultConfig {
        account: Some(account.to_string()),
        ..faults.clone()
    });
    let stack = STACK.replace("123456789012", account);
    // Arranged through a fault-free proxy into the same account.
    let arrange = crate::support::fault_proxy::FaultProxy::start(emulator_url());
    arrange.set(FaultConfig {
        account: Some(account.to_string()),
        ..FaultConfig::default()
    });
    let conf = sdk_config_with_endpoint_url(&arrange.url()).await;
    let (iam, sm) = (
        aws_sdk_iam::Client::new(&conf),
        aws_sdk_secretsmanager::Client::new(&conf),
    );
    let mut names = Vec::new();
    for i in 0..USERS {
        let name = format!("ap-{i}");
        let cfn = Cfn::with_app(h.app().await, &stack, &format!("Pages{i}")).await;
        cfn.create(json!({"UserName": name, "Path": PATH}))
            .await
            .assert_success();
        names.push(name);
    }
    let app = h.app().await;
    let scope = audit::Scope {
        pages: PageSizes {
            account: 2,
            secrets: 2,
        },
        ..audit::Scope::default()
    };
    let audit_with = |c: AuditConfig| {
        let (app, scope) = (&app, &scope);
        async move {
            let before = app.calls.snapshot();
            let r = audit::run_scoped(&app.clients, &c, 16, SystemTime::now(), scope)
                .await
                .expect("the audit runs");
            (r, app.calls.snapshot().since(&before))
        }
    };
    let counted = |c: &Counts| {
        c.calls
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| {
                let k = k.replacen("IAM.", "iam.", 1).replacen(
                    "Secrets Manager.",
                    "secretsmanager.",
                    1,
                );
                (k, *n)
            })
            .collect::<std::collections::BTreeMap<String, u32>>()
    };
    let want = |pairs: &[(&str, u32)]| {
        pairs
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect::<std::collections::BTreeMap<String, u32>>()
    };
    let pages = |items: usize, size: usize| items.div_ceil(size) as u32;
    let c = cfg(PATH, 90, 30, false);

    // No report yet: GenerateCredentialReport starts one, is asked again until it is
    // complete, then GetCredentialReport. Five users, no group, no customer policy: 3
    // pages of 2; five secrets: 3 pages of 2. Not one call for any user.
    let (r, calls) = audit_with(c.clone()).await;
    assert_eq!(
        counted(&calls),
        want(&[
            ("iam.GenerateCredentialReport", 2),
            ("iam.GetAccountAuthorizationDetails", pages(USERS, 2)),
            ("iam.GetCredentialReport", 1),
            ("secretsmanager.ListSecrets", pages(USERS, 2)),
        ]),
        "a clean account: its pages and the report"
    );
    assert_eq!(r.summary.managed_users, USERS as u64);
    assert_eq!(r.keys.len(), USERS, "{:?}", r.keys);
    assert!(r.drifts.is_empty() && r.errors.is_empty(), "{r:?}");
    assert!(r.keys.iter().all(|k| k.in_secret && !k.idle && !k.stale));
    let reads = r
        .summary
        .reads
        .clone()
        .expect("the summary says what it read");
    assert_eq!(
        (
            reads.account_pages,
            reads.secret_pages,
            reads.credential_report_calls
        ),
        (3, 3, 3)
    );
    assert_eq!(
        (
            reads.key_lookups,
            reads.secret_lookups,
            reads.last_use_reads
        ),
        (0, 0, 0)
    );
    let age = r
        .summary
        .credential_report
        .clone()
        .expect("its age")
        .age_seconds;
    assert!(age < 60, "a report made just now: {age} s");
    let record = r.summary_record("f");
    assert_eq!(record["reads"]["account_pages"], 3, "{record}");
    assert!(
        record["credential_report"]["generated"].is_string(),
        "{record}"
    );

    let generated = r.summary.credential_report.clone().unwrap().generated;

    // By hand: a second key on ap-0 and ap-1's secret deleted; ap-2's key idle for 60
    // days. Within four hours IAM hands out the same report again (one
    // GenerateCredentialReport): it does not show the new key or the key's use, as in
    // AWS, and the summary says how old it is. The missing secret is read on its own,
    // and ap-1's keys listed, as the record that named them is gone.
    let extra = iam
        .create_access_key()
        .user_name("ap-0")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    sm.delete_secret()
        .secret_id("planton/iam-user/ap-1")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let idle = only_key(&iam, "ap-2").await;
    seed_key_dates(
        &idle,
        None,
        Some(Some(SystemTime::now() - Duration::from_secs(60 * DAY))),
    )
    .await;
    let (r, calls) = audit_with(c.clone()).await;
    assert_eq!(
        counted(&calls),
        want(&[
            ("iam.GenerateCredentialReport", 1),
            ("iam.GetAccountAuthorizationDetails", pages(USERS, 2)),
            ("iam.GetCredentialReport", 1),
            ("iam.ListAccessKeys", 1),
            ("secretsmanager.DescribeSecret", 1),
            ("secretsmanager.ListSecrets", pages(USERS - 1, 2)),
        ]),
        "the same report again"
    );
    assert_eq!(
        r.summary.credential_report.clone().unwrap().generated,
        generated
    );
    assert!(
        r.keys.iter().all(|k| k.access_key_id != extra),
        "not in the reused report"
    );
    assert!(!key(&r, "ap-2").idle, "its use is not in the reused report");

    // A report an hour older than the keys cannot show them: every user's keys are
    // listed (a report in AWS is at most four hours old, the keys' times tell).
    post_report_control(json!({"account_id": account, "age_seconds": 3600})).await;
    let (r, calls) = audit_with(c.clone()).await;
    let age = r.summary.credential_report.clone().unwrap().age_seconds;
    assert!((3600..3700).contains(&age), "{age}");
    assert_eq!(calls.calls.get("IAM.GenerateCredentialReport"), Some(&1));
    assert_eq!(calls.calls.get("IAM.ListAccessKeys"), Some(&(USERS as u32)));
    let reads = r.summary.reads.clone().unwrap();
    assert_eq!(
        reads.key_lookup_reasons,
        [
            ("newer_than_report".to_string(), USERS as u32 - 1),
            ("unrecorded_key".to_string(), 1)
        ]
        .into()
    );
    assert!(
        r.keys.iter().any(|k| k.access_key_id == extra),
        "listed, so seen"
    );

    // A report made now shows everything: only the users it cannot prove are read.
    post_report_control(json!({"account_id": account, "discard": true})).await;

    let (r, calls) = audit_with(cfg(PATH, 90, 30, true)).await;
    assert_eq!(
        counted(&calls),
        want(&[
            ("iam.GenerateCredentialReport", 2),
            ("iam.GetAccessKeyLastUsed", 1),
            ("iam.GetAccountAuthorizationDetails", pages(USERS, 2)),
            ("iam.GetCredentialReport", 1),
            ("iam.ListAccessKeys", 2),
            ("iam.UpdateAccessKey", 1),
            ("secretsmanager.DescribeSecret", 1),
            ("secretsmanager.ListSecrets", pages(USERS - 1, 2)),
        ]),
        "the pages, one key listing per user they cannot prove, the missing secret read \
         on its own, and the idle key read again before it is deactivated"
    );
    let reads = r.summary.reads.clone().unwrap();
    assert_eq!(
        reads.key_lookup_reasons,
        [("unrecorded_key".to_string(), 2)].into()
    );
    assert_eq!((reads.secret_lookups, reads.last_use_reads), (1, 1));
    let aspects = |u: &str| -> Vec<String> { aspects_of(&r, u) };
    assert_eq!(aspects("ap-0"), ["access_keys"]);
    assert_eq!(drifts_of(&r, "ap-0")[0].added, vec![extra.clone()]);
    assert_eq!(aspects("ap-1"), ["secret", "access_keys"]);
    let deactivated: Vec<&str> = r
        .keys
        .iter()
        .filter(|k| k.deactivated)
        .map(|k| k.user.as_str())
        .collect();
    assert_eq!(deactivated, ["ap-2"]);
    assert_eq!(key(&r, "ap-2").idle_days, Some(60));
    let _ = names;
}

async fn post_report_control(body: Value) {
    let path = "/moto-api/planton/credential-report";
    if let Err(answer) = crate::support::post_test_endpoint(emulator_url(), path, &body).await {
        panic!("the credential report endpoint: {answer}");
    }
}

/// The id of a user's only key, read through `iam` (the test's own account).
async fn only_key(iam: &aws_sdk_iam::Client, user: &str) -> String {
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    keys.access_key_metadata()[0]
        .access_key_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_audit_reads_the_account_in_pages_direct() {
    the_audit_reads_the_account_in_pages(FaultConfig::default(), "210000000001").await;
}

#[tokio::test]
async fn the_audit_reads_the_account_in_pages_faulty() {
    the_audit_reads_the_account_in_pages(Profile::faults(), "210000000002").await;
}
