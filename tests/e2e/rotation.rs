//! Key rotation end to end: the function's real entry point, the real SDK, the strict
//! emulator. moto cannot invoke a Lambda without Docker, so these tests play Secrets
//! Manager's part: RotateSecret stages the new version (as the service does), then the
//! four step events go to the function, in order, with the same token.
//!
//! After every scenario the same invariants hold: the AWSCURRENT value is a key STS
//! accepts as the user, the user has at most two keys, AWSPENDING sits on no version but
//! the current one, and the previous key (if any) still works: these scenarios run well
//! inside the default 24-hour grace period. The end of the grace period (the sweep, an
//! Update, or no grace at all) has its own tests below.
//!
//! Every scenario runs under both profiles (`rotation::direct::*`,
//! `rotation::faulty::*`, with the profile's tag on every name); STS refusing a new key
//! runs once, through a proxy of its own.

use crate::harness::*;
use crate::support::fault_proxy::{FailOp, FaultConfig};
use serde_json::{json, Value};
use std::collections::HashMap;

both_profiles!(
    the_four_steps_rotate_the_key_and_keep_the_old_one_working_for_its_grace,
    every_step_retried_twice_changes_nothing_more,
    a_rotation_that_stopped_half_way_is_superseded_by_the_next,
    a_user_with_two_keys_loses_the_one_that_is_not_current,
    secrets_this_function_does_not_own_are_refused_untouched,
    delete_after_rotation_leaves_nothing_behind,
    raising_key_serial_runs_the_same_rotation_to_the_same_end_state,
    a_redelivered_serial_update_whose_rotation_finished_does_not_rotate_again,
    rotation_days_is_turned_on_changed_and_off_by_updates,
    rotation_days_is_validated,
    the_grace_sweep_ends_expired_grace_periods_only,
    an_update_after_the_grace_period_deactivates_the_previous_key,
    with_no_grace_period_finish_deactivates_the_previous_key,
    a_rotation_addressed_by_secret_name_works_the_same,
    a_pending_key_of_another_user_fails_the_test_step,
    a_finish_for_the_current_version_writes_and_publishes_nothing,
);

/// The example rotation event users find in `events/`.
const ROTATION_EVENT: &str = include_str!("../../events/rotation.json");

fn rotation_event(step: &str, secret_id: &str, token: &str) -> Value {
    let mut e: Value = serde_json::from_str(ROTATION_EVENT).unwrap();
    e["Step"] = json!(step);
    e["SecretId"] = json!(secret_id);
    e["ClientRequestToken"] = json!(token);
    e
}

/// One step, as Secrets Manager invokes it: through `handler::handle`.
async fn step(cfn: &Cfn, step: &str, secret_id: &str, token: &str) -> Result<Value, String> {
    planton_iam_user::entry::handle_value(
        &cfn.app,
        rotation_event(step, secret_id, token),
        context(),
    )
    .await
    .map_err(|e| e.to_string())
}

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// What Secrets Manager does for one rotation: stage a version, then call every step.
async fn rotate_as_the_service(cfn: &Cfn, secret_id: &str) -> String {
    let token = start_rotation(secret_id).await;
    for s in STEPS {
        step(cfn, s, secret_id, &token)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    token
}

/// RotateSecret on the emulator: stages a new AWSPENDING version and returns its id.
/// A secret whose template set no `RotationDays` gets a schedule here, as an operator's
/// one-off `rotate-secret --rotation-rules` would: the function serves rotation steps
/// only for a secret with rotation enabled and itself as the rotator.
async fn start_rotation(secret_id: &str) -> String {
    let (_, sm) = aws().await;
    let enabled = sm
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .unwrap()
        .rotation_enabled()
        == Some(true);
    let rules = (!enabled).then(|| {
        aws_sdk_secretsmanager::types::RotationRulesType::builder()
            .automatically_after_days(30)
            .build()
    });
    let out = sm
        .rotate_secret()
        .secret_id(secret_id)
        .rotation_lambda_arn(FUNCTION_ARN)
        .set_rotation_rules(rules)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RotateSecret: {e:?}"));
    out.version_id().unwrap().to_string()
}

async fn stages(secret_id: &str) -> HashMap<String, Vec<String>> {
    let (_, sm) = aws().await;
    let d = sm
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .unwrap();
    d.version_ids_to_stages().cloned().unwrap_or_default()
}

async fn value_at(secret_id: &str, stage: &str) -> Option<Value> {
    let (_, sm) = aws().await;
    let v = sm
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
        .ok()?;
    serde_json::from_str(v.secret_string()?).ok()
}

/// Signs GetCallerIdentity with the key a secret value holds.
async fn caller_arn(value: &Value) -> Result<String, String> {
    let creds = aws_sdk_sts::config::Credentials::new(
        value["AccessKeyId"].as_str().unwrap(),
        value["SecretAccessKey"].as_str().unwrap(),
        None,
        None,
        "test",
    );
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator_url())
        .credentials_provider(creds)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    aws_sdk_sts::Client::new(&conf)
        .get_caller_identity()
        .send()
        .await
        .map(|o| o.arn().unwrap_or_default().to_string())
        .map_err(|e| format!("{e:?}"))
}

