//! The pure planner: (desired spec, observed state) -> the changes that converge them.
//!
//! A plan is a small dependency graph rather than a list, so the executor can run every
//! independent call at once and the critical path stays at the true dependency chain
//! (CreateUser -> CreateAccessKey -> CreateSecret), whatever the number of policies.
//! An empty plan means "already converged": no write call is made.

use crate::model::spec::{KeySpec, KeyStatus, UserSpec};
use crate::model::state::{
    ObservedSecret, ObservedUser, Owner, TAG_KEY_SERIAL, TAG_SECRET_NAME, TAG_USER_NAME,
};
use crate::model::values::compact;

use std::collections::BTreeSet;

/// Where a freshly issued key is written.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Create {
        name: String,
        kms_key_id: Option<String>,
        tags: Vec<(String, String)>,
    },
    /// A new version of an existing secret; `restore` first if it is scheduled for
    /// deletion.
    Put { secret_id: String, restore: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateUser {
        path: String,
        boundary: Option<String>,
        tags: Vec<(String, String)>,
    },
    UpdatePath(String),
    PutBoundary(String),
    DeleteBoundary,
    TagUser(Vec<(String, String)>),
    UntagUser(Vec<String>),
    AttachPolicy(String),
    DetachPolicy(String),
    PutInlinePolicy {
        name: String,
        document: String,
    },
    DeleteInlinePolicy(String),
    AddToGroup(String),
    RemoveFromGroup(String),
    SetKeyStatus {
        key_id: String,
        status: KeyStatus,
    },
    DeleteKey(String),
    /// CreateAccessKey, then store it; if storing fails the new key is deleted again, so
    /// no key ever lives without a secret holding it.
    IssueKey {
        status: KeyStatus,
        store: Store,
    },
    /// The same rotation Secrets Manager runs on schedule: a new key stored as
    /// AWSPENDING, proven by using it, made AWSCURRENT; the old key is deactivated and
    /// kept for one grace period.
    RotateKey {
        secret_id: String,
        status: KeyStatus,
    },
    /// Scheduled rotation every `days`, with this function as the rotator.
    ConfigureRotation {
        secret_id: String,
        days: u16,
    },
    CancelRotation {
        secret_id: String,
    },
    TagSecret {
        secret_id: String,
        tags: Vec<(String, String)>,
    },
    UntagSecret {
        secret_id: String,
        keys: Vec<String>,
    },
    SetSecretKms {
        secret_id: String,
        kms_key_id: String,
    },
    DeleteSecret(String),
    DeleteLoginProfile,
    DeactivateMfa(String),
    DeleteSigningCertificate(String),
    DeleteSshPublicKey(String),
    DeleteServiceCredential(String),
    DeleteUser,
}

