//! The Lambda entry point: event -> validated spec -> observed state -> plan -> applied
//! -> exactly one answer PUT to CloudFormation.
//!
//! Whatever happens inside (invalid input, an AWS error, a panic, the deadline), the
//! request is answered, and the Lambda invocation itself then succeeds so Lambda's async
//! retries never re-run the work.

use crate::apply::{Executor, Outcome};
use crate::envelope::{self, Answer, Request, RequestType};
use crate::error::Error;
use crate::observe::{self, Clients, Depth};
use crate::plan::{self, Secrets};
use crate::respond::Responder;
use crate::spec::{self, UserSpec};
use crate::state::{tag, Owner, TAG_SECRET_NAME};
use futures::FutureExt;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// Process-wide state, built once in `main` and shared by every invocation.
#[derive(Clone, Debug)]
pub struct App {
    pub clients: Clients,
    pub responder: Responder,
    pub settings: Settings,
    pub calls: crate::calls::CallLog,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// AWS calls in flight per invocation.
    pub max_in_flight: usize,
    /// Time kept in reserve before the Lambda deadline to answer CloudFormation.
    pub deadline_margin: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_in_flight: 8,
            deadline_margin: Duration::from_secs(5),
        }
    }
}

impl Settings {
    pub fn from_env() -> Self {
        let d = Settings::default();
        let num = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Settings {
            max_in_flight: num("PLANTON_MAX_IN_FLIGHT")
                .map(|n| n.clamp(1, 64) as usize)
                .unwrap_or(d.max_in_flight),
            deadline_margin: num("PLANTON_DEADLINE_MARGIN_MS")
                .map(Duration::from_millis)
                .unwrap_or(d.deadline_margin),
        }
    }
}

/// Handles one invocation. Returns an error only when there is nobody to answer.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let (payload, ctx) = event.into_parts();
    let started = Instant::now();
    let req = match envelope::parse(&payload) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "event cannot be answered");
            return Err(Box::new(e));
        }
    };
    let request_type = req
        .request_type
        .map(RequestType::as_str)
        .unwrap_or("Unknown");
    let span = tracing::info_span!(
        "custom_resource",
        request_type,
        stack_id = %req.stack_id,
        logical_id = %req.logical_id,
        cfn_request_id = %req.request_id,
    );
    respond_to(app, &req, ctx.deadline, started)
        .instrument(span)
        .await
}

async fn respond_to(
    app: &App,
    req: &Request,
    deadline_ms: u64,
    started: Instant,
) -> Result<Value, lambda_runtime::Error> {
    let calls_before = app.calls.snapshot();
    let budget = remaining(deadline_ms).map(|r| r.saturating_sub(app.settings.deadline_margin));
    let answer = answer(app, req, budget).await;
    let status = if answer.success { "SUCCESS" } else { "FAILED" };
    let calls = app.calls.snapshot().since(&calls_before);
    tracing::info!(
        outcome = status,
        aws_calls = calls.total(),
        aws_attempts = calls.attempts,
        aws_writes = calls.writes().values().sum::<u32>(),
        physical_id = %answer.physical_id,
        reason = %if answer.success { "" } else { answer.reason.as_str() },
        duration_ms = started.elapsed().as_millis() as u64,
        "request handled"
    );
    let body = envelope::body(req, &answer);
    match app.responder.send(&req.response_url, body).await {
        Ok(_) => Ok(json!({"Status": status, "PhysicalResourceId": answer.physical_id})),
        Err(e) => {
            tracing::error!(error = %e, "CloudFormation could not be answered");
            // Lambda may retry the invocation; the work is idempotent, the answer is not
            // lost for good.
            Err(Box::new(e))
        }
    }
}

/// The remaining time, or `None` when the deadline is unknown (0, or in the past as
/// `cargo lambda watch` sends it).
fn remaining(deadline_ms: u64) -> Option<Duration> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let deadline = Duration::from_millis(deadline_ms);
    (deadline > now).then(|| deadline - now)
}

/// Runs the request under the deadline guard and the panic guard.
pub async fn answer(app: &App, req: &Request, budget: Option<Duration>) -> Answer {
    let fallback_id = fallback_physical_id(req);
    let work = AssertUnwindSafe(Box::pin(process(app, req))).catch_unwind();
    let result = match budget {
        Some(b) => match tokio::time::timeout(b, work).await {
            Ok(r) => r,
            Err(_) => {
                return Answer::failed(
                    fallback_id,
                    Error::Timeout {
                        step: format!(
                            "handling {}",
                            req.request_type
                                .map(RequestType::as_str)
                                .unwrap_or("the request")
                        ),
                    }
                    .to_string(),
                )
            }
        },
        None => work.await,
    };
    result.unwrap_or_else(|_| {
        Answer::failed(
            fallback_id,
            "internal error: the handler panicked; see the function's log. Nothing further was changed",
        )
    })
}

/// The id to answer with when the work itself could not say: the existing id, else the
/// deterministic user name, so the rollback Delete can find any late write; the
/// ownership tags decide what that Delete may remove.
fn fallback_physical_id(req: &Request) -> String {
    if let Some(p) = &req.physical_id {
        return p.clone();
    }
    match req.props.get("UserName").and_then(Value::as_str) {
        Some(n) if is_user_name(n) => n.to_string(),
        _ => format!("planton-iam-user-invalid-{}", req.logical_id),
    }
}

