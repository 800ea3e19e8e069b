//! The watch: what a CloudTrail event about IAM means for the users this function
//! manages, and what to do about what is observed. Pure: the caller reads the user and
//! its grants, then asks here whether anything changed since its deployment and which
//! answer the operator chose (`PLANTON_CHANGE_RESPONSE`).
//!
//! An event is a hint, never evidence. Anyone who can invoke the function can forge
//! one, so an event only says *which* users to look at: every decision below is taken
//! on what was observed. The event's claims (who, from where) are reported as claims.

use crate::deployed::{added_since, Aspect, Items, KeyState, Record};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// EventBridge's detail-type for CloudTrail management events.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// EventBridge's `source` of IAM's CloudTrail events.
pub const SOURCE: &str = "aws.iam";
/// CloudTrail's `eventSource` for IAM.
pub const EVENT_SOURCE: &str = "iam.amazonaws.com";

/// Every IAM write that can change what a managed user holds or can do. The template's
/// rule and the forwarder's match exactly these (a unit test of the function compares
/// them), so adding one here means adding it there.
pub const WATCHED: &[&str] = &[
    // The user's own policies and boundary.
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPolicy",
    "DeleteUserPolicy",
    "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    // Its groups, and what they grant.
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "PutGroupPolicy",
    "DeleteGroupPolicy",
    // A managed policy it holds, given another default document.
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
    // Its credentials.
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "ResyncMFADevice",
    "UploadSSHPublicKey",
    "UpdateSSHPublicKey",
    "DeleteSSHPublicKey",
    "UploadSigningCertificate",
    "UpdateSigningCertificate",
    "DeleteSigningCertificate",
    "CreateServiceSpecificCredential",
    "UpdateServiceSpecificCredential",
    "ResetServiceSpecificCredential",
    "DeleteServiceSpecificCredential",
    // The user itself and its tags (the planton: ones are its ownership and record).
    "UpdateUser",
    "DeleteUser",
    "TagUser",
    "UntagUser",
];

/// What the operator chose to do about a hand-made change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// An event only.
    Alert,
    /// An event, and the user's keys deactivated when the change is dangerous.
    #[default]
    Quarantine,
    /// An event, and the change undone where the observed state shows how; what cannot
    /// be undone is quarantined.
    Revert,
}

impl Mode {
    pub fn parse(v: &str) -> Option<Mode> {
        match v.to_ascii_lowercase().as_str() {
            "alert" => Some(Mode::Alert),
            "quarantine" => Some(Mode::Quarantine),
            "revert" => Some(Mode::Revert),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Alert => "alert",
            Mode::Quarantine => "quarantine",
            Mode::Revert => "revert",
        }
    }
}

/// What an event points at; the users to look at follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    /// Every member of the group.
    Group(String),
    /// Every user holding the managed policy, directly or through a group.
    Policy(String),
}

/// One CloudTrail call, as the event claims it. Only `subject` steers the work; the
/// rest is reported, marked as the event's claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub event_id: String,
    pub event_name: String,
    pub subject: Subject,
    pub caller_arn: Option<String>,
    pub caller_type: Option<String>,
    /// The role behind an assumed-role session (`sessionContext.sessionIssuer.arn`).
    pub issuer_arn: Option<String>,
    pub event_time: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request parameters with anything secret left out ([`redact`]).
    pub parameters: Value,
}

/// Why an event is not acted on. None of these fails the invocation: EventBridge would
/// only retry what can never be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NotCloudTrail,
    NotIam,
    NotWatched(String),
    /// The call failed (`errorCode`): nothing changed.
    Failed(String),
    /// A watched call without the parameter that names its user, group or policy.
    NoSubject,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotCloudTrail => write!(f, "not a CloudTrail API call event"),
            Skip::NotIam => write!(f, "not an IAM call"),
            Skip::NotWatched(n) => write!(f, "{n} cannot change a managed user"),
            Skip::Failed(c) => write!(f, "the call failed ({c}): nothing changed"),
            Skip::NoSubject => write!(f, "the call names no user, group or policy"),
        }
    }
}

