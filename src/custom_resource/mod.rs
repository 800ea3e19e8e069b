//! CloudFormation's requests: read the event loosely, do the work under the guard, and
//! PUT exactly one answer to the ResponseURL. The Lambda invocation itself then
//! succeeds, so Lambda's async retries never re-run the work; it fails only when nobody
//! can be answered.

pub mod adopt;
pub mod envelope;
pub mod execute;
pub mod grants;
pub mod guard;
pub mod respond;
pub mod verify;

use crate::aws::budget::{Budget, Progress};
use crate::aws::calls::CallLog;
use crate::aws::events::Publisher;
use crate::aws::{keys, Clients};
use crate::settings::Settings;
use envelope::{Answer, Request, RequestType};
use guard::{fallback_physical_id, guarded, remaining};
use respond::Responder;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// What a custom-resource request needs from the process: the clients, the one
/// responder, the settings, and the call log the summary line counts from.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub clients: &'a Clients,
    /// To check each request against its stack before any write.
    pub cloudformation: &'a aws_sdk_cloudformation::Client,
    pub responder: &'a Responder,
    /// The function's own region, the only one whose response bucket is answered.
    pub region: Option<&'a str>,
    pub settings: &'a Settings,
    pub calls: &'a CallLog,
    /// Tells a key's owners what changed (EventBridge).
    pub events: Publisher<'a>,
}

/// Serves one CloudFormation request, given as the raw payload so an event the runtime
/// could not type (or even parse) still reaches this code and is answered.
pub async fn handle(
    deps: &Deps<'_>,
    raw: &str,
    ctx: &lambda_runtime::Context,
) -> Result<Value, lambda_runtime::Error> {
    let started = Instant::now();
    let req = match envelope::parse_raw(raw) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "event cannot be answered");
            return Err(Box::new(e));
        }
    };
    let checked = verify::response_url(
        &req.response_url,
        &deps.settings.response_url_prefixes,
        deps.region,
    );
    if let Err(why) = checked {
        // No PUT and no work: whoever sent this is not CloudFormation, or wants the
        // answer sent somewhere else.
        tracing::error!(
            why,
            url = %envelope::redact_url(&req.response_url),
            "refusing a request whose answer would not go to CloudFormation"
        );
        return Err(Box::new(envelope::Unanswerable(format!(
            "{why}: the answer may only go to CloudFormation's response bucket"
        ))));
    }
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
    respond_to(deps, &req, remaining(ctx.deadline), started, function_arn)
        .instrument(span)
        .await
}

async fn respond_to(
    deps: &Deps<'_>,
    req: &Request,
    remaining: Option<Duration>,
    started: Instant,
    function_arn: Option<&str>,
) -> Result<Value, lambda_runtime::Error> {
    let calls_before = deps.calls.snapshot();
    let margin = deps.settings.deadline_margin;
    let budget = Budget {
        stop_at: remaining.map(|r| started + r.saturating_sub(margin)),
        progress: Progress::default(),
        max_in_flight: deps.settings.max_in_flight,
    };
    let abandon_at = remaining.map(|r| started + r.saturating_sub(margin / 3));
    let answer = answer(deps, req, &budget, abandon_at, function_arn).await;

    let status = if answer.success { "SUCCESS" } else { "FAILED" };
    let calls = deps.calls.snapshot().since(&calls_before);
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
    // The owners' events go out beside the answer, not before it: publishing never
    // lengthens a stack operation, and never fails one.
    let (sent, _) = futures::join!(
        deps.responder.send(&req.response_url, body, send_until),
        deps.events.publish(&answer.events)
    );
    match sent {
        Ok(_) => Ok(json!({"Status": status, "PhysicalResourceId": answer.physical_id})),
        Err(e) => {
            tracing::error!(error = %e, "CloudFormation could not be answered");
            // Lambda may retry the invocation; the work is idempotent, the answer is not
            // lost for good.
            Err(Box::new(e))
        }
    }
}

/// Runs the request under the panic guard and the deadline guard: whatever happens, an
/// [`Answer`] comes out.
pub async fn answer(
    deps: &Deps<'_>,
    req: &Request,
    budget: &Budget,
    abandon_at: Option<Instant>,
    function_arn: Option<&str>,
) -> Answer {
    let fallback_id = fallback_physical_id(req);
    let answer = guarded(
        Box::pin(execute::process(deps, req, budget, function_arn)),
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
        let delete = keys::delete_key(
            &deps.clients.iam,
            &user,
            &key_id,
            " minted before the work was abandoned",
        );
        match tokio::time::timeout(limit, delete).await {
            Ok(Ok(())) => tracing::warn!(user, "deleted the access key minted before the work was abandoned"),
            Ok(Err(e)) => tracing::error!(user, error = %e, "an access key without a secret remains; the rollback Delete or the next Update removes it"),
            Err(_) => tracing::error!(user, "deleting the abandoned access key timed out; the rollback Delete or the next Update removes it"),
        }
    }
    answer
}
