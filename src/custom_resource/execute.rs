//! Create, Update and Delete of one `Custom::PlantonIamUser`: properties -> validated
//! spec (plus the operator's guardrails) -> observed state -> plan -> applied. Every
//! outcome is an [`Answer`]; nothing here sends it.

use crate::aws::apply::{Executor, Outcome};
use crate::aws::budget::Budget;
use crate::aws::observe::{self, Depth, Expect, Keys};
use crate::aws::stacks;
use crate::custom_resource::adopt;
use crate::custom_resource::envelope::{Answer, Request, RequestType};
use crate::custom_resource::guard::{fallback_physical_id, is_user_name};
use crate::custom_resource::{grants, Deps};
use crate::error::{Error, Violation, Violations};
use crate::model::adoption;
use crate::model::deployed::adopted_of;
use crate::model::events::{self, Event};
use crate::model::plan::{self, Change, Secrets};
use crate::model::request_check::{self, Claim};
use crate::model::spec::{self, KeyStatus, UserSpec};
use crate::model::state::{tag, ObservedSecret, ObservedUser, Owner, TAG_SECRET_NAME};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub async fn process(
    deps: &Deps<'_>,
    req: &Request,
    budget: &Budget,
    function_arn: Option<&str>,
) -> Answer {
    let fallback_id = fallback_physical_id(req);
    // A setting nobody could read refuses every request, Delete included, rather than
    // running without the limit it was meant to set.
    if let Err(e) = deps.settings.check() {
        return Answer::failed(fallback_id, e.to_string());
    }
    // The scheduled function's role cannot do a custom resource's work: say so at once
    // rather than fail half-way on AccessDenied.
    if !deps.settings.serves.custom_resource {
        let e = Error::NotServed("custom-resource requests");
        return Answer::failed(fallback_id, e.to_string());
    }
    if let Some(problem) = &req.problem {
        return Answer::failed(fallback_id, Error::BadEvent(problem.clone()).to_string());
    }
    let owner = Owner {
        stack_id: req.stack_id.clone(),
        logical_id: req.logical_id.clone(),
    };
    match req.request_type {
        Some(RequestType::Create) => {
            create_or_update(deps, req, &owner, None, budget, function_arn).await
        }
        Some(RequestType::Update) => {
            let existing = req.physical_id.as_deref();
            create_or_update(deps, req, &owner, existing, budget, function_arn).await
        }
        Some(RequestType::Delete) => delete(deps, req, &owner, &fallback_id, budget).await,
        None => Answer::failed(fallback_id, "unknown RequestType"),
    }
}

