//! Reading CloudFormation's loose values: every scalar may arrive as a string or as
//! native JSON; a value of the wrong kind becomes a violation naming the property.

use crate::values::{clip, kind};
use crate::violation::Violation;
use serde_json::{Map, Value};

/// A scalar as CloudFormation means it: strings as they are, numbers and booleans
/// in their string form.
pub(super) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn opt_string(
    v: &mut Vec<Violation>,
    obj: &Map<String, Value>,
    key: &str,
) -> Option<String> {
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

pub(super) fn opt_bool(
    v: &mut Vec<Violation>,
    obj: &Map<String, Value>,
    key: &str,
) -> Option<bool> {
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

pub(super) fn opt_u64(v: &mut Vec<Violation>, obj: &Map<String, Value>, key: &str) -> Option<u64> {
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

pub(super) fn string_list(
    v: &mut Vec<Violation>,
    obj: &Map<String, Value>,
    key: &str,
) -> Vec<String> {
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
