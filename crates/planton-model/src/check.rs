//! What a host that sees a resource before it is deployed asks of the model: the CDK
//! construct at synth, the cfn-lint rules and checkov checks on a template. Each gets
//! the findings the function would answer with, computed by the function's own code
//! (compiled to WebAssembly for them, crates/planton-model-wasm), never by a port.
//!
//! A host cannot know everything the function will: a value decided at deploy time
//! (`!Ref` of a parameter, a CDK token) is written with [`UNRESOLVED`] in its place, and a
//! rule it could break is not reported, except what its fixed text breaks whatever the
//! rest ([`fixed_text_rule`]). A managed policy's document is known only for AWS managed
//! policies ([`crate::aws_managed`]) and for policies and groups the host names.

use crate::grants::{held, refusals, union_refusals, GroupGrants};
use crate::guardrails::{escalation, Guardrails};
use crate::judgement::{judge, Finding as Grant, Scope};
use crate::spec::{parse, partition_of};
use crate::violation::Violation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Stands for text a host cannot know before deployment (a Unicode private-use
/// character, which no rule accepts and no real value carries).
pub const UNRESOLVED: char = '\u{E000}';

/// What the host knows: the properties as the function would receive them, and the
/// policies it can read that IAM would otherwise give the function.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Request {
    pub properties: Value,
    /// The stack's partition, when the host knows it (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: Option<String>,
    /// Customer managed policy documents by ARN as the template writes it (a policy of
    /// the same template or construct tree).
    pub managed_policies: BTreeMap<String, Value>,
    /// Groups by name (a group of the same template): what they hold.
    pub groups: BTreeMap<String, KnownGroup>,
    /// Go on past the first stage that refuses (a linter reports everything at once;
    /// the function answers with the first stage's refusals only).
    pub every_stage: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KnownGroup {
    pub managed_policy_arns: Vec<String>,
    pub policies: BTreeMap<String, Value>,
}

/// Which of the function's checks a refusal comes from, in the order it runs them: a
/// linter files each under its own rule, and a host that asks for [`Request::every_stage`]
/// learns what the function would say once the earlier ones are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// A property breaks its own rule (name, type, format, limit).
    Properties,
    /// The fixed text of a value decided at deploy time breaks its rule whatever the
    /// rest turns out to be (hosts only: the function sees whole values).
    FixedText,
    /// A limit every deployment enforces (denied policies, escalating inline policies).
    Guardrails,
    /// A managed policy or a group grants an escalation, alone or with the user's other
    /// documents.
    Grants,
}

/// One refusal, as the function's Reason words it (`property: rule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub property: String,
    pub rule: String,
    pub stage: Stage,
    /// The deployment setting that can lift this refusal (`PLANTON_DENIED_POLICY_ARNS`,
    /// `PLANTON_ALLOW_PRIVILEGED_INLINE`, `PLANTON_TRUSTED_POLICY_ARNS`), or `None` when
    /// no deployment accepts it. A host that cannot know the deployment's settings (the
    /// CDK construct) refuses only the fixed ones and reports the others as warnings.
    pub lifted_by: Option<&'static str>,
}

fn findings(v: Vec<Violation>, stage: Stage) -> Vec<(Violation, Stage)> {
    v.into_iter().map(|v| (v, stage)).collect()
}

/// Which setting lifts a refusal of this stage and wording: the guardrails say which
/// variable they enforce, and every grant refusal of a managed policy is lifted by
/// trusting it.
fn lifted_by(v: &Violation, stage: Stage) -> Option<&'static str> {
    const SETTINGS: &[&str] = &[
        "PLANTON_DENIED_POLICY_ARNS",
        "PLANTON_ALLOW_PRIVILEGED_INLINE",
    ];
    match stage {
        Stage::Guardrails => SETTINGS.iter().copied().find(|s| v.rule.contains(s)),
        // A managed policy's refusal, the template's own or a group's, or a union that
        // takes one in: trusting the policy leaves it unread.
        Stage::Grants
            if v.property.starts_with("ManagedPolicyArns") || v.rule.contains(":policy/") =>
        {
            Some("PLANTON_TRUSTED_POLICY_ARNS")
        }
        _ => None,
    }
}