/// The invariants every scenario ends in.
async fn assert_rotation_invariants(user: &str, secret_id: &str) {
    let u = user_state(user).await;
    assert!(u.keys.len() <= 2, "at most two keys: {:?}", u.keys);
    let current = value_at(secret_id, "AWSCURRENT")
        .await
        .expect("a current value");
    assert_eq!(
        caller_arn(&current).await.as_deref(),
        Ok(u.arn.as_str()),
        "the current key works as the user"
    );
    let cur = current["AccessKeyId"].as_str().unwrap();
    assert!(
        u.keys.iter().any(|(id, st)| id == cur && st == "Active"),
        "the current key is on the user and active: {:?}",
        u.keys
    );
    for (version, labels) in stages(secret_id).await {
        if labels.iter().any(|l| l == "AWSPENDING") {
            assert!(
                labels.iter().any(|l| l == "AWSCURRENT"),
                "AWSPENDING left on non-current version {version}: {labels:?}"
            );
        }
    }
    if let Some(prev) = value_at(secret_id, "AWSPREVIOUS").await {
        let p = prev["AccessKeyId"].as_str().unwrap();
        if p != cur && u.keys.iter().any(|(id, _)| id == p) {
            assert!(
                u.keys.iter().any(|(id, st)| id == p && st == "Active"),
                "the previous key keeps working through its grace period: {:?}",
                u.keys
            );
            assert_eq!(
                caller_arn(&prev).await.as_deref(),
                Ok(u.arn.as_str()),
                "the previous key still works as the user"
            );
        }
    }
}

fn key_ids(u: &UserState) -> Vec<String> {
    u.keys.iter().map(|(id, _)| id.clone()).collect()
}

