//! Adopting an existing user (`AdoptExistingUser`, allowed by the operator with
//! `PLANTON_ALLOW_ADOPTION`): before any change, the user must carry nobody's ownership
//! tags, live under the deployment's path, and hold nothing a new user could not be
//! given (the same guardrails and policy judgement); then its state is saved, so a
//! rolled-back adopting Create can give it back, and the planner converges it like any
//! other user, keeping its old keys working through the grace period.

use crate::aws::{keys, snapshot, Clients};
use crate::custom_resource::{grants, Deps};
use crate::error::{Error, Violation, Violations};
use crate::model::adoption::{self, Snapshot};
use crate::model::plan::Adoption;
use crate::model::spec::UserSpec;
use crate::model::state::{ObservedUser, Owner};
use std::collections::BTreeMap;

/// Checks that `user` may be adopted for `spec`, saves its state, and decides which of
/// its keys keep working. Every refusal comes before any write.
pub async fn prepare(
    deps: &Deps<'_>,
    spec: &UserSpec,
    owner: &Owner,
    user: &ObservedUser,
    now: u64,
) -> Result<Adoption, Error> {
    let c = deps.clients;
    let guardrails = &deps.settings.guardrails;
    if let Some(v) = adoption::refusal(user, &guardrails.allowed_path_prefix) {
        return Err(Error::Invalid(Violations(vec![v])));
    }
    // What the user already holds, judged as if a template asked for it.
    let mut held = spec.clone();
    held.managed_policy_arns = user.managed.clone();
    held.inline_policies = user.inline.clone();
    held.groups = user.groups.clone();
    held.permissions_boundary = None;
    held.path = user.path.clone();
    let mut found: Vec<Violation> = guardrails
        .apply(&mut held)
        .into_iter()
        .filter(|v| v.property != "PermissionsBoundary")
        .collect();
    found.extend(
        grants::judge(
            c,
            &held,
            &serde_json::Value::Null,
            guardrails,
            deps.settings.max_in_flight,
        )
        .await,
    );
    if !found.is_empty() {
        let named = found
            .into_iter()
            .map(|v| {
                Violation::new(
                    "AdoptExistingUser",
                    format!(
                        "user {} already holds what a new user may not ({}: {}); remove it from the user first",
                        user.name, v.property, v.rule
                    ),
                )
            })
            .collect();
        return Err(Error::Invalid(Violations(named)));
    }

    let make_room = if user.keys.len() >= 2 {
        let used = last_used(c, user).await?;
        adoption::make_room(user, &used)
    } else {
        None
    };
    let snap = Snapshot::of(user, now);
    let saved = snapshot::save(
        c,
        &adoption::snapshot_secret_name(&spec.secret_name),
        owner,
        &snap,
    )
    .await?;
    if let Some(k) = &make_room {
        tracing::warn!(
            record = "planton.adoption.key_removed",
            user = %user.name,
            access_key_id = %k,
            "adoption: the user had two access keys; the one least recently used is deleted to make room for the managed key"
        );
    }
    Ok(Adoption {
        at: now,
        keep: user
            .keys
            .iter()
            .map(|k| k.id.clone())
            .filter(|k| Some(k) != make_room.as_ref())
            .collect(),
        make_room,
        snapshot: saved.fingerprint(),
    })
}

async fn last_used(
    c: &Clients,
    user: &ObservedUser,
) -> Result<BTreeMap<String, Option<u64>>, Error> {
    let reads = user.keys.iter().map(|k| async move {
        keys::last_used(&c.iam, &k.id)
            .await
            .map(|t| (k.id.clone(), t))
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}
