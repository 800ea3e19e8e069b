//! Secrets Manager's rotation protocol: one invocation per step. Anyone who may call
//! RotateSecret naming this function, or invoke it directly, can send a step, so before
//! any step the request is checked the way AWS's own rotation template checks it, and
//! more: rotation is enabled on the secret with this function as its rotator; the token
//! is a version of the secret staged AWSPENDING (for createSecret too: Secrets Manager
//! stages it before the first step); the secret carries this function's ownership tags;
//! and the binding that lives on the IAM user (its `planton:secret-name` tag, which only
//! this function writes) names this very secret. A secret's own tags are no proof: anyone
//! with TagResource can copy them onto a look-alike. The steps themselves live in
//! [`crate::aws::rotate`], shared with a raised `KeySerial`.

use crate::aws::events::Publisher;
use crate::aws::observe::{CURRENT, PENDING};
use crate::aws::rotate::{self, Target, TEST_PATIENCE};
use crate::aws::{tags, Clients};
use crate::error::{Error, Result};
use crate::model::events::{owner_of, Event, Kind};
use crate::model::key_ledger;
use crate::model::state::{tag, TAG_LOGICAL, TAG_SECRET_NAME, TAG_STACK, TAG_USER_NAME};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

/// The event Secrets Manager sends a rotation function.
#[derive(Debug, Clone, Deserialize)]
pub struct RotationEvent {
    #[serde(rename = "Step")]
    pub step: String,
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    #[serde(rename = "ClientRequestToken")]
    pub token: String,
}

/// Serves one step of Secrets Manager's rotation protocol. `grace` is how long the
/// previous key keeps working after finishSecret; `function_arn` is this function's
/// own ARN, which the secret must name as its rotator.
pub async fn handle(
    c: &Clients,
    grace: Duration,
    function_arn: &str,
    events: &Publisher<'_>,
    ev: RotationEvent,
) -> Result<Value> {
    let Bound {
        target,
        seen,
        recorded_grace,
        stack_id,
        logical_id,
        user_tags,
    } = target(c, &ev.secret_id, function_arn).await?;
    // The resource's own PreviousKeyGraceHours, as its secret records it.
    let grace = recorded_grace.map_or(grace, |h| Duration::from_secs(u64::from(h) * 3600));
    let token = ev.token.as_str();
    let on_token = seen.stages.get(token);
    let is_current = on_token.is_some_and(|s| s.iter().any(|s| s == CURRENT));
    let is_pending = on_token.is_some_and(|s| s.iter().any(|s| s == PENDING));
    // As AWS's own rotation template: a step for the version that is already AWSCURRENT
    // returns, finishSecret included. Version ids are no secret (ListSecrets and
    // DescribeSecret show them), so anyone who can invoke the function could otherwise
    // send finishSecret for the current version and have it publish `Planton Access
    // Key Rotated` for a rotation that never happened. What a retried finishSecret
    // would still have done once AWSCURRENT had moved is left as AWS leaves it: an
    // AWSPENDING label on the current version is a finished rotation to Secrets
    // Manager, and a previous key with no grace left is deactivated by the hourly
    // grace sweep, the next stack Update or the next rotation.
    if is_current {
        tracing::info!(
            token,
            step = %ev.step,
            "version is already AWSCURRENT; nothing to do"
        );
        return Ok(json!({"Step": ev.step, "Result": "already current"}));
    }
    // Secrets Manager labels the token's version AWSPENDING before it calls
    // createSecret: a token it never staged is nobody's rotation.
    if !is_pending {
        return Err(Error::Rotation(format!(
            "version {token} of secret {} is not staged AWSPENDING, so it is not being rotated",
            target.secret_arn
        )));
    }
    match ev.step.as_str() {
        "createSecret" => rotate::create(c, &target, token, &seen).await?,
        "setSecret" => {
            // IAM itself holds the key: there is no database password to change.
            tracing::info!(
                user = %target.user,
                "setSecret: nothing to set; IAM already accepts the new key"
            );
        }
        "testSecret" => {
            rotate::test(c, &target, token, Instant::now() + TEST_PATIENCE).await?;
        }
        "finishSecret" => {
            let previous = rotate::finish(c, &target, token, grace, &seen).await?;
            // The owners learn of the rotation once it is done, and at most once: a
            // retried finishSecret finds the version current and returns above (so a
            // finishSecret that failed after AWSCURRENT moved tells nobody; the key
            // record and the audit still show the new key).
            let event = |kind: Kind, key: Option<String>| {
                let mut e = Event::new(kind, &target.user, &stack_id, &logical_id);
                e.user_arn = Some(target.user_arn.clone());
                e.secret_arn = Some(target.secret_arn.clone());
                e.owner = owner_of(&user_tags, &events.settings.owner_tag_key);
                e.access_key_id = key;
                e
            };
            let mut rotated = event(Kind::KeyRotated, None);
            rotated
                .extra
                .insert("grace_hours".into(), json!(grace.as_secs() / 3600));
            let mut out = vec![rotated];
            out.extend(previous.map(|k| event(Kind::PreviousKeyDeactivated, Some(k))));
            events.publish(&out).await;
        }
        other => {
            return Err(Error::Rotation(format!(
                "unknown rotation step {other:?}: expected createSecret, setSecret, testSecret or finishSecret"
            )))
        }
    }
    Ok(json!({"Step": ev.step, "Result": "done"}))
}

