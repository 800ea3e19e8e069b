//! The plan of a Delete.

use super::{Change, Plan};
use crate::state::{ObservedSecret, ObservedUser, Owner};
use std::collections::BTreeSet;

/// Plans a Delete: everything DeleteUser requires gone first (all at once), then the user
/// and, once the keys they held are gone, this resource's secrets for this user. A user
/// this resource does not own is left alone; so is any secret not written for it.
///
/// `required_boundary` is the boundary the operator requires (PLANTON_PERMISSIONS_BOUNDARY):
/// the role may remove a user's policies only while the user carries it, so a user made
/// before the boundary was required gets it first.
pub fn plan_delete(
    owner: &Owner,
    user_name: &str,
    user: Option<&ObservedUser>,
    secrets: &[ObservedSecret],
    required_boundary: Option<&str>,
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
        let boundary = required_boundary
            .filter(|b| u.boundary.as_deref() != Some(*b))
            .map(|b| p.add(Change::PutBoundary(b.to_string()), vec![]));
        let after_boundary: Vec<usize> = boundary.into_iter().collect();
        for n in u.inline.keys() {
            let i = p.add(
                Change::DeleteInlinePolicy(n.clone()),
                after_boundary.clone(),
            );
            before.push(i);
        }
        for a in &u.managed {
            let i = p.add(Change::DetachPolicy(a.clone()), after_boundary.clone());
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
