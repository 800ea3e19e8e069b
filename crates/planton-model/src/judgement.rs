//! Whether an IAM policy document would let the user it is given raise its own
//! privilege.
//!
//! This function is a deputy with IAM-write power: anyone who may deploy a stack can
//! ask it for a user, so a policy that grants what an escalation needs must be refused
//! before any AWS call, whoever asks. The judgement is pure (no I/O, no clock, no AWS)
//! so that every rule can be tested on both sides of its boundary, and it errs towards
//! refusing: a document it cannot read is judged as if it granted everything, because
//! IAM, not this function, decides what an odd spelling means.
//!
//! What is not judged here, and why:
//! - A single fully-named resource is accepted whatever the action: naming one role,
//!   user or policy is a reviewable choice made in the stack's template, while a
//!   wildcard reaches resources nobody reviewed (including ones made later). What the
//!   named resource itself may do is the permissions boundary's job.
//! - Deny statements are never subtracted from Allow statements: proving that a Deny
//!   covers every way around it is harder than refusing, and a false refusal only
//!   costs a narrower policy.

use super::escalation_actions::{OTHER_ESCALATION, PERMISSIONS_MANAGEMENT, ROLE_TAKERS, SPELLING};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// So that a CloudFormation Reason built from the findings stays readable; one finding
/// is enough to refuse, the rest only help the author fix the policy in one go.
pub const MAX_FINDINGS: usize = 20;

/// An action name nobody has defined: a pattern that matches it covers every action of
/// every service, present and future, as `*` does.
const ANY_SERVICE_PROBE: &str = "planton-probe-no-such-service:planton-probe-no-such-action";
/// Likewise for IAM: a pattern matching this covers every IAM action, as `iam:*` does.
const ANY_IAM_PROBE: &str = "iam:planton-probe-no-such-action";
const PASS_ROLE: &str = "iam:passrole";
/// The condition operators that let `iam:PassedToService` name the only services a role
/// may be handed to. Negated operators (`StringNotEquals`) name the services it may
/// *not* go to; `...IfExists` and `ForAllValues:` are true when the key is absent; so
/// none of those limit anything.
const PASSED_TO_SERVICE_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ForAnyValue:StringEquals",
    "ForAnyValue:StringEqualsIgnoreCase",
    "ForAnyValue:StringLike",
];

/// One reason to refuse a policy: a statement that grants an escalation action where a
/// wildcard, not a name, says on what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// Index in `Statement` (0 when `Statement` is a single object, or absent).
    pub statement: usize,
    /// The `Action` pattern as written, or `NotAction` followed by its JSON.
    pub pattern: String,
    /// AWS's spelling of an escalation action the pattern grants; `*` for every action
    /// of every service, `iam:*` for every IAM action.
    pub action: String,
    /// The `Resource` pattern as written, or `NotResource` followed by its JSON.
    pub resource: String,
    /// Set when the statement could not be read: it is then refused as if it granted
    /// every action on every resource, and this says what was wrong.
    pub unreadable: Option<String>,
    /// Set when the action escalates only with another grant of the same document: the
    /// `iam:PassRole` on a wildcard that lets the action put any role to work.
    pub with: Option<PassGrant>,
}

/// A grant of `iam:PassRole` on a wildcard: where it is, and on what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PassGrant {
    pub statement: usize,
    pub resource: String,
}

/// What the judgement needs to know of the deployment: the role paths its permissions
/// boundary lets users pass (`PassableRolePaths`, `PLANTON_PASSABLE_ROLE_PATHS`). A
/// `iam:PassRole` limited by `iam:PassedToService` is accepted on a wildcard only within
/// them; the boundary denies passing any other role, so IAM and the judgement agree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub passable_role_paths: Vec<String>,
}

