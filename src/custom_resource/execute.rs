//! Create, Update and Delete of one `Custom::PlantonIamUser`: properties -> validated
//! spec (plus the operator's guardrails) -> observed state -> plan -> applied. Every
//! outcome is an [`Answer`]; nothing here sends it.

use crate::aws::apply::{Executor, Outcome};
use crate::aws::budget::Budget;
use crate::aws::observe::{self, Depth, Expect, Keys};
use crate::aws::stacks;
use crate::custom_resource::envelope::{Answer, Request, RequestType};
use crate::custom_resource::guard::{fallback_physical_id, is_user_name};
use crate::custom_resource::{grants, Deps};
use crate::error::{Error, Violation, Violations};
use crate::model::plan::{self, Secrets};
use crate::model::request_check::{self, Claim};
use crate::model::spec::{self, UserSpec};
use crate::model::state::{tag, Owner, TAG_SECRET_NAME};
use serde_json::Value;
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
        deps.settings.rotation_grace,
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
        Ok(()) => {
            let out = exec.outcome();
            Answer::success(spec.user_name.clone(), data(&spec, &out))
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
                    Ok(()) => reason.push_str(". Everything this request created was removed"),
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
) -> Result<(), Error> {
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
    let (user, desired, (), ()) = futures::try_join!(
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
    let plan = plan::plan(
        spec,
        owner,
        user.as_ref(),
        Secrets {
            desired: desired.as_ref(),
            previous: previous.as_ref(),
            rotation_function: function_arn,
            grace: plan::Grace {
                period_secs: deps.settings.rotation_grace.as_secs(),
                now_secs: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            },
        },
    )?;
    tracing::info!(changes = plan.steps.len(), depth = plan.depth(), "planned");
    exec.set_known(Outcome {
        user_arn: user.as_ref().map(|u| u.arn.clone()),
        user_id: user.as_ref().map(|u| u.user_id.clone()),
        secret_arn: desired.as_ref().map(|s| s.arn.clone()),
        ..Outcome::default()
    });
    Box::pin(exec.run(&plan)).await
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
        Ok(()) => Answer::success(physical_id, HashMap::new()),
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
) -> Result<(), Error> {
    let c = deps.clients;
    check_time(budget, format!("reading what user {user_name} still has"))?;
    let mut names: Vec<String> = secret_names.to_vec();
    names.retain(|n| spec::secret_name_rule(n).is_none());
    names.sort();
    names.dedup();
    // A named, boxed future: an async block borrowing `req` here would not be `Send`
    // for every lifetime, which `tokio::spawn` of a whole request needs.
    let verify: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), Error>> + Send + '_>,
    > = match req {
        Some(r) => Box::pin(verified(deps, r)),
        None => Box::pin(std::future::ready(Ok(()))),
    };
    let (user, mut secrets, ()) = futures::try_join!(
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
    let required = deps.settings.guardrails.permissions_boundary.as_deref();
    let plan = plan::plan_delete(owner, user_name, user.as_ref(), &secrets, required);
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
        .await
}

/// `Ok` when CloudFormation stands behind `req` (or the operator turned the check off
/// with `PLANTON_VERIFY_REQUESTS=false`). A check that cannot be made refuses too: the
/// function cannot vouch for a request it could not check.
async fn verified(deps: &Deps<'_>, req: &Request) -> Result<(), Error> {
    if !deps.settings.verify_requests {
        return Ok(());
    }
    let reported = stacks::reported(deps.cloudformation, &req.stack_id, &req.logical_id).await?;
    let claim = Claim {
        request_type: req.request_type.map_or("", RequestType::as_str),
        resource_type: &req.resource_type,
        physical_id: req.physical_id.as_deref(),
    };
    request_check::check(&claim, &reported).map_err(Error::Unverified)
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