/// Every refusal the function would answer `req` with under the default guardrails
/// (the limits every deployment enforces; a deployment's own settings can only add),
/// in the function's order. Empty: the function accepts what the host can see.
pub fn check(req: &Request) -> Vec<Finding> {
    let known = Known::from(req);
    let partition = req.partition.as_deref();
    let mut found = Vec::new();
    match parse(&known.props, partition) {
        Err(v) => found.extend(findings(v.0, Stage::Properties)),
        Ok(mut spec) => {
            // The function judges the grants only of a request that passes the
            // guardrails (execute.rs): the same order here, the same Reason, unless the
            // host asks for every stage.
            let v = Guardrails::default().apply(&mut spec);
            let stop = !v.is_empty() && !req.every_stage;
            found.extend(findings(v, Stage::Guardrails));
            if !stop {
                found.extend(findings(grant_refusals(&known, &spec), Stage::Grants));
            }
        }
    }
    // A judgement of the known entries of a list (a denied ARN among unknown ones)
    // stands; anything said of a value that holds unknown text is dropped.
    found.retain(|(v, stage)| match value_at(&known.lookup, &v.property) {
        Some(Value::Array(_)) if *stage != Stage::Properties => true,
        Some(value) => !unresolved(value),
        None => true,
    });
    found.extend(findings(
        fixed_text_rules(&req.properties),
        Stage::FixedText,
    ));
    found
        .into_iter()
        .map(|(v, stage)| Finding {
            lifted_by: lifted_by(&v, stage),
            property: v.property,
            rule: v.rule,
            stage,
        })
        .collect()
}

fn grant_refusals(known: &Known, spec: &crate::spec::UserSpec) -> Vec<Violation> {
    let verdicts: BTreeMap<String, Option<String>> = spec
        .managed_policy_arns
        .iter()
        .chain(
            spec.groups
                .iter()
                .filter_map(|g| known.groups.get(g))
                .flat_map(|g| g.managed_policy_arns.iter()),
        )
        .filter_map(|arn| verdict(known, arn).map(|why| (arn.clone(), why)))
        .collect();
    let groups: Vec<(String, Result<GroupGrants, String>)> = spec
        .groups
        .iter()
        .map(|name| {
            let g = known.groups.get(name).map(|g| GroupGrants {
                attached: g.managed_policy_arns.clone(),
                inline: g
                    .policies
                    .iter()
                    .map(|(n, d)| (n.clone(), d.clone()))
                    .collect(),
            });
            (name.clone(), Ok(g.unwrap_or_default()))
        })
        .collect();
    let mut holder = crate::guardrails::holder_of(spec);
    holder.policy_arns.extend(
        spec.groups
            .iter()
            .filter_map(|g| known.groups.get(g))
            .flat_map(|g| g.managed_policy_arns.iter().cloned()),
    );
    let mut found = refusals(
        spec,
        &known.props,
        &verdicts,
        &groups,
        &Scope::default(),
        &holder,
    );
    let held = held(
        spec,
        &known.props,
        |arn| known.managed_policies.get(arn),
        &groups,
    );
    found.extend(union_refusals(&held, &Scope::default()));
    found
}

/// What the host knows, made into what the function's rules can read: text decided at
/// deploy time is replaced where a stand-in cannot change a verdict, and left out where
/// it could (a number, a switch, a list of addresses, a policy statement whose effect or
/// actions are unknown).
struct Known {
    /// The properties the rules run on.
    props: Value,
    /// The properties as written, but for inline policy documents, which are as judged:
    /// a refusal of a value that still holds unknown text here is dropped.
    lookup: Value,
    managed_policies: BTreeMap<String, Value>,
    groups: BTreeMap<String, KnownGroup>,
}

/// Properties whose text a stand-in letter keeps well-formed: names, paths, ARNs, tags.
const TEXT: &[&str] = &[
    "UserName",
    "Path",
    "ManagedPolicyArns",
    "Groups",
    "PermissionsBoundary",
    "Tags",
    "SecretName",
    "SecretKmsKeyId",
];

