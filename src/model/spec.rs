//! Resource properties -> a validated [`UserSpec`].
//!
//! Pure: no AWS calls, so every rule is unit-tested on both sides of its boundary and is
//! checked before the first write. CloudFormation sends every scalar as a string
//! (`"true"`, `"14"`); direct invocations and CDK may send native JSON scalars, so both
//! are accepted. All violations are collected and reported at once.

use crate::model::values::{clip, kind, policy_size};
use crate::model::violation::{Violation, Violations};
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
    "AllowedSourceIps",
    "AllowedVpcEndpoints",
];
const IGNORED: &[&str] = &["ServiceToken", "ServiceTimeout"];

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
}

pub const MAX_ROTATION_DAYS: u64 = 365;

/// The desired state of one service-account user, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
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
    let (fence, fence_violations) = crate::model::fence::parse(obj);
    v.extend(fence_violations);
    if let Some(f) = fence {
        let doc = crate::model::fence::document(&f);
        let own = policy_size(&doc);
        let template: usize = inline_policies.values().map(policy_size).sum();
        if template <= MAX_INLINE_TOTAL && template + own > MAX_INLINE_TOTAL {
            let prop = if f.source_ips.is_empty() {
                crate::model::fence::VPC_ENDPOINTS
            } else {
                crate::model::fence::SOURCE_IPS
            };
            v.push(Violation::new(
                prop,
                format!(
                    "the fence policy it makes is {own} characters, and with InlinePolicies' {template} that exceeds the {MAX_INLINE_TOTAL} IAM allows per user: list fewer or wider networks, or move an inline policy to a managed policy"
                ),
            ));
        }
        inline_policies.insert(crate::model::fence::FENCE_POLICY_NAME.to_string(), doc);
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

    if !v.is_empty() {
        return Err(Violations(v));
    }
    Ok(UserSpec {
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
        }),
    })
}

/// A scalar as CloudFormation means it: strings as they are, numbers and booleans
/// in their string form.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn opt_string(v: &mut Vec<Violation>, obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(val) => match scalar(val) {
            Some(s) => Some(s),
            None => {
                v.push(Violation::new(
                    key,
                    format!("must be a string, got {}", kind(val)),
                ));
                None
            }
        },
    }
}

fn opt_bool(v: &mut Vec<Violation>, obj: &Map<String, Value>, key: &str) -> Option<bool> {
    let s = opt_string(v, obj, key)?;
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            v.push(Violation::new(
                key,
                format!("must be true or false, got {:?}", clip(&s)),
            ));
            None
        }
    }
}

fn opt_u64(v: &mut Vec<Violation>, obj: &Map<String, Value>, key: &str) -> Option<u64> {
    let s = opt_string(v, obj, key)?;
    match s.trim().parse::<u64>() {
        Ok(n) => Some(n),
        Err(_) => {
            v.push(Violation::new(
                key,
                format!("must be a whole number 0 or greater, got {:?}", clip(&s)),
            ));
            None
        }
    }
}

fn string_list(v: &mut Vec<Violation>, obj: &Map<String, Value>, key: &str) -> Vec<String> {
    match obj.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    other => v.push(Violation::new(
                        format!("{key}[{i}]"),
                        format!("must be a string, got {}", kind(other)),
                    )),
                }
            }
            out
        }
        Some(other) => {
            v.push(Violation::new(
                key,
                format!("must be a list of strings, got {}", kind(other)),
            ));
            Vec::new()
        }
    }
}

fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// User, group and inline-policy names share IAM's character set.
fn check_iam_name(v: &mut Vec<Violation>, prop: &str, s: &str, max: usize) -> bool {
    let n = s.chars().count();
    if n == 0 || n > max || !s.chars().all(is_iam_name_char) {
        v.push(Violation::new(
            prop,
            format!(
                "must be 1-{max} characters of letters, digits and +=,.@_- (got {:?}, {n} characters)",
                clip(s)
            ),
        ));
        false
    } else {
        true
    }
}

