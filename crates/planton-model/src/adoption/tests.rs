use super::*;
use crate::state::ObservedKey;
use serde_json::json;

const K1: &str = "AKIAOLDKEY0000000001";
const K2: &str = "AKIAOLDKEY0000000002";
const NEW: &str = "AKIANEWKEY0000000003";

fn key(id: &str, active: bool) -> ObservedKey {
    ObservedKey {
        id: id.into(),
        active,
        created: None,
    }
}

fn legacy() -> ObservedUser {
    ObservedUser {
        name: "legacy".into(),
        path: "/service-accounts/".into(),
        managed: ["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()].into(),
        inline: [(
            "s3".to_string(),
            json!({"Version": "2012-10-17", "Statement": []}),
        )]
        .into(),
        groups: vec!["readers".into()],
        tags: vec![("team".into(), "payments".into())],
        keys: vec![key(K1, true), key(K2, true)],
        ..ObservedUser::default()
    }
}

#[test]
fn only_an_unowned_user_under_the_path_is_adopted() {
    assert_eq!(refusal(&legacy(), "/service-accounts/"), None);
    let mut owned = legacy();
    owned.tags.push((
        TAG_STACK.into(),
        "arn:aws:cloudformation:us-east-1:1:stack/other/x".into(),
    ));
    let v = refusal(&owned, "/service-accounts/").unwrap();
    assert_eq!(v.property, "AdoptExistingUser");
    assert!(v.rule.contains("stack/other"), "{}", v.rule);
    let mut half = legacy();
    half.tags.push((TAG_LOGICAL.into(), "User".into()));
    assert!(
        refusal(&half, "/service-accounts/").is_some(),
        "one ownership tag is enough"
    );
    let elsewhere = ObservedUser {
        path: "/".into(),
        ..legacy()
    };
    let v = refusal(&elsewhere, "/service-accounts/").unwrap();
    assert!(v.rule.contains("outside /service-accounts/"), "{}", v.rule);
}

#[test]
fn the_least_recently_used_key_makes_room() {
    let u = legacy();
    let used = |a: Option<u64>, b: Option<u64>| -> BTreeMap<String, Option<u64>> {
        [(K1.to_string(), a), (K2.to_string(), b)].into()
    };
    assert_eq!(
        make_room(&u, &used(Some(100), Some(50))).as_deref(),
        Some(K2)
    );
    assert_eq!(
        make_room(&u, &used(Some(100), None)).as_deref(),
        Some(K2),
        "never used first"
    );
    assert_eq!(
        make_room(&u, &used(None, None)).as_deref(),
        Some(K1),
        "ties by id"
    );
    let mut inactive = legacy();
    inactive.keys[0].active = false;
    assert_eq!(
        make_room(&inactive, &used(Some(200), Some(1))).as_deref(),
        Some(K1),
        "an inactive key goes before an active one"
    );
    let mut one = legacy();
    one.keys.pop();
    assert_eq!(make_room(&one, &used(None, None)), None);
}

#[test]
fn a_rollback_gives_back_what_the_role_can_and_names_the_rest() {
    let before = legacy();
    let snap = Snapshot::of(&before, 1_000);
    // What the adoption made of it: converged to a template, one key gone, a new key,
    // the boundary and ownership tags on.
    let mut after = before.clone();
    after.managed = ["arn:aws:iam::aws:policy/SecurityAudit".to_string()].into();
    after.inline.clear();
    after.groups.clear();
    after.path = "/service-accounts/ci/".into();
    after.boundary = Some("arn:aws:iam::1:policy/boundary".into());
    after.tags = vec![
        ("env".into(), "prod".into()),
        (TAG_STACK.into(), "s".into()),
        (TAG_LOGICAL.into(), "L".into()),
    ];
    after.keys = vec![key(K1, false), key(NEW, true)];
    let secrets = vec![
        "arn:secret:managed".to_string(),
        "arn:secret:snapshot".to_string(),
    ];
    let (p, lost) = restore(&snap, &after, &secrets);
    let changes: Vec<&Change> = p.changes().collect();
    for want in [
        Change::DetachPolicy("arn:aws:iam::aws:policy/SecurityAudit".into()),
        Change::AttachPolicy("arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
        Change::AddToGroup("readers".into()),
        Change::UpdatePath("/service-accounts/".into()),
        Change::DeleteKey(NEW.into()),
        Change::SetKeyStatus {
            key_id: K1.into(),
            status: crate::spec::KeyStatus::Active,
        },
        Change::DeleteSecret("arn:secret:managed".into()),
    ] {
        assert!(
            changes.contains(&&want),
            "{want:?} missing from {changes:?}"
        );
    }
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::PutInlinePolicy { name, .. } if name == "s3")));
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::UntagUser(k) if k.len() == 3)));
    assert!(changes.iter().any(|c| matches!(c, Change::TagUser(t) if t == &vec![("team".to_string(), "payments".to_string())])));
    assert!(
        !changes.iter().any(|c| matches!(c, Change::DeleteBoundary)),
        "never removed"
    );
    assert_eq!(lost.len(), 2, "{lost:?}");
    assert!(lost
        .iter()
        .any(|l| l.contains(K2) && l.contains("cannot be restored")));
    assert!(lost.iter().any(|l| l.contains("boundary")));
    // The ownership tags go last, after everything else is back; the secrets after that.
    let untag = p
        .steps
        .iter()
        .position(|s| matches!(s.change, Change::UntagUser(_)))
        .unwrap();
    assert_eq!(p.steps[untag].after.len(), p.steps.len() - 4, "{p:#?}");
    let secret = p
        .steps
        .iter()
        .position(|s| s.change == Change::DeleteSecret("arn:secret:snapshot".into()))
        .unwrap();
    assert!(p.steps[secret].after.contains(&untag));
    // Nothing changed since the snapshot: nothing to do but remove the secrets.
    let (p, lost) = restore(&snap, &before, &[]);
    assert!(p.is_empty() && lost.is_empty(), "{p:#?} {lost:?}");
}

