//! Drift: how a managed user differs from what it was last deployed with (the
//! `planton:deployed` record on the user), from its secret, and from the keys the secret
//! holds. Pure: every read has been made before these run.

use crate::audit::records::{DriftRecord, DRIFT_RECORD, HINT};
use crate::aws::users::KeyMeta;
use crate::model::deployed::{self, Aspect, KeyState, Record, TAG_DEPLOYED};
use crate::model::state::{tag, ObservedUser, Owner, TAG_SECRET_NAME};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What the user's secret says about its keys.
#[derive(Debug, Clone, Default)]
pub struct SecretView {
    pub name: Option<String>,
    pub exists: bool,
    pub pending_deletion: bool,
    /// Tagged for the same owner and this user.
    pub owned: bool,
    /// The key id of the AWSCURRENT version.
    pub current: Option<String>,
    /// The key ids of every staged version.
    pub held: BTreeSet<String>,
    /// The function recorded every staged version's key id: without that record the
    /// audit, which reads no secret value, cannot tell which keys the secret holds.
    pub recorded: bool,
    /// The secret's template tags: a copy of what the user was deployed with.
    pub template_tags: Vec<(String, String)>,
}

/// What a drift record is about. Declared in report order: a user's drifts are
/// written in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftAspect {
    /// The `planton:deployed` record itself is missing or unreadable.
    Record,
    Path,
    PermissionsBoundary,
    ManagedPolicies,
    InlinePolicies,
    Groups,
    Tags,
    KeyStatus,
    Secret,
    AccessKeys,
}

impl DriftAspect {
    /// The record's `aspect` field.
    pub fn name(self) -> &'static str {
        match self {
            DriftAspect::Record => "record",
            DriftAspect::Path => Aspect::Path.name(),
            DriftAspect::PermissionsBoundary => Aspect::PermissionsBoundary.name(),
            DriftAspect::ManagedPolicies => Aspect::ManagedPolicies.name(),
            DriftAspect::InlinePolicies => Aspect::InlinePolicies.name(),
            DriftAspect::Groups => Aspect::Groups.name(),
            DriftAspect::Tags => Aspect::Tags.name(),
            DriftAspect::KeyStatus => "key_status",
            DriftAspect::Secret => "secret",
            DriftAspect::AccessKeys => "access_keys",
        }
    }
}

impl From<Aspect> for DriftAspect {
    fn from(a: Aspect) -> Self {
        match a {
            Aspect::Path => DriftAspect::Path,
            Aspect::PermissionsBoundary => DriftAspect::PermissionsBoundary,
            Aspect::ManagedPolicies => DriftAspect::ManagedPolicies,
            Aspect::InlinePolicies => DriftAspect::InlinePolicies,
            Aspect::Groups => DriftAspect::Groups,
            Aspect::Tags => DriftAspect::Tags,
        }
    }
}

