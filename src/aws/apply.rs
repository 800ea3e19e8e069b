//! Executes a [`Plan`] against IAM and Secrets Manager: every step whose dependencies are
//! done runs at once, up to a bound on calls in flight (IAM throttles hard). The first
//! failure stops new steps from starting; steps already running finish, so the outcome
//! records exactly what was done.

use crate::aws::budget::Budget;
use crate::aws::keys::{self, SecretString};
use crate::aws::{observe, rotate, tags, Clients};
use crate::error::{is_not_found, Error, Result};
use crate::model::key_ledger;
use crate::model::plan::{Change, Plan, Store};
use crate::model::spec::KeyStatus;
use aws_sdk_iam::error::ProvideErrorMetadata;
use futures::stream::{FuturesUnordered, StreamExt};
use std::fmt;
use std::sync::Mutex;
use tokio::time::Instant;

/// What the plan did that the response or a compensation needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub user_arn: Option<String>,
    pub user_id: Option<String>,
    pub created_user: bool,
    pub secret_arn: Option<String>,
    pub secret_created: bool,
    pub key_issued: bool,
    /// The id of the key an IssueKey minted (for the owners' event; never the secret).
    pub new_key_id: Option<String>,
}

pub struct Executor<'a> {
    pub clients: &'a Clients,
    pub user: &'a str,
    /// Who the secret's description names, for a human browsing the console.
    pub stack_id: &'a str,
    budget: &'a Budget,
    outcome: Mutex<Outcome>,
    /// Names the new secret version of a `KeySerial` rotation; derived from the
    /// CloudFormation request, so a re-delivered request resumes the same rotation.
    rotation_token: String,
    /// This function's ARN: the rotator scheduled rotation names.
    function_arn: Option<String>,
    /// The previous key's grace period after a KeySerial rotation.
    rotation_grace: std::time::Duration,
}

impl<'a> Executor<'a> {
    pub fn new(clients: &'a Clients, user: &'a str, stack_id: &'a str, budget: &'a Budget) -> Self {
        Executor {
            clients,
            user,
            stack_id,
            budget,
            outcome: Mutex::new(Outcome::default()),
            rotation_token: String::new(),
            function_arn: None,
            rotation_grace: std::time::Duration::ZERO,
        }
    }

    /// The request-derived token and the function's own ARN, for key rotation.
    pub fn with_rotation(
        mut self,
        token: String,
        function_arn: Option<String>,
        grace: std::time::Duration,
    ) -> Self {
        self.rotation_token = token;
        self.function_arn = function_arn;
        self.rotation_grace = grace;
        self
    }