/// The user a document would be given to, and what it would hold. A resource naming
/// one of these is the holder's own, and is judged like a wildcard (like
/// `user/${aws:username}`), not like a single named resource a reviewer chose: granting
/// `iam:PutUserPolicy` on the user's own ARN, `iam:PutGroupPolicy` on a group it joins or
/// `iam:CreatePolicyVersion` on a policy it holds lets it grant itself anything. The
/// default names nothing (the judgement of a document on its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    /// The user's name; IAM user names are unique case-insensitively.
    pub user_name: String,
    /// The groups it would be a member of (names; unique case-insensitively too).
    pub groups: Vec<String>,
    /// The managed policies it would hold, its own and its groups' (ARNs).
    pub policy_arns: Vec<String>,
}

impl Holder {
    /// Whether `resource` (wildcard-free) names the user, one of its groups or one of
    /// its policies. Compared without regard to case, and the user and its groups by
    /// name whatever the account or path written: a resource that might be the
    /// holder's own is refused rather than argued about.
    fn owns(&self, resource: &str) -> bool {
        let r = resource.trim().to_ascii_lowercase();
        let parts: Vec<&str> = r.splitn(6, ':').collect();
        let [arn, _partition, service, _region, _account, rest] = parts[..] else {
            return false;
        };
        if arn != "arn" || service != "iam" {
            return false;
        }
        let last = |path: &str| path.rsplit('/').next().unwrap_or_default().to_string();
        if let Some(user) = rest.strip_prefix("user/") {
            !self.user_name.is_empty() && last(user) == self.user_name.to_ascii_lowercase()
        } else if let Some(group) = rest.strip_prefix("group/") {
            let name = last(group);
            self.groups.iter().any(|g| g.eq_ignore_ascii_case(&name))
        } else if rest.starts_with("policy/") {
            self.policy_arns.iter().any(|a| a.eq_ignore_ascii_case(&r))
        } else {
            false
        }
    }
}

/// What a document lets its holder do with roles, for judging it together with the
/// user's other policies: the wildcards it may pass roles on, and the actions it grants
/// that put a passed role to work (on any resource).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Powers {
    pub passes: Vec<PassGrant>,
    pub takers: Vec<Taker>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taker {
    pub statement: usize,
    /// AWS's spelling of the action.
    pub action: String,
    pub resource: String,
}