pub fn path_rule(p: &str) -> Option<String> {
    let n = p.chars().count();
    if n > MAX_PATH {
        return Some(format!("must be at most {MAX_PATH} characters (got {n})"));
    }
    let printable = p.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if p == "/"
        || (n >= 3 && p.starts_with('/') && p.ends_with('/') && printable && !p.contains("//"))
    {
        None
    } else {
        Some(format!(
            "must be / or start and end with / with printable ASCII and no empty segment between, like /service-accounts/ (got {:?})",
            clip(p)
        ))
    }
}

/// `arn:{aws,aws-cn,aws-us-gov}:iam::{aws|account}:policy/{path/}{name}`.
pub fn policy_arn_rule(arn: &str, stack_partition: Option<&str>) -> Option<String> {
    let bad = || {
        Some(format!(
            "must be a managed policy ARN like arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/name (got {:?})",
            clip(arn)
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[3].is_empty() {
        return bad();
    }
    let partition = parts[1];
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Some(format!(
            "partition {:?} is not aws, aws-cn or aws-us-gov",
            clip(partition)
        ));
    }
    let account = parts[4];
    if !(account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))) {
        return bad();
    }
    let Some(rest) = parts[5].strip_prefix("policy/") else {
        return bad();
    };
    let (path, name) = match rest.rfind('/') {
        Some(i) => (&rest[..=i], &rest[i + 1..]),
        None => ("", rest),
    };
    if name.is_empty() || name.len() > 128 || !name.chars().all(is_iam_name_char) {
        return bad();
    }
    if !path.is_empty() && path_rule(&format!("/{path}")).is_some() {
        return bad();
    }
    if let Some(sp) = stack_partition {
        if sp != partition {
            return Some(format!(
                "is in partition {partition} but the stack is in partition {sp}"
            ));
        }
    }
    None
}

pub fn secret_name_rule(s: &str) -> Option<String> {
    let n = s.chars().count();
    if n == 0
        || n > MAX_SECRET_NAME
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
    {
        Some(format!(
            "must be 1-{MAX_SECRET_NAME} characters of letters, digits and /_+=.@- (got {:?}, {n} characters)",
            clip(s)
        ))
    } else {
        None
    }
}

fn inline_policies(v: &mut Vec<Violation>, obj: &Map<String, Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let map = match obj.get("InlinePolicies") {
        None | Some(Value::Null) => return out,
        Some(Value::Object(m)) => m,
        Some(other) => {
            v.push(Violation::new(
                "InlinePolicies",
                format!(
                    "must be an object mapping policy names to policy documents, got {}",
                    kind(other)
                ),
            ));
            return out;
        }
    };
    let mut total = 0usize;
    for (name, raw) in map {
        let prop = format!("InlinePolicies.{}", clip(name));
        let mut name_ok = check_iam_name(v, &prop, name, 128);
        if name.eq_ignore_ascii_case(crate::model::fence::FENCE_POLICY_NAME) {
            v.push(Violation::new(
                &prop,
                format!(
                    "{} is reserved: the function writes the AllowedSourceIps fence under that name; choose another",
                    crate::model::fence::FENCE_POLICY_NAME
                ),
            ));
            name_ok = false;
        }
        let doc = match raw {
            Value::Object(_) => raw.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(d @ Value::Object(_)) => d,
                Ok(other) => {
                    v.push(Violation::new(
                        &prop,
                        format!("document must be a JSON object, got {}", kind(&other)),
                    ));
                    continue;
                }
                Err(e) => {
                    v.push(Violation::new(
                        &prop,
                        format!("document is not valid JSON: {e}"),
                    ));
                    continue;
                }
            },
            other => {
                v.push(Violation::new(
                    &prop,
                    format!(
                        "document must be a JSON object or a JSON string, got {}",
                        kind(other)
                    ),
                ));
                continue;
            }
        };
        if doc.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
            v.push(Violation::new(
                &prop,
                "document must have \"Version\": \"2012-10-17\"",
            ));
        }
        match doc.get("Statement") {
            Some(Value::Object(_)) => {}
            Some(Value::Array(a)) if !a.is_empty() => {}
            _ => v.push(Violation::new(
                &prop,
                "document must have a Statement (an object or a non-empty list)",
            )),
        }
        total = total.saturating_add(policy_size(&doc));
        if name_ok {
            out.insert(name.clone(), doc);
        }
    }
    if total > MAX_INLINE_TOTAL {
        v.push(Violation::new(
            "InlinePolicies",
            format!(
                "all documents together are {total} characters (whitespace not counted); IAM allows at most {MAX_INLINE_TOTAL} per user: use a managed policy for the rest"
            ),
        ));
    }
    out
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

