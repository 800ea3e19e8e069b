use super::*;
use crate::model::deployed::{KeyState, TAG_DEPLOYED};
use crate::model::state::{TAG_LOGICAL, TAG_SECRET_NAME, TAG_STACK};
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

#[test]
fn days_are_whole_and_never_negative() {
    let t = UNIX_EPOCH + Duration::from_secs(1_000 * DAY);
    assert_eq!(days_between(t, t + Duration::from_secs(DAY - 1)), 0);
    assert_eq!(days_between(t, t + Duration::from_secs(91 * DAY)), 91);
    assert_eq!(days_between(t + Duration::from_secs(5), t), 0);
    assert_eq!(iso(t), "1972-09-27T00:00:00Z");
    assert_eq!(parse_time(&iso(t)), Some(t));
}

#[test]
fn the_summary_is_an_emf_document() {
    let r = Report {
        summary: Summary {
            time: "2026-01-02T03:04:05Z".into(),
            stale_keys: 2,
            ..Summary::default()
        },
        ..Report::default()
    };
    let v = r.summary_record("fn");
    let d = &v["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(d["Namespace"], NAMESPACE);
    assert_eq!(v["_aws"]["Timestamp"], 1_767_323_045_000u64);
    for dims in d["Dimensions"].as_array().unwrap() {
        for k in dims.as_array().unwrap() {
            assert!(
                v[k.as_str().unwrap()].is_string(),
                "dimension {k} is a member"
            );
        }
    }
    for m in d["Metrics"].as_array().unwrap() {
        assert!(
            v[m["Name"].as_str().unwrap()].is_u64(),
            "metric {m} is a member"
        );
    }
    assert_eq!(v["StaleKeys"], 2);
    assert_eq!(r.lines("fn").len(), 1);
}

fn user() -> ObservedUser {
    ObservedUser {
        name: "u".into(),
        path: "/".into(),
        managed: ["arn:aws:iam::aws:policy/A".to_string()].into(),
        tags: vec![("team".into(), "x".into()), ("env".into(), "prod".into())],
        ..ObservedUser::default()
    }
}

fn owner() -> Owner {
    Owner {
        stack_id: "s".into(),
        logical_id: "L".into(),
    }
}

fn with_record(mut u: ObservedUser, deployed: &ObservedUser, key: KeyState) -> ObservedUser {
    let r = deployed::of_observed(deployed, key);
    u.tags.push((TAG_STACK.into(), "s".into()));
    u.tags.push((TAG_LOGICAL.into(), "L".into()));
    u.tags.push((TAG_SECRET_NAME.into(), "sec".into()));
    u.tags.push((TAG_DEPLOYED.into(), r.to_tag()));
    u
}

fn secret_holding(id: &str, tags: &[(&str, &str)]) -> SecretView {
    SecretView {
        name: Some("sec".into()),
        exists: true,
        owned: true,
        current: Some(id.into()),
        held: [id.to_string()].into(),
        recorded: true,
        template_tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..SecretView::default()
    }
}

fn key(id: &str, active: bool) -> KeyMeta {
    KeyMeta {
        id: id.into(),
        active,
        created: None,
    }
}

#[test]
fn an_untouched_user_has_no_drift() {
    let u = with_record(user(), &user(), KeyState::Active);
    let s = secret_holding("K1", &[("team", "x"), ("env", "prod")]);
    assert_eq!(drifts(&u, &owner(), &[key("K1", true)], &s), vec![]);
}

#[test]
fn each_hand_made_change_is_named() {
    let mut now = user();
    now.managed.insert("arn:aws:iam::aws:policy/ByHand".into());
    now.tags.retain(|(k, _)| k != "env");
    now.tags.push(("new".into(), "1".into()));
    let u = with_record(now, &user(), KeyState::Active);
    let s = secret_holding("K1", &[("team", "x"), ("env", "prod")]);
    let d = drifts(&u, &owner(), &[key("K1", false), key("K2", true)], &s);
    let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
    assert_eq!(
        aspects,
        vec!["managed_policies", "tags", "key_status", "access_keys"]
    );
    assert_eq!(d[0].added, vec!["arn:aws:iam::aws:policy/ByHand"]);
    assert_eq!(d[1].removed, vec!["env"]);
    assert_eq!(d[1].added, vec!["new"]);
    assert_eq!(d[1].deployed, Some(json!({"team": "x", "env": "prod"})));
    assert_eq!(d[2].now, "Inactive");
    assert_eq!(d[2].deployed, Some(json!("Active")));
    assert_eq!(d[3].added, vec!["K2"]);
    assert!(d.iter().all(|x| x.hint == HINT && x.user == "u"));
}

#[test]
fn a_missing_secret_or_record_is_reported_not_fatal() {
    let u = with_record(user(), &user(), KeyState::Active);
    let gone = SecretView {
        name: Some("sec".into()),
        ..SecretView::default()
    };
    let d = drifts(&u, &owner(), &[key("K1", true)], &gone);
    let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
    assert_eq!(aspects, vec!["secret", "access_keys"], "{d:?}");

    let mut no_record = user();
    no_record
        .tags
        .push((TAG_DEPLOYED.into(), "v9 whatever".into()));
    let d = drifts(
        &no_record,
        &owner(),
        &[key("K1", true)],
        &SecretView::default(),
    );
    let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
    assert_eq!(aspects, vec!["record", "access_keys"], "{d:?}");
    assert_eq!(d[0].now, "v9 whatever");
}

#[test]
fn drifts_come_in_report_order_under_their_names() {
    use drift::DriftAspect::{self, *};
    let mut all = vec![
        AccessKeys,
        Secret,
        KeyStatus,
        Tags,
        Groups,
        InlinePolicies,
        ManagedPolicies,
        PermissionsBoundary,
        Path,
        Record,
    ];
    all.sort();
    let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "record",
            "path",
            "permissions_boundary",
            "managed_policies",
            "inline_policies",
            "groups",
            "tags",
            "key_status",
            "secret",
            "access_keys"
        ]
    );
    for a in deployed::Aspect::ALL {
        assert_eq!(DriftAspect::from(a).name(), a.name());
    }

    // The secret is checked before the aspects, and reported after them.
    let mut now = user();
    now.managed.insert("arn:aws:iam::aws:policy/ByHand".into());
    let u = with_record(now, &user(), KeyState::Active);
    let gone = SecretView {
        name: Some("sec".into()),
        ..SecretView::default()
    };
    let d = drifts(&u, &owner(), &[key("K1", true)], &gone);
    let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
    assert_eq!(aspects, vec!["managed_policies", "secret", "access_keys"]);
}