fn is_user_name(s: &str) -> bool {
    (1..=spec::MAX_USER_NAME).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

async fn process(app: &App, req: &Request) -> Answer {
    let fallback_id = fallback_physical_id(req);
    if let Some(problem) = &req.problem {
        return Answer::failed(fallback_id, Error::BadEvent(problem.clone()).to_string());
    }
    let owner = Owner {
        stack_id: req.stack_id.clone(),
        logical_id: req.logical_id.clone(),
    };
    match req.request_type {
        Some(RequestType::Create) => create_or_update(app, req, &owner, None).await,
        Some(RequestType::Update) => {
            create_or_update(app, req, &owner, req.physical_id.as_deref()).await
        }
        Some(RequestType::Delete) => delete(app, req, &owner, &fallback_id).await,
        None => Answer::failed(fallback_id, "unknown RequestType"),
    }
}

async fn create_or_update(
    app: &App,
    req: &Request,
    owner: &Owner,
    existing_id: Option<&str>,
) -> Answer {
    let partition = spec::partition_of(&req.stack_id);
    let spec = match spec::parse(&req.props, partition) {
        Ok(s) => s,
        Err(v) => {
            let id = existing_id
                .map(str::to_string)
                .unwrap_or_else(|| fallback_physical_id(req));
            return Answer::failed(id, Error::Invalid(v).to_string());
        }
    };
    if let Some(old) = existing_id {
        if old != spec.user_name && old.eq_ignore_ascii_case(&spec.user_name) {
            return Answer::failed(
                old,
                Error::Invalid(crate::error::Violations(vec![crate::error::Violation::new(
                    "UserName",
                    format!(
                        "{old} -> {}: IAM user names are case-insensitive, so a change of letter case alone cannot be a new user; choose a different name",
                        spec.user_name
                    ),
                )]))
                .to_string(),
            );
        }
    }
    // On failure, an Update keeps its old id (a replacement that failed is no
    // replacement); a Create names the user it tried to make.
    let failed_id = existing_id.unwrap_or(&spec.user_name).to_string();
    let exec = Executor::new(
        &app.clients,
        &spec.user_name,
        &req.stack_id,
        app.settings.max_in_flight,
        Outcome::default(),
    );
    match converge(app, &exec, &spec, owner).await {
        Ok(()) => {
            let out = exec.outcome();
            Answer::success(spec.user_name.clone(), data(&spec, &out))
        }
        Err(e) => {
            let out = exec.outcome();
            let mut reason = e.to_string();
            if out.created_user {
                // Leave nothing behind: this invocation made the user, so it removes it.
                match delete_user(
                    app,
                    owner,
                    &spec.user_name,
                    std::slice::from_ref(&spec.secret_name),
                )
                .await
                {
                    Ok(()) => reason.push_str(". Everything this request created was removed"),
                    Err(c) => {
                        tracing::error!(error = %c, "could not remove the partially created user");
                        reason.push_str(&format!(
                            ". Removing the partially created user also failed ({c}); the rollback Delete will retry"
                        ));
                    }
                }
            }
            Answer::failed(failed_id, reason)
        }
    }
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

async fn converge(
    app: &App,
    exec: &Executor<'_>,
    spec: &UserSpec,
    owner: &Owner,
) -> Result<(), Error> {
    let c = &app.clients;
    let (user, desired) = futures::try_join!(
        observe::user(c, &spec.user_name, Depth::Converge),
        observe::secret(c, &spec.secret_name),
    )?;
    // The secret the user's tag names, when it is not the one wanted now: SecretName
    // changed, or keys were disabled.
    let previous_name = user
        .as_ref()
        .and_then(|u| tag(&u.tags, TAG_SECRET_NAME))
        .filter(|n| *n != spec.secret_name)
        .map(str::to_string);
    let previous = match &previous_name {
        Some(n) => observe::secret(c, n).await?,
        None => None,
    };
    let plan = plan::plan(
        spec,
        owner,
        user.as_ref(),
        Secrets {
            desired: desired.as_ref(),
            previous: previous.as_ref(),
        },
    )?;
    tracing::info!(changes = plan.steps.len(), depth = plan.depth(), "planned");
    exec.set_known(Outcome {
        user_arn: user.as_ref().map(|u| u.arn.clone()),
        user_id: user.as_ref().map(|u| u.user_id.clone()),
        secret_arn: desired.as_ref().map(|s| s.arn.clone()),
        ..Outcome::default()
    });
    exec.run(&plan).await
}

async fn delete(app: &App, req: &Request, owner: &Owner, physical_id: &str) -> Answer {
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
    match delete_user(app, owner, physical_id, &names).await {
        Ok(()) => Answer::success(physical_id, HashMap::new()),
        Err(e) => Answer::failed(physical_id, e.to_string()),
    }
}

/// Removes a user this resource owns and everything hanging off it, then its secrets.
/// A user or secret owned by anybody else is left exactly as it is.
async fn delete_user(
    app: &App,
    owner: &Owner,
    user_name: &str,
    secret_names: &[String],
) -> Result<(), Error> {
    let c = &app.clients;
    let mut names: Vec<String> = secret_names.to_vec();
    names.retain(|n| spec::secret_name_rule(n).is_none());
    names.sort();
    names.dedup();
    let (user, mut secrets) = futures::try_join!(
        observe::user(c, user_name, Depth::Delete),
        futures::future::try_join_all(names.iter().map(|n| observe::secret(c, n))),
    )?;
    if let Some(n) = user.as_ref().and_then(|u| tag(&u.tags, TAG_SECRET_NAME)) {
        if !names.iter().any(|x| x == n) {
            secrets.push(observe::secret(c, n).await?);
        }
    }
    let secrets: Vec<_> = secrets.into_iter().flatten().collect();
    let plan = plan::plan_delete(owner, user_name, user.as_ref(), &secrets);
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
    Executor::new(
        c,
        user_name,
        &owner.stack_id,
        app.settings.max_in_flight,
        Outcome::default(),
    )
    .run(&plan)
    .await
}
