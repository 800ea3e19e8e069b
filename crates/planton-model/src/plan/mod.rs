//! The pure planner: (desired spec, observed state) -> the changes that converge them.
//!
//! A plan is a small dependency graph rather than a list, so the executor can run every
//! independent call at once and the critical path stays at the true dependency chain
//! (CreateUser -> CreateAccessKey -> CreateSecret), whatever the number of policies.
//! An empty plan means "already converged": no write call is made.
//!
//! Here: the plan itself, the desired tags and [`plan`], which plans the user's
//! attributes, policies and groups. The access key and its secret are planned in `key`,
//! a Delete in `delete`, and the changes themselves are listed in `change`.

mod change;
mod delete;
mod key;

pub use change::{Change, Store};
pub use delete::plan_delete;

use crate::deployed::{adopted_of, Adopted};
use crate::spec::UserSpec;
use crate::state::{
    ObservedSecret, ObservedUser, Owner, TAG_KEY_SERIAL, TAG_SECRET_NAME, TAG_USER_NAME,
};
use crate::values::compact;
use key::plan_key;
use std::collections::BTreeSet;

/// The plan cannot proceed because something in the way belongs to somebody else.
/// Raised before any write, so nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOwned {
    #[error(
        "IAM user {user} already exists and is not managed by this resource \
         (its planton:stack-id/planton:logical-resource-id tags are missing or name another \
         owner); nothing was changed. Choose another UserName"
    )]
    User { user: String },

    #[error(
        "secret {name} already exists and is not managed by this resource for this stack; \
         nothing was changed. Choose another SecretName or delete that secret"
    )]
    Secret { name: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub change: Change,
    /// Indices of steps that must finish first.
    pub after: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// Adds a step that waits for the steps `after`; returns its index.
    pub fn add_step(&mut self, change: Change, after: Vec<usize>) -> usize {
        self.add(change, after)
    }

    fn add(&mut self, change: Change, after: Vec<usize>) -> usize {
        self.steps.push(Step { change, after });
        self.steps.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.steps.iter().map(|s| &s.change)
    }

    /// Length of the longest dependency chain: the number of sequential round trips the
    /// plan costs (a key flow counts its own sequential calls).
    pub fn depth(&self) -> usize {
        let mut d = vec![0usize; self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            let own = s.change.round_trips();
            d[i] = own + s.after.iter().map(|&j| d[j]).max().unwrap_or(0);
        }
        d.into_iter().max().unwrap_or(0)
    }
}

/// Tags the user must carry: the template's plus ownership, the record of this
/// deployment (for the audit's drift report) and the secret's name.
pub fn desired_user_tags(
    spec: &UserSpec,
    owner: &Owner,
    adopted: Option<&Adopted>,
) -> Vec<(String, String)> {
    let mut tags = spec.tags.clone();
    tags.extend(owner.tags());
    let mut record = crate::deployed::of_spec(spec, &spec.inline_policies);
    record.adopted = adopted.cloned();
    tags.push((crate::deployed::TAG_DEPLOYED.to_string(), record.to_tag()));
    if spec.key.is_some() {
        tags.push((TAG_SECRET_NAME.to_string(), spec.secret_name.clone()));
    }
    tags
}

pub fn desired_secret_tags(spec: &UserSpec, owner: &Owner) -> Vec<(String, String)> {
    let mut tags = spec.tags.clone();
    tags.extend(owner.tags());
    tags.push((TAG_USER_NAME.to_string(), spec.user_name.clone()));
    let serial = spec.key.as_ref().map(|k| k.serial).unwrap_or(0);
    tags.push((TAG_KEY_SERIAL.to_string(), serial.to_string()));
    tags
}