async fn create_or_update(
    deps: &Deps<'_>,
    req: &Request,
    owner: &Owner,
    existing_id: Option<&str>,
    budget: &Budget,
    function_arn: Option<&str>,
) -> Answer {
    let partition = spec::partition_of(&req.stack_id);
    let refuse = |v: Vec<Violation>| {
        let id = existing_id
            .map(str::to_string)
            .unwrap_or_else(|| fallback_physical_id(req));
        Answer::failed(id, Error::Invalid(Violations(v)).to_string())
    };
    let mut spec = match spec::parse(&req.props, partition) {
        Ok(s) => s,
        Err(v) => return refuse(v.0),
    };
    let mut violations = deps.settings.guardrails.apply(&mut spec);
    if let Some(old) = existing_id {
        if old != spec.user_name && old.eq_ignore_ascii_case(&spec.user_name) {
            violations.push(Violation::new(
                "UserName",
                format!(
                    "{old} -> {}: IAM user names are case-insensitive, so a change of letter case alone cannot be a new user; choose a different name",
                    spec.user_name
                ),
            ));
        }
    }
    if spec.adopt && !deps.settings.allow_adoption {
        violations.push(Violation::new(
            "AdoptExistingUser",
            "this deployment does not adopt existing users (its operator has not set AllowAdoption, PLANTON_ALLOW_ADOPTION): remove the property, or ask the operator",
        ));
    }
    if spec.key.as_ref().is_some_and(|k| k.rotation_days.is_some()) && function_arn.is_none() {
        violations.push(Violation::new(
            "RotationDays",
            "this invocation does not carry the function's own ARN, which scheduled rotation must name",
        ));
    }
    if !violations.is_empty() {
        return refuse(violations);
    }
    // On failure, an Update keeps its old id (a replacement that failed is no
    // replacement); a Create names the user it tried to make.
    let failed_id = existing_id.unwrap_or(&spec.user_name).to_string();
    let exec = Executor::new(deps.clients, &spec.user_name, &req.stack_id, budget).with_rotation(
        rotation_token(&req.request_id),
        function_arn.map(str::to_string),
        grace_period(&spec, deps.settings),
    );
    // A Create most likely finds nothing; an Update most likely finds everything.
    let expect = match existing_id {
        Some(old) if old == spec.user_name => Expect::Exists,
        _ => Expect::Absent,
    };
    match Box::pin(converge(
        deps,
        req,
        &exec,
        &spec,
        owner,
        budget,
        expect,
        function_arn,
    ))
    .await
    {
        Ok(happened) => {
            let out = exec.outcome();
            let owner_tag = &deps.settings.events.owner_tag_key;
            let events = happened
                .into_iter()
                .map(|(kind, key_id, extra)| {
                    let mut e =
                        Event::new(kind, &spec.user_name, &owner.stack_id, &owner.logical_id);
                    e.user_arn = out.user_arn.clone();
                    e.secret_arn = out.secret_arn.clone().filter(|_| spec.key.is_some());
                    e.owner = events::owner_of(&spec.tags, owner_tag);
                    e.access_key_id = key_id.or_else(|| {
                        (kind == events::Kind::KeyCreated)
                            .then(|| out.new_key_id.clone())
                            .flatten()
                    });
                    e.extra = extra;
                    e
                })
                .collect();
            let mut answer = Answer::success(spec.user_name.clone(), data(&spec, &out));
            answer.events = events;
            answer
        }
        Err(e) => {
            let out = exec.outcome();
            let mut reason = e.to_string();
            if out.created_user && !matches!(e, Error::Timeout { .. }) {
                // Leave nothing behind: this invocation made the user, so it removes it.
                budget.progress.phase(format!(
                    "removing the partially created user {}",
                    spec.user_name
                ));
                let names = std::slice::from_ref(&spec.secret_name);
                // This invocation's own cleanup: the request was verified already.
                let cleanup = delete_user(deps, None, owner, &spec.user_name, names, budget);
                match Box::pin(cleanup).await {
                    Ok(_) => reason.push_str(". Everything this request created was removed"),
                    Err(c) => {
                        tracing::error!(error = %c, "could not remove the partially created user");
                        reason.push_str(&format!(
                            ". Removing the partially created user also failed ({c}); the rollback Delete will retry"
                        ));
                    }
                }
            } else if matches!(e, Error::Timeout { .. }) {
                reason
                    .push_str(". The rollback Delete or the next Update finishes what was started");
            }
            Answer::failed(failed_id, reason)
        }
    }
}

/// How long the previous key keeps working after a rotation: the resource's own
/// `PreviousKeyGraceHours`, else the deployment's `PLANTON_ROTATION_GRACE_HOURS`.
pub fn grace_period(spec: &UserSpec, settings: &crate::settings::Settings) -> std::time::Duration {
    spec.key
        .as_ref()
        .and_then(|k| k.previous_key_grace_hours)
        .map_or(settings.rotation_grace, |h| {
            std::time::Duration::from_secs(u64::from(h) * 3600)
        })
}

/// The secret version a `KeySerial` rotation writes: a pure function of the
/// CloudFormation request, so a re-delivered request finds its own rotation (and makes
/// no second key), while any other request (a rollback, the next raise) starts afresh.
/// Secrets Manager wants 32-64 characters of letters, digits and hyphens.
pub fn rotation_token(request_id: &str) -> String {
    let clean: String = request_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(55)
        .collect();
    format!("planton-{clean:0<24}")
}

fn data(spec: &UserSpec, out: &Outcome) -> HashMap<String, String> {
    let mut d = HashMap::new();
    d.insert("UserName".into(), spec.user_name.clone());
    if let Some(a) = &out.user_arn {
        d.insert("Arn".into(), a.clone());
    }
    if let Some(i) = &out.user_id {
        d.insert("UserId".into(), i.clone());
    }
    if spec.key.is_some() {
        if let Some(s) = &out.secret_arn {
            d.insert("SecretArn".into(), s.clone());
        }
    }
    d
}

