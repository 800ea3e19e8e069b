//! The rotation steps over one secret and its user: createSecret, testSecret and
//! finishSecret, each idempotent (a retried step finds its own work done), and
//! [`rotate`], all of them in one go for a raised `KeySerial`. Both callers, Secrets
//! Manager's protocol (the rotation caller) and the executor, leave the same end state:
//!
//! - AWSCURRENT holds a new, active key that was proven to work before it became
//!   current;
//! - AWSPREVIOUS holds the old key, still active for the grace period
//!   (`PLANTON_ROTATION_GRACE_HOURS`), after which the grace sweep, the next stack
//!   Update or the next rotation deactivates it; with no grace it is deactivated here;
//! - AWSPENDING is left on no version but the current one; the user has at most two keys.

use crate::aws::keys::{self, SecretString};
use crate::aws::observe::{held_by_stage, CURRENT, PENDING, PREVIOUS};
use crate::aws::Clients;
use crate::error::{is_not_found, Error, Result};
use crate::model::key_ledger;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long testSecret keeps trying a brand-new key: IAM needs a few seconds before a
/// new key is accepted everywhere. Secrets Manager retries a failed step later anyway.
pub const TEST_PATIENCE: Duration = Duration::from_secs(30);

/// The secret, the user it was written for, and that user's ARN: established once per
/// step, after checking the secret and the user both belong to this function.
#[derive(Debug, Clone)]
pub struct Target {
    pub secret_arn: String,
    pub user: String,
    pub user_arn: String,
}

/// What DescribeSecret said of the secret when the step began: its description (the key
/// record) and which version carries which stage. Each caller has read it already (the
/// rotation step to check the secret, a KeySerial rotation to see whether it is done), so
/// the steps do not read it again.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub description: String,
    pub stages: HashMap<String, Vec<String>>,
}

impl Seen {
    pub fn of(desc: &DescribeSecretOutput) -> Seen {
        Seen {
            description: desc.description().unwrap_or_default().to_string(),
            stages: desc.version_ids_to_stages().cloned().unwrap_or_default(),
        }
    }

    /// The version carrying `stage`, if any.
    fn holding(&self, stage: &str) -> Option<String> {
        self.stages
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(v, _)| v.clone())
    }
}

async fn describe(c: &Clients, secret: &str) -> Result<Seen> {
    c.sm.describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map(|d| Seen::of(&d))
        .map_err(|e| Error::aws(format!("reading secret {secret}"), e))
}

/// Rotates the key the way a scheduled rotation does, all steps in one go: for a raised
/// `KeySerial`. `token` names the new version, so a re-delivered request resumes the
/// same rotation instead of starting another.
pub async fn rotate(
    c: &Clients,
    target: &Target,
    token: &str,
    give_up_at: Instant,
    grace: Duration,
) -> Result<()> {
    // A re-delivered request whose rotation already finished (it failed afterwards, say
    // before the new serial was recorded) must not rotate a second time: createSecret
    // would find no pending value, delete the grace key and mint another.
    let seen = describe(c, &target.secret_arn).await?;
    let done = seen
        .stages
        .get(token)
        .is_some_and(|s| s.iter().any(|s| s == CURRENT));
    if done {
        tracing::info!(token, "rotation already finished; nothing to do");
        return Ok(());
    }
    create(c, target, token, &seen).await?;
    test(c, target, token, give_up_at).await?;
    // createSecret changed the stages: finishSecret reads them afresh.
    let now = describe(c, &target.secret_arn).await?;
    finish(c, target, token, grace, &now).await.map(drop)
}

