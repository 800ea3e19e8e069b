//! The events a key's owners can route on: one per change that matters to a key's
//! consumers, published to EventBridge (`PLANTON_EVENT_BUS`) with `source`
//! `planton.iam-user`. Pure: what an event says is decided here; sending it is
//! `aws::events`. An event names the user, the stack resource, the secret and the key id
//! (which CloudTrail logs too), never key material or a secret value.

use serde_json::{json, Map, Value};

pub const SOURCE: &str = "planton.iam-user";

/// The CloudWatch namespace of every metric the function emits (the audit's summary,
/// the events' counts), in Embedded Metric Format.
pub const NAMESPACE: &str = "Planton/IamUser";

/// The one dimension of every metric: the function's name.
pub const DIMENSION: &str = "FunctionName";

/// What happened. Each has its own documented `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A key was issued into the user's secret (a Create, keys re-enabled, a lost key
    /// replaced).
    KeyCreated,
    /// The key was rotated: a new key is AWSCURRENT; the previous one works through its
    /// grace period.
    KeyRotated,
    /// The previous key stopped working: its grace period ended (or was zero).
    PreviousKeyDeactivated,
    /// The audit deactivated a key unused for longer than `KeyMaxIdleDays`.
    KeyDeactivatedByAudit,
    /// An existing user was brought under management (`AdoptExistingUser`).
    UserAdopted,
    /// The audit found the user changed by hand since its last deployment.
    DriftFound,
    /// The watch saw a hand-made change in a CloudTrail event and observed it on the
    /// user (`crate::watch`).
    ChangedOutsideCloudFormation,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::KeyCreated,
        Kind::KeyRotated,
        Kind::PreviousKeyDeactivated,
        Kind::KeyDeactivatedByAudit,
        Kind::UserAdopted,
        Kind::DriftFound,
        Kind::ChangedOutsideCloudFormation,
    ];

    pub fn detail_type(self) -> &'static str {
        match self {
            Kind::KeyCreated => "Planton Access Key Created",
            Kind::KeyRotated => "Planton Access Key Rotated",
            Kind::PreviousKeyDeactivated => "Planton Previous Access Key Deactivated",
            Kind::KeyDeactivatedByAudit => "Planton Access Key Deactivated By Audit",
            Kind::UserAdopted => "Planton IAM User Adopted",
            Kind::DriftFound => "Planton IAM User Drift Found",
            Kind::ChangedOutsideCloudFormation => "Planton User Changed Outside CloudFormation",
        }
    }
}

/// One event, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub user: String,
    pub user_arn: Option<String>,
    pub stack_id: String,
    pub logical_id: String,
    pub secret_arn: Option<String>,
    /// The value of the user's owner tag (`PLANTON_OWNER_TAG_KEY`), so a rule can route
    /// the event to the team that owns the key.
    pub owner: Option<String>,
    /// The key the event is about (an id, as CloudTrail logs it; never the secret).
    pub access_key_id: Option<String>,
    /// Anything else the kind carries (the drifted aspects, the grace period).
    pub extra: Map<String, Value>,
}

impl Event {
    pub fn new(kind: Kind, user: &str, stack_id: &str, logical_id: &str) -> Event {
        Event {
            kind,
            user: user.to_string(),
            user_arn: None,
            stack_id: stack_id.to_string(),
            logical_id: logical_id.to_string(),
            secret_arn: None,
            owner: None,
            access_key_id: None,
            extra: Map::new(),
        }
    }

    /// The `detail` object: every documented field, `null` when unknown, so rules can
    /// match on presence.
    pub fn detail(&self, owner_tag_key: &str) -> Value {
        let mut d = json!({
            "user": self.user,
            "user_arn": self.user_arn,
            "stack_id": self.stack_id,
            "logical_resource_id": self.logical_id,
            "secret_arn": self.secret_arn,
            "owner_tag_key": owner_tag_key,
            "owner": self.owner,
            "access_key_id": self.access_key_id,
        });
        if let Some(obj) = d.as_object_mut() {
            for (k, v) in &self.extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        d
    }

    /// The ARNs the event is about (EventBridge's `resources`).
    pub fn resources(&self) -> Vec<String> {
        [&self.user_arn, &self.secret_arn]
            .into_iter()
            .flatten()
            .filter(|a| a.starts_with("arn:"))
            .cloned()
            .collect()
    }
}

/// The owner tag's value among `tags`; IAM tag keys are case-sensitive.
pub fn owner_of(tags: &[(String, String)], owner_tag_key: &str) -> Option<String> {
    tags.iter()
        .find(|(k, _)| k == owner_tag_key)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_detail_type() {
        let types: std::collections::BTreeSet<&str> =
            Kind::ALL.iter().map(|k| k.detail_type()).collect();
        assert_eq!(types.len(), Kind::ALL.len());
        assert!(types.iter().all(|t| t.starts_with("Planton ")));
    }

    #[test]
    fn the_detail_names_the_user_the_resource_the_secret_and_the_owner() {
        let mut e = Event::new(Kind::KeyRotated, "svc", "arn:stack", "User");
        e.user_arn = Some("arn:aws:iam::1:user/svc".into());
        e.secret_arn = Some("arn:aws:secretsmanager:r:1:secret:s".into());
        e.owner = owner_of(
            &[
                ("team".into(), "x".into()),
                ("owner".into(), "payments".into()),
            ],
            "owner",
        );
        e.access_key_id = Some("AKIAEXAMPLE".into());
        e.extra.insert("grace_hours".into(), json!(24));
        // Extra fields never replace a documented one.
        e.extra.insert("user".into(), json!("someone-else"));
        let d = e.detail("owner");
        assert_eq!(d["user"], "svc");
        assert_eq!(d["owner"], "payments");
        assert_eq!(d["owner_tag_key"], "owner");
        assert_eq!(d["logical_resource_id"], "User");
        assert_eq!(d["grace_hours"], 24);
        assert_eq!(e.resources().len(), 2);
        let none = Event::new(Kind::DriftFound, "svc", "s", "L").detail("team");
        assert!(none["owner"].is_null() && none["secret_arn"].is_null());
    }
}
