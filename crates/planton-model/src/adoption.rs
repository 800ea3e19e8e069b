//! Adopting an existing user (`AdoptExistingUser`): who may be adopted, which key makes
//! room for the managed one, the state kept to give the user back if the adopting
//! Create rolls back, and the plan that gives it back. Pure: the reads and writes are
//! the callers'.

use crate::plan::{Change, Plan};
use crate::state::{ObservedUser, TAG_LOGICAL, TAG_STACK};
use crate::violation::Violation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The user as it was before the adoption: what a rollback restores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub user: String,
    pub path: String,
    pub boundary: Option<String>,
    pub managed: BTreeSet<String>,
    pub inline: BTreeMap<String, serde_json::Value>,
    pub groups: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// Access key id -> active.
    pub keys: BTreeMap<String, bool>,
    /// Seconds since the Unix epoch.
    pub taken_at: u64,
}

impl Snapshot {
    /// 64 bits of the SHA-256 of the snapshot as saved: what the user's record holds, so
    /// a rollback restores only the snapshot the adoption took.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(self).unwrap_or_default();
        Sha256::digest(text.as_bytes())[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The same user state, whenever it was taken.
    pub fn same_state(&self, other: &Snapshot) -> bool {
        Snapshot {
            taken_at: 0,
            ..self.clone()
        } == Snapshot {
            taken_at: 0,
            ..other.clone()
        }
    }

    pub fn of(u: &ObservedUser, now: u64) -> Snapshot {
        Snapshot {
            user: u.name.clone(),
            path: u.path.clone(),
            boundary: u.boundary.clone(),
            managed: u.managed.clone(),
            inline: u.inline.clone(),
            groups: u.groups.clone(),
            tags: u.tags.clone(),
            keys: u.keys.iter().map(|k| (k.id.clone(), k.active)).collect(),
            taken_at: now,
        }
    }
}

/// The secret that keeps the snapshot until the adoption settles (the resource's next
/// Update) or is rolled back: beside the managed secret, under the same prefix.
pub fn snapshot_secret_name(secret_name: &str) -> String {
    format!("{secret_name}/adoption-snapshot")
}

/// Whether a Delete of an adopted user whose adoption has not settled is a rollback of
/// the adopting Create (give the user back) rather than the stack's own deletion (delete
/// it like any other). `None`: the stack's status is unknown (request verification is
/// off); the user is given back, the choice that destroys nothing.
pub fn is_rollback(stack_status: Option<&str>) -> bool {
    match stack_status {
        None => true,
        Some(s) => matches!(
            s,
            "ROLLBACK_IN_PROGRESS"
                | "UPDATE_ROLLBACK_IN_PROGRESS"
                | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
                | "IMPORT_ROLLBACK_IN_PROGRESS"
        ),
    }
}

/// Why this user cannot be adopted, if it cannot: it carries somebody's ownership tags,
/// or lives outside the path the deployment may manage.
pub fn refusal(u: &ObservedUser, allowed_path_prefix: &str) -> Option<Violation> {
    let owned_by: Vec<&str> = u
        .tags
        .iter()
        .filter(|(k, _)| k == TAG_STACK || k == TAG_LOGICAL)
        .map(|(_, v)| v.as_str())
        .collect();
    if !owned_by.is_empty() {
        return Some(Violation::new(
            "AdoptExistingUser",
            format!(
                "user {} is managed by another Custom::PlantonIamUser ({}): a user owned by a stack is never adopted",
                u.name,
                owned_by.join(", ")
            ),
        ));
    }
    if !u.path.starts_with(allowed_path_prefix) {
        return Some(Violation::new(
            "AdoptExistingUser",
            format!(
                "user {} is at path {}, outside {allowed_path_prefix}, the only path this deployment may manage (PLANTON_ALLOWED_PATH_PREFIX): move it first (aws iam update-user --new-path)",
                u.name, u.path
            ),
        ));
    }
    None
}

/// IAM allows two keys per user: to store a managed key next to two old ones, one
/// goes. The one least recently used (never used first, then the oldest use; ties by
/// id), so the key most likely still in service keeps working for the grace period.
/// `last_used` maps key id -> seconds since the epoch of its last use.
pub fn make_room(u: &ObservedUser, last_used: &BTreeMap<String, Option<u64>>) -> Option<String> {
    if u.keys.len() < 2 {
        return None;
    }
    u.keys
        .iter()
        .min_by_key(|k| {
            let used = last_used.get(&k.id).copied().flatten();
            // Inactive before active: an inactive key serves nobody.
            (k.active, used.is_some(), used.unwrap_or(0), k.id.clone())
        })
        .map(|k| k.id.clone())
}

/// What a rollback may restore: the saved snapshot when its fingerprint is the one the
/// adoption recorded on the user; otherwise (the secret was rewritten since, say with
/// an administrator's policy in it) nothing from it: the user is only released, the
/// function's own tags and the managed key taken off, and the reason is returned.
pub fn trusted(
    saved: &Snapshot,
    recorded: &crate::deployed::Adopted,
    now: &ObservedUser,
) -> (Snapshot, Option<String>) {
    if saved.fingerprint() == recorded.snapshot {
        return (saved.clone(), None);
    }
    let mut release = Snapshot::of(now, saved.taken_at);
    release
        .tags
        .retain(|(k, _)| !crate::deployed::is_own_tag(k));
    release.keys.retain(|k, _| recorded.keys.contains(k));
    let why = format!(
        "the adoption snapshot of user {} was changed after the adoption, so nothing was restored from it: the user was only released (its policies, groups, path and tags stay as the adoption left them)",
        now.name
    );
    (release, Some(why))
}

/// Gives an adopted user back as `snap` recorded it, as far as the deployment's role
/// allows: the plan, and what it cannot restore (said in the answer and the log).
/// `managed_secrets` are the adoption's secrets, removed last.
pub fn restore(
    snap: &Snapshot,
    now: &ObservedUser,
    managed_secrets: &[String],
) -> (Plan, Vec<String>) {
    let mut p = Plan::default();
    let mut lost = Vec::new();
    let mut all = Vec::new();

    // Policies and groups first: the role may write a user's policies only while it
    // carries the deployment's boundary, which a rollback never removes.
    for a in now.managed.difference(&snap.managed) {
        all.push(p.add_step(Change::DetachPolicy(a.clone()), vec![]));
    }
    for a in snap.managed.difference(&now.managed) {
        all.push(p.add_step(Change::AttachPolicy(a.clone()), vec![]));
    }
    for n in now.inline.keys().filter(|n| !snap.inline.contains_key(*n)) {
        all.push(p.add_step(Change::DeleteInlinePolicy(n.clone()), vec![]));
    }
    for (n, doc) in &snap.inline {
        if now.inline.get(n) != Some(doc) {
            all.push(p.add_step(
                Change::PutInlinePolicy {
                    name: n.clone(),
                    document: crate::values::compact(doc),
                },
                vec![],
            ));
        }
    }
    let lower = |v: &[String]| -> BTreeSet<String> { v.iter().map(|g| g.to_lowercase()).collect() };
    let (had, has) = (lower(&snap.groups), lower(&now.groups));
    for g in now
        .groups
        .iter()
        .filter(|g| !had.contains(&g.to_lowercase()))
    {
        all.push(p.add_step(Change::RemoveFromGroup(g.clone()), vec![]));
    }
    for g in snap
        .groups
        .iter()
        .filter(|g| !has.contains(&g.to_lowercase()))
    {
        all.push(p.add_step(Change::AddToGroup(g.clone()), vec![]));
    }
    if now.path != snap.path {
        all.push(p.add_step(Change::UpdatePath(snap.path.clone()), vec![]));
    }
    if now.boundary != snap.boundary {
        lost.push(match &snap.boundary {
            None => format!(
                "the permissions boundary {} stays: the deployment never removes one",
                now.boundary.as_deref().unwrap_or_default()
            ),
            Some(b) => format!(
                "the permissions boundary was {b}; it stays {}: the deployment puts on no other",
                now.boundary.as_deref().unwrap_or("none")
            ),
        });
    }

    // Keys: the managed one goes, the old ones get their status back; a key removed to
    // make room cannot come back.
    for k in &now.keys {
        match snap.keys.get(&k.id) {
            None => all.push(p.add_step(Change::DeleteKey(k.id.clone()), vec![])),
            Some(&active) if active != k.active => all.push(p.add_step(
                Change::SetKeyStatus {
                    key_id: k.id.clone(),
                    status: if active {
                        crate::spec::KeyStatus::Active
                    } else {
                        crate::spec::KeyStatus::Inactive
                    },
                },
                vec![],
            )),
            Some(_) => {}
        }
    }
    for id in snap.keys.keys() {
        if !now.keys.iter().any(|k| &k.id == id) {
            lost.push(format!(
                "access key {id} was deleted to make room for the managed key and cannot be restored"
            ));
        }
    }

    // Tags last: the ownership tags go only once the rest is back.
    let (untag, retag) = crate::plan::tag_changes(&now.tags, &snap.tags);
    let untag_step = (!untag.is_empty()).then(|| p.add_step(Change::UntagUser(untag), all.clone()));
    if !retag.is_empty() {
        let mut after = all.clone();
        after.extend(untag_step);
        p.add_step(Change::TagUser(retag), after);
    }
    let mut end = all.clone();
    end.extend(untag_step);
    for s in managed_secrets {
        p.add_step(Change::DeleteSecret(s.clone()), end.clone());
    }
    (p, lost)
}

#[cfg(test)]
mod tests;
