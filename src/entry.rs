//! The entry point of every invocation: tells the callers apart by the payload's shape
//! (CloudFormation, Secrets Manager's rotation steps, the scheduled audit and grace
//! sweep) and hands each the clients and settings it needs. Invocations nobody but
//! Lambda hears fail the invocation on error, so Secrets Manager retries and the errors
//! alarm sees them; CloudFormation's are always answered.

use crate::app::App;
use crate::aws::events::Publisher;
use crate::custom_resource::{self, Deps};
use crate::error::Error;
use futures::FutureExt;
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::time::SystemTime;
use tracing::Instrument;

/// Handles one invocation. The payload is taken raw, so an event the runtime could not
/// turn into a typed request (or even into a JSON value: too deeply nested, a lone
/// surrogate) still reaches this code and gets an answer. Returns an error only when
/// there is nobody to answer.
pub async fn handle(
    app: &App,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, lambda_runtime::Error> {
    let (payload, ctx) = event.into_parts();
    let (c, settings) = (&app.clients, &app.settings);
    app.gate.set_limit(settings.max_in_flight);
    let function = function_name(&ctx);
    let events = Publisher {
        clients: c,
        settings: &settings.events,
        function: &function,
    };
    let checked = || settings.check();
    match kind(payload.get()) {
        Kind::Rotation(ev) => {
            let span = tracing::info_span!("rotation", step = %ev.step, secret = %ev.secret_id);
            let what = format!("rotation step {}", ev.step);
            let work = async {
                checked()?;
                served(settings.serves.rotation, "rotation steps")?;
                let function = ctx.invoked_function_arn.as_str();
                crate::rotation::handle(c, settings.rotation_grace, function, &events, ev).await
            };
            fail_invocation_on_error(what, Box::pin(work.instrument(span))).await
        }
        Kind::Audit { resume_from } => {
            // No user is started in the last three margins before the deadline: the
            // users in flight finish, the records and the continuation go out.
            let stop_at = remaining(ctx.deadline).map(|r| {
                tokio::time::Instant::now() + r.saturating_sub(settings.deadline_margin * 3)
            });
            // The account's pages may be read until a third of a margin before the
            // deadline, as calls in flight may finish in a custom-resource request.
            let reads_until = remaining(ctx.deadline).map(|r| {
                tokio::time::Instant::now() + r.saturating_sub(settings.deadline_margin / 3)
            });
            let scope = crate::audit::Scope {
                resume_from,
                stop_at,
                reads_until,
                // Narrows the secrets listing when the deployment names the prefix.
                secret_name_prefix: settings.guardrails.secret_name_prefix.clone(),
                ..crate::audit::Scope::default()
            };
            let work = async {
                checked()?;
                served(settings.serves.schedule, "the scheduled audit")?;
                let max = settings.max_in_flight;
                let audit = crate::audit::handle(
                    c,
                    &settings.audit,
                    max,
                    &events,
                    &scope,
                    SystemTime::now(),
                );
                let (out, lowest) = app.gate.paced(&app.calls, max, audit).await;
                tracing::info!(lowest_in_flight = lowest, max_in_flight = max, "audit pace");
                out
            };
            fail_invocation_on_error(
                "the audit".into(),
                Box::pin(work.instrument(tracing::info_span!("audit"))),
            )
            .await
        }
        Kind::EndGrace => {
            let work = async {
                checked()?;
                served(settings.serves.schedule, "the scheduled grace sweep")?;
                let max = settings.max_in_flight;
                let stop_at = remaining(ctx.deadline).map(|r| {
                    tokio::time::Instant::now() + r.saturating_sub(settings.deadline_margin * 3)
                });
                let sweep = crate::grace::handle(
                    c,
                    &settings.guardrails.allowed_path_prefix,
                    settings.rotation_grace,
                    max,
                    &events,
                    stop_at,
                    SystemTime::now(),
                );
                app.gate.paced(&app.calls, max, sweep).await.0
            };
            fail_invocation_on_error(
                "the grace sweep".into(),
                Box::pin(work.instrument(tracing::info_span!("grace_sweep"))),
            )
            .await
        }
        Kind::Watch(event) => {
            let work = async {
                checked()?;
                served(settings.serves.watch, "IAM's CloudTrail events (the watch)")?;
                let max = settings.max_in_flight;
                let watch = crate::watch::handle(c, settings, &events, &event);
                app.gate.paced(&app.calls, max, watch).await.0
            };
            fail_invocation_on_error(
                "the watch".into(),
                Box::pin(work.instrument(tracing::info_span!("watch"))),
            )
            .await
        }
        Kind::CustomResource => {
            let deps = Deps {
                clients: c,
                cloudformation: &app.cloudformation,
                responder: &app.responder,
                region: app.region.as_deref(),
                settings,
                calls: &app.calls,
                events,
            };
            Box::pin(custom_resource::handle(&deps, payload.get(), &ctx)).await
        }
    }
}

/// The function's name, for the metrics' dimension: Lambda's own variable, else the
/// invocation's ARN, else the template's default name.
fn function_name(ctx: &lambda_runtime::Context) -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|f| !f.is_empty())
        .or_else(|| {
            let arn = ctx.invoked_function_arn.as_str();
            let name = arn.split(":function:").nth(1)?.split(':').next()?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .unwrap_or_else(|| "planton-iam-user".into())
}

/// Time left before the Lambda deadline (`deadline_ms`, since the epoch), if known.
fn remaining(deadline_ms: u64) -> Option<std::time::Duration> {
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    (deadline_ms > 0).then(|| std::time::Duration::from_millis(deadline_ms.saturating_sub(now)))
}

/// Refuses a caller this function is not deployed for (`PLANTON_SERVES`), before any
/// AWS call: its role was not made for that caller's work.
fn served(serves: bool, caller: &'static str) -> Result<(), Error> {
    if serves {
        Ok(())
    } else {
        Err(Error::NotServed(caller))
    }
}

/// What invoked the function. One deployment serves three callers: CloudFormation
/// (custom resource requests), Secrets Manager (rotation steps) and EventBridge (the
/// scheduled audit).
#[derive(Debug)]
pub enum Kind {
    CustomResource,
    Rotation(crate::rotation::RotationEvent),
    /// The scheduled audit; `resume_from` when it continues a run that ran out of time
    /// (`detail."resume-from"`, set by the continuation rule from the last result).
    Audit {
        resume_from: Option<String>,
    },
    /// The hourly scheduled event that ends expired rotation grace periods.
    EndGrace,
    /// An EventBridge event of a CloudTrail-recorded API call (the watch). Whatever it
    /// claims is checked against IAM before anything is done.
    Watch(Value),
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
    if p.detail_type.as_deref() == Some(crate::model::watch::DETAIL_TYPE) && p.detail.is_some() {
        if let Ok(event) = serde_json::from_str::<Value>(raw) {
            return Kind::Watch(event);
        }
    }
    if p.detail_type.as_deref() == Some("Scheduled Event")
        && p.source.as_deref() == Some("aws.events")
    {
        let task = p.detail.as_ref().and_then(|d| d.get("planton-task"));
        if task.and_then(Value::as_str) == Some(crate::grace::TASK) {
            return Kind::EndGrace;
        }
        let resume_from = p
            .detail
            .as_ref()
            .and_then(|d| d.get("resume-from"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.len() <= 64)
            .map(str::to_string);
        return Kind::Audit { resume_from };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_is_recognised_by_its_payload() {
        let rotation = include_str!("../events/rotation.json");
        let audit = include_str!("../events/audit.json");
        let create = include_str!("../events/create.json");
        assert!(matches!(kind(rotation), Kind::Rotation(e) if e.step == "createSecret"));
        assert!(matches!(kind(audit), Kind::Audit { resume_from: None }));
        let resumed = r#"{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"resume-from": "svc-m"}}"#;
        assert!(matches!(kind(resumed), Kind::Audit { resume_from: Some(r) } if r == "svc-m"));
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
        assert!(matches!(kind(&other_task), Kind::Audit { .. }));
        assert!(matches!(kind(create), Kind::CustomResource));
        let trail = r#"{"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "detail": {"eventName": "AttachUserPolicy"}}"#;
        assert!(matches!(kind(trail), Kind::Watch(_)));
        // A CloudFormation field still wins over a CloudTrail look.
        let both = r#"{"RequestType": "Create", "detail-type": "AWS API Call via CloudTrail", "detail": {}}"#;
        assert!(matches!(kind(both), Kind::CustomResource));
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
}