/// Reads the secret and checks that this function wrote it for a user it still owns.
/// Refuses anything else before any change: a rotation must never touch a user or a
/// secret that is not ours.
async fn target(c: &Clients, secret_id: &str, function_arn: &str) -> Result<Bound> {
    let desc =
        c.sm.describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| Error::aws(format!("reading secret {secret_id}"), e))?;
    let secret_tags = tags::from_sm(desc.tags());
    let arn = desc.arn().unwrap_or(secret_id).to_string();
    let refuse = |why: &str| {
        Err(Error::Rotation(format!(
            "secret {arn} is not one this function manages ({why}); nothing was changed"
        )))
    };
    let exact = |k: &str| {
        secret_tags
            .iter()
            .find(|(tk, _)| tk == k)
            .map(|(_, v)| v.as_str())
    };
    let (Some(stack), Some(logical), Some(user)) =
        (exact(TAG_STACK), exact(TAG_LOGICAL), exact(TAG_USER_NAME))
    else {
        return refuse(
            "it lacks the planton:stack-id, planton:logical-resource-id and planton:user-name tags",
        );
    };
    if desc.deleted_date().is_some() {
        return refuse("it is scheduled for deletion");
    }
    if desc.rotation_enabled() != Some(true) {
        return refuse("rotation is not enabled on it");
    }
    if !same_function(desc.rotation_lambda_arn().unwrap_or_default(), function_arn) {
        return refuse("its rotation function is not this function");
    }
    let got = c
        .iam
        .get_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| Error::aws(format!("reading user {user}"), e))?;
    let Some(u) = got.user else {
        return refuse("its user could not be read");
    };
    let owned = tags::from_iam(u.tags());
    if tag(&owned, TAG_STACK) != Some(stack) || tag(&owned, TAG_LOGICAL) != Some(logical) {
        return refuse(&format!(
            "user {user} is not owned by the same stack resource as the secret"
        ));
    }
    let name = desc.name().unwrap_or_default();
    if tag(&owned, TAG_SECRET_NAME) != Some(name) {
        return refuse(&format!(
            "user {user} keeps its key in another secret (its {TAG_SECRET_NAME} tag), so this one is a look-alike"
        ));
    }
    let seen = rotate::Seen::of(&desc);
    Ok(Bound {
        target: Target {
            secret_arn: arn.clone(),
            user: user.to_string(),
            user_arn: u.arn,
        },
        recorded_grace: key_ledger::parse_grace(&seen.description),
        seen,
        stack_id: stack.to_string(),
        logical_id: logical.to_string(),
        user_tags: owned,
    })
}

/// A rotation's secret, checked to be bound to its user, with what the step needs.
struct Bound {
    target: Target,
    /// The secret as checked: its key record and stages, which the step uses as read.
    seen: rotate::Seen,
    /// The resource's PreviousKeyGraceHours, as the secret records it.
    recorded_grace: Option<u32>,
    stack_id: String,
    logical_id: String,
    user_tags: Vec<(String, String)>,
}

/// Whether two Lambda ARNs name the same function, whatever version or alias either
/// carries (`...:function:name` vs `...:function:name:live`).
fn same_function(a: &str, b: &str) -> bool {
    let base = |arn: &str| arn.splitn(8, ':').take(7).collect::<Vec<_>>().join(":");
    !a.is_empty() && base(a) == base(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_is_itself_whatever_its_qualifier() {
        let f = "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user";
        assert!(same_function(f, f));
        assert!(same_function(&format!("{f}:live"), f));
        assert!(same_function(f, &format!("{f}:7")));
        assert!(!same_function(
            f,
            "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user-2"
        ));
        assert!(!same_function(
            f,
            "arn:aws:lambda:us-east-1:999999999999:function:planton-iam-user"
        ));
        assert!(!same_function("", f));
    }
}
