//! The rule of each property: IAM names, the path, policy ARNs, the secret name,
//! inline policies and tags. Each message says what is allowed and what was given.

use super::read::scalar;
use super::{
    MAX_INLINE_TOTAL, MAX_PATH, MAX_SECRET_NAME, MAX_TAGS_TOTAL, OWNERSHIP_TAGS,
    RESERVED_TAG_PREFIX,
};
use crate::values::{clip, kind, policy_size};
use crate::violation::Violation;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// User, group and inline-policy names share IAM's character set.
pub(super) fn check_iam_name(v: &mut Vec<Violation>, prop: &str, s: &str, max: usize) -> bool {
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

pub(super) fn inline_policies(
    v: &mut Vec<Violation>,
    obj: &Map<String, Value>,
) -> BTreeMap<String, Value> {
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
        if name.eq_ignore_ascii_case(crate::fence::FENCE_POLICY_NAME) {
            v.push(Violation::new(
                &prop,
                format!(
                    "{} is reserved: the function writes the AllowedSourceIps fence under that name; choose another",
                    crate::fence::FENCE_POLICY_NAME
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

pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

pub(super) fn tags(v: &mut Vec<Violation>, obj: &Map<String, Value>) -> Vec<(String, String)> {
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