async fn the_four_steps_rotate_the_key_and_keep_the_old_one_working_for_its_grace(h: &Harness) {
    let user = h.name("rot-full");
    let cfn = h.cfn("RotFull").await;
    let props = json!({"UserName": user, "RotationDays": "30"});
    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let (_, sm) = aws().await;
    let d = sm
        .describe_secret()
        .secret_id(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(d.rotation_enabled(), Some(true));
    assert_eq!(d.rotation_lambda_arn(), Some(FUNCTION_ARN));
    assert_eq!(
        d.rotation_rules()
            .and_then(|r| r.automatically_after_days()),
        Some(30)
    );
    let before = value_at(&secret, "AWSCURRENT").await.unwrap();

    let token = rotate_as_the_service(&cfn, &secret).await;

    let after = value_at(&secret, "AWSCURRENT").await.unwrap();
    assert_ne!(after["AccessKeyId"], before["AccessKeyId"]);
    assert_eq!(
        stages(&secret).await[&token],
        vec!["AWSCURRENT".to_string()]
    );
    let prev = value_at(&secret, "AWSPREVIOUS").await.unwrap();
    assert_eq!(prev["AccessKeyId"], before["AccessKeyId"]);
    let u = user_state(&user).await;
    assert_eq!(u.keys.len(), 2, "new key plus the grace key");
    assert!(
        caller_arn(&before).await.is_ok(),
        "a client holding the old value keeps working through the grace period"
    );
    assert_rotation_invariants(&user, &secret).await;

    // A stack Update in the grace period keeps the grace key.
    cfn.update(&user, props.clone(), props.clone())
        .await
        .assert_success();
    assert_eq!(key_ids(&user_state(&user).await), key_ids(&u));

    // The next rotation removes the grace key to make room, never the current one.
    rotate_as_the_service(&cfn, &secret).await;
    let u2 = user_state(&user).await;
    assert_eq!(u2.keys.len(), 2);
    assert!(!key_ids(&u2).contains(&before["AccessKeyId"].as_str().unwrap().to_string()));
    assert!(key_ids(&u2).contains(&after["AccessKeyId"].as_str().unwrap().to_string()));
    assert_rotation_invariants(&user, &secret).await;
    cfn.assert_no_key_material_leaked().await;
}

async fn every_step_retried_twice_changes_nothing_more(h: &Harness) {
    let user = h.name("rot-retry");
    let cfn = h.cfn("RotRetry").await;
    let r = cfn
        .create(json!({"UserName": user, "RotationDays": "7"}))
        .await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let token = start_rotation(&secret).await;
    let mut created_keys = None;
    for s in STEPS {
        for attempt in 0..3 {
            step(&cfn, s, &secret, &token)
                .await
                .unwrap_or_else(|e| panic!("{s} attempt {attempt}: {e}"));
        }
        if s == "createSecret" {
            let u = user_state(&user).await;
            assert_eq!(
                u.keys.len(),
                2,
                "a retried createSecret mints no second key"
            );
            created_keys = Some(key_ids(&u));
        }
    }
    let u = user_state(&user).await;
    assert_eq!(Some(key_ids(&u)), created_keys);
    assert_eq!(
        stages(&secret).await[&token],
        vec!["AWSCURRENT".to_string()]
    );
    assert_rotation_invariants(&user, &secret).await;
}

async fn a_rotation_that_stopped_half_way_is_superseded_by_the_next(h: &Harness) {
    let user = h.name("rot-crash");
    let cfn = h.cfn("RotCrash").await;
    let r = cfn
        .create(json!({"UserName": user, "RotationDays": "7"}))
        .await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let original = value_at(&secret, "AWSCURRENT").await.unwrap();

    // The function stops after createSecret (and testSecret): finishSecret never runs.
    let first = start_rotation(&secret).await;
    step(&cfn, "createSecret", &secret, &first).await.unwrap();
    step(&cfn, "testSecret", &secret, &first).await.unwrap();
    let orphan: Vec<String> = key_ids(&user_state(&user).await)
        .into_iter()
        .filter(|k| k != original["AccessKeyId"].as_str().unwrap())
        .collect();
    assert_eq!(orphan.len(), 1);

    // Secrets Manager refuses a new rotation while this one is unfinished ("a previous
    // rotation isn't complete"); an operator gives up on it by taking AWSPENDING off its
    // version, then starts a new rotation, with a new token.
    let (_, sm) = aws().await;
    sm.update_secret_version_stage()
        .secret_id(&secret)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&first)
        .send()
        .await
        .unwrap();
    let second = &start_rotation(&secret).await;
    for s in STEPS {
        step(&cfn, s, &secret, second)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let u = user_state(&user).await;
    assert!(
        !key_ids(&u).contains(&orphan[0]),
        "the stopped rotation's key is gone"
    );
    assert!(key_ids(&u).contains(&original["AccessKeyId"].as_str().unwrap().to_string()));
    let now = value_at(&secret, "AWSCURRENT").await.unwrap();
    assert_ne!(now["AccessKeyId"], original["AccessKeyId"]);
    // The stopped rotation's version lost AWSPENDING (a version without labels is no
    // longer even listed).
    assert!(!stages(&secret)
        .await
        .get(&first)
        .is_some_and(|l| l.iter().any(|l| l == "AWSPENDING")));
    assert_rotation_invariants(&user, &secret).await;

    // Secrets Manager's own retry of the stopped rotation, arriving late, changes nothing.
    let keys = key_ids(&user_state(&user).await);
    let late = step(&cfn, "finishSecret", &secret, &first).await;
    assert!(late.is_err(), "a version no longer pending is refused");
    assert_eq!(key_ids(&user_state(&user).await), keys);
    assert_rotation_invariants(&user, &secret).await;
}

async fn a_user_with_two_keys_loses_the_one_that_is_not_current(h: &Harness) {
    let user = h.name("rot-two");
    let cfn = h.cfn("RotTwo").await;
    let r = cfn
        .create(json!({"UserName": user, "RotationDays": "7"}))
        .await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let current = value_at(&secret, "AWSCURRENT").await.unwrap();
    let (iam, _) = aws().await;
    let by_hand = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id
        .clone();

    rotate_as_the_service(&cfn, &secret).await;
    let ids = key_ids(&user_state(&user).await);
    assert!(!ids.contains(&by_hand), "the non-current key made room");
    assert!(ids.contains(&current["AccessKeyId"].as_str().unwrap().to_string()));
    assert_rotation_invariants(&user, &secret).await;
}

async fn secrets_this_function_does_not_own_are_refused_untouched(h: &Harness) {
    let user_foreign = h.name("rot-foreign");
    let user_owned = h.name("rot-owned");
    let secret_impostor = h.name("rot/foreign/impostor");
    let secret_plain = h.name("rot/foreign/plain");
    let cfn = h.cfn("RotForeign").await;
    let (iam, sm) = aws().await;
    // A user and secret made by hand, and a secret that names a managed user but was
    // written by somebody else.
    iam.create_user()
        .user_name(&user_foreign)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name(&user_foreign)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let value =
        json!({"AccessKeyId": k.access_key_id, "SecretAccessKey": k.secret_access_key}).to_string();
    let plain = sm
        .create_secret()
        .name(&secret_plain)
        .secret_string(&value)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let managed = cfn
        .create(json!({"UserName": user_owned}))
        .await
        .data("Arn")
        .unwrap()
        .to_string();
    assert!(managed.ends_with(&user_owned));
    let impostor = sm
        .create_secret()
        .name(&secret_impostor)
        .secret_string(&value)
        .tags(tag(
            "planton:stack-id",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/other/1",
        ))
        .tags(tag("planton:logical-resource-id", "RotForeign"))
        .tags(tag("planton:user-name", &user_owned))
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();

    let plain_token = start_rotation(&plain).await;
    let impostor_token = start_rotation(&impostor).await;
    // SecretId by ARN and by name, as Secrets Manager may send either.
    for (secret, token) in [
        (plain.as_str(), &plain_token),
        (secret_plain.as_str(), &plain_token),
        (impostor.as_str(), &impostor_token),
    ] {
        let before_keys = key_ids(&user_state(&user_foreign).await);
        let before_owned = key_ids(&user_state(&user_owned).await);
        for s in STEPS {
            let e = step(&cfn, s, secret, token).await.unwrap_err();
            assert!(
                e.contains("not one this function manages"),
                "{secret} {s}: {e}"
            );
        }
        assert_eq!(key_ids(&user_state(&user_foreign).await), before_keys);
        assert_eq!(key_ids(&user_state(&user_owned).await), before_owned);
        assert!(value_at(secret, "AWSPENDING").await.is_none());
    }
    // And nothing was written into the foreign secret.
    let (_, sm) = aws().await;
    let v = sm
        .get_secret_value()
        .secret_id(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(v.secret_string(), Some(value.as_str()));
}

fn tag(k: &str, v: &str) -> aws_sdk_secretsmanager::types::Tag {
    aws_sdk_secretsmanager::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
}

async fn delete_after_rotation_leaves_nothing_behind(h: &Harness) {
    let user = h.name("rot-delete");
    let cfn = h.cfn("RotDelete").await;
    let props = json!({"UserName": user, "RotationDays": "30"});
    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    rotate_as_the_service(&cfn, &secret).await;
    assert_eq!(user_state(&user).await.keys.len(), 2);
    cfn.delete(&user, props).await.assert_success();
    assert!(!user_state(&user).await.exists);
    assert!(!secret_exists(&secret).await);
}

async fn raising_key_serial_runs_the_same_rotation_to_the_same_end_state(h: &Harness) {
    let user = h.name("rot-serial");
    let cfn = h.cfn("RotSerial").await;
    let v1 = json!({"UserName": user, "KeySerial": "1"});
    let v2 = json!({"UserName": user, "KeySerial": "2"});
    let r = cfn.create(v1.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let before = value_at(&secret, "AWSCURRENT").await.unwrap();

    cfn.update(&user, v2.clone(), v1.clone())
        .await
        .assert_success();
    let after = value_at(&secret, "AWSCURRENT").await.unwrap();
    assert_ne!(after["AccessKeyId"], before["AccessKeyId"]);
    let prev = value_at(&secret, "AWSPREVIOUS").await.unwrap();
    assert_eq!(prev["AccessKeyId"], before["AccessKeyId"]);
    let u = user_state(&user).await;
    assert_eq!(u.keys.len(), 2, "the old key stays for its grace period");
    assert_rotation_invariants(&user, &secret).await;

    // A scheduled rotation after a serial rotation: same path, same shape.
    rotate_as_the_service(&cfn, &secret).await;
    assert_eq!(user_state(&user).await.keys.len(), 2);
    assert_rotation_invariants(&user, &secret).await;
    cfn.assert_no_key_material_leaked().await;
}

/// The same KeySerial Update delivered again after its rotation finished but before the
/// new serial was recorded (the first delivery died in between): the token's version is
/// already current, so nothing rotates a second time and the grace key survives.
async fn a_redelivered_serial_update_whose_rotation_finished_does_not_rotate_again(h: &Harness) {
    let user = h.name("rot-serial-again");
    let cfn = h.cfn("RotSerialAgain").await;
    let v1 = json!({"UserName": user, "KeySerial": "1"});
    let v2 = json!({"UserName": user, "KeySerial": "2"});
    let r = cfn.create(v1.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let update = cfn.event("Update", Some(&user), v2, Some(v1));
    cfn.send(update.clone()).await.assert_success();
    let current = value_at(&secret, "AWSCURRENT").await.unwrap()["AccessKeyId"].clone();
    let previous = value_at(&secret, "AWSPREVIOUS").await.unwrap()["AccessKeyId"].clone();

    let (_, sm) = aws().await;
    sm.untag_resource()
        .secret_id(&secret)
        .tag_keys("planton:key-serial")
        .send()
        .await
        .unwrap();
    cfn.send(update).await.assert_success();

    assert_eq!(
        value_at(&secret, "AWSCURRENT").await.unwrap()["AccessKeyId"],
        current
    );
    assert_eq!(
        value_at(&secret, "AWSPREVIOUS").await.unwrap()["AccessKeyId"],
        previous
    );
    let mut ids: Vec<String> = user_state(&user)
        .await
        .keys
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    let mut want = vec![
        current.as_str().unwrap().to_string(),
        previous.as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(ids, want, "no third key was minted, the grace key was kept");
    assert_rotation_invariants(&user, &secret).await;
    cfn.assert_no_key_material_leaked().await;
}

async fn rotation_days_is_turned_on_changed_and_off_by_updates(h: &Harness) {
    let user = h.name("rot-sched");
    let cfn = h.cfn("RotSchedule").await;
    let off = json!({"UserName": user});
    let on30 = json!({"UserName": user, "RotationDays": "30"});
    let on90 = json!({"UserName": user, "RotationDays": "90"});
    let r = cfn.create(off.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let (_, sm) = aws().await;
    let schedule = |d: aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput| {
        (
            d.rotation_enabled().unwrap_or(false),
            d.rotation_rules()
                .and_then(|r| r.automatically_after_days()),
        )
    };
    let now = || async {
        sm.describe_secret()
            .secret_id(&secret)
            .send()
            .await
            .unwrap()
    };
    assert!(!schedule(now().await).0);
    let key = value_at(&secret, "AWSCURRENT").await.unwrap()["AccessKeyId"].clone();

    cfn.update(&user, on30.clone(), off.clone())
        .await
        .assert_success();
    assert_eq!(schedule(now().await), (true, Some(30)));
    cfn.update(&user, on90.clone(), on30).await.assert_success();
    assert_eq!(schedule(now().await), (true, Some(90)));
    cfn.update(&user, off, on90).await.assert_success();
    assert!(!schedule(now().await).0);
    // Turning the schedule on or off never rotates the key by itself.
    assert_eq!(
        value_at(&secret, "AWSCURRENT").await.unwrap()["AccessKeyId"],
        key
    );
    assert_eq!(user_state(&user).await.keys.len(), 1);
}

async fn rotation_days_is_validated(h: &Harness) {
    let user = h.name("rot-bad");
    let cfn = h.cfn("RotInvalid").await;
    for (props, needles) in [
        (
            json!({"UserName": user, "RotationDays": "0"}),
            vec!["RotationDays", "1-365"],
        ),
        (
            json!({"UserName": user, "RotationDays": "400"}),
            vec!["RotationDays", "1-365"],
        ),
        (
            json!({"UserName": user, "RotationDays": "30", "DisableAccessKeys": "true"}),
            vec!["RotationDays", "DisableAccessKeys"],
        ),
        (
            json!({"UserName": user, "RotationDays": "30", "KeyStatus": "Inactive"}),
            vec!["RotationDays", "Active"],
        ),
    ] {
        cfn.create(props).await.assert_failed(&needles);
        assert!(!user_state(&user).await.exists, "nothing left behind");
    }
}

/// Ages the current key past the grace period: the grace runs from its creation.
async fn age_current_key(secret_id: &str, hours: u64) -> String {
    let current = value_at(secret_id, "AWSCURRENT").await.unwrap()["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(hours * 3600);
    seed_key_dates(&current, Some(then), None).await;
    current
}

fn status_of(u: &UserState, id: &str) -> Option<String> {
    u.keys.iter().find(|(k, _)| k == id).map(|(_, s)| s.clone())
}

/// The hourly sweep (the template's rule sends `events/end-grace.json`) deactivates a
/// previous key whose grace is over, leaves one still in its grace working, and never
/// touches the current key.
///
/// The sweep covers the users under `PLANTON_ALLOWED_PATH_PREFIX`; this test's users
/// live under a path of their own, so no other test's sweep ends their grace first
/// (which would leave this sweep nothing to deactivate).
async fn the_grace_sweep_ends_expired_grace_periods_only(h: &Harness) {
    let sweep_expired = h.name("rot-sweep-expired");
    let sweep_fresh = h.name("rot-sweep-fresh");
    let path = format!("/{}/", h.name("rot-sweep"));
    let mut cfn = h.cfn("RotSweep").await;
    cfn.app.settings.guardrails = planton_iam_user::settings::Settings::from_lookup(|k| {
        (k == "PLANTON_ALLOWED_PATH_PREFIX").then(|| path.clone())
    })
    .guardrails;
    assert_eq!(cfn.app.settings.guardrails.allowed_path_prefix, path);
    let mut secrets = Vec::new();
    for user in [&sweep_expired, &sweep_fresh] {
        let r = cfn.create(json!({"UserName": user, "Path": path})).await;
        r.assert_success();
        let secret = r.data("SecretArn").unwrap().to_string();
        let old = value_at(&secret, "AWSCURRENT").await.unwrap();
        rotate_as_the_service(&cfn, &secret).await;
        secrets.push((user, secret, old));
    }
    let (expired_user, expired_secret, expired_old) = &secrets[0];
    let (fresh_user, fresh_secret, fresh_old) = &secrets[1];
    let expired_current = age_current_key(expired_secret, 25).await;

    let sweep: Value = serde_json::from_str(include_str!("../../events/end-grace.json")).unwrap();
    let summary = planton_iam_user::entry::handle_value(&cfn.app, sweep, context())
        .await
        .expect("the sweep runs");
    assert_eq!(summary["record"], "planton.grace.summary");
    assert!(
        summary["deactivated_keys"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(summary["keys_in_grace"].as_u64().unwrap() >= 1, "{summary}");

    let u = user_state(expired_user).await;
    let old_id = expired_old["AccessKeyId"].as_str().unwrap();
    assert_eq!(
        status_of(&u, old_id).as_deref(),
        Some("Inactive"),
        "grace over"
    );
    assert!(
        caller_arn(expired_old).await.is_err(),
        "the old key no longer works"
    );
    assert_eq!(status_of(&u, &expired_current).as_deref(), Some("Active"));

    let f = user_state(fresh_user).await;
    let fresh_id = fresh_old["AccessKeyId"].as_str().unwrap();
    assert_eq!(
        status_of(&f, fresh_id).as_deref(),
        Some("Active"),
        "still in grace"
    );
    assert_rotation_invariants(fresh_user, fresh_secret).await;
}

/// A stack Update after the grace period ends it as well (the planner's rule), and one
/// inside it keeps the old key working (tested in the full-cycle test above).
async fn an_update_after_the_grace_period_deactivates_the_previous_key(h: &Harness) {
    let user = h.name("rot-grace-update");
    let cfn = h.cfn("RotGraceUpdate").await;
    let props = json!({"UserName": user});
    let r = cfn.create(props.clone()).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let old = value_at(&secret, "AWSCURRENT").await.unwrap();
    rotate_as_the_service(&cfn, &secret).await;
    let current = age_current_key(&secret, 25).await;

    cfn.update(&user, props.clone(), props)
        .await
        .assert_success();
    let u = user_state(&user).await;
    let old_id = old["AccessKeyId"].as_str().unwrap();
    assert_eq!(status_of(&u, old_id).as_deref(), Some("Inactive"));
    assert_eq!(status_of(&u, &current).as_deref(), Some("Active"));
    assert_eq!(
        u.keys.len(),
        2,
        "deactivated, not deleted: still there to roll back to"
    );
}

/// Issue 22: version ids are no secret (ListSecrets and DescribeSecret show them), so
/// anyone who can invoke the function can send `finishSecret` for the version that is
/// already AWSCURRENT. As in AWS's own rotation template, that step returns: no write,
/// and no `Planton Access Key Rotated` event telling the owners of a rotation that
/// never happened. Tried on the first version (before any rotation) and on a finished
/// rotation's, twice each; a retry of a real finishSecret is the same call.
async fn a_finish_for_the_current_version_writes_and_publishes_nothing(h: &Harness) {
    let user = h.name("rot-fake-finish");
    let cfn = h.cfn("RotFakeFinish").await;
    let r = cfn
        .create(json!({"UserName": user, "RotationDays": "30",
            "Tags": [{"Key": "owner", "Value": "payments"}]}))
        .await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let rotated = || async {
        events_for(&user)
            .await
            .iter()
            .filter(|e| e["DetailType"] == "Planton Access Key Rotated")
            .count()
    };
    let current = || async {
        stages(&secret)
            .await
            .into_iter()
            .find(|(_, l)| l.iter().any(|l| l == "AWSCURRENT"))
            .map(|(v, _)| v)
            .expect("a current version")
    };

    let first = current().await;
    let before = (
        stages(&secret).await,
        user_state(&user).await.keys,
        rotated().await,
    );
    let calls = cfn.app.calls.snapshot();
    for _ in 0..2 {
        let out = step(&cfn, "finishSecret", &secret, &first)
            .await
            .expect("a step for the current version succeeds");
        assert_eq!(out["Result"], "already current", "{out}");
    }
    let writes = cfn.app.calls.snapshot().since(&calls).writes();
    assert!(writes.is_empty(), "no write at all: {writes:?}");
    let after = (
        stages(&secret).await,
        user_state(&user).await.keys,
        rotated().await,
    );
    assert_eq!(after, before, "stages, keys and events unchanged");

    // A real rotation publishes its one event; a finishSecret replayed after it, none.
    let token = rotate_as_the_service(&cfn, &secret).await;
    assert_eq!(current().await, token);
    let before = (
        stages(&secret).await,
        user_state(&user).await.keys,
        rotated().await,
    );
    if h.profile == Profile::Direct {
        // Through the proxy a publish may fail (it never fails the work).
        assert_eq!(before.2, 1, "the rotation told its owners once");
    }
    let calls = cfn.app.calls.snapshot();
    for _ in 0..2 {
        let out = step(&cfn, "finishSecret", &secret, &token).await.unwrap();
        assert_eq!(out["Result"], "already current", "{out}");
    }
    let writes = cfn.app.calls.snapshot().since(&calls).writes();
    assert!(writes.is_empty(), "no write at all: {writes:?}");
    let after = (
        stages(&secret).await,
        user_state(&user).await.keys,
        rotated().await,
    );
    assert_eq!(after, before, "stages, keys and events unchanged");
    // The first version is AWSPREVIOUS now: neither current nor pending, so refused.
    let err = step(&cfn, "finishSecret", &secret, &first)
        .await
        .unwrap_err();
    assert!(err.contains("not staged AWSPENDING"), "{err}");
    assert_rotation_invariants(&user, &secret).await;
}

/// `PLANTON_ROTATION_GRACE_HOURS=0`: finishSecret deactivates the old key at once.
async fn with_no_grace_period_finish_deactivates_the_previous_key(h: &Harness) {
    let user = h.name("rot-no-grace");
    let mut cfn = h.cfn("RotNoGrace").await;
    cfn.app.settings.rotation_grace = std::time::Duration::ZERO;
    let r = cfn.create(json!({"UserName": user})).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let old = value_at(&secret, "AWSCURRENT").await.unwrap();
    rotate_as_the_service(&cfn, &secret).await;
    let u = user_state(&user).await;
    let old_id = old["AccessKeyId"].as_str().unwrap();
    assert_eq!(status_of(&u, old_id).as_deref(), Some("Inactive"));
    assert!(
        caller_arn(&old).await.is_err(),
        "the old key no longer works"
    );
    assert_eq!(u.keys.len(), 2);
}

/// Secrets Manager may name the secret by name rather than ARN: the same four steps.
async fn a_rotation_addressed_by_secret_name_works_the_same(h: &Harness) {
    let user = h.name("rot-by-name");
    let cfn = h.cfn("RotByName").await;
    let r = cfn.create(json!({"UserName": user})).await;
    r.assert_success();
    let arn = r.data("SecretArn").unwrap().to_string();
    let name = format!("planton/iam-user/{user}");
    let before = value_at(&arn, "AWSCURRENT").await.unwrap();
    rotate_as_the_service(&cfn, &name).await;
    let after = value_at(&arn, "AWSCURRENT").await.unwrap();
    assert_ne!(after["AccessKeyId"], before["AccessKeyId"]);
    assert_rotation_invariants(&user, &arn).await;
}

/// testSecret checks whom the pending key authenticates as: a pending version holding
/// another user's (working) key is refused, and nothing is made current.
async fn a_pending_key_of_another_user_fails_the_test_step(h: &Harness) {
    let wrong_a = h.name("rot-wrong-a");
    let wrong_b = h.name("rot-wrong-b");
    let cfn = h.cfn("RotWrongUser").await;
    let r = cfn.create(json!({"UserName": wrong_a})).await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let other = cfn.create(json!({"UserName": wrong_b})).await;
    other.assert_success();
    let b_value = value_at(other.data("SecretArn").unwrap(), "AWSCURRENT")
        .await
        .unwrap();
    let current = value_at(&secret, "AWSCURRENT").await.unwrap();

    // A pending version that already holds a key: createSecret leaves it as it is.
    let (_, sm) = aws().await;
    let token = &start_rotation(&secret).await;
    sm.put_secret_value()
        .secret_id(&secret)
        .client_request_token(token)
        .secret_string(b_value.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    step(&cfn, "createSecret", &secret, token).await.unwrap();
    step(&cfn, "setSecret", &secret, token).await.unwrap();
    let err = step(&cfn, "testSecret", &secret, token)
        .await
        .expect_err("another user's key must fail the test");
    assert!(
        err.contains("authenticates as") && err.contains(&wrong_b),
        "{err}"
    );
    assert_eq!(
        value_at(&secret, "AWSCURRENT").await.unwrap()["AccessKeyId"],
        current["AccessKeyId"],
        "nothing was made current"
    );
    cfn.assert_no_key_material_leaked().await;
}

/// IAM's eventual consistency, played by STS refusing a brand-new key a few times, is
/// ridden out by testSecret's backoff. Through a proxy of this test's own, which
/// injects nothing until the test sets the refusal.
#[tokio::test]
async fn test_secret_retries_until_sts_accepts_the_new_key() {
    let h = Harness::with_faults(FaultConfig::default());
    let proxy = h.proxy();
    let cfn = h.cfn("StsLag").await;
    let v1 = json!({"UserName": "fi-sts", "KeySerial": "1"});
    let v2 = json!({"UserName": "fi-sts", "KeySerial": "2"});
    cfn.create(v1.clone()).await.assert_success();
    let before = secret_value("planton/iam-user/fi-sts").await.unwrap()["AccessKeyId"].clone();

    // STS refuses the new key 3 times (InvalidClientTokenId), as it does for the first
    // seconds of a key's life; the rotation still ends with the new key current.
    proxy.reset_stats();
    proxy.set(FaultConfig {
        fail_op: Some(FailOp {
            op: "GetCallerIdentity".into(),
            times: 3,
            status: 403,
            code: "InvalidClientTokenId".into(),
            message: "The security token included in the request is invalid.".into(),
        }),
        ..FaultConfig::default()
    });
    cfn.update("fi-sts", v2.clone(), v1).await.assert_success();
    assert_eq!(
        proxy.stats().failed_op,
        3,
        "STS refused the new key 3 times"
    );
    assert_eq!(proxy.stats().op("sts.GetCallerIdentity"), 4);
    proxy.set(FaultConfig::default());
    let after = secret_value("planton/iam-user/fi-sts").await.unwrap()["AccessKeyId"].clone();
    assert_ne!(after, before, "rotated once STS accepted the key");
    cfn.delete("fi-sts", v2).await.assert_success();
}

/// Rotation steps anyone could send (by RotateSecret on a secret they made, or by
/// invoking the function directly) mint nothing: a token Secrets Manager never staged, a
/// look-alike secret carrying copies of a managed secret's `planton:` tags, and a managed
/// secret whose rotator is not this function.
#[tokio::test]
async fn forged_rotations_mint_nothing() {
    let cfn = Cfn::new("RotForged").await;
    let r = cfn
        .create(json!({"UserName": "rf-victim", "RotationDays": "30"}))
        .await;
    r.assert_success();
    let secret = r.data("SecretArn").unwrap().to_string();
    let keys = key_ids(&user_state("rf-victim").await);
    let (_, sm) = aws().await;

    // A token that is no version of the secret.
    let token = "planton-never-staged-00000000000000000";
    for s in STEPS {
        let err = step(&cfn, s, &secret, token).await.unwrap_err();
        assert!(err.contains("not staged AWSPENDING"), "{s}: {err}");
    }
    assert_eq!(key_ids(&user_state("rf-victim").await), keys);

    // A look-alike: the victim secret's tags copied onto a secret the forger reads.
    let tags = sm
        .describe_secret()
        .secret_id(&secret)
        .send()
        .await
        .unwrap()
        .tags()
        .to_vec();
    assert!(tags.iter().any(|t| t.key() == Some("planton:user-name")));
    let lookalike = sm
        .create_secret()
        .name("planton/iam-user/rf-lookalike")
        .secret_string("{}")
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let token = start_rotation(&lookalike).await;
    let err = step(&cfn, "createSecret", &lookalike, &token)
        .await
        .unwrap_err();
    assert!(err.contains("look-alike"), "{err}");
    assert!(
        value_at(&lookalike, "AWSPENDING").await.is_none(),
        "nothing written into it"
    );
    assert_eq!(key_ids(&user_state("rf-victim").await), keys);

    // The managed secret itself, handed to another rotator.
    sm.rotate_secret()
        .secret_id(&secret)
        .rotation_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:someone-else")
        .send()
        .await
        .unwrap();
    let token = stages(&secret)
        .await
        .into_iter()
        .find(|(_, l)| l.iter().any(|l| l == "AWSPENDING") && !l.iter().any(|l| l == "AWSCURRENT"))
        .map(|(v, _)| v)
        .expect("a staged version");
    let err = step(&cfn, "createSecret", &secret, &token)
        .await
        .unwrap_err();
    assert!(err.contains("not this function"), "{err}");
    assert_eq!(key_ids(&user_state("rf-victim").await), keys);
}
