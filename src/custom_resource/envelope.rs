//! The CloudFormation request envelope, read loosely, and the response body.
//!
//! The event is read from a plain JSON value instead of deserialized straight into a
//! typed request: if deserialization failed, the handler would never run, nothing would
//! be PUT, and the stack would hang for an hour. Here anything with a usable ResponseURL
//! gets an answer.

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};
use serde_json::Value;
use std::collections::HashMap;

pub const MAX_BODY: usize = 4096;
const MAX_PHYSICAL_ID: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// A request as far as it could be read. `problem` is set when something other than the
/// properties is wrong with it; such a request is answered FAILED without any AWS call.
#[derive(Clone, PartialEq)]
pub struct Request {
    pub request_type: Option<RequestType>,
    pub request_id: String,
    pub response_url: String,
    pub stack_id: String,
    pub logical_id: String,
    /// As the event says; checked against what CloudFormation declares.
    pub resource_type: String,
    pub physical_id: Option<String>,
    pub props: Value,
    pub old_props: Value,
    pub problem: Option<String>,
}

/// The ResponseURL is a bearer credential for the answer: never print it whole.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("request_type", &self.request_type)
            .field("request_id", &self.request_id)
            .field("response_url", &redact_url(&self.response_url))
            .field("stack_id", &self.stack_id)
            .field("logical_id", &self.logical_id)
            .field("physical_id", &self.physical_id)
            .finish_non_exhaustive()
    }
}

/// An event that cannot be answered: there is no usable ResponseURL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unanswerable(pub String);

/// The URL without its query string (the presigned signature).
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_string(),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the raw payload. A payload that is valid JSON but not a readable value (nested
/// deeper than the parser allows, a lone surrogate in a string) is read field by field,
/// so the request can still be answered; the unreadable part is reported as its problem.
pub fn parse_raw(raw: &str) -> Result<Request, Unanswerable> {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return parse(&v);
    }
    let fields: std::collections::BTreeMap<LooseKey, Box<serde_json::value::RawValue>> =
        serde_json::from_str(raw).map_err(|e| {
            Unanswerable(format!(
                "the event is not a JSON object ({e}), so it has no ResponseURL to answer"
            ))
        })?;
    let mut event = serde_json::Map::new();
    let mut unreadable = Vec::new();
    for (k, v) in &fields {
        let name: String = k.name.chars().take(64).collect();
        if k.lossy {
            unreadable.push(format!("field name {name:?} could not be read"));
            continue;
        }
        match serde_json::from_str::<Value>(v.get()) {
            Ok(value) => {
                event.insert(k.name.clone(), value);
            }
            Err(e) => unreadable.push(format!("{name} could not be read ({e})")),
        }
    }
    let mut req = parse(&Value::Object(event))?;
    if !unreadable.is_empty() {
        let mut problems: Vec<String> = req.problem.take().into_iter().collect();
        problems.extend(unreadable);
        req.problem = Some(problems.join("; "));
    }
    Ok(req)
}

/// A field name read as bytes: a lone surrogate in a name must not make the whole
/// event unreadable when its ResponseURL is fine.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LooseKey {
    name: String,
    lossy: bool,
}

impl<'de> serde::Deserialize<'de> for LooseKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = LooseKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<LooseKey, E> {
                Ok(LooseKey {
                    name: v.to_string(),
                    lossy: false,
                })
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<LooseKey, E> {
                Ok(match std::str::from_utf8(v) {
                    Ok(s) => LooseKey {
                        name: s.to_string(),
                        lossy: false,
                    },
                    Err(_) => LooseKey {
                        name: String::from_utf8_lossy(v).into_owned(),
                        lossy: true,
                    },
                })
            }
        }
        d.deserialize_bytes(Visit)
    }
}