/// Compares the user with its deployment record, its secret and its keys, and gives the
/// drifts in report order ([`DriftAspect`]). Pure: every read has been made.
pub fn drifts(
    user: &ObservedUser,
    owner: &Owner,
    keys: &[KeyMeta],
    secret: &SecretView,
) -> Vec<DriftRecord> {
    let drift = |aspect: DriftAspect, now: Value, detail: String| DriftRecord {
        record: DRIFT_RECORD.into(),
        user: user.name.clone(),
        stack_id: owner.stack_id.clone(),
        logical_id: owner.logical_id.clone(),
        aspect: aspect.name().into(),
        now,
        deployed: None,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        detail,
        hint: HINT.into(),
    };
    let mut out: Vec<(DriftAspect, DriftRecord)> = Vec::new();
    let raw = tag(&user.tags, TAG_DEPLOYED);
    let record = raw.and_then(Record::from_tag);
    if record.is_none() {
        let detail = match raw {
            None => format!(
                "the user has no {TAG_DEPLOYED} tag: it was removed by hand, or the user was \
                 last deployed by an older version; its properties cannot be compared"
            ),
            Some(_) => format!(
                "the {TAG_DEPLOYED} tag cannot be read (edited by hand, or written by a later \
                 version); the user's properties cannot be compared"
            ),
        };
        out.push((
            DriftAspect::Record,
            drift(
                DriftAspect::Record,
                raw.map(Value::from).unwrap_or(Value::Null),
                detail,
            ),
        ));
    }

    // The key the secret's AWSCURRENT version holds, as found on the user.
    let secret_usable = secret.exists && !secret.pending_deletion && secret.owned;
    let current = secret
        .current
        .as_ref()
        .filter(|_| secret_usable)
        .and_then(|id| keys.iter().find(|k| &k.id == id));
    let key_now = match current {
        None => KeyState::NoKey,
        Some(k) if k.active => KeyState::Active,
        Some(_) => KeyState::Inactive,
    };
    let keys_expected = match &record {
        Some(r) => r.key != KeyState::NoKey,
        None => secret.name.is_some(),
    };

    let mut secret_problem = false;
    if keys_expected {
        let name = secret.name.clone().unwrap_or_default();
        let problem = if secret.name.is_none() {
            Some(format!(
                "keys are enabled but the user's {TAG_SECRET_NAME} tag is gone, so no secret holds its key"
            ))
        } else if !secret.exists {
            Some(format!(
                "secret {name} that holds the user's key does not exist"
            ))
        } else if secret.pending_deletion {
            Some(format!(
                "secret {name} that holds the user's key is scheduled for deletion"
            ))
        } else if !secret.owned {
            Some(format!(
                "secret {name} is not tagged for this resource and user, so it is not the user's"
            ))
        } else if !secret.recorded {
            Some(format!(
                "secret {name} does not record which access key each version holds (it was written before the function kept that record); its next stack Update or rotation records it, until then its keys are not audited against it"
            ))
        } else if secret.current.is_none() {
            Some(format!(
                "secret {name} holds no access key in its AWSCURRENT version"
            ))
        } else if current.is_none() {
            Some(format!(
                "the key in secret {name} no longer exists on the user (deleted by hand)"
            ))
        } else {
            None
        };
        if let Some(detail) = problem {
            secret_problem = true;
            let now = if secret.exists && !secret.pending_deletion {
                json!(name)
            } else {
                Value::Null
            };
            out.push((DriftAspect::Secret, drift(DriftAspect::Secret, now, detail)));
        }
    }

    if let Some(r) = &record {
        let observed = deployed::of_observed(user, key_now);
        let items = deployed::items_of_observed(user);
        for a in Aspect::ALL {
            let (Some(want), Some(have)) = (r.digests.get(&a), observed.digests.get(&a)) else {
                continue;
            };
            if want != have {
                let d = drift(a.into(), Value::Null, String::new());
                out.push((a.into(), aspect_drift(d, a, want, user, &items, secret)));
            }
        }
        if r.key != key_now && !secret_problem {
            let mut d = drift(
                DriftAspect::KeyStatus,
                json!(key_now.name()),
                format!(
                    "the key in the secret is {} but was deployed {}",
                    key_now.name(),
                    r.key.name()
                ),
            );
            d.deployed = Some(json!(r.key.name()));
            out.push((DriftAspect::KeyStatus, d));
        }
    }

    // Keys no staged version of the user's own secret holds were made outside the
    // function (the console, the CLI, another tool).
    let held = if secret_usable {
        &secret.held
    } else {
        &BTreeSet::new()
    };
    // Which keys a secret without a record holds is unknown, not "none".
    let unknown = secret_usable && !secret.recorded;
    // An adopted user's old keys are known: they came with the user (and end with the
    // grace period), they were not made outside the function since.
    let adopted = record.as_ref().and_then(|r| r.adopted.clone());
    let came_with_user = |id: &str| {
        adopted
            .as_ref()
            .is_some_and(|a| a.keys.iter().any(|k| k == id))
    };
    let extra: Vec<String> = keys
        .iter()
        .filter(|k| !held.contains(&k.id) && !came_with_user(&k.id))
        .map(|k| k.id.clone())
        .collect();
    if !extra.is_empty() && !unknown {
        let detail = if secret_usable {
            format!(
                "{} access key(s) on the user are held by no version of its secret: created outside the function",
                extra.len()
            )
        } else {
            format!(
                "{} access key(s) on the user are held by no secret of the user's: created outside the function, or left without their secret",
                extra.len()
            )
        };
        let mut d = drift(
            DriftAspect::AccessKeys,
            json!(keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>()),
            detail,
        );
        d.added = extra;
        out.push((DriftAspect::AccessKeys, d));
    }
    out.sort_by_key(|(a, _)| *a);
    out.into_iter().map(|(_, d)| d).collect()
}