/// Longest text kept from any event field: a forged event can carry megabytes.
const FIELD_MAX: usize = 512;

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(FIELD_MAX).collect())
}

/// An IAM name as IAM accepts it (1-128 of `[A-Za-z0-9+=,.@_-]`): anything else cannot
/// name a user or group, so it is not looked up.
fn iam_name(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// Reads an EventBridge event carrying a CloudTrail record of an IAM call.
pub fn read(event: &Value) -> Result<Call, Skip> {
    if event.get("detail-type").and_then(Value::as_str) != Some(DETAIL_TYPE) {
        return Err(Skip::NotCloudTrail);
    }
    let d = event.get("detail").ok_or(Skip::NotCloudTrail)?;
    if event.get("source").and_then(Value::as_str) != Some(SOURCE)
        || d.get("eventSource").and_then(Value::as_str) != Some(EVENT_SOURCE)
    {
        return Err(Skip::NotIam);
    }
    let name = d.get("eventName").and_then(Value::as_str).unwrap_or("");
    if !WATCHED.contains(&name) {
        return Err(Skip::NotWatched(name.chars().take(64).collect()));
    }
    if let Some(code) = text(d.get("errorCode")) {
        return Err(Skip::Failed(code));
    }
    let params = d.get("requestParameters").cloned().unwrap_or(Value::Null);
    let p = |k: &str| params.get(k).and_then(Value::as_str);
    let subject = match (p("userName"), p("groupName"), p("policyArn")) {
        (Some(u), _, _) if iam_name(u) => Subject::User(u.to_string()),
        (None, Some(g), _) if iam_name(g) => Subject::Group(g.to_string()),
        (None, None, Some(a))
            if a.starts_with("arn:") && a.contains(":policy/") && a.len() <= 2048 =>
        {
            Subject::Policy(a.to_string())
        }
        _ => return Err(Skip::NoSubject),
    };
    let who = d.get("userIdentity");
    let at = |path: &[&str]| {
        let mut v = who?;
        for k in path {
            v = v.get(k)?;
        }
        Some(v)
    };
    Ok(Call {
        event_id: text(d.get("eventID"))
            .or_else(|| text(event.get("id")))
            .unwrap_or_default(),
        event_name: name.to_string(),
        subject,
        caller_arn: text(at(&["arn"])),
        caller_type: text(at(&["type"])),
        issuer_arn: text(at(&["sessionContext", "sessionIssuer", "arn"])),
        event_time: text(d.get("eventTime")),
        source_ip: text(d.get("sourceIPAddress")),
        user_agent: text(d.get("userAgent")),
        parameters: redact(&params),
    })
}

/// Whether the call was made by one of `own_roles` (the function's roles): the
/// function's own writes are its deployments and answers, not hand changes. Both the
/// session's issuer and an assumed-role ARN naming the role count.
pub fn caused_by(call: &Call, own_roles: &[String]) -> bool {
    let role_name = |arn: &str| arn.rsplit('/').next().map(str::to_string);
    own_roles.iter().any(|own| {
        if call.issuer_arn.as_deref() == Some(own.as_str()) {
            return true;
        }
        // arn:aws:sts::<account>:assumed-role/<role name>/<session>
        let assumed = call.caller_arn.as_deref().and_then(|a| {
            let rest = a.split(":assumed-role/").nth(1)?;
            rest.split('/').next().map(str::to_string)
        });
        assumed.is_some() && assumed == role_name(own)
    })
}

/// Request parameters without anything that could be secret (passwords, private keys,
/// tokens) and without long values (a policy document is named, not copied), at most
/// 2 KB in all.
pub fn redact(params: &Value) -> Value {
    let Some(obj) = params.as_object() else {
        return Value::Null;
    };
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        [
            "password",
            "secret",
            "token",
            "private",
            "authenticationcode",
            "credential",
        ]
        .iter()
        .any(|s| k.contains(s))
    };
    let mut out = Map::new();
    let mut size = 0;
    for (k, v) in obj.iter().take(32) {
        let v = if secret(k) {
            Value::from("(left out)")
        } else {
            match v {
                Value::String(s) if s.len() > 256 => {
                    Value::from(format!("({} characters, left out)", s.len()))
                }
                Value::String(_) | Value::Bool(_) | Value::Number(_) | Value::Null => v.clone(),
                _ => Value::from("(structured value, left out)"),
            }
        };
        size += k.len() + v.to_string().len();
        if size > 2048 {
            break;
        }
        out.insert(k.chars().take(64).collect(), v);
    }
    Value::Object(out)
}