fn check_time(budget: &Budget, step: String) -> Result<(), Error> {
    budget.progress.phase(step.clone());
    if budget.expired() {
        return Err(Error::Timeout { step });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn converge(
    deps: &Deps<'_>,
    req: &Request,
    exec: &Executor<'_>,
    spec: &UserSpec,
    owner: &Owner,
    budget: &Budget,
    expect: Expect,
    function_arn: Option<&str>,
) -> Result<Vec<Happened>, Error> {
    let c = deps.clients;
    check_time(
        budget,
        format!("reading the current state of user {}", spec.user_name),
    )?;
    // Every grant the user would hold is judged alongside the reads, and before any
    // write: a refusal leaves nothing behind.
    let judging = async {
        let settings = deps.settings;
        let found = grants::judge(
            c,
            spec,
            &req.props,
            &settings.guardrails,
            settings.max_in_flight,
        )
        .await;
        if found.is_empty() {
            Ok(())
        } else {
            Err(Error::Grants(Violations(found)))
        }
    };
    // Boxed: these futures are large, and a deep stack of them overflows a 2 MiB
    // thread stack in debug builds.
    let (user, desired, (), _status) = futures::try_join!(
        Box::pin(observe::user(c, &spec.user_name, Depth::Converge, expect)),
        observe::secret(c, &spec.secret_name, expect, Keys::FromValues),
        Box::pin(judging),
        verified(deps, req),
    )?;
    // The secret the user's tag names, when it is not the one wanted now: SecretName
    // changed, or keys were disabled.
    let previous_name = user
        .as_ref()
        .and_then(|u| tag(&u.tags, TAG_SECRET_NAME))
        .filter(|n| *n != spec.secret_name)
        .map(str::to_string);
    let previous = match &previous_name {
        Some(n) => observe::secret(c, n, Expect::Exists, Keys::FromValues).await?,
        None => None,
    };
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // An existing user nobody owns, and the template asks to adopt it (the operator's
    // permission was checked with the properties).
    let adoption = match user.as_ref() {
        Some(u) if spec.adopt && !owner.owns(&u.tags) => {
            Some(Box::pin(adopt::prepare(deps, spec, owner, u, now_secs)).await?)
        }
        _ => None,
    };
    let mut plan = plan::plan(
        spec,
        owner,
        user.as_ref(),
        Secrets {
            desired: desired.as_ref(),
            previous: previous.as_ref(),
            rotation_function: function_arn,
            grace: plan::Grace {
                period_secs: deps.settings.rotation_grace.as_secs(),
                now_secs,
            },
            adoption: adoption.as_ref(),
        },
    )?;
    // An adoption settles at the resource's first Update: the state kept to give the
    // user back on a rollback of the adopting Create is no longer needed.
    let adopted = user.as_ref().and_then(|u| adopted_of(&u.tags));
    if req.request_type == Some(RequestType::Update) && adopted.is_some() {
        let name = adoption::snapshot_secret_name(&spec.secret_name);
        if let Some(s) = observe::secret(c, &name, Expect::Exists, Keys::FromRecord).await? {
            if s.belongs_to(owner, &spec.user_name) {
                plan.add_step(Change::DeleteSecret(s.arn), vec![]);
            }
        }
    }
    tracing::info!(changes = plan.steps.len(), depth = plan.depth(), "planned");
    exec.set_known(Outcome {
        user_arn: user.as_ref().map(|u| u.arn.clone()),
        user_id: user.as_ref().map(|u| u.user_id.clone()),
        secret_arn: desired.as_ref().map(|s| s.arn.clone()),
        ..Outcome::default()
    });
    let mut happened = happenings(&plan, desired.as_ref(), user.as_ref(), spec, deps.settings);
    if let Some(a) = &adoption {
        let mut extra = serde_json::Map::new();
        extra.insert("kept_access_key_ids".into(), json!(a.keep));
        extra.insert("removed_access_key_id".into(), json!(a.make_room));
        extra.insert(
            "grace_hours".into(),
            json!(grace_period(spec, deps.settings).as_secs() / 3600),
        );
        happened.insert(0, (events::Kind::UserAdopted, None, extra));
    }
    Box::pin(exec.run(&plan)).await?;
    Ok(happened)
}

/// An owners' event of a plan that ran: its kind, the key it is about, extra detail.
type Happened = (events::Kind, Option<String>, serde_json::Map<String, Value>);

/// The changes of `plan` a key's owners are told about, once it has run: a key issued,
/// a rotation, a previous key deactivated (its grace over, or zero).
fn happenings(
    plan: &plan::Plan,
    secret: Option<&ObservedSecret>,
    user: Option<&ObservedUser>,
    spec: &UserSpec,
    settings: &crate::settings::Settings,
) -> Vec<Happened> {
    use events::Kind;
    let grace_hours = grace_period(spec, settings).as_secs() / 3600;
    let previous = secret.and_then(|s| s.previous_key_id.as_deref());
    let adopted = user.and_then(|u| adopted_of(&u.tags));
    let was_adopted = |k: &str| {
        adopted
            .as_ref()
            .is_some_and(|a| a.keys.iter().any(|x| x == k))
    };
    let current = secret.and_then(|s| s.access_key_id.clone());
    let mut out = Vec::new();
    for step in &plan.steps {
        match &step.change {
            Change::IssueKey { .. } => out.push((Kind::KeyCreated, None, serde_json::Map::new())),
            Change::RotateKey { .. } => {
                let mut extra = serde_json::Map::new();
                extra.insert("previous_access_key_id".into(), json!(current));
                extra.insert("grace_hours".into(), json!(grace_hours));
                out.push((Kind::KeyRotated, None, extra));
                if grace_hours == 0 {
                    out.push((
                        Kind::PreviousKeyDeactivated,
                        current.clone(),
                        serde_json::Map::new(),
                    ));
                }
            }
            Change::SetKeyStatus {
                key_id,
                status: KeyStatus::Inactive,
            } if Some(key_id.as_str()) == previous || was_adopted(key_id) => {
                out.push((
                    Kind::PreviousKeyDeactivated,
                    Some(key_id.clone()),
                    serde_json::Map::new(),
                ));
            }
            _ => {}
        }
    }
    out
}

async fn delete(
    deps: &Deps<'_>,
    req: &Request,
    owner: &Owner,
    physical_id: &str,
    budget: &Budget,
) -> Answer {
    if !is_user_name(physical_id) {
        tracing::info!(
            physical_id,
            "not a user name this resource could have created; nothing to delete"
        );
        return Answer::success(physical_id, HashMap::new());
    }
    // Where the secret may be: the properties' SecretName (read leniently: a Delete may
    // carry an older format), the default for this user, and the user's own tag.
    let mut names = vec![spec::default_secret_name(physical_id)];
    if let Some(n) = req.props.get("SecretName").and_then(Value::as_str) {
        names.push(n.to_string());
    }
    // An adopting Create that failed before the user carried its tags leaves only the
    // snapshot behind: it goes with the resource.
    let adopts = matches!(req.props.get("AdoptExistingUser"), Some(v) if v == true || v == "true");
    if adopts {
        let snapshots: Vec<String> = names
            .iter()
            .map(|n| adoption::snapshot_secret_name(n))
            .collect();
        names.extend(snapshots);
    }
    match Box::pin(delete_user(
        deps,
        Some(req),
        owner,
        physical_id,
        &names,
        budget,
    ))
    .await
    {
        Ok(lost) => {
            let mut a = Answer::success(physical_id, HashMap::new());
            if !lost.is_empty() {
                a.reason = format!(
                    "the adopted user was given back, except: {}",
                    lost.join("; ")
                );
            }
            a
        }
        Err(e) => Answer::failed(physical_id, e.to_string()),
    }
}

/// Removes a user this resource owns and everything hanging off it, then its secrets.
/// A user or secret owned by anybody else is left exactly as it is. `req`, when the
/// deletion is a request's (not this invocation's own cleanup), is verified with
/// CloudFormation alongside the reads, before any write.
async fn delete_user(
    deps: &Deps<'_>,
    req: Option<&Request>,
    owner: &Owner,
    user_name: &str,
    secret_names: &[String],
    budget: &Budget,
) -> Result<Vec<String>, Error> {
    let c = deps.clients;
    check_time(budget, format!("reading what user {user_name} still has"))?;
    let mut names: Vec<String> = secret_names.to_vec();
    names.retain(|n| spec::secret_name_rule(n).is_none());
    names.sort();
    names.dedup();
    // A named, boxed future: an async block borrowing `req` here would not be `Send`
    // for every lifetime, which `tokio::spawn` of a whole request needs.
    let verify: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<String>, Error>> + Send + '_>,
    > = match req {
        Some(r) => Box::pin(verified(deps, r)),
        None => Box::pin(std::future::ready(Ok(None))),
    };
    let (user, mut secrets, stack_status) = futures::try_join!(
        Box::pin(observe::user(c, user_name, Depth::Delete, Expect::Exists)),
        futures::future::try_join_all(names.iter().map(|n| observe::secret(
            c,
            n,
            Expect::Exists,
            Keys::FromValues
        ))),
        verify,
    )?;
    if let Some(n) = user.as_ref().and_then(|u| tag(&u.tags, TAG_SECRET_NAME)) {
        if !names.iter().any(|x| x == n) {
            secrets.push(observe::secret(c, n, Expect::Exists, Keys::FromValues).await?);
        }
    }
    let secrets: Vec<_> = secrets.into_iter().flatten().collect();
    // An adopted user whose adoption has not settled (its snapshot is still kept): on a
    // rollback of the adopting Create it is given back, not deleted.
    let owned = user.as_ref().filter(|u| owner.owns(&u.tags));
    let mut snapshot = None;
    if let Some(u) = owned.filter(|u| adopted_of(&u.tags).is_some()) {
        let managed = tag(&u.tags, TAG_SECRET_NAME).or(names.first().map(String::as_str));
        if let Some(m) = managed {
            let name = adoption::snapshot_secret_name(m);
            snapshot = crate::aws::snapshot::load(c, &name)
                .await?
                .filter(|(_, found)| crate::aws::snapshot::is_mine(found, owner, user_name));
        }
    }
    if let (Some((arn, found)), Some(u)) = (&snapshot, owned) {
        if adoption::is_rollback(stack_status.as_deref()) {
            let mut gone: Vec<String> = secrets
                .iter()
                .filter(|s| s.belongs_to(owner, user_name))
                .map(|s| s.arn.clone())
                .collect();
            if !gone.contains(arn) {
                gone.push(arn.clone());
            }
            // The user's own record says which snapshot the adoption saved.
            let recorded = adopted_of(&u.tags).unwrap_or(crate::model::deployed::Adopted {
                at: 0,
                keys: Vec::new(),
                snapshot: String::new(),
            });
            let (from, changed) = adoption::trusted(&found.snapshot, &recorded, u);
            let (plan, mut lost) = adoption::restore(&from, u, &gone);
            lost.extend(changed);
            tracing::info!(
                changes = plan.steps.len(),
                "planned the return of an adopted user"
            );
            Executor::new(c, user_name, &owner.stack_id, budget)
                .run(&plan)
                .await?;
            if lost.is_empty() {
                tracing::info!(
                    record = "planton.adoption.restored",
                    user = user_name,
                    "the adopting Create was rolled back: the user is as it was before"
                );
            } else {
                tracing::warn!(
                    record = "planton.adoption.restored",
                    user = user_name,
                    not_restored = %lost.join("; "),
                    "the adopting Create was rolled back: the user is given back, except what could not be restored"
                );
            }
            return Ok(lost);
        }
    }
    let required = deps.settings.guardrails.permissions_boundary.as_deref();
    let mut plan = plan::plan_delete(owner, user_name, user.as_ref(), &secrets, required);
    if let Some((arn, _)) = snapshot
        .as_ref()
        .filter(|(a, _)| !secrets.iter().any(|s| &s.arn == a))
    {
        plan.add_step(Change::DeleteSecret(arn.clone()), vec![]);
    }
    if user.as_ref().is_some_and(|u| !owner.owns(&u.tags)) {
        tracing::warn!(
            user = user_name,
            "user is not owned by this resource; left untouched"
        );
    }
    tracing::info!(
        changes = plan.steps.len(),
        depth = plan.depth(),
        "planned delete"
    );
    Executor::new(c, user_name, &owner.stack_id, budget)
        .run(&plan)
        .await?;
    Ok(Vec::new())
}

/// `Ok` when CloudFormation stands behind `req` (or the operator turned the check off
/// with `PLANTON_VERIFY_REQUESTS=false`). A check that cannot be made refuses too: the
/// function cannot vouch for a request it could not check.
///
/// Returns the stack's status as CloudFormation reported it (`None` when not checked).
async fn verified(deps: &Deps<'_>, req: &Request) -> Result<Option<String>, Error> {
    if !deps.settings.verify_requests {
        return Ok(None);
    }
    let reported = stacks::reported(deps.cloudformation, &req.stack_id, &req.logical_id).await?;
    let claim = Claim {
        request_type: req.request_type.map_or("", RequestType::as_str),
        resource_type: &req.resource_type,
        physical_id: req.physical_id.as_deref(),
    };
    request_check::check(&claim, &reported).map_err(Error::Unverified)?;
    Ok(reported.stack_status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_tokens_are_stable_per_request_and_valid_for_secrets_manager() {
        for id in [
            "7a2d3e4f-5c6b-4d7e-9f80-a1b2c3d4e5f6",
            "r1",
            "",
            &"x".repeat(200),
            "a b/c",
        ] {
            let t = rotation_token(id);
            assert!((32..=64).contains(&t.len()), "{id}: {t}");
            assert!(
                t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{t}"
            );
            assert_eq!(t, rotation_token(id));
        }
        assert_ne!(rotation_token("req-1"), rotation_token("req-2"));
    }
}