/// Fills in a drifted aspect: what it holds now and, where the record allows, what
/// changed.
pub fn aspect_drift(
    mut d: DriftRecord,
    aspect: Aspect,
    deployed_digest: &str,
    user: &ObservedUser,
    items: &deployed::Items,
    secret: &SecretView,
) -> DriftRecord {
    let added = deployed::added_since(items.get(aspect), deployed_digest);
    let what = aspect.name().replace('_', " ");
    match aspect {
        Aspect::Path => {
            d.now = json!(user.path);
            d.detail = format!("the user's path is now {} (moved by hand)", user.path);
        }
        Aspect::PermissionsBoundary => {
            d.now = json!(user.boundary);
            let deployed_none = deployed::digest_of(&[String::new()]) == deployed_digest;
            d.detail = match (&user.boundary, deployed_none) {
                (Some(b), true) => {
                    d.deployed = Some(Value::Null);
                    d.added = vec![b.clone()];
                    format!("permissions boundary {b} was set by hand")
                }
                (Some(b), false) => {
                    format!("the permissions boundary was replaced by hand with {b}")
                }
                (None, _) => "the permissions boundary was removed by hand".to_string(),
            };
        }
        Aspect::ManagedPolicies | Aspect::InlinePolicies | Aspect::Groups => {
            let now: Vec<String> = match aspect {
                Aspect::ManagedPolicies => user.managed.iter().cloned().collect(),
                Aspect::InlinePolicies => user.inline.keys().cloned().collect(),
                _ => user.groups.clone(),
            };
            // Items as digested; shown as the names they stand for.
            let show = |item: &str| -> String {
                match aspect {
                    Aspect::InlinePolicies => deployed::inline_item_name(item).to_string(),
                    Aspect::Groups => user
                        .groups
                        .iter()
                        .find(|g| g.eq_ignore_ascii_case(item))
                        .cloned()
                        .unwrap_or_else(|| item.to_string()),
                    _ => item.to_string(),
                }
            };
            d.now = json!(now);
            d.detail = match added {
                Some(a) if !a.is_empty() => {
                    d.added = a.iter().map(|i| show(i)).collect();
                    format!("{what} differ from the last deployment: {} added by hand", d.added.join(", "))
                }
                _ if aspect == Aspect::InlinePolicies => format!(
                    "{what} differ from the last deployment: a policy was added, removed or edited by hand"
                ),
                _ => format!("{what} differ from the last deployment: removed or replaced by hand"),
            };
        }
        Aspect::Tags => {
            let now: Vec<(String, String)> = deployed::template_tags(&user.tags)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            d.now = Value::Object(
                now.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<Map<_, _>>(),
            );
            // The secret carries the template's tags too: when they digest to the
            // record, they are exactly what the user was deployed with.
            let mut mirrored: Vec<String> = secret
                .template_tags
                .iter()
                .map(|(k, v)| deployed::tag_item(k, v))
                .collect();
            mirrored.sort_unstable();
            if secret.owned && deployed::digest_of(&mirrored) == deployed_digest {
                let was: BTreeMap<&str, &str> = secret
                    .template_tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let is: BTreeMap<&str, &str> =
                    now.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                d.deployed = Some(json!(was));
                d.added = is
                    .keys()
                    .filter(|k| !was.contains_key(*k))
                    .map(|k| k.to_string())
                    .collect();
                d.removed = was
                    .keys()
                    .filter(|k| !is.contains_key(*k))
                    .map(|k| k.to_string())
                    .collect();
                d.changed = is
                    .iter()
                    .filter(|(k, v)| was.get(*k).is_some_and(|w| w != *v))
                    .map(|(k, _)| k.to_string())
                    .collect();
            } else if let Some(a) = added {
                d.added = a
                    .iter()
                    .map(|i| deployed::split_tag_item(i).0.to_string())
                    .collect();
            }
            let mut parts = Vec::new();
            for (label, list) in [
                ("added", &d.added),
                ("removed", &d.removed),
                ("changed", &d.changed),
            ] {
                if !list.is_empty() {
                    parts.push(format!("{} {label}", list.join(", ")));
                }
            }
            d.detail = if parts.is_empty() {
                "tags differ from the last deployment: removed or changed by hand".to_string()
            } else {
                format!(
                    "tags differ from the last deployment: {} by hand",
                    parts.join("; ")
                )
            };
        }
    }
    d
}