#[test]
fn a_secret_without_a_key_record_is_reported_and_its_keys_are_not_judged_against_it() {
    let u = with_record(user(), &user(), KeyState::Active);
    let unrecorded = SecretView {
        current: None,
        held: Default::default(),
        recorded: false,
        ..secret_holding("K1", &[])
    };
    let d = drifts(
        &u,
        &owner(),
        &[key("K1", true), key("K2", true)],
        &unrecorded,
    );
    let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
    // One finding that says why, not "keys made outside the function" or "no key".
    assert_eq!(aspects, vec!["secret"], "{d:?}");
    assert!(d[0].detail.contains("does not record"), "{:?}", d[0].detail);
    // The same secret with its record: both keys are known, the second is extra.
    let recorded = SecretView {
        held: ["K1".to_string()].into(),
        ..secret_holding("K1", &[])
    };
    let d = drifts(&u, &owner(), &[key("K1", true), key("K2", true)], &recorded);
    let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
    assert!(aspects.contains(&"access_keys"), "{d:?}");
    assert!(!aspects.contains(&"secret"), "{d:?}");
}

#[test]
fn the_summary_says_how_old_the_credential_report_was_and_what_was_read() {
    let r = Report {
        summary: Summary {
            time: "2026-01-02T03:04:05Z".into(),
            credential_report: Some(ReportAge {
                generated: "2026-01-02T01:04:05Z".into(),
                age_seconds: 7200,
            }),
            reads: Some(Reads {
                account_pages: 5,
                secret_pages: 50,
                credential_report_calls: 2,
                key_lookups: 1,
                key_lookup_reasons: [("unrecorded_key".to_string(), 1)].into(),
                secret_lookups: 0,
                last_use_reads: 0,
            }),
            ..Summary::default()
        },
        ..Report::default()
    };
    let v = r.summary_record("fn");
    assert_eq!(v["credential_report"]["age_seconds"], 7200);
    assert_eq!(v["credential_report"]["generated"], "2026-01-02T01:04:05Z");
    assert_eq!(v["reads"]["account_pages"], 5);
    assert_eq!(v["reads"]["key_lookup_reasons"]["unrecorded_key"], 1);
    // A summary without them (a run that read nothing) says null, not a made-up age.
    let none = Report::default().summary_record("fn");
    assert!(none["credential_report"].is_null() && none["reads"].is_null());
}
