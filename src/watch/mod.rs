//! The watch: IAM's CloudTrail events, delivered by EventBridge, about users this
//! function manages. A hand-made change is seen within seconds of its call rather than
//! at the next audit, told to the key's owners (`Planton User Changed Outside
//! CloudFormation`) and answered as the operator chose (`PLANTON_CHANGE_RESPONSE`).
//!
//! The event is only a pointer. Anyone who may invoke the function can forge one, so
//! the users it names are read, the ones this function does not own are left alone
//! (nothing is written or published about them), and the answer is decided on what was
//! observed: the user against its deployment record, and its grants judged as they are
//! now. A forged event about a change that did not happen finds nothing to answer.
//!
//! Delivery is at least once: a call already handled by this process is not handled
//! again, and every write is conditional on the observed state, so a redelivery that
//! reaches another instance finds the keys already inactive and the hand-made grant
//! already gone.

use crate::aws::events::Publisher;
use crate::aws::observe::{self, Depth, Expect, Keys};
use crate::aws::policies::{group_policies, managed_document};
use crate::aws::users::ownership;
use crate::aws::{watch as calls, Clients};
use crate::error::Error;
use crate::model::deployed::{items_of_observed, Aspect, Record, TAG_DEPLOYED};
use crate::model::events::{owner_of, Event, Kind, DIMENSION, NAMESPACE};
use crate::model::grants::{union_refusals, Held};
use crate::model::guardrails::{escalation_in, Guardrails};
use crate::model::judgement::Holder;
use crate::model::state::tag;
use crate::model::watch::{self, assess, respond, Action, Call, Mode, Observed, Subject};
use crate::settings::Settings;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Mutex, OnceLock};

/// The summary record each invocation returns and logs.
pub const RECORD: &str = "planton.watch";

/// At most this many users are examined for one event (the members of a group, the
/// holders of a policy); the rest are left to the scheduled audit, and the summary says
/// so. It bounds the work one forged event can cause.
pub const FAN_OUT: usize = 100;

/// How many handled (event, user) pairs a warm process remembers.
const REMEMBERED: usize = 10_000;

/// The (CloudTrail event id, user) pairs this process handled.
fn handled() -> &'static Mutex<VecDeque<String>> {
    static SEEN: OnceLock<Mutex<VecDeque<String>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(VecDeque::new()))
}

fn seen(key: &str) -> bool {
    handled()
        .lock()
        .map(|s| s.iter().any(|k| k == key))
        .unwrap_or(false)
}

fn remember(key: String) {
    if let Ok(mut s) = handled().lock() {
        if s.len() >= REMEMBERED {
            s.pop_front();
        }
        s.push_back(key);
    }
}

/// What happened to one user.
#[derive(Debug, Default)]
struct Outcome {
    event: Option<Event>,
    actions: usize,
    quarantined: bool,
    error: bool,
}