/// The observed secrets relevant to a Create or Update.
#[derive(Debug, Clone, Default)]
pub struct Secrets<'a> {
    /// The secret at the spec's SecretName.
    pub desired: Option<&'a ObservedSecret>,
    /// The secret the user's `planton:secret-name` tag points to, when it differs
    /// (SecretName changed, or keys are being disabled).
    pub previous: Option<&'a ObservedSecret>,
    /// This function's own ARN: the rotator a scheduled rotation must name.
    pub rotation_function: Option<&'a str>,
    /// How long the previous key keeps working after a rotation, and the time now (both
    /// in seconds): the plan is pure, so the clock is an input.
    pub grace: Grace,
    /// This request adopts the existing user (`AdoptExistingUser`, allowed by the
    /// operator, the user unowned and judged): set only by the caller that checked it.
    pub adoption: Option<&'a Adoption>,
}

/// An adoption, as the caller decided it: the user's keys that keep working for the
/// grace period, and the one removed to make room for the managed key (IAM allows two
/// per user), if the user came with two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub keep: Vec<String>,
    pub make_room: Option<String>,
    /// The saved snapshot's fingerprint, recorded on the user with the ownership tags.
    pub snapshot: String,
}

/// The previous key's grace period after a rotation: it stays active for `period_secs`
/// after the current key was created, then it is deactivated (it stays, inactive, until
/// the next rotation deletes it). Zero means no grace: inactive at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grace {
    pub period_secs: u64,
    pub now_secs: u64,
}

impl Grace {
    /// This grace, or the resource's own `PreviousKeyGraceHours` when it has one.
    pub fn or_resources(self, hours: Option<u32>) -> Grace {
        hours.map_or(self, |h| Grace {
            period_secs: u64::from(h) * 3600,
            ..self
        })
    }

    /// Whether a previous key must now be inactive, given when the current key was
    /// created. An unknown creation time ends the grace: failing closed.
    pub fn is_over(&self, current_created: Option<u64>) -> bool {
        self.period_secs == 0
            || current_created.is_none_or(|c| self.now_secs >= c.saturating_add(self.period_secs))
    }
}

/// Plans a Create or Update. Refuses (before any write) to touch a user or a secret that
/// this resource does not own.
pub fn plan(
    spec: &UserSpec,
    owner: &Owner,
    user: Option<&ObservedUser>,
    secrets: Secrets<'_>,
) -> Result<Plan, NotOwned> {
    if let Some(u) = user {
        if !owner.owns(&u.tags) && secrets.adoption.is_none() {
            return Err(NotOwned::User {
                user: u.name.clone(),
            });
        }
    }
    if spec.key.is_some() {
        if let Some(s) = secrets.desired {
            if !owner.owns(&s.tags) {
                return Err(NotOwned::Secret {
                    name: s.name.clone(),
                });
            }
        }
    }

    let mut p = Plan::default();
    let empty = ObservedUser::default();
    // The keys an adopted user came with, while any is still on the user.
    let adopted = match (secrets.adoption, user) {
        (Some(a), _) => Some(Adopted {
            at: a.at,
            keys: a.keep.clone(),
            snapshot: a.snapshot.clone(),
        }),
        (None, Some(u)) => adopted_of(&u.tags)
            .map(|mut a| {
                a.keys.retain(|k| u.keys.iter().any(|x| &x.id == k));
                a
            })
            .filter(|a| !a.keys.is_empty()),
        (None, None) => None,
    };
    let (base, observed) = match user {
        None => {
            let i = p.add(
                Change::CreateUser {
                    path: spec.path.clone(),
                    boundary: spec.permissions_boundary.clone(),
                    tags: desired_user_tags(spec, owner, None),
                },
                vec![],
            );
            (vec![i], &empty)
        }
        Some(u) => (vec![], u),
    };
    // The role may write a user's policies only while the user carries the required
    // permissions boundary (the template's iam:PermissionsBoundary condition): a boundary
    // being put on comes first.
    let mut policy_base = base.clone();
    if user.is_some() {
        policy_base.extend(plan_user_attributes(
            &mut p,
            spec,
            owner,
            observed,
            adopted.as_ref(),
        ));
    }
    plan_policies_and_groups(&mut p, spec, observed, &policy_base);
    plan_key(
        &mut p,
        spec,
        owner,
        observed,
        &secrets,
        adopted.as_ref(),
        &base,
    );
    Ok(p)
}

