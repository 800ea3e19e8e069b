//! Resource properties -> a validated [`UserSpec`].
//!
//! Pure: no AWS calls, so every rule is unit-tested on both sides of its boundary and is
//! checked before the first write. CloudFormation sends every scalar as a string
//! (`"true"`, `"14"`); direct invocations and CDK may send native JSON scalars, so both
//! are accepted. All violations are collected and reported at once.
//!
//! Here: the spec's types and [`parse`], which walks the properties in order. The rule of
//! each property (names, path, ARNs, secret name, inline policies, tags) is in `rules`,
//! the reading of CloudFormation's loose scalars and lists in `read`.

mod read;
mod rules;

use crate::key_ledger::MAX_GRACE_HOURS;
use crate::values::{clip, kind, policy_size};
use crate::violation::{Violation, Violations};
use read::{opt_bool, opt_string, opt_u64, scalar, string_list};
use rules::{check_iam_name, inline_policies, tags};
pub use rules::{is_tag_char, path_rule, policy_arn_rule, secret_name_rule};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const MAX_USER_NAME: usize = 64;
pub const MAX_PATH: usize = 512;
pub const MAX_MANAGED_POLICIES: usize = 20;
pub const MAX_GROUPS: usize = 10;
pub const MAX_INLINE_TOTAL: usize = 2048;
pub const MAX_TAGS_TOTAL: usize = 50;
/// Tags this resource writes itself; they count toward the 50-tag limit of IAM users
/// (stack id, logical id, deployed record, secret name: 4) and of secrets (stack id,
/// logical id, user name, key serial: 4). Template tags go on both, so they get what the secret leaves.
pub const OWNERSHIP_TAGS: usize = 4;
pub const MAX_SECRET_NAME: usize = 256;
pub const RESERVED_TAG_PREFIX: &str = "planton:";
pub const DEFAULT_SECRET_PREFIX: &str = "planton/iam-user/";

/// Every property the resource understands. `ServiceToken` and `ServiceTimeout` belong to
/// CloudFormation and are accepted and ignored.
pub const PROPERTIES: &[&str] = &[
    "UserName",
    "Path",
    "ManagedPolicyArns",
    "InlinePolicies",
    "Groups",
    "PermissionsBoundary",
    "Tags",
    "DisableAccessKeys",
    "KeySerial",
    "KeyStatus",
    "SecretName",
    "SecretKmsKeyId",
    "RotationDays",
    "PreviousKeyGraceHours",
    "AdoptExistingUser",
    "AllowedSourceIps",
    "AllowedVpcEndpoints",
];
pub const IGNORED: &[&str] = &["ServiceToken", "ServiceTimeout"];

/// The resource type this model describes.
pub const RESOURCE_TYPE: &str = "Custom::PlantonIamUser";

/// What `Fn::GetAtt` may name on the resource: the function answers with exactly these
/// (`SecretArn` only while it keeps a key), never the key itself.
pub const ATTRIBUTES: &[&str] = &["Arn", "UserName", "UserId", "SecretArn"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// The access key. Absent from [`UserSpec`] when keys are disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub serial: u64,
    pub status: KeyStatus,
    pub kms_key_id: Option<String>,
    /// Scheduled rotation by Secrets Manager, with this function as the rotator.
    pub rotation_days: Option<u16>,
    /// `PreviousKeyGraceHours`: how long the previous key keeps working after a
    /// rotation of this resource's key; `None`: the deployment's default
    /// (`PLANTON_ROTATION_GRACE_HOURS`). Zero ends it in the same request: the way to
    /// kill a leaked key now.
    pub previous_key_grace_hours: Option<u32>,
}

pub const MAX_ROTATION_DAYS: u64 = 365;

/// The desired state of one service-account user, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
    /// `AdoptExistingUser`: a Create may take over an existing user that nobody owns
    /// (only when the operator allows adoption, `PLANTON_ALLOW_ADOPTION`).
    pub adopt: bool,
    pub user_name: String,
    pub path: String,
    pub managed_policy_arns: BTreeSet<String>,
    /// Documents in compact canonical form, so comparisons with IAM are semantic.
    pub inline_policies: BTreeMap<String, Value>,
    pub groups: Vec<String>,
    pub permissions_boundary: Option<String>,
    /// Template tags, without the ownership tags.
    pub tags: Vec<(String, String)>,
    /// Kept even when keys are disabled: disabling must find the secret to remove it.
    pub secret_name: String,
    pub key: Option<KeySpec>,
}

pub fn default_secret_name(user_name: &str) -> String {
    format!("{DEFAULT_SECRET_PREFIX}{user_name}")
}