/// Handles one EventBridge event. An event that is not a watched IAM call, or one made
/// by the deployment's own roles, ends normally with a debug line (EventBridge would
/// only retry it). A user that could not be read fails the invocation, so Lambda's
/// asynchronous retries try it again; users already handled are not handled twice.
pub async fn handle(
    c: &Clients,
    settings: &Settings,
    events: &Publisher<'_>,
    raw: &Value,
) -> Result<Value, Error> {
    let call = match watch::read(raw) {
        Ok(call) => call,
        Err(skip) => {
            tracing::debug!(reason = %skip, "watch: event not handled");
            return Ok(json!({"record": RECORD, "handled": false, "reason": skip.to_string()}));
        }
    };
    if watch::caused_by(&call, &settings.own_role_arns) {
        tracing::debug!(event = %call.event_name, "watch: the deployment's own call");
        return Ok(
            json!({"record": RECORD, "handled": false, "reason": "the deployment's own call"}),
        );
    }
    let (users, truncated) = users_of(c, &call.subject).await?;
    let limit = (settings.max_in_flight / 2).max(1);
    let outcomes: Vec<(String, Outcome)> = futures::stream::iter(users)
        .map(|user| {
            let call = &call;
            async move {
                let key = format!("{}/{user}", call.event_id);
                if !call.event_id.is_empty() && seen(&key) {
                    tracing::debug!(user, "watch: already handled");
                    return (user, Outcome::default());
                }
                let out = examine(c, settings, call, &user).await;
                if !out.error && !call.event_id.is_empty() {
                    remember(key);
                }
                (user, out)
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    let told: Vec<Event> = outcomes
        .iter()
        .filter_map(|(_, o)| o.event.clone())
        .collect();
    let published = events.publish(&told).await;
    let errors = outcomes.iter().filter(|(_, o)| o.error).count();
    let summary = json!({
        "record": RECORD,
        "handled": true,
        "event_name": call.event_name,
        "event_id": call.event_id,
        "mode": settings.change_response.name(),
        "users_examined": outcomes.len(),
        "users_changed": told.len(),
        "users_quarantined": outcomes.iter().filter(|(_, o)| o.quarantined).count(),
        "writes": outcomes.iter().map(|(_, o)| o.actions).sum::<usize>(),
        "events_published": published.sent,
        "truncated": truncated,
        "errors": errors,
    });
    metrics(events.function, &summary);
    if errors > 0 {
        return Err(Error::Internal(format!(
            "the watch could not read {errors} user(s) named by {} {}; Lambda retries the event",
            call.event_name, call.event_id
        )));
    }
    Ok(summary)
}

/// One Embedded Metric Format line: the changes seen and the users quarantined, for the
/// dashboard and the alarm.
fn metrics(function: &str, summary: &Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let line = json!({
        "_aws": {
            "Timestamp": now,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": [
                    {"Name": "UsersChangedOutsideCloudFormation", "Unit": "Count"},
                    {"Name": "UsersQuarantined", "Unit": "Count"},
                ],
            }],
        },
        DIMENSION: function,
        "record": RECORD,
        "UsersChangedOutsideCloudFormation": summary["users_changed"],
        "UsersQuarantined": summary["users_quarantined"],
    });
    println!("{line}");
}

/// The users an event points at, and whether the list was cut at [`FAN_OUT`].
async fn users_of(c: &Clients, subject: &Subject) -> Result<(Vec<String>, bool), Error> {
    let mut users: BTreeSet<String> = BTreeSet::new();
    match subject {
        Subject::User(u) => {
            users.insert(u.clone());
        }
        Subject::Group(g) => users.extend(calls::group_members(c, g, FAN_OUT + 1).await?),
        Subject::Policy(arn) => {
            let (direct, groups) = calls::policy_holders(c, arn, FAN_OUT + 1).await?;
            users.extend(direct);
            for g in groups {
                if users.len() > FAN_OUT {
                    break;
                }
                users.extend(calls::group_members(c, &g, FAN_OUT + 1).await?);
            }
        }
    }
    let truncated = users.len() > FAN_OUT;
    Ok((users.into_iter().take(FAN_OUT).collect(), truncated))
}

