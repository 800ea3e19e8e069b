//! Access keys: minted straight into a redacted value, deactivated, deleted. Each is
//! written once here, so "not found is fine" and the error's context are the same for
//! every caller (the executor, rotation, the grace sweep, the audit, the deadline guard).

use crate::aws::Clients;
use crate::error::{is_not_found, Error, Result};
use crate::model::inventory::{LastUse, Use};
use crate::model::spec::KeyStatus;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use std::fmt;

/// The secret value. Its Debug and Display never show the contents, so it cannot leak
/// through a log line or an error chain by accident.
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(s)
    }

    /// For the one call that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

pub fn credentials_json(key_id: &str, secret: &str, user: &str, user_arn: &str) -> SecretString {
    SecretString(
        serde_json::json!({
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "UserName": user,
            "UserArn": user_arn,
        })
        .to_string(),
    )
}

/// When key `key_id` was last used, in seconds since the epoch; `None` if never.
pub async fn last_used(iam: &aws_sdk_iam::Client, key_id: &str) -> Result<Option<u64>> {
    let out = iam
        .get_access_key_last_used()
        .access_key_id(key_id)
        .send()
        .await
        .map_err(|e| Error::aws("reading when an access key was last used", e))?;
    Ok(out
        .access_key_last_used()
        .and_then(|u| u.last_used_date())
        .map(|d| d.secs().max(0) as u64))
}

/// A key just made: its id, its value (redacted) and when IAM says it was created
/// (recorded beside the id in the secret's description: the audit tells the credential
/// report's key lines apart by it, as that report names no key id).
pub struct Minted {
    pub id: String,
    pub value: SecretString,
    /// Seconds since 1970; `None` when IAM's answer carried no CreateDate.
    pub created: Option<u64>,
}

/// When, where and with which service key `key_id` was last used, read from IAM now
/// (GetAccessKeyLastUsed): the audit's fresh look at one key before it writes anything
/// the credential report led it to, and its source for keys the report does not show.
/// `Use::Never` when IAM has no use on record; the region and service only with a date,
/// and never IAM's placeholder `N/A`.
pub async fn last_use(iam: &aws_sdk_iam::Client, key_id: &str) -> Result<Use> {
    let out = iam
        .get_access_key_last_used()
        .access_key_id(key_id)
        .send()
        .await
        .map_err(|e| Error::aws(format!("reading the last use of key {key_id}"), e))?;
    let used = out.access_key_last_used();
    let known = |s: &str| (!s.is_empty() && s != "N/A").then(|| s.to_string());
    Ok(
        match used
            .and_then(|u| u.last_used_date())
            .and_then(|d| u64::try_from(d.secs()).ok())
        {
            Some(at) => Use::At(LastUse {
                at,
                region: used.and_then(|u| known(u.region())),
                service: used.and_then(|u| known(u.service_name())),
            }),
            None => Use::Never,
        },
    )
}

/// CreateAccessKey, with the secret access key moved straight into the redacted secret
/// value: from here on it can only be stored, never printed.
pub async fn mint_key(clients: &Clients, user: &str, user_arn: &str) -> Result<Minted> {
    let created = clients
        .iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| Error::aws(format!("creating an access key for user {user}"), e))?;
    let Some(key) = created.access_key else {
        return Err(Error::Internal(format!(
            "reading the access key IAM created for user {user}"
        )));
    };
    let key_id = key.access_key_id().to_string();
    let value = credentials_json(&key_id, key.secret_access_key(), user, user_arn);
    let created = key.create_date().and_then(|d| u64::try_from(d.secs()).ok());
    Ok(Minted {
        id: key_id,
        value,
        created,
    })
}

/// Deletes an access key; one already gone is fine. `why` completes the error's context
/// ("deleting an access key of user u{why}").
pub async fn delete_key(
    iam: &aws_sdk_iam::Client,
    user: &str,
    key_id: &str,
    why: &str,
) -> Result<()> {
    match iam
        .delete_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(e.code()) => Ok(()),
        Err(e) => Err(Error::aws(
            format!("deleting an access key of user {user}{why}"),
            e,
        )),
    }
}

/// Sets a key the plan saw to `status`; the key must exist.
pub async fn set_key_status(
    iam: &aws_sdk_iam::Client,
    user: &str,
    key_id: &str,
    status: KeyStatus,
) -> Result<()> {
    iam.update_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .status(match status {
            KeyStatus::Active => StatusType::Active,
            KeyStatus::Inactive => StatusType::Inactive,
        })
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            Error::aws(
                format!(
                    "setting the access key of user {user} to {}",
                    status.as_str()
                ),
                e,
            )
        })
}

/// Makes a key Inactive; `Ok(false)` when it is already gone (deleted by hand or by a
/// later rotation), so there was nothing to deactivate. `what` names the key in the
/// error's context ("the previous access key", "idle key AKIA...").
pub async fn deactivate_key(
    iam: &aws_sdk_iam::Client,
    user: &str,
    key_id: &str,
    what: &str,
) -> Result<bool> {
    match iam
        .update_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .status(StatusType::Inactive)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(e.code()) => Ok(false),
        Err(e) => Err(Error::aws(format!("deactivating {what} of user {user}"), e)),
    }
}

#[cfg(test)]
mod tests;
