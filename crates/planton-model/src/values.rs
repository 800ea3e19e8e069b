//! Small helpers on JSON values that the property rules, the fence and the deployment
//! record all need, kept apart so none of them has to import another for them.

use serde_json::Value;

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Shortens user input quoted back in a Reason, which must fit in 4 KB with the rest.
pub fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        let head: String = s.chars().take(40).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

/// IAM counts inline policy size without whitespace.
pub fn policy_size(doc: &Value) -> usize {
    serde_json::to_string(doc)
        .map(|s| s.chars().filter(|c| !c.is_whitespace()).count())
        .unwrap_or(usize::MAX)
}

pub fn compact(doc: &Value) -> String {
    serde_json::to_string(doc).unwrap_or_default()
}