/// Reads, judges and answers one user. `event: None` when the user is not this
/// function's or nothing differs from its deployment.
async fn examine(c: &Clients, settings: &Settings, call: &Call, name: &str) -> Outcome {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(user = name, error = %e, "watch: {what}");
        Outcome {
            error: true,
            ..Outcome::default()
        }
    };
    let managed = match ownership(c, name.to_string()).await {
        Ok(Some(m)) => m,
        Ok(None) => return Outcome::default(),
        Err(()) => return failed("could not read the user's tags", &"see above"),
    };
    let user = match observe::user(c, name, Depth::Converge, Expect::Exists).await {
        Ok(Some(u)) => u,
        Ok(None) => return Outcome::default(),
        Err(e) => return failed("could not read the user", &e),
    };
    // Tags can be copied by anyone with iam:TagUser: a user outside the deployment's
    // path is never this function's, whatever it carries.
    if !user
        .path
        .starts_with(&settings.guardrails.allowed_path_prefix)
    {
        return Outcome::default();
    }
    let record = tag(&user.tags, TAG_DEPLOYED).and_then(Record::from_tag);
    let secret = match managed.secret_name.as_deref() {
        Some(s) => match observe::secret(c, s, Expect::Exists, Keys::FromRecord).await {
            Ok(found) => found.filter(|s| s.belongs_to(&managed.owner, name)),
            Err(e) => return failed("could not read the user's secret", &e),
        },
        None => None,
    };
    let login_profile = match calls::has_login_profile(c, name).await {
        Ok(b) => b,
        Err(e) => return failed("could not read the user's console password", &e),
    };
    let items = items_of_observed(&user);
    let inline_as_deployed = record.as_ref().is_some_and(|r| {
        r.digests.get(&Aspect::InlinePolicies) == items.digests().get(&Aspect::InlinePolicies)
    });
    let findings = judge(
        c,
        &settings.guardrails,
        &user,
        inline_as_deployed,
        settings.max_in_flight,
    )
    .await;
    let keys: Vec<(String, bool)> = user.keys.iter().map(|k| (k.id.clone(), k.active)).collect();
    let observed = Observed {
        record,
        items,
        keys: keys.clone(),
        secret_keys: secret
            .as_ref()
            .filter(|s| s.key_ids_recorded)
            .map(|s| s.key_versions.values().cloned().collect()),
        current_key: secret.as_ref().and_then(|s| s.access_key_id.clone()),
        login_profile,
        findings,
    };
    let assessment = assess(&observed);
    if !assessment.changed() {
        tracing::debug!(user = name, event = %call.event_name, "watch: nothing differs from the deployment");
        return Outcome::default();
    }
    let mode = settings.change_response;
    let actions = respond(mode, &assessment, &keys);
    let mut done = Vec::new();
    let mut not_done = Vec::new();
    for a in &actions {
        match calls::apply(c, name, a).await {
            Ok(()) => done.push(a.describe()),
            Err(e) => {
                tracing::warn!(user = name, error = %e, "watch: {}", a.describe());
                not_done.push(format!("{}: {e}", a.describe()));
            }
        }
    }
    let quarantined = actions
        .iter()
        .any(|a| matches!(a, Action::DeactivateKey(_)));
    tracing::info!(
        user = name,
        event = %call.event_name,
        mode = mode.name(),
        findings = assessment.findings.len(),
        done = done.len(),
        "watch: user changed outside CloudFormation"
    );
    let mut e = Event::new(
        Kind::ChangedOutsideCloudFormation,
        name,
        &managed.owner.stack_id,
        &managed.owner.logical_id,
    );
    e.user_arn = Some(user.arn.clone()).filter(|a| !a.is_empty());
    e.secret_arn = secret.as_ref().map(|s| s.arn.clone());
    e.owner = owner_of(&managed.tags, &settings.events.owner_tag_key);
    let x = &mut e.extra;
    // The event's claims, named as such: a forged event can claim anyone.
    x.insert(
        "claimed_by_event".into(),
        json!({
            "caller_arn": call.caller_arn,
            "caller_type": call.caller_type,
            "event_name": call.event_name,
            "event_time": call.event_time,
            "event_id": call.event_id,
            "source_ip": call.source_ip,
            "user_agent": call.user_agent,
            "request_parameters": call.parameters,
        }),
    );
    x.insert(
        "observed".into(),
        json!({
            "drifted": assessment.drifted.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "added": assessment.added.iter().map(|(a, i)| (a.name().to_string(), json!(i))).collect::<serde_json::Map<_, _>>(),
            "key_status": assessment.key_status.map(|(d, n)| json!({"deployed": d.name(), "now": n.name()})),
            "hand_made_keys": assessment.foreign_keys,
            "console_password": assessment.login_profile,
            "deployment_record_missing": assessment.no_record,
        }),
    );
    x.insert("findings".into(), json!(assessment.findings));
    x.insert("response".into(), json!(mode.name()));
    x.insert("done".into(), json!(done));
    x.insert("not_done".into(), json!(not_done));
    x.insert("recover".into(), json!(recovery(mode, quarantined)));
    Outcome {
        actions: done.len(),
        quarantined,
        error: false,
        event: Some(e),
    }
}

