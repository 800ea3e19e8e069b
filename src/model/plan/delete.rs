//! The plan of a Delete.

use super::{Change, Plan};
use crate::model::state::{ObservedSecret, ObservedUser, Owner};
use std::collections::BTreeSet;

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
