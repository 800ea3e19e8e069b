//! The Lambda entry point: event -> validated spec -> observed state -> plan -> applied
//! -> exactly one answer PUT to CloudFormation.
//!
//! Whatever happens inside (invalid input, an AWS error, a panic, the deadline), the
//! request is answered, and the Lambda invocation itself then succeeds so Lambda's async
//! retries never re-run the work.

use crate::apply::{Budget, Executor, Outcome, Progress};
use crate::envelope::{self, Answer, Request, RequestType};
use crate::error::{Error, Violation, Violations};
use crate::guardrails::Guardrails;
use crate::observe::{self, Clients, Depth, Expect};
use crate::plan::{self, Secrets};
use crate::respond::Responder;
use crate::spec::{self, UserSpec};
use crate::state::{tag, Owner, TAG_SECRET_NAME};
use futures::FutureExt;
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::Instrument;

/// Process-wide state, built once in `main` and shared by every invocation.
#[derive(Clone, Debug)]
pub struct App {
    pub clients: Clients,
    pub responder: Responder,
    pub settings: Settings,
    pub guardrails: Guardrails,
    pub calls: crate::calls::CallLog,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// AWS calls in flight per invocation.
    pub max_in_flight: usize,
    /// Time kept in reserve before the Lambda deadline: no new AWS call starts after
    /// `deadline - margin`; the work is abandoned at `deadline - margin/3` and the
    /// answer is sent in what is left.
    pub deadline_margin: Duration,
    /// How long the previous key keeps working after a rotation
    /// (`PLANTON_ROTATION_GRACE_HOURS`). Zero deactivates it at finishSecret.
    pub rotation_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_in_flight: 16,
            deadline_margin: Duration::from_secs(10),
            rotation_grace: Duration::from_secs(24 * 3600),
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
            // At most a year: a grace longer than any rotation period means no grace end.
            rotation_grace: num("PLANTON_ROTATION_GRACE_HOURS")
                .map(|h| Duration::from_secs(h.min(8760) * 3600))
                .unwrap_or(d.rotation_grace),
        }
    }
}

/// Handles one invocation. The payload is taken raw, so an event the runtime could not
/// turn into a typed request (or even into a JSON value: too deeply nested, a lone
/// surrogate) still reaches this code and gets an answer. Returns an error only when
/// there is nobody to answer.
pub async fn handle(
    app: &App,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, lambda_runtime::Error> {
    let (payload, ctx) = event.into_parts();
    match kind(payload.get()) {
        Kind::Rotation(ev) => {
            let span = tracing::info_span!("rotation", step = %ev.step, secret = %ev.secret_id);
            let what = format!("rotation step {}", ev.step);
            return fail_invocation_on_error(
                what,
                Box::pin(crate::rotation::handle(app, ev).instrument(span)),
            )
            .await;
        }
        Kind::Audit => {
            return fail_invocation_on_error(
                "the audit".into(),
                Box::pin(
                    crate::audit::handle(app, SystemTime::now())
                        .instrument(tracing::info_span!("audit")),
                ),
            )
            .await;
        }
        Kind::EndGrace => {
            return fail_invocation_on_error(
                "the grace sweep".into(),
                Box::pin(
                    crate::grace::handle(app, SystemTime::now())
                        .instrument(tracing::info_span!("grace_sweep")),
                ),
            )
            .await;
        }
        Kind::CustomResource => {}
    }
    let started = Instant::now();
    let req = match envelope::parse_raw(payload.get()) {
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
    let function_arn = Some(ctx.invoked_function_arn.as_str()).filter(|a| !a.is_empty());
    respond_to(app, &req, remaining(ctx.deadline), started, function_arn)
        .instrument(span)
        .await
}

/// What invoked the function. One deployment serves three callers: CloudFormation
/// (custom resource requests), Secrets Manager (rotation steps) and EventBridge (the
/// scheduled audit).
#[derive(Debug)]
pub enum Kind {
    CustomResource,
    Rotation(crate::rotation::RotationEvent),
    Audit,
    /// The hourly scheduled event that ends expired rotation grace periods.
    EndGrace,
}

/// Decides the caller from the payload's shape. Anything carrying a CloudFormation
/// field, or not recognisably one of the other two, goes down the custom-resource path,
/// which answers whatever it can.
pub fn kind(raw: &str) -> Kind {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "RequestType")]
        request_type: Option<serde::de::IgnoredAny>,
        #[serde(rename = "ResponseURL")]
        response_url: Option<serde::de::IgnoredAny>,
        #[serde(rename = "Step")]
        step: Option<serde::de::IgnoredAny>,
        #[serde(rename = "detail-type")]
        detail_type: Option<String>,
        source: Option<String>,
        detail: Option<Value>,
    }
    let Ok(p) = serde_json::from_str::<Probe>(raw) else {
        return Kind::CustomResource;
    };
    if p.request_type.is_some() || p.response_url.is_some() {
        return Kind::CustomResource;
    }
    if p.step.is_some() {
        if let Ok(ev) = serde_json::from_str(raw) {
            return Kind::Rotation(ev);
        }
    }
    if p.detail_type.as_deref() == Some("Scheduled Event")
        && p.source.as_deref() == Some("aws.events")
    {
        let task = p.detail.as_ref().and_then(|d| d.get("planton-task"));
        if task.and_then(Value::as_str) == Some(crate::grace::TASK) {
            return Kind::EndGrace;
        }
        return Kind::Audit;
    }
    Kind::CustomResource
}