/// What was observed of one managed user, all of it read by the caller.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The user's deployment record, `None` when missing or unreadable.
    pub record: Option<Record>,
    /// The items of each aspect as they are now.
    pub items: Items,
    /// Access keys on the user: id, active.
    pub keys: Vec<(String, bool)>,
    /// The keys the user's secret holds, as the function recorded them; `None` when
    /// the secret could not tell (missing, not recorded): then no key is called foreign.
    pub secret_keys: Option<BTreeSet<String>>,
    /// The key the secret's AWSCURRENT version holds.
    pub current_key: Option<String>,
    pub login_profile: bool,
    /// What the judgement refuses among the grants the user holds now.
    pub findings: Vec<String>,
}

/// How the user differs from what it was deployed with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    pub drifted: Vec<Aspect>,
    /// Per drifted aspect, the items added since the deployment when that alone
    /// explains the difference (see [`added_since`]).
    pub added: BTreeMap<Aspect, Vec<String>>,
    /// The deployed key status differs from the current key's.
    pub key_status: Option<(KeyState, KeyState)>,
    /// Keys on the user that its secret does not hold: made by hand.
    pub foreign_keys: Vec<String>,
    /// A console password, which the resource never makes.
    pub login_profile: bool,
    pub findings: Vec<String>,
    /// The deployment record is gone or unreadable.
    pub no_record: bool,
}

impl Assessment {
    /// Anything to tell.
    pub fn changed(&self) -> bool {
        !self.drifted.is_empty()
            || self.key_status.is_some()
            || !self.foreign_keys.is_empty()
            || self.login_profile
            || !self.findings.is_empty()
            || self.no_record
    }

    /// A grant the judgement refuses, or a credential the resource did not make.
    pub fn dangerous(&self) -> bool {
        !self.findings.is_empty() || !self.foreign_keys.is_empty() || self.login_profile
    }
}

/// Compares what was observed with the deployment record.
pub fn assess(o: &Observed) -> Assessment {
    let mut a = Assessment {
        login_profile: o.login_profile,
        findings: o.findings.clone(),
        no_record: o.record.is_none(),
        ..Assessment::default()
    };
    if let Some(r) = &o.record {
        let now = o.items.digests();
        for aspect in Aspect::ALL {
            if r.digests.get(&aspect) != now.get(&aspect) {
                a.drifted.push(aspect);
                let deployed = r.digests.get(&aspect).map(String::as_str).unwrap_or("");
                if let Some(added) = added_since(o.items.get(aspect), deployed) {
                    a.added.insert(aspect, added);
                }
            }
        }
        let key_now = match &o.current_key {
            None => KeyState::NoKey,
            Some(id) => match o.keys.iter().find(|(k, _)| k == id) {
                None => KeyState::NoKey,
                Some((_, true)) => KeyState::Active,
                Some((_, false)) => KeyState::Inactive,
            },
        };
        if key_now != r.key {
            a.key_status = Some((r.key, key_now));
        }
    }
    if let Some(held) = &o.secret_keys {
        // An adopted user's old keys are the function's to end, not hand-made.
        let adopted: BTreeSet<&String> = o
            .record
            .as_ref()
            .and_then(|r| r.adopted.as_ref())
            .map(|ad| ad.keys.iter().collect())
            .unwrap_or_default();
        a.foreign_keys = o
            .keys
            .iter()
            .filter(|(id, _)| !held.contains(id) && !adopted.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
    }
    a
}

/// One write the response makes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    DeactivateKey(String),
    DeleteKey(String),
    DeleteLoginProfile,
    DetachPolicy(String),
    DeleteInlinePolicy(String),
    RemoveFromGroup(String),
}