impl Known {
    fn from(req: &Request) -> Self {
        let mut props = Map::new();
        let mut lookup = req.properties.as_object().cloned().unwrap_or_default();
        for (key, value) in req.properties.as_object().into_iter().flatten() {
            let value = match (key.as_str(), value) {
                ("InlinePolicies", Value::Object(docs)) => {
                    // A document that is all unknown is judged by the function; the
                    // others are judged here.
                    let judged: Map<String, Value> = docs
                        .iter()
                        .filter(|(_, doc)| !is_unknown(doc))
                        .map(|(name, doc)| (name.clone(), known_document(doc)))
                        .collect();
                    lookup.insert(key.clone(), Value::Object(judged.clone()));
                    Value::Object(judged)
                }
                // An unknown address or endpoint stands in as a distinct one that no
                // rule refuses, so the others keep their numbers and an empty list
                // stays the empty list the function refuses.
                ("AllowedSourceIps" | "AllowedVpcEndpoints", Value::Array(items)) => {
                    let stand_in = |i: usize| {
                        if key == "AllowedSourceIps" {
                            format!("198.51.100.{}/32", i % 256)
                        } else {
                            format!("vpce-{i:08x}")
                        }
                    };
                    Value::Array(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| {
                                if unresolved(v) {
                                    Value::String(stand_in(i))
                                } else {
                                    v.clone()
                                }
                            })
                            .collect(),
                    )
                }
                // A partly known ARN stands in as a customer managed policy no rule
                // refuses and nobody can judge: IAM tells the function what it grants.
                ("ManagedPolicyArns", Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            if unresolved(v) {
                                Value::String(unknown_policy(req, i))
                            } else {
                                v.clone()
                            }
                        })
                        .collect(),
                ),
                ("PermissionsBoundary", v) if unresolved(v) => {
                    Value::String(unknown_policy(req, 0))
                }
                ("UserName", v) => fill(v),
                (k, v) if unresolved(v) && (is_unknown(v) || !TEXT.contains(&k)) => continue,
                (_, v) => fill(v),
            };
            props.insert(key.clone(), value);
        }
        let props = if req.properties.is_object() {
            Value::Object(props)
        } else {
            req.properties.clone()
        };
        let documents = |m: &BTreeMap<String, Value>| -> BTreeMap<String, Value> {
            m.iter()
                .map(|(n, d)| (n.clone(), known_document(d)))
                .collect()
        };
        Known {
            props,
            lookup: Value::Object(lookup),
            managed_policies: documents(&req.managed_policies),
            groups: req
                .groups
                .iter()
                .map(|(name, g)| {
                    let known = KnownGroup {
                        managed_policy_arns: g.managed_policy_arns.clone(),
                        policies: documents(&g.policies),
                    };
                    (name.clone(), known)
                })
                .collect(),
        }
    }
}

/// A policy document as far as it can be judged before deployment: a statement whose
/// effect is unknown, or none of whose actions are known, is left out (replaced by one
/// that grants nothing, so the others keep their numbers); unknown actions are dropped
/// from a list of known ones; an unknown resource or condition value counts as one named
/// resource or service (the function judges the deployed value). A document that is
/// itself unknown text stays unknown.
fn known_document(doc: &Value) -> Value {
    let Some(obj) = doc.as_object() else {
        return doc.clone();
    };
    let stub = serde_json::json!({"Effect": "Deny", "Action": "*", "Resource": "*"});
    let statement = |st: &Value| -> Value {
        let Some(o) = st.as_object() else {
            return if unresolved(st) {
                stub.clone()
            } else {
                st.clone()
            };
        };
        if o.get("Effect").is_some_and(unresolved) || o.get("NotAction").is_some_and(unresolved) {
            return stub.clone();
        }
        let mut o = o.clone();
        match o.get("Action") {
            Some(Value::Array(list)) if list.iter().any(unresolved) => {
                let known: Vec<Value> = list.iter().filter(|a| !unresolved(a)).cloned().collect();
                if known.is_empty() {
                    return stub.clone();
                }
                o.insert("Action".into(), Value::Array(known));
            }
            Some(a) if unresolved(a) => return stub.clone(),
            _ => {}
        }
        fill(&Value::Object(o))
    };
    let mut out = obj.clone();
    match obj.get("Statement") {
        Some(Value::Array(list)) => {
            out.insert(
                "Statement".into(),
                Value::Array(list.iter().map(statement).collect()),
            );
        }
        Some(one @ Value::Object(_)) => {
            out.insert("Statement".into(), statement(one));
        }
        Some(other) if unresolved(other) => return doc.clone(),
        _ => {}
    }
    fill(&Value::Object(out))
}

