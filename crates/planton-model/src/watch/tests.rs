use super::*;
use crate::deployed::{items_of_observed, of_observed};
use crate::state::ObservedUser;
use serde_json::json;

fn event(name: &str, params: Value) -> Value {
    json!({
        "id": "eb-1",
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "detail": {
            "eventID": "ct-1",
            "eventSource": EVENT_SOURCE,
            "eventName": name,
            "eventTime": "2026-12-07T18:00:00Z",
            "sourceIPAddress": "203.0.113.9",
            "userAgent": "aws-cli/2",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/admin/alice",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/admin"}}
            },
            "requestParameters": params
        }
    })
}

#[test]
fn which_events_are_read_and_what_they_point_at() {
    let cases: Vec<(Value, Result<Subject, Skip>)> = vec![
        (
            event(
                "AttachUserPolicy",
                json!({"userName": "svc", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            ),
            Ok(Subject::User("svc".into())),
        ),
        (
            event(
                "AddUserToGroup",
                json!({"userName": "svc", "groupName": "admins"}),
            ),
            Ok(Subject::User("svc".into())),
        ),
        (
            event(
                "PutGroupPolicy",
                json!({"groupName": "ci", "policyName": "p"}),
            ),
            Ok(Subject::Group("ci".into())),
        ),
        (
            event(
                "CreatePolicyVersion",
                json!({"policyArn": "arn:aws:iam::1:policy/p", "setAsDefault": true}),
            ),
            Ok(Subject::Policy("arn:aws:iam::1:policy/p".into())),
        ),
        (
            event("CreateRole", json!({"roleName": "r"})),
            Err(Skip::NotWatched("CreateRole".into())),
        ),
        (
            event("AttachUserPolicy", json!({"userName": "a/b"})),
            Err(Skip::NoSubject),
        ),
        (event("AttachUserPolicy", json!({})), Err(Skip::NoSubject)),
        (
            event("AttachUserPolicy", json!({"policyArn": "not-an-arn"})),
            Err(Skip::NoSubject),
        ),
        (
            {
                let mut e = event("AttachUserPolicy", json!({"userName": "svc"}));
                e["detail"]["errorCode"] = json!("AccessDenied");
                e
            },
            Err(Skip::Failed("AccessDenied".into())),
        ),
        (
            {
                let mut e = event("AttachUserPolicy", json!({"userName": "svc"}));
                e["source"] = json!("planton.forged");
                e
            },
            Err(Skip::NotIam),
        ),
        (
            {
                let mut e = event("AttachUserPolicy", json!({"userName": "svc"}));
                e["detail"]["eventSource"] = json!("s3.amazonaws.com");
                e
            },
            Err(Skip::NotIam),
        ),
        (
            json!({"detail-type": "Scheduled Event"}),
            Err(Skip::NotCloudTrail),
        ),
        (json!([1, 2]), Err(Skip::NotCloudTrail)),
    ];
    for (e, want) in cases {
        assert_eq!(read(&e).map(|c| c.subject), want, "{e}");
    }
    let c = read(&event("PutUserPolicy", json!({"userName": "svc"}))).unwrap();
    assert_eq!(c.event_id, "ct-1");
    assert_eq!(c.caller_type.as_deref(), Some("AssumedRole"));
    assert_eq!(c.source_ip.as_deref(), Some("203.0.113.9"));
}

#[test]
fn own_roles_are_recognised_by_issuer_or_assumed_role_name() {
    let own =
        vec!["arn:aws:iam::123456789012:role/planton-iam-user/stack-FunctionRole-X".to_string()];
    let mut c = read(&event("PutUserPolicy", json!({"userName": "svc"}))).unwrap();
    assert!(!caused_by(&c, &own));
    c.issuer_arn = Some(own[0].clone());
    assert!(caused_by(&c, &own));
    c.issuer_arn = None;
    c.caller_arn = Some("arn:aws:sts::123456789012:assumed-role/stack-FunctionRole-X/fn".into());
    assert!(caused_by(&c, &own));
    c.caller_arn = Some("arn:aws:sts::123456789012:assumed-role/stack-FunctionRole-XY/fn".into());
    assert!(!caused_by(&c, &own));
    assert!(!caused_by(&c, &[]));
}

#[test]
fn secrets_and_long_values_are_left_out_of_the_parameters() {
    let p = redact(&json!({
        "userName": "svc",
        "password": "hunter2",
        "newPassword": "x",
        "policyDocument": "x".repeat(300),
        "tags": [{"key": "a"}],
        "sSHPublicKeyBody": "ssh-rsa AAAA",
    }));
    assert_eq!(p["userName"], "svc");
    assert_eq!(p["password"], "(left out)");
    assert_eq!(p["newPassword"], "(left out)");
    assert!(p["policyDocument"].as_str().unwrap().contains("left out"));
    assert!(p["tags"].as_str().unwrap().contains("left out"));
    assert!(!p.to_string().contains("hunter2"));
    assert_eq!(redact(&json!("x")), Value::Null);
}

fn deployed_user() -> ObservedUser {
    ObservedUser {
        name: "svc".into(),
        path: "/".into(),
        managed: ["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()].into(),
        ..ObservedUser::default()
    }
}

fn observed(
    change: impl Fn(&mut ObservedUser),
    findings: &[&str],
    keys: &[(&str, bool)],
) -> Observed {
    let deployed = deployed_user();
    let mut now = deployed.clone();
    change(&mut now);
    Observed {
        record: Some(of_observed(&deployed, KeyState::Active)),
        items: items_of_observed(&now),
        keys: keys.iter().map(|(k, a)| (k.to_string(), *a)).collect(),
        secret_keys: Some(["AKIAMANAGED".to_string()].into()),
        current_key: Some("AKIAMANAGED".into()),
        login_profile: false,
        findings: findings.iter().map(|f| f.to_string()).collect(),
    }
}

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

#[test]
fn each_mode_answers_what_was_observed() {
    let managed = [("AKIAMANAGED", true)];
    let nothing = observed(|_| {}, &[], &managed);
    let attached = observed(
        |u| {
            u.managed.insert(ADMIN.into());
        },
        &["grants iam:*"],
        &managed,
    );
    let tagged = observed(|u| u.tags.push(("team".into(), "x".into())), &[], &managed);
    let hand_key = observed(|_| {}, &[], &[("AKIAMANAGED", true), ("AKIAHAND", true)]);
    let edited = observed(
        |u| {
            u.inline.insert("p".into(), json!({"Statement": []}));
        },
        &["new version grants iam:*"],
        &managed,
    );
    let mut version = observed(|_| {}, &["new default version grants iam:*"], &managed);
    version.login_profile = true;
    let deactivate = Action::DeactivateKey("AKIAMANAGED".into());
    let cases: Vec<(&str, &Observed, Mode, bool, Vec<Action>)> = vec![
        (
            "nothing happened",
            &nothing,
            Mode::Quarantine,
            false,
            vec![],
        ),
        ("nothing happened", &nothing, Mode::Revert, false, vec![]),
        ("admin attached", &attached, Mode::Alert, true, vec![]),
        (
            "admin attached",
            &attached,
            Mode::Quarantine,
            true,
            vec![deactivate.clone()],
        ),
        (
            "admin attached",
            &attached,
            Mode::Revert,
            true,
            vec![Action::DetachPolicy(ADMIN.into())],
        ),
        ("a tag", &tagged, Mode::Quarantine, true, vec![]),
        ("a tag", &tagged, Mode::Revert, true, vec![]),
        (
            "hand key",
            &hand_key,
            Mode::Quarantine,
            true,
            vec![deactivate.clone(), Action::DeactivateKey("AKIAHAND".into())],
        ),
        (
            "hand key",
            &hand_key,
            Mode::Revert,
            true,
            vec![Action::DeleteKey("AKIAHAND".into())],
        ),
        (
            "inline added",
            &edited,
            Mode::Revert,
            true,
            vec![Action::DeleteInlinePolicy("p".into())],
        ),
        (
            "policy version and password",
            &version,
            Mode::Quarantine,
            true,
            vec![deactivate.clone(), Action::DeleteLoginProfile],
        ),
        (
            "policy version and password",
            &version,
            Mode::Revert,
            true,
            vec![Action::DeleteLoginProfile, deactivate.clone()],
        ),
    ];
    for (what, o, mode, changed, want) in cases {
        let a = assess(o);
        assert_eq!(a.changed(), changed, "{what}: {a:?}");
        assert_eq!(
            respond(mode, &a, &o.keys),
            want,
            "{what} in {}",
            mode.name()
        );
    }
}

#[test]
fn a_removed_record_or_a_deactivated_current_key_is_a_change_but_not_a_danger() {
    let mut o = observed(|_| {}, &[], &[("AKIAMANAGED", false)]);
    let a = assess(&o);
    assert_eq!(a.key_status, Some((KeyState::Active, KeyState::Inactive)));
    assert!(a.changed() && !a.dangerous());
    o.record = None;
    let a = assess(&o);
    assert!(a.no_record && a.changed() && !a.dangerous());
    // Without the secret's record no key is called hand-made.
    o.secret_keys = None;
    o.keys.push(("AKIAOTHER".into(), true));
    assert!(assess(&o).foreign_keys.is_empty());
}

#[test]
fn modes_parse_and_default_to_quarantine() {
    assert_eq!(Mode::default(), Mode::Quarantine);
    for m in [Mode::Alert, Mode::Quarantine, Mode::Revert] {
        assert_eq!(Mode::parse(m.name()), Some(m));
    }
    assert_eq!(Mode::parse("REVERT"), Some(Mode::Revert));
    assert_eq!(Mode::parse("ignore"), None);
    assert!(!Action::DeactivateKey("k".into()).reverts());
    assert!(Action::DetachPolicy("p".into()).reverts());
}