/// Rotation steps, the audit and the grace sweep answer nobody but Lambda, so a failure
/// or a panic must fail the invocation: that is how Secrets Manager learns a step did not
/// complete and retries it, and how the function's errors alarm sees a failed audit.
/// Callers pass the work boxed: these futures are large, and inline they would grow
/// every custom-resource invocation's future too.
async fn fail_invocation_on_error<F>(what: String, work: F) -> Result<Value, lambda_runtime::Error>
where
    F: std::future::Future<Output = Result<Value, Error>>,
{
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "{what} failed");
            Err(Box::new(e))
        }
        Err(_) => {
            tracing::error!("{what} panicked");
            Err(Box::new(Error::Internal(what)))
        }
    }
}

/// Convenience for callers holding a parsed value (tests, tools).
pub async fn handle_value(
    app: &App,
    event: Value,
    ctx: lambda_runtime::Context,
) -> Result<Value, lambda_runtime::Error> {
    let raw = serde_json::value::to_raw_value(&event)?;
    handle(app, LambdaEvent::new(raw, ctx)).await
}

async fn respond_to(
    app: &App,
    req: &Request,
    remaining: Option<Duration>,
    started: Instant,
    function_arn: Option<&str>,
) -> Result<Value, lambda_runtime::Error> {
    let calls_before = app.calls.snapshot();
    let margin = app.settings.deadline_margin;
    let budget = Budget {
        stop_at: remaining.map(|r| started + r.saturating_sub(margin)),
        progress: Progress::default(),
        max_in_flight: app.settings.max_in_flight,
    };
    let abandon_at = remaining.map(|r| started + r.saturating_sub(margin / 3));
    let answer = answer(app, req, &budget, abandon_at, function_arn).await;

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
    let send_until = remaining.map(|r| started + r.saturating_sub(Duration::from_millis(300)));
    match app
        .responder
        .send(&req.response_url, body, send_until)
        .await
    {
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

/// Runs the request under the panic guard and the deadline guard: whatever happens, an
/// [`Answer`] comes out.
pub async fn answer(
    app: &App,
    req: &Request,
    budget: &Budget,
    abandon_at: Option<Instant>,
    function_arn: Option<&str>,
) -> Answer {
    let fallback_id = fallback_physical_id(req);
    let answer = guarded(
        Box::pin(process(app, req, budget, function_arn)),
        abandon_at,
        &budget.progress,
        &fallback_id,
    )
    .await;
    // Abandoned (deadline or panic) between minting a key and storing it: that key is
    // a live credential nobody holds. Deleting it is the one undo that cannot wait for
    // the rollback; it is a single call, and the margin left after abandoning is for
    // exactly this and the answer.
    if let Some((user, key_id)) = budget.progress.take_unstored_key() {
        // Half of what is left before the deadline (margin/3 after abandoning), so the
        // answer still goes out in time.
        let limit = match (budget.stop_at, abandon_at) {
            (Some(stop), Some(abandon)) => abandon.saturating_duration_since(stop) / 4,
            _ => Duration::from_secs(2),
        }
        .min(Duration::from_secs(2));
        let delete = app
            .clients
            .iam
            .delete_access_key()
            .user_name(&user)
            .access_key_id(&key_id)
            .send();
        match tokio::time::timeout(limit, delete).await {
            Ok(Ok(_)) => tracing::warn!(user, "deleted the access key minted before the work was abandoned"),
            Ok(Err(e)) if crate::error::is_not_found(aws_sdk_iam::error::ProvideErrorMetadata::code(&e)) => {}
            Ok(Err(e)) => tracing::error!(user, error = %Error::aws("deleting the abandoned access key", e), "an access key without a secret remains; the rollback Delete or the next Update removes it"),
            Err(_) => tracing::error!(user, "deleting the abandoned access key timed out; the rollback Delete or the next Update removes it"),
        }
    }
    answer
}

/// The guard itself, separate so it can be tested with any work, panics included.
pub async fn guarded<F>(
    work: F,
    abandon_at: Option<Instant>,
    progress: &Progress,
    fallback_id: &str,
) -> Answer
where
    F: std::future::Future<Output = Answer>,
{
    let work = AssertUnwindSafe(work).catch_unwind();
    let result = match abandon_at {
        Some(at) => match tokio::time::timeout_at(at, work).await {
            Ok(r) => r,
            Err(_) => {
                let step = progress.describe();
                tracing::error!(step, "deadline reached; abandoning the work");
                return Answer::failed(
                    fallback_id,
                    format!(
                        "{}. The rollback Delete or the next Update finishes what was started",
                        Error::Timeout { step }
                    ),
                );
            }
        },
        None => work.await,
    };
    result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // The panic message is logged for the operator but kept out of the Reason: it is
        // internal detail, never input for a template author.
        tracing::error!(panic = %what, step = %progress.describe(), "handler panicked");
        Answer::failed(
            fallback_id,
            format!(
                "internal error: the handler panicked while {}; see the function's log. Nothing further was changed",
                progress.describe()
            ),
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

async fn process(app: &App, req: &Request, budget: &Budget, function_arn: Option<&str>) -> Answer {
    let fallback_id = fallback_physical_id(req);
    if let Some(problem) = &req.problem {
        return Answer::failed(fallback_id, Error::BadEvent(problem.clone()).to_string());
    }
    let owner = Owner {
        stack_id: req.stack_id.clone(),
        logical_id: req.logical_id.clone(),
    };
    match req.request_type {
        Some(RequestType::Create) => {
            create_or_update(app, req, &owner, None, budget, function_arn).await
        }
        Some(RequestType::Update) => {
            let existing = req.physical_id.as_deref();
            create_or_update(app, req, &owner, existing, budget, function_arn).await
        }
        Some(RequestType::Delete) => delete(app, req, &owner, &fallback_id, budget).await,
        None => Answer::failed(fallback_id, "unknown RequestType"),
    }
}

async fn create_or_update(
    app: &App,
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
    let mut violations = app.guardrails.apply(&mut spec);
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
    let exec = Executor::new(&app.clients, &spec.user_name, &req.stack_id, budget).with_rotation(
        rotation_token(&req.request_id),
        function_arn.map(str::to_string),
        app.settings.rotation_grace,
    );
    // A Create most likely finds nothing; an Update most likely finds everything.
    let expect = match existing_id {
        Some(old) if old == spec.user_name => Expect::Exists,
        _ => Expect::Absent,
    };
    match Box::pin(converge(
        app,
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
                match Box::pin(delete_user(app, owner, &spec.user_name, names, budget)).await {
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

async fn converge(
    app: &App,
    exec: &Executor<'_>,
    spec: &UserSpec,
    owner: &Owner,
    budget: &Budget,
    expect: Expect,
    function_arn: Option<&str>,
) -> Result<(), Error> {
    let c = &app.clients;
    check_time(
        budget,
        format!("reading the current state of user {}", spec.user_name),
    )?;
    // Boxed: these futures are large, and a deep stack of them overflows a 2 MiB
    // thread stack in debug builds.
    let (user, desired) = futures::try_join!(
        Box::pin(observe::user(c, &spec.user_name, Depth::Converge, expect)),
        observe::secret(c, &spec.secret_name, expect),
    )?;
    // The secret the user's tag names, when it is not the one wanted now: SecretName
    // changed, or keys were disabled.
    let previous_name = user
        .as_ref()
        .and_then(|u| tag(&u.tags, TAG_SECRET_NAME))
        .filter(|n| *n != spec.secret_name)
        .map(str::to_string);
    let previous = match &previous_name {
        Some(n) => observe::secret(c, n, Expect::Exists).await?,
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
            grace: crate::plan::Grace {
                period_secs: app.settings.rotation_grace.as_secs(),
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
    app: &App,
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
    match Box::pin(delete_user(app, owner, physical_id, &names, budget)).await {
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
    budget: &Budget,
) -> Result<(), Error> {
    let c = &app.clients;
    check_time(budget, format!("reading what user {user_name} still has"))?;
    let mut names: Vec<String> = secret_names.to_vec();
    names.retain(|n| spec::secret_name_rule(n).is_none());
    names.sort();
    names.dedup();
    let (user, mut secrets) = futures::try_join!(
        Box::pin(observe::user(c, user_name, Depth::Delete, Expect::Exists)),
        futures::future::try_join_all(names.iter().map(|n| observe::secret(c, n, Expect::Exists))),
    )?;
    if let Some(n) = user.as_ref().and_then(|u| tag(&u.tags, TAG_SECRET_NAME)) {
        if !names.iter().any(|x| x == n) {
            secrets.push(observe::secret(c, n, Expect::Exists).await?);
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
    Executor::new(c, user_name, &owner.stack_id, budget)
        .run(&plan)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_a_failed_answer_naming_the_step() {
        let progress = Progress::default();
        progress.phase("attaching policy X to user u");
        let work = async {
            if progress.describe().contains("policy") {
                panic!("index out of bounds");
            }
            Answer::success("u", HashMap::new())
        };
        let a = guarded(work, None, &progress, "u").await;
        assert!(!a.success);
        assert_eq!(a.physical_id, "u");
        assert!(
            a.reason
                .contains("panicked while attaching policy X to user u"),
            "{}",
            a.reason
        );
        assert!(
            !a.reason.contains("index out of bounds"),
            "panic text stays in the log"
        );
    }

    #[tokio::test]
    async fn work_still_running_at_the_abandon_time_is_answered_as_a_timeout() {
        let progress = Progress::default();
        progress.phase("creating user u");
        let work = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Answer::success("u", HashMap::new())
        };
        let at = Instant::now() + Duration::from_millis(50);
        let a = guarded(work, Some(at), &progress, "u").await;
        assert!(!a.success);
        assert!(
            a.reason.starts_with("timed out while creating user u"),
            "{}",
            a.reason
        );
    }

    #[test]
    fn each_caller_is_recognised_by_its_payload() {
        let rotation = include_str!("../events/rotation.json");
        let audit = include_str!("../events/audit.json");
        let create = include_str!("../events/create.json");
        assert!(matches!(kind(rotation), Kind::Rotation(e) if e.step == "createSecret"));
        assert!(matches!(kind(audit), Kind::Audit));
        let end_grace = include_str!("../events/end-grace.json");
        assert!(matches!(kind(end_grace), Kind::EndGrace));
        // What template.yaml's GraceRule actually sends (its folded `Input: >-` block).
        let template = include_str!("../template.yaml");
        let input: Vec<&str> = template
            .lines()
            .skip_while(|l| !l.contains("Id: planton-iam-user-end-grace"))
            .skip_while(|l| !l.trim_start().starts_with("Input: >-"))
            .skip(1)
            .take_while(|l| l.starts_with("            "))
            .map(str::trim)
            .collect();
        assert!(!input.is_empty(), "GraceRule's Input in template.yaml");
        assert!(
            matches!(kind(&input.join(" ")), Kind::EndGrace),
            "{input:?}"
        );
        // Another task name is an ordinary audit, never a silent no-op.
        let other_task = end_grace.replace("end-rotation-grace", "something-else");
        assert!(matches!(kind(&other_task), Kind::Audit));
        assert!(matches!(kind(create), Kind::CustomResource));
        for other in [
            // A CloudFormation field wins: such an event is answered, never rotated.
            r#"{"RequestType": "Create", "Step": "createSecret", "SecretId": "s", "ClientRequestToken": "t"}"#,
            // A rotation event without its other fields, another EventBridge event, junk.
            r#"{"Step": "createSecret"}"#,
            r#"{"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"}"#,
            r#"[1, 2]"#,
            "not json",
        ] {
            assert!(matches!(kind(other), Kind::CustomResource), "{other}");
        }
    }

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

    #[test]
    fn unknown_deadlines_impose_no_limit() {
        assert_eq!(remaining(0), None);
        assert_eq!(remaining(600_000), None, "cargo lambda watch's constant");
        let soon = SystemTime::now() + Duration::from_secs(30);
        let ms = soon.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let r = remaining(ms).unwrap();
        assert!(r <= Duration::from_secs(30) && r > Duration::from_secs(28));
    }
}