impl Finding {
    fn unreadable(statement: usize, why: impl Into<String>) -> Self {
        Finding {
            statement,
            pattern: String::new(),
            action: "*".into(),
            resource: "*".into(),
            unreadable: Some(why.into()),
            with: None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.unreadable {
            return write!(
                f,
                "statement {} could not be read ({why}), so it counts as granting every action",
                self.statement
            );
        }
        let what = match self.action.as_str() {
            "*" if self.pattern.starts_with("NotAction ") => "every action it does not list".into(),
            "*" => "every action".into(),
            "iam:*" => "every IAM action".into(),
            a => a.to_string(),
        };
        write!(
            f,
            "statement {}: {} grants {what} on {}",
            self.statement,
            as_written(&self.pattern, "NotAction "),
            as_written(&self.resource, "NotResource ")
        )?;
        if let Some(pass) = &self.with {
            write!(
                f,
                ", which puts to work any role statement {} lets it pass (iam:PassRole on {})",
                pass.statement,
                as_written(&pass.resource, "NotResource ")
            )?;
        }
        Ok(())
    }
}

/// The escalations `doc` grants, at most [`MAX_FINDINGS`] of them: empty means the
/// policy may be given to a user this function manages.
pub fn judge(doc: &Value) -> Vec<Finding> {
    judge_in(doc, &Scope::default())
}

/// [`judge`] for a deployment whose boundary lets users pass roles under some paths.
pub fn judge_in(doc: &Value, scope: &Scope) -> Vec<Finding> {
    let mut findings = judge_all_in(doc, scope);
    findings.truncate(MAX_FINDINGS);
    findings
}

/// [`judge`] for a document that arrives as JSON text (inline policies, managed policy
/// versions once the caller has URL-decoded them).
pub fn judge_str(raw: &str) -> Result<Vec<Finding>, String> {
    serde_json::from_str::<Value>(raw)
        .map(|doc| judge(&doc))
        .map_err(|e| format!("the policy document is not valid JSON: {e}"))
}

/// Every finding, uncapped, deduplicated, in document order: for a caller that wants
/// to say how many [`judge`] left out.
pub fn judge_all(doc: &Value) -> Vec<Finding> {
    judge_all_in(doc, &Scope::default())
}

/// [`judge_all`] in a deployment's [`Scope`].
pub fn judge_all_in(doc: &Value, scope: &Scope) -> Vec<Finding> {
    read(doc, scope, &Holder::default()).0
}

/// [`judge_in`] for the document of one user: what names the [`Holder`]'s own user,
/// groups or policies counts as a wildcard.
pub fn judge_for(doc: &Value, scope: &Scope, holder: &Holder) -> Vec<Finding> {
    let mut findings = judge_all_for(doc, scope, holder);
    findings.truncate(MAX_FINDINGS);
    findings
}

/// [`judge_for`], uncapped.
pub fn judge_all_for(doc: &Value, scope: &Scope, holder: &Holder) -> Vec<Finding> {
    read(doc, scope, holder).0
}

/// What `doc` lets its holder do with roles ([`Powers`]), for the judgement of the
/// union of a user's policies. An unreadable document yields none: it is refused alone.
pub fn powers(doc: &Value, scope: &Scope) -> Powers {
    read(doc, scope, &Holder::default()).1
}

fn read(doc: &Value, scope: &Scope, holder: &Holder) -> (Vec<Finding>, Powers) {
    let mut out = Findings {
        scope: scope.clone(),
        holder: holder.clone(),
        ..Findings::default()
    };
    let statements: Vec<&Value> = match doc.as_object().map(|o| o.get("Statement")) {
        None => {
            out.push(Finding::unreadable(0, "the document is not a JSON object"));
            return (out.list, Powers::default());
        }
        Some(None) => {
            out.push(Finding::unreadable(0, "the document has no Statement"));
            return (out.list, Powers::default());
        }
        Some(Some(Value::Array(list))) => list.iter().collect(),
        Some(Some(one @ Value::Object(_))) => vec![one],
        Some(Some(_)) => {
            out.push(Finding::unreadable(
                0,
                "Statement is neither an object nor a list",
            ));
            return (out.list, Powers::default());
        }
    };
    for (index, statement) in statements.into_iter().enumerate() {
        if let Err(why) = judge_statement(index, statement, &mut out) {
            out.push(Finding::unreadable(index, why));
        }
    }
    // A wildcard PassRole and an action that puts a role to work, in one document.
    if let Some(pass) = out.powers.passes.first().cloned() {
        for t in out.powers.takers.clone() {
            out.push(Finding {
                statement: t.statement,
                pattern: t.action.clone(),
                action: t.action,
                resource: t.resource,
                unreadable: None,
                with: Some(pass.clone()),
            });
        }
    }
    let powers = std::mem::take(&mut out.powers);
    (out.list, powers)
}

#[derive(Default)]
struct Findings {
    list: Vec<Finding>,
    scope: Scope,
    holder: Holder,
    powers: Powers,
    seen: HashSet<Finding>,
}

impl Findings {
    fn push(&mut self, finding: Finding) {
        if self.seen.insert(finding.clone()) {
            self.list.push(finding);
        }
    }
}

/// Where a statement applies. Broad: not one resource that a reviewer can name.
struct Target {
    text: String,
    broad: bool,
}

fn judge_statement(index: usize, st: &Value, out: &mut Findings) -> Result<(), String> {
    let Some(st) = st.as_object() else {
        return Err("it is not an object".into());
    };
    match st.get("Effect") {
        Some(Value::String(e)) if e == "Deny" => return Ok(()),
        Some(Value::String(e)) if e == "Allow" => {}
        Some(other) => return Err(format!("Effect is {other}, not \"Allow\" or \"Deny\"")),
        None => return Err("it has no Effect".into()),
    }
    let targets = targets(st.get("Resource"), st.get("NotResource"), &out.holder)?;
    // Every action, or every IAM action, escalates whatever the resource: the named
    // resource may be the user itself (`iam:*` on its own ARN) or a role it can assume.
    let grant = |out: &mut Findings, pattern: &str, action: &str, any_resource: bool| {
        for target in targets.iter().filter(|t| any_resource || t.broad) {
            out.push(Finding {
                statement: index,
                pattern: pattern.to_string(),
                action: action.to_string(),
                resource: target.text.clone(),
                unreadable: None,
                with: None,
            });
        }
    };
    match (st.get("Action"), st.get("NotAction")) {
        (Some(_), Some(_)) => Err("it has both Action and NotAction".into()),
        (None, None) => Err("it has neither Action nor NotAction".into()),
        // Every action except a few is every escalation AWS has now and any it adds
        // later, whatever the list leaves out, so no NotAction Allow is accepted.
        (None, Some(not_action)) => {
            patterns(not_action, "NotAction")?;
            grant(out, &format!("NotAction {not_action}"), "*", true);
            Ok(())
        }
        (Some(action), None) => {
            let passed_to_service = limits_passed_to_service(st.get("Condition"));
            for (written, pattern) in patterns(action, "Action")? {
                if glob(&pattern, ANY_SERVICE_PROBE) {
                    grant(out, written, "*", true);
                } else if glob(&pattern, ANY_IAM_PROBE) {
                    grant(out, written, "iam:*", true);
                } else {
                    for action in escalation_actions(&pattern) {
                        if action != PASS_ROLE {
                            grant(out, written, spelling(action), false);
                            continue;
                        }
                        for target in targets.iter().filter(|t| t.broad) {
                            out.powers.passes.push(PassGrant {
                                statement: index,
                                resource: target.text.clone(),
                            });
                            let passable = passed_to_service
                                && within(&target.text, &out.scope.passable_role_paths);
                            if !passable {
                                out.push(Finding {
                                    statement: index,
                                    pattern: written.to_string(),
                                    action: spelling(action).to_string(),
                                    resource: target.text.clone(),
                                    unreadable: None,
                                    with: None,
                                });
                            }
                        }
                    }
                }
                for action in ROLE_TAKERS.iter().filter(|a| glob(&pattern, a)) {
                    for target in &targets {
                        out.powers.takers.push(Taker {
                            statement: index,
                            action: spelling(action).to_string(),
                            resource: target.text.clone(),
                        });
                    }
                }
            }
            Ok(())
        }
    }
}

/// The patterns of an `Action` or `NotAction`, each as written and in the lower case
/// IAM matches them in. IAM action names are ASCII without spaces: anything else is an
/// error here rather than a pattern that might match differently in IAM than here.
fn patterns<'a>(value: &'a Value, element: &str) -> Result<Vec<(&'a str, String)>, String> {
    let list: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    list.into_iter()
        .map(|v| {
            let Some(written) = v.as_str() else {
                return Err(format!("{element} holds {v}, not a string"));
            };
            let trimmed = written.trim();
            if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "{element} {} is not an action name or pattern",
                    quote(written)
                ));
            }
            Ok((written, trimmed.to_ascii_lowercase()))
        })
        .collect()
}