impl Action {
    /// How the event and the log name it.
    pub fn describe(&self) -> String {
        match self {
            Action::DeactivateKey(k) => format!("deactivated access key {k}"),
            Action::DeleteKey(k) => format!("deleted hand-made access key {k}"),
            Action::DeleteLoginProfile => "deleted the hand-made console password".into(),
            Action::DetachPolicy(p) => format!("detached hand-attached policy {p}"),
            Action::DeleteInlinePolicy(p) => format!("deleted hand-put inline policy {p}"),
            Action::RemoveFromGroup(g) => format!("removed the user from hand-joined group {g}"),
        }
    }

    /// Whether the action undoes a change (a write only the main role may make), as
    /// opposed to quarantining (deactivating keys, removing a password).
    pub fn reverts(&self) -> bool {
        !matches!(self, Action::DeactivateKey(_) | Action::DeleteLoginProfile)
    }
}

/// The writes `mode` makes for `a`, given the keys on the user (id, active). Nothing
/// for a change that is not dangerous in quarantine mode, nothing at all in alert mode.
pub fn respond(mode: Mode, a: &Assessment, keys: &[(String, bool)]) -> Vec<Action> {
    let quarantine = || {
        let mut out: Vec<Action> = keys
            .iter()
            .filter(|(_, active)| *active)
            .map(|(id, _)| Action::DeactivateKey(id.clone()))
            .collect();
        if a.login_profile {
            out.push(Action::DeleteLoginProfile);
        }
        out
    };
    match mode {
        Mode::Alert => Vec::new(),
        Mode::Quarantine if a.dangerous() => quarantine(),
        Mode::Quarantine => Vec::new(),
        Mode::Revert => {
            let mut out = Vec::new();
            let added = |aspect| a.added.get(&aspect).cloned().unwrap_or_default();
            out.extend(
                added(Aspect::ManagedPolicies)
                    .into_iter()
                    .map(Action::DetachPolicy),
            );
            out.extend(
                added(Aspect::InlinePolicies).iter().map(|i| {
                    Action::DeleteInlinePolicy(crate::deployed::inline_item_name(i).into())
                }),
            );
            out.extend(
                added(Aspect::Groups)
                    .into_iter()
                    .map(Action::RemoveFromGroup),
            );
            out.extend(a.foreign_keys.iter().cloned().map(Action::DeleteKey));
            if a.login_profile {
                out.push(Action::DeleteLoginProfile);
            }
            // A refused grant that no undo above removes (a document edited in place, a
            // policy given a new default version, a group's grants, a drift that is not
            // a plain addition) is quarantined instead.
            let grant_aspects = [
                Aspect::PermissionsBoundary,
                Aspect::ManagedPolicies,
                Aspect::InlinePolicies,
                Aspect::Groups,
            ];
            let unexplained = a
                .drifted
                .iter()
                .any(|d| grant_aspects.contains(d) && !a.added.contains_key(d));
            let undone_grant = out.iter().any(|x| {
                matches!(
                    x,
                    Action::DetachPolicy(_)
                        | Action::DeleteInlinePolicy(_)
                        | Action::RemoveFromGroup(_)
                )
            });
            if !a.findings.is_empty() && (unexplained || !undone_grant) {
                let foreign: BTreeSet<&String> = a.foreign_keys.iter().collect();
                out.extend(
                    keys.iter()
                        .filter(|(id, active)| *active && !foreign.contains(id))
                        .map(|(id, _)| Action::DeactivateKey(id.clone())),
                );
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;