pub fn parse(event: &Value) -> Result<Request, Unanswerable> {
    if !event.is_object() {
        return Err(Unanswerable(
            "the event is not a JSON object, so it has no ResponseURL to answer".into(),
        ));
    }
    let response_url =
        match event.get("ResponseURL") {
            Some(Value::String(u)) if u.starts_with("https://") || u.starts_with("http://") => {
                u.clone()
            }
            Some(_) => {
                return Err(Unanswerable(
                    "ResponseURL is not an http(s) URL, so nobody can be answered".into(),
                ))
            }
            None => return Err(Unanswerable(
                "the event has no ResponseURL: it is not a CloudFormation custom resource request"
                    .into(),
            )),
        };
    let mut problems = Vec::new();
    let mut field = |key: &str| {
        text(event, key).unwrap_or_else(|| {
            problems.push(format!("{key} is missing"));
            String::new()
        })
    };
    let request_id = field("RequestId");
    let stack_id = field("StackId");
    let logical_id = field("LogicalResourceId");
    let raw_type = text(event, "RequestType");
    let request_type = match raw_type.as_deref() {
        Some("Create") => Some(RequestType::Create),
        Some("Update") => Some(RequestType::Update),
        Some("Delete") => Some(RequestType::Delete),
        Some(other) => {
            let shown: String = other.chars().take(40).collect();
            problems.push(format!(
                "RequestType {shown:?} is not Create, Update or Delete"
            ));
            None
        }
        None => {
            problems.push("RequestType is missing".into());
            None
        }
    };
    let physical_id = text(event, "PhysicalResourceId").filter(|p| !p.is_empty());
    if matches!(
        request_type,
        Some(RequestType::Update | RequestType::Delete)
    ) && physical_id.is_none()
    {
        problems.push("PhysicalResourceId is missing".into());
    }
    Ok(Request {
        request_type,
        request_id,
        response_url,
        stack_id,
        logical_id,
        resource_type: text(event, "ResourceType").unwrap_or_default(),
        physical_id,
        props: event
            .get("ResourceProperties")
            .cloned()
            .unwrap_or(Value::Null),
        old_props: event
            .get("OldResourceProperties")
            .cloned()
            .unwrap_or(Value::Null),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    })
}

/// The answer to one request, before it is rendered into a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub success: bool,
    pub reason: String,
    pub physical_id: String,
    pub data: HashMap<String, String>,
    /// What the owners of the key are told, published beside the answer's PUT.
    pub events: Vec<crate::model::events::Event>,
}

impl Answer {
    pub fn success(physical_id: impl Into<String>, data: HashMap<String, String>) -> Self {
        Answer {
            success: true,
            reason: "OK".into(),
            physical_id: physical_id.into(),
            data,
            events: Vec::new(),
        }
    }

    pub fn failed(physical_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Answer {
            success: false,
            reason: reason.into(),
            physical_id: physical_id.into(),
            data: HashMap::new(),
            events: Vec::new(),
        }
    }
}

/// Renders the response body: echoes the request's ids, never an empty or oversized
/// PhysicalResourceId (CloudFormation would replace the Reason with its own), and cuts
/// the Reason so the body fits in 4096 bytes, keeping its beginning, which names the
/// failing step.
pub fn body(req: &Request, answer: &Answer) -> Vec<u8> {
    let mut physical_id = answer.physical_id.clone();
    if physical_id.is_empty() {
        physical_id = format!("planton-iam-user-unnamed-{}", req.logical_id);
    }
    truncate_chars(&mut physical_id, MAX_PHYSICAL_ID);

    let mut r = CloudFormationCustomResourceResponse::default();
    r.status = if answer.success {
        CloudFormationCustomResourceResponseStatus::Success
    } else {
        CloudFormationCustomResourceResponseStatus::Failed
    };
    r.physical_resource_id = physical_id;
    r.stack_id = req.stack_id.clone();
    r.request_id = req.request_id.clone();
    r.logical_resource_id = req.logical_id.clone();
    r.no_echo = false;
    r.data = answer.data.clone();

    let mut reason = answer.reason.clone();
    loop {
        r.reason = Some(reason.clone());
        let out = serde_json::to_vec(&r).unwrap_or_default();
        if out.len() <= MAX_BODY || reason.is_empty() {
            return out;
        }
        let excess = out.len() - MAX_BODY;
        const MARK: &str = " [truncated]";
        let keep = reason.len().saturating_sub(excess + MARK.len() + 8);
        let mut cut = reason.clone();
        truncate_bytes(&mut cut, keep);
        reason = if cut.is_empty() {
            String::new()
        } else {
            format!("{cut}{MARK}")
        };
        if reason.is_empty() {
            // Ids alone overflow: nothing more can be cut from the Reason.
            r.reason = Some(String::new());
            return serde_json::to_vec(&r).unwrap_or_default();
        }
    }
}

fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        truncate_bytes(s, max);
    }
}

fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests;