/// The targets of `Resource`, or the single broad target of `NotResource`, which is
/// every resource but a few. A name of the holder's own is broad too ([`Holder`]).
fn targets(
    resource: Option<&Value>,
    not_resource: Option<&Value>,
    holder: &Holder,
) -> Result<Vec<Target>, String> {
    let (value, element) = match (resource, not_resource) {
        (Some(_), Some(_)) => return Err("it has both Resource and NotResource".into()),
        (None, None) => return Err("it has neither Resource nor NotResource".into()),
        (Some(r), None) => (r, "Resource"),
        (None, Some(r)) => (r, "NotResource"),
    };
    let list: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    let mut names = Vec::with_capacity(list.len());
    for v in list {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => names.push(s),
            _ => {
                return Err(format!(
                    "{element} holds {v}, not a resource name or pattern"
                ))
            }
        }
    }
    if element == "NotResource" {
        return Ok(vec![Target {
            text: format!("NotResource {value}"),
            broad: true,
        }]);
    }
    Ok(names
        .into_iter()
        .map(|name| Target {
            text: name.to_string(),
            broad: !is_single_name(name) || holder.owns(name),
        })
        .collect())
}

/// A resource that names one thing: no `*` or `?` wildcard, and no policy variable,
/// whose value the request decides (`${aws:username}` is the user itself, so
/// `iam:PutUserPolicy` on `user/${aws:username}` lets it grant itself anything).
fn is_single_name(resource: &str) -> bool {
    !resource.contains(['*', '?']) && !resource.contains("${")
}