impl Change {
    /// What this change does, in words: the context of an error and of a timeout
    /// ("attaching policy X to user Y").
    pub fn describe(&self, user: &str) -> String {
        match self {
            Change::CreateUser { .. } => format!("creating user {user}"),
            Change::UpdatePath(p) => format!("moving user {user} to path {p}"),
            Change::PutBoundary(a) => format!("setting permissions boundary {a} on user {user}"),
            Change::DeleteBoundary => format!("removing the permissions boundary of user {user}"),
            Change::TagUser(t) => format!(
                "tagging user {user} with {}",
                t.iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Change::UntagUser(k) => format!("removing tags {} from user {user}", k.join(", ")),
            Change::AttachPolicy(a) => format!("attaching policy {a} to user {user}"),
            Change::DetachPolicy(a) => format!("detaching policy {a} from user {user}"),
            Change::PutInlinePolicy { name, .. } => {
                format!("putting inline policy {name} on user {user}")
            }
            Change::DeleteInlinePolicy(n) => format!("deleting inline policy {n} of user {user}"),
            Change::AddToGroup(g) => format!("adding user {user} to group {g}"),
            Change::RemoveFromGroup(g) => format!("removing user {user} from group {g}"),
            Change::SetKeyStatus { status, .. } => format!(
                "setting the access key of user {user} to {}",
                status.as_str()
            ),
            Change::DeleteKey(_) => format!("deleting an access key of user {user}"),
            Change::IssueKey { store, .. } => match store {
                Store::Create { name, .. } => {
                    format!("creating an access key for user {user} and storing it in new secret {name}")
                }
                Store::Put { secret_id, .. } => {
                    format!("creating an access key for user {user} and storing it in secret {secret_id}")
                }
            },
            Change::RotateKey { secret_id, .. } => {
                format!("rotating the access key of user {user} held by secret {secret_id}")
            }
            Change::ConfigureRotation { secret_id, days } => {
                format!("scheduling rotation of secret {secret_id} every {days} days")
            }
            Change::CancelRotation { secret_id } => {
                format!("cancelling the scheduled rotation of secret {secret_id}")
            }
            Change::TagSecret { secret_id, .. } => format!("tagging secret {secret_id}"),
            Change::UntagSecret { secret_id, .. } => {
                format!("removing tags from secret {secret_id}")
            }
            Change::SetSecretKms {
                secret_id,
                kms_key_id,
            } => format!("setting KMS key {kms_key_id} on secret {secret_id}"),
            Change::DeleteSecret(s) => format!("deleting secret {s}"),
            Change::DeleteLoginProfile => format!("deleting the console password of user {user}"),
            Change::DeactivateMfa(s) => format!("deactivating MFA device {s} of user {user}"),
            Change::DeleteSigningCertificate(i) => {
                format!("deleting signing certificate {i} of user {user}")
            }
            Change::DeleteSshPublicKey(i) => format!("deleting SSH public key {i} of user {user}"),
            Change::DeleteServiceCredential(i) => {
                format!("deleting service-specific credential {i} of user {user}")
            }
            Change::DeleteUser => format!("deleting user {user}"),
        }
    }

    /// Sequential round trips this change costs on its own.
    fn round_trips(&self) -> usize {
        match self {
            // CreateAccessKey, then store it.
            Change::IssueKey { .. } => 2,
            // Read, create, store, use, move the stage, deactivate the old key.
            Change::RotateKey { .. } => 6,
            _ => 1,
        }
    }
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
pub fn desired_user_tags(spec: &UserSpec, owner: &Owner) -> Vec<(String, String)> {
    let mut tags = spec.tags.clone();
    tags.extend(owner.tags());
    tags.push((
        crate::model::deployed::TAG_DEPLOYED.to_string(),
        crate::model::deployed::of_spec(spec, &spec.inline_policies).to_tag(),
    ));
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
        if !owner.owns(&u.tags) {
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
    let (base, observed) = match user {
        None => {
            let i = p.add(
                Change::CreateUser {
                    path: spec.path.clone(),
                    boundary: spec.permissions_boundary.clone(),
                    tags: desired_user_tags(spec, owner),
                },
                vec![],
            );
            (vec![i], &empty)
        }
        Some(u) => (vec![], u),
    };
    if user.is_some() {
        plan_user_attributes(&mut p, spec, owner, observed);
    }
    plan_policies_and_groups(&mut p, spec, observed, &base);
    plan_key(&mut p, spec, owner, observed, &secrets, &base);
    Ok(p)
}

fn plan_user_attributes(p: &mut Plan, spec: &UserSpec, owner: &Owner, u: &ObservedUser) {
    if u.path != spec.path {
        p.add(Change::UpdatePath(spec.path.clone()), vec![]);
    }
    match (&spec.permissions_boundary, &u.boundary) {
        (Some(want), have) if have.as_ref() != Some(want) => {
            p.add(Change::PutBoundary(want.clone()), vec![]);
        }
        (None, Some(_)) => {
            p.add(Change::DeleteBoundary, vec![]);
        }
        _ => {}
    }
    let want = desired_user_tags(spec, owner);
    // Keys are case-insensitive: a key whose case changed is removed, then re-added.
    let untag: Vec<String> = u
        .tags
        .iter()
        .filter(|(k, _)| !want.iter().any(|(w, _)| w == k))
        .map(|(k, _)| k.clone())
        .collect();
    let retag: Vec<(String, String)> = want
        .iter()
        .filter(|(k, v)| !u.tags.iter().any(|(hk, hv)| hk == k && hv == v))
        .cloned()
        .collect();
    let untag_step = (!untag.is_empty()).then(|| p.add(Change::UntagUser(untag), vec![]));
    if !retag.is_empty() {
        p.add(Change::TagUser(retag), untag_step.into_iter().collect());
    }
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

fn plan_key(
    p: &mut Plan,
    spec: &UserSpec,
    owner: &Owner,
    u: &ObservedUser,
    secrets: &Secrets<'_>,
    base: &[usize],
) {
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
            .filter(|k| !late.contains(&k.id))
            .map(|k| p.add(Change::DeleteKey(k.id.clone()), base.to_vec()))
            .collect();
        let store = match desired {
            None => Store::Create {
                name: spec.secret_name.clone(),
                kms_key_id: ks.kms_key_id.clone(),
                tags: desired_secret_tags(spec, owner),
            },
            Some(s) => Store::Put {
                secret_id: s.arn.clone(),
                restore: s.pending_deletion,
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
        let grace_over = ks.status == KeyStatus::Inactive || secrets.grace.is_over(current_created);
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
    }

    plan_rotation_schedule(
        p,
        spec,
        ks,
        desired,
        secrets.rotation_function,
        &secret_deps,
    );

    // Metadata of an existing secret converges after any new value is in place.
    if let Some(s) = desired {
        let want = desired_secret_tags(spec, owner);
        let untag: Vec<String> = s
            .tags
            .iter()
            // Secrets Manager tag keys are case-sensitive: exact comparison.
            .filter(|(k, _)| !want.iter().any(|(w, _)| w == k))
            .map(|(k, _)| k.clone())
            .collect();
        let retag: Vec<(String, String)> = want
            .iter()
            .filter(|kv| !s.tags.contains(kv))
            .cloned()
            .collect();
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

fn deps(base: &[usize], more: &[usize]) -> Vec<usize> {
    base.iter().chain(more).copied().collect()
}

/// Plans a Delete: everything DeleteUser requires gone first (all at once), then the user
/// and, once the keys they held are gone, this resource's secrets for this user. A user
/// this resource does not own is left alone; so is any secret not written for it.
pub fn plan_delete(
    owner: &Owner,
    user_name: &str,
    user: Option<&ObservedUser>,
    secrets: &[ObservedSecret],
) -> Plan {
    let mut p = Plan::default();
    let mut key_steps = Vec::new();
    if let Some(u) = user.filter(|u| owner.owns(&u.tags)) {
        let mut before = Vec::new();
        for k in &u.keys {
            let i = p.add(Change::DeleteKey(k.id.clone()), vec![]);
            key_steps.push(i);
            before.push(i);
        }
        let x = &u.extras;
        let mut push = |p: &mut Plan, c: Change| before.push(p.add(c, vec![]));
        if x.login_profile {
            push(&mut p, Change::DeleteLoginProfile);
        }
        for m in &x.mfa_devices {
            push(&mut p, Change::DeactivateMfa(m.clone()));
        }
        for c in &x.signing_certificates {
            push(&mut p, Change::DeleteSigningCertificate(c.clone()));
        }
        for k in &x.ssh_public_keys {
            push(&mut p, Change::DeleteSshPublicKey(k.clone()));
        }
        for c in &x.service_credentials {
            push(&mut p, Change::DeleteServiceCredential(c.clone()));
        }
        for n in u.inline.keys() {
            push(&mut p, Change::DeleteInlinePolicy(n.clone()));
        }
        for a in &u.managed {
            push(&mut p, Change::DetachPolicy(a.clone()));
        }
        for g in &u.groups {
            push(&mut p, Change::RemoveFromGroup(g.clone()));
        }
        p.add(Change::DeleteUser, before);
    }
    let mut seen = BTreeSet::new();
    for s in secrets {
        if s.belongs_to(owner, user_name) && seen.insert(s.arn.clone()) {
            p.add(Change::DeleteSecret(s.arn.clone()), key_steps.clone());
        }
    }
    p
}

#[cfg(test)]
mod tests;