/// The stand-in for the `i`th managed policy ARN the host cannot know.
fn unknown_policy(req: &Request, i: usize) -> String {
    let partition = req.partition.as_deref().unwrap_or("aws");
    format!("arn:{partition}:iam::123456789012:policy/planton-unresolved-{i}")
}

/// A value that is all unknown (`!Ref` of a parameter), as opposed to text with an
/// unknown part.
fn is_unknown(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.chars().all(|c| c == UNRESOLVED))
}

/// The verdict on a managed policy the host can judge: a document it names, or an AWS
/// managed policy by its name. `None`: the host cannot know (IAM will tell the function).
fn verdict(req: &Known, arn: &str) -> Option<Option<String>> {
    if let Some(doc) = req.managed_policies.get(arn) {
        return Some(escalation(doc));
    }
    let name = aws_managed_name(arn)?;
    Some(
        crate::aws_managed::REFUSED
            .binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .and_then(|i| crate::aws_managed::REFUSED.get(i))
            .map(|(_, why)| (*why).to_string()),
    )
}

/// `AmazonS3FullAccess` of `arn:aws:iam::aws:policy/AmazonS3FullAccess` (any path).
fn aws_managed_name(arn: &str) -> Option<&str> {
    partition_of(arn)?;
    let rest = arn.split_once(":iam::aws:policy/")?.1;
    Some(rest.rsplit('/').next().unwrap_or(rest))
}

/// One document's judgement, for hosts that judge a policy on its own (a template's
/// `AWS::IAM::ManagedPolicy`, the cdk-nag rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judged {
    /// What the function would say of it, `None` when it grants no escalation.
    pub escalation: Option<String>,
    pub findings: Vec<JudgedGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JudgedGrant {
    pub statement: usize,
    pub action: String,
    pub resource: String,
    pub text: String,
}

pub fn judge_document(doc: &Value) -> Judged {
    Judged {
        escalation: escalation(doc),
        findings: judge(doc)
            .into_iter()
            .map(|f: Grant| JudgedGrant {
                statement: f.statement,
                text: f.to_string(),
                action: f.action,
                resource: f.resource,
            })
            .collect(),
    }
}

/// The properties with every unknown stretch replaced by one ordinary letter, so the
/// function's rules run on the rest; what they then say of a value that held an unknown
/// stretch is dropped ([`check`]).
fn fill(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains(UNRESOLVED) => Value::String(s.replace(UNRESOLVED, "x")),
        Value::Array(a) => Value::Array(a.iter().map(fill).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), fill(x))).collect()),
        other => other.clone(),
    }
}

fn unresolved(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(UNRESOLVED),
        Value::Array(a) => a.iter().any(unresolved),
        Value::Object(o) => o.values().any(unresolved),
        _ => false,
    }
}

/// The value a Reason's property names (`UserName`, `Groups[1]`, `Tags[0].Key`,
/// `InlinePolicies.<name>`) in the properties as written.
fn value_at<'a>(props: &'a Value, property: &str) -> Option<&'a Value> {
    let mut cur = props;
    let mut rest = property;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (index, tail) = after.split_once(']')?;
            cur = cur.get(index.parse::<usize>().ok()?)?;
            rest = tail;
        } else {
            let name = rest.strip_prefix('.').unwrap_or(rest);
            // A whole remainder that is a key wins: inline policy names may hold dots.
            if let Some(v) = cur.as_object().and_then(|o| o.get(name)) {
                return Some(v);
            }
            let end = name.find(['.', '[']).unwrap_or(name.len());
            cur = cur.get(&name[..end])?;
            rest = &name[end..];
        }
    }
    Some(cur)
}

/// What a value's fixed text breaks whatever the unknown rest turns out to be: a
/// character no value of the property may hold, or more characters than it may have.
pub fn fixed_text_rule(
    value: &str,
    allowed: fn(char) -> bool,
    max: usize,
    what: &str,
) -> Option<String> {
    let fixed: String = value.chars().filter(|c| *c != UNRESOLVED).collect();
    let mut bad: Vec<char> = fixed.chars().filter(|c| !allowed(*c)).collect();
    bad.sort_unstable();
    bad.dedup();
    if !bad.is_empty() {
        let listed: Vec<String> = bad.iter().map(|c| format!("{c:?}")).collect();
        return Some(format!(
            "must be 1-{max} characters of {what}; the fixed text {:?} has {}",
            crate::values::clip(&fixed),
            listed.join(", ")
        ));
    }
    let n = fixed.chars().count();
    (n > max).then(|| format!("must be 1-{max} characters of {what}; the fixed text alone is {n}"))
}

fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

fn printable_ascii(c: char) -> bool {
    ('\x21'..='\x7e').contains(&c)
}

/// [`fixed_text_rule`] for the partly known names and paths among `props`.
fn fixed_text_rules(props: &Value) -> Vec<Violation> {
    let Some(obj) = props.as_object() else {
        return Vec::new();
    };
    let partial = |key: &str| -> Option<&str> {
        obj.get(key)
            .and_then(Value::as_str)
            .filter(|s| s.contains(UNRESOLVED))
    };
    let mut out = Vec::new();
    if let Some(s) = partial("UserName") {
        if let Some(rule) = fixed_text_rule(s, iam_name_char, 64, "letters, digits and +=,.@_-") {
            out.push(Violation::new("UserName", rule));
        }
    }
    if let Some(s) = partial("Path") {
        if let Some(rule) = fixed_text_rule(s, printable_ascii, 512, "printable ASCII") {
            out.push(Violation::new("Path", rule));
        }
    }
    if let Some(s) = partial("SecretName") {
        let secret_char = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
        if let Some(rule) = fixed_text_rule(s, secret_char, 256, "letters, digits and /_+=.@-") {
            out.push(Violation::new("SecretName", rule));
        }
    }
    if let Some(tags) = obj.get("Tags").and_then(Value::as_array) {
        for (i, tag) in tags.iter().enumerate() {
            let text = |k: &str| {
                tag.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| s.contains(UNRESOLVED))
            };
            if let Some(key) = text("Key") {
                let what = "letters, digits, spaces and _.:/=+-@";
                let head: String = key.chars().take_while(|c| *c != UNRESOLVED).collect();
                let head = head.to_lowercase();
                // A reserved prefix written out before the unknown part stays reserved.
                let reserved = ["aws:", crate::spec::RESERVED_TAG_PREFIX]
                    .into_iter()
                    .find(|p| head.starts_with(p));
                if let Some(rule) = fixed_text_rule(key, crate::spec::is_tag_char, 128, what) {
                    out.push(Violation::new(format!("Tags[{i}].Key"), rule));
                } else if let Some(prefix) = reserved {
                    out.push(Violation::new(
                        format!("Tags[{i}].Key"),
                        format!("the {prefix} prefix is reserved whatever follows it"),
                    ));
                }
            }
            if let Some(value) = text("Value") {
                let what = "letters, digits, spaces and _.:/=+-@";
                if let Some(rule) = fixed_text_rule(value, crate::spec::is_tag_char, 256, what) {
                    out.push(Violation::new(format!("Tags[{i}].Value"), rule));
                }
            }
        }
    }
    if let Some(groups) = obj.get("Groups").and_then(Value::as_array) {
        for (i, g) in groups.iter().enumerate() {
            if let Some(s) = g.as_str().filter(|s| s.contains(UNRESOLVED)) {
                if let Some(rule) =
                    fixed_text_rule(s, iam_name_char, 128, "letters, digits and +=,.@_-")
                {
                    out.push(Violation::new(format!("Groups[{i}]"), rule));
                }
            }
        }
    }
    out
}

/// [`check`] on a request written as JSON: the wire form of the WebAssembly module.
pub fn check_json(raw: &str) -> Result<Vec<Finding>, String> {
    let req: Request =
        serde_json::from_str(raw).map_err(|e| format!("the request is not valid: {e}"))?;
    Ok(check(&req))
}

/// [`judge_document`] over `{"Documents": [..]}` or `{"Documents": {name: doc}}`.
pub fn judge_json(raw: &str) -> Result<Value, String> {
    let req: Map<String, Value> =
        serde_json::from_str(raw).map_err(|e| format!("the request is not valid: {e}"))?;
    let judged = |d: &Value| serde_json::to_value(judge_document(d)).unwrap_or(Value::Null);
    Ok(match req.get("Documents") {
        Some(Value::Array(list)) => Value::Array(list.iter().map(judged).collect()),
        Some(Value::Object(named)) => {
            Value::Object(named.iter().map(|(n, d)| (n.clone(), judged(d))).collect())
        }
        _ => return Err("the request has no Documents (a list or an object)".into()),
    })
}

#[cfg(test)]
mod tests;