#[test]
fn a_snapshot_round_trips_through_json() {
    let snap = Snapshot::of(&legacy(), 7);
    let text = serde_json::to_string(&snap).unwrap();
    assert_eq!(serde_json::from_str::<Snapshot>(&text).unwrap(), snap);
    assert!(
        !text.contains("Secret"),
        "no key material in a snapshot: {text}"
    );
}

#[test]
fn only_a_rollback_gives_the_user_back() {
    for s in [
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    ] {
        assert!(is_rollback(Some(s)), "{s}");
    }
    for s in [
        "DELETE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
    ] {
        assert!(!is_rollback(Some(s)), "{s}");
    }
    assert!(is_rollback(None), "unknown: give back, destroy nothing");
}

#[test]
fn a_snapshot_changed_after_the_adoption_is_not_restored_from() {
    let before = legacy();
    let saved = Snapshot::of(&before, 1_000);
    let recorded = crate::deployed::Adopted {
        at: 1_000,
        keys: vec![K1.into()],
        snapshot: saved.fingerprint(),
    };
    let mut now = before.clone();
    now.managed.clear();
    now.tags.push((TAG_STACK.into(), "s".into()));
    now.keys = vec![key(K1, true), key(NEW, true)];
    // The saved one: restored from.
    let (snap, why) = trusted(&saved, &recorded, &now);
    assert_eq!((snap, why), (saved.clone(), None));
    // Rewritten with an administrator's policy: nothing restored from it.
    let mut forged = saved.clone();
    forged
        .managed
        .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
    let (snap, why) = trusted(&forged, &recorded, &now);
    assert!(why.unwrap().contains("changed after the adoption"));
    let (p, _) = restore(&snap, &now, &[]);
    let changes: Vec<&Change> = p.changes().collect();
    assert!(
        !changes.iter().any(|c| matches!(c, Change::AttachPolicy(_))),
        "{changes:?}"
    );
    assert!(changes.contains(&&Change::DeleteKey(NEW.into())));
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::UntagUser(k) if k == &vec![TAG_STACK.to_string()])));
    assert_eq!(changes.len(), 2, "only released: {changes:?}");
}