/// `iam:PassRole` limited by `iam:PassedToService` to named services is accepted even on
/// a wildcard resource: the role can then only be handed to those services, which is
/// the delegation AWS documents for letting a principal configure a service without
/// acting as the role itself. What the named service may then do with the role (a
/// Lambda function or an EC2 instance running the caller's code) is the remaining risk,
/// covered by the threat model and by the table's other actions (CreateFunction,
/// RunInstances...), which are judged on their own. Only a condition that names each
/// service counts: no wildcard under `StringLike` and no policy variable, either of
/// which could name every service.
fn limits_passed_to_service(condition: Option<&Value>) -> bool {
    let Some(condition) = condition.and_then(Value::as_object) else {
        return false;
    };
    condition
        .iter()
        .filter(|(operator, _)| PASSED_TO_SERVICE_OPERATORS.contains(&operator.as_str()))
        .filter_map(|(operator, block)| Some((operator, block.as_object()?)))
        .any(|(operator, block)| {
            block.iter().any(|(key, value)| {
                key.eq_ignore_ascii_case("iam:PassedToService")
                    && names_services(value, operator.ends_with("StringLike"))
            })
        })
}

fn names_services(value: &Value, like: bool) -> bool {
    let values: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    !values.is_empty()
        && values.iter().all(|v| {
            v.as_str().is_some_and(|s| {
                let variable = s.contains("${");
                let wildcard = like && s.contains(['*', '?']);
                !(variable || wildcard)
            })
        })
}

/// Whether a role ARN pattern stays under one of `paths`: `arn:<partition>:iam::<account>:role<path>...`
/// with the path written out in full before any wildcard. The account may be a wildcard:
/// IAM passes only roles of the caller's own account.
fn within(resource: &str, paths: &[String]) -> bool {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    let [arn, _partition, service, region, _account, name] = parts[..] else {
        return false;
    };
    arn == "arn"
        && service == "iam"
        && region.is_empty()
        && paths.iter().any(|p| {
            !p.contains(['*', '?'])
                && p.starts_with('/')
                && p.ends_with('/')
                && name.starts_with(&format!("role{p}"))
        })
}

/// The table's actions a lower-case pattern covers, in the table's order.
fn escalation_actions(pattern: &str) -> impl Iterator<Item = &'static str> + '_ {
    PERMISSIONS_MANAGEMENT
        .iter()
        .chain(OTHER_ESCALATION)
        .copied()
        .filter(move |action| glob(pattern, action))
}

/// AWS's spelling of a table entry, for messages; the entry itself if the table lacks it.
fn spelling(action: &'static str) -> &'static str {
    SPELLING
        .iter()
        .find(|s| s.eq_ignore_ascii_case(action))
        .copied()
        .unwrap_or(action)
}

/// IAM's action wildcards: `*` any run of characters (`:` included, so `i*` covers
/// `iam:...`), `?` exactly one. Both sides are lower-case ASCII by now.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A pattern or resource in quotes, unless it is a `NotAction`/`NotResource` summary,
/// which already carries its own JSON.
fn as_written(text: &str, summary_prefix: &str) -> String {
    if text.starts_with(summary_prefix) {
        text.to_string()
    } else {
        quote(text)
    }
}

#[cfg(test)]
mod tests;