fn tags(v: &mut Vec<Violation>, obj: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let items = match obj.get("Tags") {
        None | Some(Value::Null) => return out,
        Some(Value::Array(items)) => items,
        Some(other) => {
            v.push(Violation::new(
                "Tags",
                format!(
                    "must be a list of {{Key, Value}} objects, got {}",
                    kind(other)
                ),
            ));
            return out;
        }
    };
    let max = MAX_TAGS_TOTAL - OWNERSHIP_TAGS;
    if items.len() > max {
        v.push(Violation::new(
            "Tags",
            format!(
                "{} tags given; at most {max} (IAM and Secrets Manager allow {MAX_TAGS_TOTAL} and this resource uses {OWNERSHIP_TAGS} for ownership)",
                items.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let prop = format!("Tags[{i}]");
        let Value::Object(t) = item else {
            v.push(Violation::new(
                prop,
                format!("must be an object with Key and Value, got {}", kind(item)),
            ));
            continue;
        };
        for k in t.keys() {
            if k != "Key" && k != "Value" {
                v.push(Violation::new(
                    format!("{prop}.{}", clip(k)),
                    "not a tag field (only Key and Value)",
                ));
            }
        }
        let key = t.get("Key").and_then(scalar);
        let value = match t.get("Value") {
            None | Some(Value::Null) => Some(String::new()),
            Some(val) => scalar(val),
        };
        let Some(key) = key else {
            v.push(Violation::new(
                format!("{prop}.Key"),
                "is required and must be a string",
            ));
            continue;
        };
        let Some(value) = value else {
            v.push(Violation::new(format!("{prop}.Value"), "must be a string"));
            continue;
        };
        let kn = key.chars().count();
        if kn == 0 || kn > 128 || !key.chars().all(is_tag_char) {
            v.push(Violation::new(
                format!("{prop}.Key"),
                format!(
                    "must be 1-128 characters of letters, digits, spaces and _.:/=+-@ (got {:?})",
                    clip(&key)
                ),
            ));
            continue;
        }
        let lower = key.to_lowercase();
        if lower.starts_with("aws:") {
            v.push(Violation::new(
                format!("{prop}.Key"),
                "the aws: prefix is reserved by AWS",
            ));
            continue;
        }
        if lower.starts_with(RESERVED_TAG_PREFIX) {
            v.push(Violation::new(
                format!("{prop}.Key"),
                "the planton: prefix is reserved for this resource's ownership tags",
            ));
            continue;
        }
        let vn = value.chars().count();
        if vn > 256 || !value.chars().all(is_tag_char) {
            v.push(Violation::new(
                format!("{prop}.Value"),
                format!(
                    "must be 0-256 characters of letters, digits, spaces and _.:/=+-@ (got {vn} characters)"
                ),
            ));
            continue;
        }
        if !seen.insert(lower) {
            v.push(Violation::new(
                format!("{prop}.Key"),
                format!("{key} is given twice (tag keys are case-insensitive)"),
            ));
            continue;
        }
        out.push((key, value));
    }
    out
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