/// createSecret: a new key, stored as version `token` with stage AWSPENDING. If that
/// version already holds a key, a previous attempt of this step finished: nothing to do.
pub async fn create(c: &Clients, t: &Target, token: &str, seen: &Seen) -> Result<()> {
    let user = t.user.as_str();
    if pending_value(c, t, token).await?.is_some() {
        tracing::info!(
            token,
            "createSecret: the pending version already holds a key"
        );
        return Ok(());
    }
    let secret = t.secret_arn.as_str();
    let (current, keys) = futures::try_join!(held_by_stage(c, secret, CURRENT), async {
        c.iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| Error::aws(format!("listing the access keys of user {user}"), e))
    })?;
    let keys: Vec<String> = keys
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id().map(str::to_string))
        .collect();
    let (current_version, current) = current.unzip();
    let Some(current) = current.filter(|id| keys.contains(id)) else {
        return Err(Error::Rotation(format!(
            "the AWSCURRENT version of secret {} holds no key of user {user}; a stack Update issues one",
            t.secret_arn
        )));
    };
    if keys.len() >= 2 {
        // The 2-key limit: make room by removing the key that is NOT current (last
        // rotation's grace key, or a key a crashed rotation left behind). Never the
        // current one.
        for id in keys.iter().filter(|id| **id != current) {
            keys::delete_key(&c.iam, user, id, " to make room for the new one").await?;
        }
    }
    let keys::Minted {
        id: key_id,
        value,
        created,
    } = keys::mint_key(c, user, &t.user_arn).await?;
    // The record first (the audit and grace sweep read only it): the current version's
    // key, which a secret written before the record existed may lack, and the new one.
    let description = seen.description.as_str();
    let mut entries = key_ledger::parse(description);
    entries.extend(current_version.map(|v| (v, current.clone())));
    let entries = entries
        .iter()
        .map(|(v, k)| (v.as_str(), k.as_str()))
        .chain([(token, key_id.as_str())]);
    let is_staged = |v: &str| seen.stages.contains_key(v);
    let recorded = key_ledger::render(description, entries, &is_staged, Some(token));
    // Its creation time beside its id: how the audit recognises it in the credential
    // report.
    let recorded = match created {
        Some(t) => key_ledger::with_created(&recorded, &key_id, t),
        None => recorded,
    };
    let stored = async {
        c.sm.update_secret()
            .secret_id(secret)
            .description(recorded)
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("recording the new key id in the description of secret {secret}"),
                    e,
                )
            })?;
        c.sm.put_secret_value()
            .secret_id(secret)
            .client_request_token(token)
            .secret_string(value.into_inner())
            .version_stages(PENDING)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                Error::aws(
                    format!(
                        "storing the new access key of user {user} as the pending version of secret {secret}"
                    ),
                    e,
                )
            })
    }
    .await;
    if let Err(e) = stored {
        // A key nobody holds is a live credential nobody can rotate or audit.
        if let Err(cleanup) = keys::delete_key(&c.iam, user, &key_id, "").await {
            tracing::error!(error = %cleanup, user, "could not delete the access key whose secret failed to store");
        }
        return Err(e);
    }
    tracing::info!(user, token, "createSecret: new key stored as AWSPENDING");
    Ok(())
}

/// testSecret: signs a request with the pending key. IAM is eventually consistent, so
/// a brand-new key is retried with backoff until `give_up_at`.
pub async fn test(c: &Clients, t: &Target, token: &str, give_up_at: Instant) -> Result<()> {
    let Some(creds) = pending_value(c, t, token).await? else {
        return Err(Error::Rotation(format!(
            "version {token} of secret {} holds no key to test",
            t.secret_arn
        )));
    };
    let config = c
        .sts
        .to_builder()
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            &creds.key_id,
            creds.secret.expose(),
            None,
            None,
            "planton-rotation-test",
        ))
        .build();
    let sts = aws_sdk_sts::Client::from_conf(config);
    let mut wait = Duration::from_millis(250);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match sts.get_caller_identity().send().await {
            Ok(who) => {
                let arn = who.arn().unwrap_or_default();
                if arn != t.user_arn {
                    return Err(Error::Rotation(format!(
                        "the pending key authenticates as {arn}, not as user {}",
                        t.user_arn
                    )));
                }
                tracing::info!(user = %t.user, attempts, "testSecret: the pending key works");
                return Ok(());
            }
            Err(e) => {
                let code = e.code().unwrap_or("Unknown").to_string();
                let not_yet = matches!(
                    code.as_str(),
                    "InvalidClientTokenId" | "SignatureDoesNotMatch" | "AccessDenied"
                );
                if !not_yet || Instant::now() + wait > give_up_at {
                    return Err(Error::aws(
                        format!(
                            "testing the pending key of user {} with STS GetCallerIdentity ({attempts} attempts)",
                            t.user
                        ),
                        e,
                    ));
                }
                tracing::info!(code, attempts, "testSecret: key not accepted yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(4));
            }
        }
    }
}