fn recovery(mode: Mode, quarantined: bool) -> &'static str {
    match (mode, quarantined) {
        (_, true) => "the user's keys are inactive: remove the hand-made change (or declare it in the template), then run a stack Update, which converges the user and reactivates its key",
        (Mode::Revert, false) => "the hand-made change was undone; declare it in the template if it was meant",
        _ => "the next stack Update converges the user to its template; declare the change there if it was meant",
    }
}

/// What the judgement refuses among the grants the user holds now: its managed policies'
/// default documents (the operator's trusted ones excepted, the denied ones refused
/// outright), its inline policies (unless the operator allows privileged inline
/// policies and they are as deployed), its groups' policies, and their union.
async fn judge(
    c: &Clients,
    g: &Guardrails,
    user: &crate::model::state::ObservedUser,
    inline_as_deployed: bool,
    max_in_flight: usize,
) -> Vec<String> {
    let mut findings = Vec::new();
    // The holder as observed (what `holder_of` gives for a template's user): a grant on
    // its own ARN, a group it is in or a policy it holds counts as a wildcard.
    let mut holder = Holder {
        user_name: user.name.clone(),
        groups: user.groups.clone(),
        policy_arns: user.managed.iter().cloned().collect(),
    };
    let groups: Vec<(String, _)> = futures::stream::iter(user.groups.clone())
        .map(|name| async move {
            let r = group_policies(c, &name).await;
            (name, r)
        })
        .buffer_unordered(max_in_flight.max(1))
        .collect()
        .await;
    let mut arns: BTreeSet<String> = user.managed.clone();
    for (name, r) in &groups {
        match r {
            Ok(gp) => {
                arns.extend(gp.attached.iter().cloned());
                holder.policy_arns.extend(gp.attached.iter().cloned());
            }
            Err(e) => findings.push(format!("group {name}'s policies could not be read ({e})")),
        }
    }
    let scope = &g.scope;
    let docs: Vec<(String, Result<Value, Error>)> =
        futures::stream::iter(arns.into_iter().filter(|a| !g.trusts(a)))
            .map(|arn| async move {
                let d = managed_document(c, &arn).await;
                (arn, d)
            })
            .buffer_unordered(max_in_flight.max(1))
            .collect()
            .await;
    let mut held = Vec::new();
    for arn in &user.managed {
        if g.denied_policy_arns
            .iter()
            .any(|d| d.eq_ignore_ascii_case(arn))
        {
            findings.push(format!(
                "{arn} may not be attached through this function (PLANTON_DENIED_POLICY_ARNS)"
            ));
        }
    }
    for (arn, d) in &docs {
        match d {
            Ok(doc) => {
                if let Some(why) = escalation_in(doc, scope, &holder) {
                    findings.push(format!("{arn}: {why}"));
                }
                held.push(Held {
                    property: arn.clone(),
                    source: arn.clone(),
                    doc: doc.clone(),
                });
            }
            Err(e) => findings.push(format!("{arn}: its document could not be read ({e})")),
        }
    }
    if !(g.allow_privileged_inline && inline_as_deployed) {
        for (name, doc) in &user.inline {
            if let Some(why) = escalation_in(doc, scope, &holder) {
                findings.push(format!("inline policy {name}: {why}"));
            }
        }
    }
    for (name, doc) in &user.inline {
        held.push(Held {
            property: format!("inline policy {name}"),
            source: format!("inline policy {name}"),
            doc: doc.clone(),
        });
    }
    for (name, r) in &groups {
        if let Ok(gp) = r {
            for (policy, doc) in &gp.inline {
                if let Some(why) = escalation_in(doc, scope, &holder) {
                    findings.push(format!("group {name}'s inline policy {policy}: {why}"));
                }
                held.push(Held {
                    property: format!("group {name}"),
                    source: format!("group {name}'s inline policy {policy}"),
                    doc: doc.clone(),
                });
            }
        }
    }
    findings.extend(union_refusals(&held, scope).into_iter().map(|v| v.rule));
    if let Some(b) = &g.permissions_boundary {
        if user.boundary.as_deref() != Some(b.as_str()) {
            // moto never reports a boundary; in AWS GetUser does.
            findings.push(format!(
                "the permissions boundary {b} (PLANTON_PERMISSIONS_BOUNDARY) is not on the user"
            ));
        }
    }
    findings
}