/// The user's own attributes; returns the step that puts a boundary on, if any.
fn plan_user_attributes(
    p: &mut Plan,
    spec: &UserSpec,
    owner: &Owner,
    u: &ObservedUser,
    adopted: Option<&Adopted>,
) -> Option<usize> {
    if u.path != spec.path {
        p.add(Change::UpdatePath(spec.path.clone()), vec![]);
    }
    let put_boundary = match (&spec.permissions_boundary, &u.boundary) {
        (Some(want), have) if have.as_ref() != Some(want) => {
            Some(p.add(Change::PutBoundary(want.clone()), vec![]))
        }
        (None, Some(_)) => {
            p.add(Change::DeleteBoundary, vec![]);
            None
        }
        _ => None,
    };
    // IAM's keys are case-insensitive: a key whose case changed is removed, then re-added.
    let (untag, retag) = tag_changes(&u.tags, &desired_user_tags(spec, owner, adopted));
    let untag_step = (!untag.is_empty()).then(|| p.add(Change::UntagUser(untag), vec![]));
    if !retag.is_empty() {
        p.add(Change::TagUser(retag), untag_step.into_iter().collect());
    }
    put_boundary
}

/// The tags to remove and the tags to (re)write to turn `have` into `want`, keys compared
/// exactly: for Secrets Manager that is its own rule, and for IAM (case-insensitive keys)
/// it makes a change of case a removal followed by a new tag.
pub fn tag_changes(
    have: &[(String, String)],
    want: &[(String, String)],
) -> (Vec<String>, Vec<(String, String)>) {
    let untag = have
        .iter()
        .filter(|(k, _)| !want.iter().any(|(w, _)| w == k))
        .map(|(k, _)| k.clone())
        .collect();
    let retag = want
        .iter()
        .filter(|kv| !have.contains(kv))
        .cloned()
        .collect();
    (untag, retag)
}

/// Removals run first and additions wait for them: IAM's per-user limits (20 managed
/// policies, 2048 inline characters, 10 groups) count what is attached at each moment,
/// so swapping one policy for another must never pass through "both attached".
fn plan_policies_and_groups(p: &mut Plan, spec: &UserSpec, u: &ObservedUser, base: &[usize]) {
    let detach: Vec<usize> = u
        .managed
        .iter()
        .filter(|a| !spec.managed_policy_arns.contains(*a))
        .map(|a| p.add(Change::DetachPolicy(a.clone()), base.to_vec()))
        .collect();
    for arn in spec.managed_policy_arns.difference(&u.managed) {
        p.add(Change::AttachPolicy(arn.clone()), deps(base, &detach));
    }

    let delete_inline: Vec<usize> = u
        .inline
        .keys()
        .filter(|n| !spec.inline_policies.contains_key(*n))
        .map(|n| p.add(Change::DeleteInlinePolicy(n.clone()), base.to_vec()))
        .collect();
    for (name, doc) in &spec.inline_policies {
        if u.inline.get(name) != Some(doc) {
            p.add(
                Change::PutInlinePolicy {
                    name: name.clone(),
                    document: compact(doc),
                },
                deps(base, &delete_inline),
            );
        }
    }

    let want: BTreeSet<String> = spec.groups.iter().map(|g| g.to_lowercase()).collect();
    let have: BTreeSet<String> = u.groups.iter().map(|g| g.to_lowercase()).collect();
    let leave: Vec<usize> = u
        .groups
        .iter()
        .filter(|g| !want.contains(&g.to_lowercase()))
        .map(|g| p.add(Change::RemoveFromGroup(g.clone()), base.to_vec()))
        .collect();
    for g in &spec.groups {
        if !have.contains(&g.to_lowercase()) {
            p.add(Change::AddToGroup(g.clone()), deps(base, &leave));
        }
    }
}

fn deps(base: &[usize], more: &[usize]) -> Vec<usize> {
    base.iter().chain(more).copied().collect()
}

#[cfg(test)]
mod tests;