/// finishSecret: AWSCURRENT moves to the new version (Secrets Manager moves
/// AWSPREVIOUS to the old one) and AWSPENDING comes off. The previous key stays active
/// for its grace period (the grace sweep, the next stack Update or the next rotation
/// deactivates it then); only with no grace period is it deactivated here. Each part
/// checks before it acts, so a retry completes what is left.
/// Returns the previous key's id when it deactivated it here (no grace period).
pub async fn finish(
    c: &Clients,
    t: &Target,
    token: &str,
    grace: Duration,
    seen: &Seen,
) -> Result<Option<String>> {
    let sm = &c.sm;
    let secret = t.secret_arn.as_str();
    let Some(on_token) = seen.stages.get(token) else {
        return Err(Error::Rotation(format!(
            "secret {secret} has no version {token} to make current"
        )));
    };
    if !on_token.iter().any(|s| s == CURRENT) {
        sm.update_secret_version_stage()
            .secret_id(secret)
            .version_stage(CURRENT)
            .move_to_version_id(token)
            .set_remove_from_version_id(seen.holding(CURRENT))
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("making version {token} of secret {secret} AWSCURRENT"),
                    e,
                )
            })?;
    }
    if on_token.iter().any(|s| s == PENDING) {
        sm.update_secret_version_stage()
            .secret_id(secret)
            .version_stage(PENDING)
            .remove_from_version_id(token)
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("removing AWSPENDING from version {token} of secret {secret}"),
                    e,
                )
            })?;
    }
    if !grace.is_zero() {
        // Clients that read the old value keep working until the grace ends; the next
        // stack Update, the hourly grace sweep or the next rotation deactivates it then.
        tracing::info!(
            user = %t.user,
            grace_hours = grace.as_secs() / 3600,
            "finishSecret: the new key is current; the previous key keeps working for its grace period"
        );
        return Ok(None);
    }
    let (current, previous) = futures::try_join!(
        held_by_stage(c, secret, CURRENT),
        held_by_stage(c, secret, PREVIOUS)
    )?;
    let (current, previous) = (current.map(|(_, k)| k), previous.map(|(_, k)| k));
    if let Some(old) = previous.filter(|p| Some(p) != current.as_ref()) {
        // Already removed (by hand, or a later createSecret): nothing to deactivate.
        let deactivated =
            keys::deactivate_key(&c.iam, &t.user, &old, "the previous access key").await?;
        tracing::info!(user = %t.user, "finishSecret: previous key deactivated (no grace period)");
        return Ok(deactivated.then_some(old));
    }
    Ok(None)
}

struct Pending {
    key_id: String,
    secret: SecretString,
}

/// The key stored as version `token` with stage AWSPENDING, if that version holds one.
async fn pending_value(c: &Clients, t: &Target, token: &str) -> Result<Option<Pending>> {
    match c
        .sm
        .get_secret_value()
        .secret_id(&t.secret_arn)
        .version_id(token)
        .version_stage(PENDING)
        .send()
        .await
    {
        Ok(out) => {
            let Some(v) = out
                .secret_string()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
            else {
                return Ok(None);
            };
            match (v["AccessKeyId"].as_str(), v["SecretAccessKey"].as_str()) {
                (Some(id), Some(secret)) => Ok(Some(Pending {
                    key_id: id.to_string(),
                    secret: SecretString::new(secret.to_string()),
                })),
                _ => Ok(None),
            }
        }
        Err(e) if is_not_found(e.code()) => Ok(None),
        Err(e) => Err(Error::aws(
            format!(
                "reading the pending version {token} of secret {}",
                t.secret_arn
            ),
            e,
        )),
    }
}

#[cfg(test)]
mod tests;
