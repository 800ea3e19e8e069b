//! What the function observed in AWS, and who owns it. Plain data: the planner reads it,
//! the AWS adapters fill it.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const TAG_STACK: &str = "planton:stack-id";
pub const TAG_LOGICAL: &str = "planton:logical-resource-id";
pub const TAG_SECRET_NAME: &str = "planton:secret-name";
pub const TAG_USER_NAME: &str = "planton:user-name";
pub const TAG_KEY_SERIAL: &str = "planton:key-serial";

/// The resource instance on whose behalf the function acts: a stack and a logical id.
/// Anything not carrying both tags with these values is somebody else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub stack_id: String,
    pub logical_id: String,
}

impl Owner {
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            (TAG_STACK.to_string(), self.stack_id.clone()),
            (TAG_LOGICAL.to_string(), self.logical_id.clone()),
        ]
    }

    pub fn owns(&self, tags: &[(String, String)]) -> bool {
        tag(tags, TAG_STACK) == Some(self.stack_id.as_str())
            && tag(tags, TAG_LOGICAL) == Some(self.logical_id.as_str())
    }
}

/// IAM tag keys are case-insensitive.
pub fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedKey {
    pub id: String,
    pub active: bool,
    /// Seconds since the Unix epoch. The current key's creation is when the last
    /// rotation happened, which is when the previous key's grace period began.
    pub created: Option<u64>,
}

/// One IAM user as it is now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedUser {
    pub name: String,
    pub arn: String,
    pub user_id: String,
    pub path: String,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    pub managed: BTreeSet<String>,
    /// Inline policy documents by name. Filled with documents for Create/Update; for
    /// Delete only the names matter and the documents are `Null`.
    pub inline: BTreeMap<String, Value>,
    pub groups: Vec<String>,
    pub keys: Vec<ObservedKey>,
    /// Everything below blocks DeleteUser; observed only when deleting.
    pub extras: Extras,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    pub login_profile: bool,
    pub mfa_devices: Vec<String>,
    pub signing_certificates: Vec<String>,
    pub ssh_public_keys: Vec<String>,
    pub service_credentials: Vec<String>,
}

/// One secret as it is now. The secret access key itself is never kept: only the id of
/// the key it holds and the user it was written for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedSecret {
    pub name: String,
    pub arn: String,
    pub tags: Vec<(String, String)>,
    pub kms_key_id: Option<String>,
    /// Scheduled for deletion: must be restored before a new value can be stored.
    pub pending_deletion: bool,
    /// The key held by the AWSCURRENT version: the one consumers use.
    pub access_key_id: Option<String>,
    /// The key held by AWSPREVIOUS: the last rotation's old key, still active until its
    /// grace period ends, then inactive until the next rotation deletes it.
    pub previous_key_id: Option<String>,
    /// The key held by AWSPENDING when it sits on another version than AWSCURRENT: a
    /// rotation in flight (or one that stopped half-way).
    pub pending_key_id: Option<String>,
    /// Scheduled rotation, when enabled.
    pub rotation: Option<ObservedRotation>,
    /// The secret's description: the function's own sentence and its record of the key
    /// each version holds ([`crate::key_ledger`]).
    pub description: String,
    /// Version id -> the access key id it holds, for the versions that carry a stage.
    pub key_versions: std::collections::BTreeMap<String, String>,
    /// The description records every staged version's key: readers that see only
    /// DescribeSecret (the audit, the grace sweep) can rely on it.
    pub key_ids_recorded: bool,
    /// The resource's own grace period (`PreviousKeyGraceHours`) as the description
    /// records it; `None`: the deployment's default applies.
    pub grace_hours: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedRotation {
    pub function_arn: String,
    pub days: i64,
}

impl ObservedSecret {
    pub fn user_name(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == TAG_USER_NAME)
            .map(|(_, v)| v.as_str())
    }

    pub fn serial(&self) -> u64 {
        self.tags
            .iter()
            .find(|(k, _)| k == TAG_KEY_SERIAL)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }

    /// Owned by this resource and written for this user: the only secrets a Delete or a
    /// key-disable may remove.
    pub fn belongs_to(&self, owner: &Owner, user: &str) -> bool {
        owner.owns(&self.tags) && self.user_name() == Some(user)
    }
}
