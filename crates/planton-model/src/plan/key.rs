//! The access key and its secret: issue a key when none is held, rotate it for a raised
//! `KeySerial`, end a rotation's grace period, remove keys made outside this resource,
//! move or delete the secret, and converge the secret's tags, KMS key and rotation
//! schedule.

use super::{deps, desired_secret_tags, Change, Plan, Secrets, Store};
use crate::deployed::Adopted;
use crate::spec::{KeySpec, KeyStatus, UserSpec};
use crate::state::{ObservedSecret, ObservedUser, Owner};

pub(super) fn plan_key(
    p: &mut Plan,
    spec: &UserSpec,
    owner: &Owner,
    u: &ObservedUser,
    secrets: &Secrets<'_>,
    adopted: Option<&Adopted>,
    base: &[usize],
) {
    // Keys an adopted user came with: they keep working through the grace period from
    // the adoption, then are deactivated (never deleted by a plan: the next rotation
    // makes room, with a record). The one an adoption removes to make room is not here.
    let is_adopted = |id: &str| adopted.is_some_and(|a| a.keys.iter().any(|k| k == id));
    let user = spec.user_name.as_str();
    let on_user = |id: &str| u.keys.iter().any(|k| k.id == id);
    // A previous secret is ours to remove only if this resource wrote it for this user.
    let previous = secrets
        .previous
        .filter(|s| s.name != spec.secret_name && s.belongs_to(owner, user));

    let Some(ks) = &spec.key else {
        // Keys disabled: every key goes, then the secrets that held them.
        let deleted: Vec<usize> = u
            .keys
            .iter()
            .map(|k| p.add(Change::DeleteKey(k.id.clone()), base.to_vec()))
            .collect();
        for s in [secrets.desired, previous].into_iter().flatten() {
            if s.belongs_to(owner, user) {
                p.add(Change::DeleteSecret(s.arn.clone()), deps(base, &deleted));
            }
        }
        return;
    };

    let desired = secrets.desired;
    // The key consumers use now: held by our secret, written for this user, and still
    // on the user.
    let ours = desired.filter(|s| s.user_name() == Some(user) && !s.pending_deletion);
    let current = ours
        .and_then(|s| s.access_key_id.clone())
        .filter(|id| on_user(id));
    let stored_serial = desired.map(|s| s.serial()).unwrap_or(0);
    let rotate = current.is_some() && ks.serial > stored_serial;
    let moving_from = previous
        .and_then(|s| s.access_key_id.clone())
        .filter(|id| on_user(id));
    let issue = current.is_none();

    let mut secret_deps = base.to_vec();
    if rotate {
        // The rotation itself makes room under the 2-key limit (it removes the key that
        // is not current) and keeps the old key for its grace period.
        let rotated = p.add(
            Change::RotateKey {
                secret_id: ours.map(|s| s.arn.clone()).unwrap_or_default(),
                status: ks.status,
            },
            base.to_vec(),
        );
        secret_deps = vec![rotated];
    } else if issue {
        // Keys consumers may still be reading stay until the new key is stored; any
        // other key goes first, so the 2-key limit never blocks CreateAccessKey.
        let late: Vec<String> = moving_from.iter().cloned().collect();
        let early: Vec<usize> = u
            .keys
            .iter()
            .filter(|k| !late.contains(&k.id) && !is_adopted(&k.id))
            .map(|k| p.add(Change::DeleteKey(k.id.clone()), base.to_vec()))
            .collect();
        let store = match desired {
            None => Store::Create {
                name: spec.secret_name.clone(),
                kms_key_id: ks.kms_key_id.clone(),
                tags: desired_secret_tags(spec, owner),
                grace_hours: ks.previous_key_grace_hours,
            },
            Some(s) => Store::Put {
                secret_id: s.arn.clone(),
                restore: s.pending_deletion,
                description: s.description.clone(),
                key_versions: s
                    .key_versions
                    .iter()
                    .map(|(v, k)| (v.clone(), k.clone()))
                    .collect(),
            },
        };
        let issued = p.add(
            Change::IssueKey {
                status: ks.status,
                store,
            },
            deps(base, &early),
        );
        secret_deps = vec![issued];
        let late_steps: Vec<usize> = late
            .iter()
            .map(|id| p.add(Change::DeleteKey(id.clone()), vec![issued]))
            .collect();
        if let Some(prev) = previous {
            p.add(Change::DeleteSecret(prev.arn.clone()), late_steps);
        }
    } else {
        let current = current.unwrap_or_default();
        // The last rotation's old key (its grace period) and a rotation in flight stay;
        // any other key was made outside this resource and goes.
        let grace = ours
            .and_then(|s| s.previous_key_id.clone())
            .filter(|id| *id != current);
        let in_flight = ours
            .and_then(|s| s.pending_key_id.clone())
            .filter(|id| *id != current);
        let stray: Vec<usize> = u
            .keys
            .iter()
            .filter(|k| {
                k.id != current
                    && Some(&k.id) != grace.as_ref()
                    && Some(&k.id) != in_flight.as_ref()
                    && !is_adopted(&k.id)
            })
            .map(|k| p.add(Change::DeleteKey(k.id.clone()), vec![]))
            .collect();
        if let Some(prev) = previous {
            p.add(Change::DeleteSecret(prev.arn.clone()), stray);
        }
        if let Some(k) = u.keys.iter().find(|k| k.id == current) {
            if k.active != (ks.status == KeyStatus::Active) {
                p.add(
                    Change::SetKeyStatus {
                        key_id: current.clone(),
                        status: ks.status,
                    },
                    vec![],
                );
            }
        }
        // The previous key works through its grace period, then never again; with the
        // keys meant inactive it never works at all.
        let current_created = u
            .keys
            .iter()
            .find(|k| k.id == current)
            .and_then(|k| k.created);
        // The resource's own PreviousKeyGraceHours wins over the deployment's default.
        let period = secrets.grace.or_resources(ks.previous_key_grace_hours);
        let grace_over = ks.status == KeyStatus::Inactive || period.is_over(current_created);
        if let Some(k) = u
            .keys
            .iter()
            .find(|k| Some(&k.id) == grace.as_ref() && k.active && grace_over)
        {
            p.add(
                Change::SetKeyStatus {
                    key_id: k.id.clone(),
                    status: KeyStatus::Inactive,
                },
                vec![],
            );
        }
        // An adopted user's old keys: the same grace, counted from the adoption.
        if let Some(a) = adopted {
            let over = ks.status == KeyStatus::Inactive || period.is_over(Some(a.at));
            for k in u
                .keys
                .iter()
                .filter(|k| is_adopted(&k.id) && k.active && over)
            {
                p.add(
                    Change::SetKeyStatus {
                        key_id: k.id.clone(),
                        status: KeyStatus::Inactive,
                    },
                    vec![],
                );
            }
        }
    }

    plan_rotation_schedule(
        p,
        spec,
        ks,
        desired,
        secrets.rotation_function,
        &secret_deps,
    );

    // The secret's description records which key each version holds (the scheduled
    // audit and grace sweep read no secret value) and the resource's grace period (the
    // sweep and scheduled rotations end it). A new value or a rotation records its key
    // itself; a secret written before the record existed, or whose grace period
    // changed, is recorded after them.
    if let Some(s) = ours {
        let unrecorded = !s.key_ids_recorded && !s.key_versions.is_empty() && !rotate && !issue;
        if unrecorded || s.grace_hours != ks.previous_key_grace_hours {
            p.add(
                Change::RecordKeyIds {
                    secret_id: s.arn.clone(),
                    key_versions: s
                        .key_versions
                        .iter()
                        .map(|(v, k)| (v.clone(), k.clone()))
                        .collect(),
                    grace_hours: ks.previous_key_grace_hours,
                },
                secret_deps.clone(),
            );
        }
    }

    // Metadata of an existing secret converges after any new value is in place.
    if let Some(s) = desired {
        let (untag, retag) = super::tag_changes(&s.tags, &desired_secret_tags(spec, owner));
        let untag_step = (!untag.is_empty()).then(|| {
            p.add(
                Change::UntagSecret {
                    secret_id: s.arn.clone(),
                    keys: untag,
                },
                secret_deps.clone(),
            )
        });
        if !retag.is_empty() {
            let mut after = secret_deps.clone();
            after.extend(untag_step);
            p.add(
                Change::TagSecret {
                    secret_id: s.arn.clone(),
                    tags: retag,
                },
                after,
            );
        }
        let want_kms = ks.kms_key_id.clone();
        // DescribeSecret names no key for the AWS managed one, however it was asked for.
        let same = want_kms == s.kms_key_id
            || (is_default_kms(&want_kms) && is_default_kms(&s.kms_key_id));
        if !same {
            p.add(
                Change::SetSecretKms {
                    secret_id: s.arn.clone(),
                    kms_key_id: want_kms.unwrap_or_else(|| "alias/aws/secretsmanager".into()),
                },
                secret_deps.clone(),
            );
        }
    }
}

/// Scheduled rotation follows `RotationDays`, and always names this function: a
/// function redeployed under another ARN takes its secrets' schedules with it.
fn plan_rotation_schedule(
    p: &mut Plan,
    spec: &UserSpec,
    ks: &KeySpec,
    desired: Option<&ObservedSecret>,
    function: Option<&str>,
    after: &[usize],
) {
    let secret_id = desired
        .map(|s| s.arn.clone())
        .unwrap_or_else(|| spec.secret_name.clone());
    let have = desired.and_then(|s| s.rotation.as_ref());
    match (ks.rotation_days, have) {
        (Some(days), have) => {
            let same = have.is_some_and(|r| {
                r.days == i64::from(days) && Some(r.function_arn.as_str()) == function
            });
            if !same {
                p.add(
                    Change::ConfigureRotation { secret_id, days },
                    after.to_vec(),
                );
            }
        }
        (None, Some(_)) => {
            p.add(Change::CancelRotation { secret_id }, after.to_vec());
        }
        (None, None) => {}
    }
}

fn is_default_kms(k: &Option<String>) -> bool {
    match k {
        None => true,
        Some(k) => k.ends_with("alias/aws/secretsmanager"),
    }
}