/// The partition (`aws`, `aws-cn`, `aws-us-gov`) an ARN lives in, if it is an ARN.
pub fn partition_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(p)) if !p.is_empty() => Some(p),
        _ => None,
    }
}

/// Parses and validates `ResourceProperties`. `stack_partition` (from the StackId) lets
/// policy ARNs from another partition be refused before IAM refuses them mid-deploy.
pub fn parse(props: &Value, stack_partition: Option<&str>) -> Result<UserSpec, Violations> {
    let mut v = Vec::new();
    let empty = Map::new();
    let obj = match props {
        Value::Object(m) => m,
        Value::Null => {
            v.push(Violation::new(
                "ResourceProperties",
                "missing: at least UserName is required",
            ));
            &empty
        }
        other => {
            v.push(Violation::new(
                "ResourceProperties",
                format!("must be an object, got {}", kind(other)),
            ));
            &empty
        }
    };

    for key in obj.keys() {
        if !PROPERTIES.contains(&key.as_str()) && !IGNORED.contains(&key.as_str()) {
            let hint = suggest(key)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            v.push(Violation::new(
                clip(key),
                format!("not a property of Custom::PlantonIamUser{hint}"),
            ));
        }
    }

    let mut user_name_ok = false;
    let user_name = match obj.get("UserName") {
        None | Some(Value::Null) => {
            v.push(Violation::new("UserName", "is required"));
            String::new()
        }
        Some(val) => match scalar(val) {
            Some(s) => {
                user_name_ok = check_iam_name(&mut v, "UserName", &s, MAX_USER_NAME);
                s
            }
            None => {
                v.push(Violation::new(
                    "UserName",
                    format!("must be a string, got {}", kind(val)),
                ));
                String::new()
            }
        },
    };

    let path = opt_string(&mut v, obj, "Path").unwrap_or_else(|| "/".to_string());
    if let Some(rule) = path_rule(&path) {
        v.push(Violation::new("Path", rule));
    }

    let managed = string_list(&mut v, obj, "ManagedPolicyArns");
    let mut managed_policy_arns = BTreeSet::new();
    if managed.len() > MAX_MANAGED_POLICIES {
        v.push(Violation::new(
            "ManagedPolicyArns",
            format!(
                "{} policies given; IAM attaches at most {MAX_MANAGED_POLICIES} managed policies to a user",
                managed.len()
            ),
        ));
    }
    for (i, arn) in managed.iter().enumerate() {
        let prop = format!("ManagedPolicyArns[{i}]");
        match policy_arn_rule(arn, stack_partition) {
            Some(rule) => v.push(Violation::new(prop, rule)),
            None => {
                if !managed_policy_arns.insert(arn.clone()) {
                    v.push(Violation::new(prop, format!("{arn} is listed twice")));
                }
            }
        }
    }

    let mut inline_policies = inline_policies(&mut v, obj);
    // The source-IP fence is one more inline policy, written by the function under a
    // reserved name: it converges, counts toward the size budget and is recorded like
    // any other.
    let (fence, fence_violations) = crate::fence::parse(obj);
    v.extend(fence_violations);
    if let Some(f) = fence {
        let doc = crate::fence::document(&f);
        let own = policy_size(&doc);
        let template: usize = inline_policies.values().map(policy_size).sum();
        if template <= MAX_INLINE_TOTAL && template + own > MAX_INLINE_TOTAL {
            let prop = if f.source_ips.is_empty() {
                crate::fence::VPC_ENDPOINTS
            } else {
                crate::fence::SOURCE_IPS
            };
            v.push(Violation::new(
                prop,
                format!(
                    "the fence policy it makes is {own} characters, and with InlinePolicies' {template} that exceeds the {MAX_INLINE_TOTAL} IAM allows per user: list fewer or wider networks, or move an inline policy to a managed policy"
                ),
            ));
        }
        inline_policies.insert(crate::fence::FENCE_POLICY_NAME.to_string(), doc);
    }

    let group_list = string_list(&mut v, obj, "Groups");
    if group_list.len() > MAX_GROUPS {
        v.push(Violation::new(
            "Groups",
            format!(
                "{} groups given; IAM puts a user in at most {MAX_GROUPS} groups",
                group_list.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut groups = Vec::new();
    for (i, g) in group_list.iter().enumerate() {
        let prop = format!("Groups[{i}]");
        if check_iam_name(&mut v, &prop, g, 128) {
            // IAM group names are case-insensitive: "Devs" and "devs" are one group.
            if seen.insert(g.to_ascii_lowercase()) {
                groups.push(g.clone());
            } else {
                v.push(Violation::new(prop, format!("group {g} is listed twice")));
            }
        }
    }

    let permissions_boundary = opt_string(&mut v, obj, "PermissionsBoundary");
    if let Some(b) = &permissions_boundary {
        if let Some(rule) = policy_arn_rule(b, stack_partition) {
            v.push(Violation::new("PermissionsBoundary", rule));
        }
    }

    let tags = tags(&mut v, obj);

    let disabled = opt_bool(&mut v, obj, "DisableAccessKeys").unwrap_or(false);
    let serial = opt_u64(&mut v, obj, "KeySerial").unwrap_or(0);
    let status = match opt_string(&mut v, obj, "KeyStatus") {
        None => KeyStatus::Active,
        Some(s) if s.eq_ignore_ascii_case("active") => KeyStatus::Active,
        Some(s) if s.eq_ignore_ascii_case("inactive") => KeyStatus::Inactive,
        Some(s) => {
            v.push(Violation::new(
                "KeyStatus",
                format!("must be Active or Inactive, got {:?}", clip(&s)),
            ));
            KeyStatus::Active
        }
    };
    let secret_name =
        opt_string(&mut v, obj, "SecretName").unwrap_or_else(|| default_secret_name(&user_name));
    if let Some(rule) = secret_name_rule(&secret_name) {
        if obj.contains_key("SecretName") {
            v.push(Violation::new("SecretName", rule));
        } else if user_name_ok && !disabled {
            // IAM allows "," in user names; Secrets Manager does not in secret names.
            v.push(Violation::new(
                "SecretName",
                format!(
                    "not given, and the default {:?} is not a valid secret name (Secrets Manager allows only letters, digits and /_+=.@-): set SecretName",
                    clip(&secret_name)
                ),
            ));
        }
    }
    let kms_key_id = opt_string(&mut v, obj, "SecretKmsKeyId");
    if let Some(k) = &kms_key_id {
        if k.is_empty() || k.len() > 2048 || k.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            v.push(Violation::new(
                "SecretKmsKeyId",
                "must be a KMS key id, key ARN, alias name or alias ARN (1-2048 characters, no spaces)",
            ));
        }
    }

    let rotation_days = opt_u64(&mut v, obj, "RotationDays");
    if let Some(d) = rotation_days {
        if !(1..=MAX_ROTATION_DAYS).contains(&d) {
            v.push(Violation::new(
                "RotationDays",
                format!(
                    "must be 1-{MAX_ROTATION_DAYS} (days between scheduled rotations), got {d}"
                ),
            ));
        } else if disabled {
            v.push(Violation::new(
                "RotationDays",
                "rotates the access key, but DisableAccessKeys is true: remove one of the two",
            ));
        } else if status == KeyStatus::Inactive {
            v.push(Violation::new(
                "RotationDays",
                "needs KeyStatus Active: each rotation proves the new key works by using it",
            ));
        }
    }

    let grace = opt_u64(&mut v, obj, "PreviousKeyGraceHours");
    if let Some(h) = grace {
        if h > u64::from(MAX_GRACE_HOURS) {
            v.push(Violation::new(
                "PreviousKeyGraceHours",
                format!(
                    "must be 0-{MAX_GRACE_HOURS} (hours the previous key keeps working after a rotation; 0 deactivates it at once), got {h}"
                ),
            ));
        } else if disabled {
            v.push(Violation::new(
                "PreviousKeyGraceHours",
                "is about the previous access key, but DisableAccessKeys is true: remove one of the two",
            ));
        }
    }
    let adopt = opt_bool(&mut v, obj, "AdoptExistingUser").unwrap_or(false);

    if !v.is_empty() {
        return Err(Violations(v));
    }
    Ok(UserSpec {
        adopt,
        user_name,
        path,
        managed_policy_arns,
        inline_policies,
        groups,
        permissions_boundary,
        tags,
        secret_name,
        key: (!disabled).then_some(KeySpec {
            serial,
            status,
            kms_key_id,
            rotation_days: rotation_days.and_then(|d| u16::try_from(d).ok()),
            previous_key_grace_hours: grace.and_then(|h| u32::try_from(h).ok()),
        }),
    })
}

/// A likely intended property for a typo, so "Usernme" gets a hint instead of a shrug.
fn suggest(key: &str) -> Option<&'static str> {
    // Longer than every property by more than 3: no property is within distance 3, and
    // a hostile 256 KB key must not cost seconds of edit distance.
    if key.chars().count() > 3 + PROPERTIES.iter().map(|p| p.len()).max().unwrap_or(0) {
        return None;
    }
    let lower = key.to_ascii_lowercase();
    PROPERTIES
        .iter()
        .map(|p| (edit_distance(&lower, &p.to_ascii_lowercase()), *p))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, p)| p)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