    /// What was already there before the plan ran (user ARN, secret ARN).
    pub fn set_known(&self, known: Outcome) {
        self.record(|o| {
            o.user_arn = o.user_arn.take().or(known.user_arn);
            o.user_id = o.user_id.take().or(known.user_id);
            o.secret_arn = o.secret_arn.take().or(known.secret_arn);
        });
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn record(&self, f: impl FnOnce(&mut Outcome)) {
        if let Ok(mut o) = self.outcome.lock() {
            f(&mut o);
        }
    }

    pub async fn run(&self, plan: &Plan) -> Result<()> {
        let n = plan.steps.len();
        let limit = self.budget.max_in_flight.max(1);
        let progress = &self.budget.progress;
        let mut done = vec![false; n];
        let mut started = vec![false; n];
        let mut running = FuturesUnordered::new();
        let mut failure: Option<Error> = None;
        loop {
            if failure.is_none() {
                for (i, step) in plan.steps.iter().enumerate() {
                    if running.len() >= limit {
                        break;
                    }
                    if started[i] || !step.after.iter().all(|&j| done[j]) {
                        continue;
                    }
                    let what = step.change.describe(self.user);
                    if self.budget.expired() {
                        // Out of time: start nothing new; what is in flight finishes.
                        failure = Some(Error::Timeout { step: what });
                        break;
                    }
                    started[i] = true;
                    progress.start(&what);
                    let change = &step.change;
                    running.push(async move {
                        let r = self.apply(change).await;
                        progress.finish(&what);
                        (i, r)
                    });
                }
            }
            // Wake at the deadline once, so the step that would start next is named.
            let next = match self.budget.stop_at {
                Some(at) if failure.is_none() && !self.budget.expired() => tokio::select! {
                    r = running.next() => r,
                    _ = tokio::time::sleep_until(at) => continue,
                },
                _ => running.next().await,
            };
            match next {
                None => break,
                Some((i, Ok(()))) => done[i] = true,
                Some((_, Err(e))) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None if done.iter().all(|d| *d) => Ok(()),
            None => Err(Error::Internal("ordering the planned changes".into())),
        }
    }

    async fn apply(&self, change: &Change) -> Result<()> {
        let iam = &self.clients.iam;
        let sm = &self.clients.sm;
        let user = self.user;
        let action = change.describe(user);
        match change {
            Change::CreateUser {
                path,
                boundary,
                tags,
            } => {
                let out = iam
                    .create_user()
                    .user_name(user)
                    .path(path)
                    .set_permissions_boundary(boundary.clone())
                    .set_tags(Some(tags::to_iam(tags)?))
                    .send()
                    .await
                    .map_err(|e| Error::aws(action, e))?;
                let u = out.user;
                self.record(|o| {
                    o.created_user = true;
                    o.user_arn = u.as_ref().map(|u| u.arn.clone());
                    o.user_id = u.as_ref().map(|u| u.user_id.clone());
                });
                Ok(())
            }
            Change::UpdatePath(path) => iam
                .update_user()
                .user_name(user)
                .new_path(path)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::PutBoundary(arn) => iam
                .put_user_permissions_boundary()
                .user_name(user)
                .permissions_boundary(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::DeleteBoundary => gone_ok(
                iam.delete_user_permissions_boundary()
                    .user_name(user)
                    .send()
                    .await,
                || action,
            ),
            Change::TagUser(tags) => iam
                .tag_user()
                .user_name(user)
                .set_tags(Some(tags::to_iam(tags)?))
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::UntagUser(keys) => gone_ok(
                iam.untag_user()
                    .user_name(user)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
                    .await,
                || action,
            ),
            Change::AttachPolicy(arn) => iam
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::DetachPolicy(arn) => gone_ok(
                iam.detach_user_policy()
                    .user_name(user)
                    .policy_arn(arn)
                    .send()
                    .await,
                || action,
            ),
            Change::PutInlinePolicy { name, document } => iam
                .put_user_policy()
                .user_name(user)
                .policy_name(name)
                .policy_document(document)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::DeleteInlinePolicy(name) => gone_ok(
                iam.delete_user_policy()
                    .user_name(user)
                    .policy_name(name)
                    .send()
                    .await,
                || action,
            ),
            Change::AddToGroup(group) => iam
                .add_user_to_group()
                .user_name(user)
                .group_name(group)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::RemoveFromGroup(group) => gone_ok(
                iam.remove_user_from_group()
                    .user_name(user)
                    .group_name(group)
                    .send()
                    .await,
                || action,
            ),
            Change::SetKeyStatus { key_id, status } => {
                keys::set_key_status(iam, user, key_id, *status).await
            }
            Change::DeleteKey(key_id) => keys::delete_key(iam, user, key_id, "").await,
            Change::IssueKey { status, store } => self.issue_key(*status, store).await,
            Change::RotateKey { secret_id, status } => self.rotate_key(secret_id, *status).await,
            Change::ConfigureRotation { secret_id, days } => {
                let Some(function) = self.function_arn.as_deref() else {
                    return Err(Error::Internal(format!(
                        "{action}: the function's own ARN is unknown"
                    )));
                };
                sm.rotate_secret()
                    .secret_id(secret_id)
                    .rotation_lambda_arn(function)
                    .rotation_rules(
                        aws_sdk_secretsmanager::types::RotationRulesType::builder()
                            .automatically_after_days(i64::from(*days))
                            .build(),
                    )
                    // Turning the schedule on must not rotate the key now: the first
                    // rotation comes after `days`.
                    .rotate_immediately(false)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| Error::aws(action, e))
            }
            Change::CancelRotation { secret_id } => sm
                .cancel_rotate_secret()
                .secret_id(secret_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::RecordKeyIds {
                secret_id,
                key_versions,
                grace_hours,
            } => {
                self.record_in_description(secret_id, key_versions, *grace_hours)
                    .await
            }
            Change::TagSecret { secret_id, tags } => sm
                .tag_resource()
                .secret_id(secret_id)
                .set_tags(Some(tags::to_sm(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::UntagSecret { secret_id, keys } => sm
                .untag_resource()
                .secret_id(secret_id)
                .set_tag_keys(Some(keys.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::SetSecretKms {
                secret_id,
                kms_key_id,
            } => sm
                .update_secret()
                .secret_id(secret_id)
                .kms_key_id(kms_key_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| Error::aws(action, e)),
            Change::DeleteSecret(secret_id) => {
                // No recovery window: the key the secret held is deleted in the same
                // operation, and a pending deletion would block re-creating the name.
                match sm
                    .delete_secret()
                    .secret_id(secret_id)
                    .force_delete_without_recovery(true)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if is_not_found(e.code()) => Ok(()),
                    Err(e) => Err(Error::aws(action, e)),
                }
            }
            Change::DeleteLoginProfile => gone_ok(
                iam.delete_login_profile().user_name(user).send().await,
                || action,
            ),
            Change::DeactivateMfa(serial) => gone_ok(
                iam.deactivate_mfa_device()
                    .user_name(user)
                    .serial_number(serial)
                    .send()
                    .await,
                || action,
            ),
            Change::DeleteSigningCertificate(id) => gone_ok(
                iam.delete_signing_certificate()
                    .user_name(user)
                    .certificate_id(id)
                    .send()
                    .await,
                || action,
            ),
            Change::DeleteSshPublicKey(id) => gone_ok(
                iam.delete_ssh_public_key()
                    .user_name(user)
                    .ssh_public_key_id(id)
                    .send()
                    .await,
                || action,
            ),
            Change::DeleteServiceCredential(id) => gone_ok(
                iam.delete_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(id)
                    .send()
                    .await,
                || action,
            ),
            Change::DeleteUser => {
                gone_ok(iam.delete_user().user_name(user).send().await, || action)
            }
        }
    }

    async fn issue_key(&self, status: KeyStatus, store: &Store) -> Result<()> {
        let user = self.user;
        let user_arn = self.outcome().user_arn.unwrap_or_default();
        let keys::Minted {
            id: key_id,
            value,
            created,
        } = keys::mint_key(self.clients, user, &user_arn).await?;
        let progress = &self.budget.progress;
        progress.hold_unstored_key(user, &key_id);
        let stored = self.store(store, &key_id, created, value).await;
        progress.release_unstored_key();
        match stored {
            Ok(arn) => {
                self.record(|o| {
                    o.secret_arn = Some(arn);
                    o.key_issued = true;
                    o.new_key_id = Some(key_id.clone());
                    o.secret_created |= matches!(store, Store::Create { .. });
                });
            }
            Err(e) => {
                // A key nobody holds is a live credential nobody can rotate or audit.
                if let Err(cleanup) = keys::delete_key(&self.clients.iam, user, &key_id, "").await {
                    tracing::error!(error = %cleanup, user, "could not delete the access key whose secret failed to store");
                }
                return Err(e);
            }
        }
        if status == KeyStatus::Inactive {
            keys::set_key_status(&self.clients.iam, user, &key_id, status).await?;
        }
        Ok(())
    }

    async fn rotate_key(&self, secret_id: &str, status: KeyStatus) -> Result<()> {
        let target = rotate::Target {
            secret_arn: secret_id.to_string(),
            user: self.user.to_string(),
            user_arn: self.outcome().user_arn.unwrap_or_default(),
        };
        // Testing the new key waits for IAM; never past the point where no new call
        // may start.
        let patience = Instant::now() + rotate::TEST_PATIENCE;
        let give_up_at = self.budget.stop_at.map_or(patience, |s| s.min(patience));
        rotate::rotate(
            self.clients,
            &target,
            &self.rotation_token,
            give_up_at,
            self.rotation_grace,
        )
        .await?;
        self.record(|o| o.key_issued = true);
        if status == KeyStatus::Inactive {
            if let Some((_, id)) =
                observe::held_by_stage(self.clients, secret_id, observe::CURRENT).await?
            {
                keys::set_key_status(&self.clients.iam, self.user, &id, status).await?;
            }
        }
        Ok(())
    }

    /// Records the key ids and the grace period in the secret's description, merged
    /// with what it holds now: a key stored earlier in the same plan keeps its entry.
    async fn record_in_description(
        &self,
        secret_id: &str,
        key_versions: &[(String, String)],
        grace_hours: Option<u32>,
    ) -> Result<()> {
        let sm = &self.clients.sm;
        let action = || format!("recording the key ids in the description of secret {secret_id}");
        let desc = sm
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| Error::aws(action(), e))?;
        let description = desc.description().unwrap_or_default();
        let staged = desc.version_ids_to_stages();
        let mut entries = key_ledger::parse(description);
        entries.extend(key_versions.iter().cloned());
        let is_staged = |v: &str| staged.is_some_and(|m| m.contains_key(v));
        let keys = entries.iter().map(|(v, k)| (v.as_str(), k.as_str()));
        let recorded = key_ledger::render(description, keys, &is_staged, None);
        sm.update_secret()
            .secret_id(secret_id)
            .description(key_ledger::with_grace(&recorded, grace_hours))
            .send()
            .await
            .map(drop)
            .map_err(|e| Error::aws(action(), e))
    }

    /// Stores a new key. The secret's description records which key the new version
    /// holds before the value lands (the scheduled audit and grace sweep read only that
    /// record), so a stored key is never unrecorded; an entry whose value never landed
    /// names no staged version and is dropped at the next write.
    async fn store(
        &self,
        store: &Store,
        key_id: &str,
        created: Option<u64>,
        value: SecretString,
    ) -> Result<String> {
        let sm = &self.clients.sm;
        let version = key_ledger::version_for_key(key_id);
        // The new key's creation time beside its id: how the audit recognises it in
        // the credential report.
        let dated = |d: String| match created {
            Some(t) => key_ledger::with_created(&d, key_id, t),
            None => d,
        };
        match store {
            Store::Create {
                name,
                kms_key_id,
                tags,
                grace_hours,
            } => {
                let sentence = format!(
                    "Access key of IAM user {} (Custom::PlantonIamUser in {})",
                    self.user, self.stack_id
                );
                let entry = [(version.as_str(), key_id)];
                let recorded = dated(key_ledger::render(&sentence, entry, &|_| true, None));
                let out = sm
                    .create_secret()
                    .name(name)
                    .client_request_token(&version)
                    .description(key_ledger::with_grace(&recorded, *grace_hours))
                    .set_kms_key_id(kms_key_id.clone())
                    .secret_string(value.into_inner())
                    .set_tags(Some(tags::to_sm(tags)))
                    .send()
                    .await
                    .map_err(|e| Error::aws(format!("creating secret {name}"), e))?;
                Ok(out.arn().unwrap_or(name).to_string())
            }
            Store::Put {
                secret_id,
                restore,
                description,
                key_versions,
            } => {
                if *restore {
                    sm.restore_secret()
                        .secret_id(secret_id)
                        .send()
                        .await
                        .map_err(|e| Error::aws(format!("restoring secret {secret_id}"), e))?;
                }
                let entries = key_versions
                    .iter()
                    .map(|(v, k)| (v.as_str(), k.as_str()))
                    .chain([(version.as_str(), key_id)]);
                let recorded = dated(key_ledger::render(description, entries, &|_| true, None));
                sm.update_secret()
                    .secret_id(secret_id)
                    .description(recorded)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws(
                            format!(
                                "recording the new key id in the description of secret {secret_id}"
                            ),
                            e,
                        )
                    })?;
                let out = sm
                    .put_secret_value()
                    .secret_id(secret_id)
                    .client_request_token(&version)
                    .secret_string(value.into_inner())
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws(
                            format!("storing the new access key in secret {secret_id}"),
                            e,
                        )
                    })?;
                Ok(out.arn().unwrap_or(secret_id).to_string())
            }
        }
    }
}

/// Cleanup steps: "not there" is success.
fn gone_ok<T, E, R>(
    r: std::result::Result<T, aws_sdk_iam::error::SdkError<E, R>>,
    action: impl FnOnce() -> String,
) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(e.code()) => Ok(()),
        Err(e) => Err(Error::aws(action(), e)),
    }
}

#[cfg(test)]
mod tests;
