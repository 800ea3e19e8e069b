//! Reads the current state from IAM and Secrets Manager. Every read of one observation
//! runs concurrently: the observation costs one round trip (two when inline policy
//! documents must be fetched), whatever the number of policies, groups or keys.

use crate::aws::{tags, Clients};
use crate::error::{is_not_found, Error, Result};
use crate::model::key_ledger;
use crate::model::state::{Extras, ObservedKey, ObservedRotation, ObservedSecret, ObservedUser};
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use futures::future::{try_join_all, OptionFuture};
use serde_json::Value;
use std::collections::BTreeMap;

/// How much of the user to read: Create/Update need policy documents to compare; Delete
/// needs every credential type that blocks DeleteUser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Converge,
    Delete,
}

/// What the caller expects to find. The answer decides the read strategy: a thing that
/// most likely exists is read with every call at once (one round trip); one that most
/// likely does not (a Create) is probed first, so a new user costs one GetUser instead
/// of a handful of list calls that can only answer "no such user".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Exists,
    Absent,
}

/// `None` when the user does not exist.
pub async fn user(
    c: &Clients,
    name: &str,
    depth: Depth,
    expect: Expect,
) -> Result<Option<ObservedUser>> {
    let iam = &c.iam;
    let reading = |what: &str| format!("reading {what} of user {name}");

    let get = async {
        match iam.get_user().user_name(name).send().await {
            Ok(out) => Ok(out.user),
            Err(e) if is_not_found(e.code()) => Ok(None),
            Err(e) => Err(Error::aws(format!("reading user {name}"), e)),
        }
    };
    let managed = async {
        iam.list_attached_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|v| {
                v.into_iter()
                    .filter_map(|p| p.policy_arn)
                    .collect::<std::collections::BTreeSet<_>>()
            })
            .or_else(|e| missing_ok(e, reading("managed policies")))
    };
    let inline_names = async {
        iam.list_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_else(|e| missing_ok(e, reading("inline policies")))
    };
    let groups = async {
        iam.list_groups_for_user()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|v| v.into_iter().map(|g| g.group_name).collect::<Vec<_>>())
            .or_else(|e| missing_ok(e, reading("groups")))
    };
    let keys = async {
        iam.list_access_keys()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|v| {
                v.into_iter()
                    .filter_map(|k| {
                        Some(ObservedKey {
                            active: k.status() == Some(&StatusType::Active),
                            created: k.create_date().and_then(|d| u64::try_from(d.secs()).ok()),
                            id: k.access_key_id?,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .or_else(|e| missing_ok(e, reading("access keys")))
    };
    let extras: OptionFuture<_> = (depth == Depth::Delete).then(|| extras(c, name)).into();

    let lists = async {
        futures::try_join!(managed, inline_names, groups, keys, async {
            extras.await.transpose()
        })
    };
    let (user, (managed, inline_names, groups, keys, extras)) = match expect {
        Expect::Exists => futures::try_join!(get, lists)?,
        Expect::Absent => match get.await? {
            None => return Ok(None),
            found => (found, lists.await?),
        },
    };
    let Some(user) = user else {
        return Ok(None);
    };

    let inline = match depth {
        Depth::Delete => inline_names
            .into_iter()
            .map(|n| (n, Value::Null))
            .collect::<BTreeMap<_, _>>(),
        Depth::Converge => try_join_all(inline_names.into_iter().map(|policy| async move {
            let out = iam
                .get_user_policy()
                .user_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| {
                    Error::aws(format!("reading inline policy {policy} of user {name}"), e)
                })?;
            Ok::<_, Error>((policy, parse_document(out.policy_document())))
        }))
        .await?
        .into_iter()
        .collect(),
    };

    Ok(Some(ObservedUser {
        name: user.user_name.clone(),
        arn: user.arn.clone(),
        user_id: user.user_id.clone(),
        path: user.path.clone(),
        boundary: user
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        tags: tags::from_iam(user.tags()),
        managed,
        inline,
        groups,
        keys,
        extras: extras.unwrap_or_default(),
    }))
}

async fn extras(c: &Clients, name: &str) -> Result<Extras> {
    let iam = &c.iam;
    let reading = |what: &str| format!("reading {what} of user {name}");
    let login = async {
        match iam.get_login_profile().user_name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(e.code()) => Ok(false),
            Err(e) => Err(Error::aws(reading("login profile"), e)),
        }
    };
    let mfa = async {
        iam.list_mfa_devices()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|v| v.into_iter().map(|d| d.serial_number).collect())
            .or_else(|e| missing_ok(e, reading("MFA devices")))
    };
    let certs = async {
        iam.list_signing_certificates()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|v| v.into_iter().map(|c| c.certificate_id).collect())
            .or_else(|e| missing_ok(e, reading("signing certificates")))
    };
    let ssh = async {
        iam.list_ssh_public_keys()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|v| v.into_iter().map(|k| k.ssh_public_key_id).collect())
            .or_else(|e| missing_ok(e, reading("SSH public keys")))
    };
    let creds = async {
        match iam
            .list_service_specific_credentials()
            .user_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .service_specific_credentials()
                .iter()
                .map(|c| c.service_specific_credential_id().to_string())
                .collect()),
            Err(e) if is_not_found(e.code()) => Ok(Vec::new()),
            Err(e) => Err(Error::aws(reading("service-specific credentials"), e)),
        }
    };
    let (login_profile, mfa_devices, signing_certificates, ssh_public_keys, service_credentials) =
        futures::try_join!(login, mfa, certs, ssh, creds)?;
    Ok(Extras {
        login_profile,
        mfa_devices,
        signing_certificates,
        ssh_public_keys,
        service_credentials,
    })
}

/// A list call on a user that does not exist answers NoSuchEntity; GetUser, run
/// alongside, reports the absence, so the list is simply empty.
fn missing_ok<T: Default, E>(e: E, action: String) -> Result<T>
where
    E: Into<ListError>,
{
    let e: ListError = e.into();
    if is_not_found(e.code.as_deref()) {
        Ok(T::default())
    } else {
        Err(Error::Aws {
            action,
            code: e.code.unwrap_or_else(|| "Unknown".into()),
            message: e.message,
        })
    }
}

/// The code and message of a paginator's error, whatever its operation.
pub struct ListError {
    code: Option<String>,
    message: String,
}

impl<E, R> From<aws_sdk_iam::error::SdkError<E, R>> for ListError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(e: aws_sdk_iam::error::SdkError<E, R>) -> Self {
        let (_, message) = crate::error::code_and_message(&e);
        ListError {
            code: e.code().map(str::to_string),
            message,
        }
    }
}

/// IAM returns documents URL-encoded; accept a plain document too.
pub fn parse_document(raw: &str) -> Value {
    serde_json::from_str(raw)
        .or_else(|_| serde_json::from_str(&percent_decode(raw)))
        .unwrap_or(Value::String(raw.to_string()))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How a secret's keys are learnt. The custom-resource and rotation paths read the
/// values themselves (the truth, and what a record written before is checked against);
/// the scheduled audit and grace sweep read only the record the function keeps in the
/// description, so their role holds no `secretsmanager:GetSecretValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    FromValues,
    FromRecord,
}

/// `None` when the secret does not exist. With [`Keys::FromValues`] the values are read
/// only to learn which key each staged version holds; the secret access keys are
/// dropped at once.
pub async fn secret(
    c: &Clients,
    name: &str,
    expect: Expect,
    keys: Keys,
) -> Result<Option<ObservedSecret>> {
    let sm = &c.sm;
    let describe = async {
        match sm.describe_secret().secret_id(name).send().await {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_not_found(e.code()) => Ok(None),
            Err(e) => Err(Error::aws(format!("reading secret {name}"), e)),
        }
    };
    let held = |stage: &'static str| async move {
        match keys {
            Keys::FromValues => held_by_stage(c, name, stage).await,
            Keys::FromRecord => Ok(None),
        }
    };
    let (desc, (current, previous, pending)) = match expect {
        Expect::Exists => futures::try_join!(describe, async {
            futures::try_join!(held(CURRENT), held(PREVIOUS), held(PENDING))
        })?,
        Expect::Absent => match describe.await? {
            None => return Ok(None),
            found => (
                found,
                futures::try_join!(held(CURRENT), held(PREVIOUS), held(PENDING))?,
            ),
        },
    };
    let Some(desc) = desc else {
        return Ok(None);
    };
    let rotation = (desc.rotation_enabled() == Some(true)).then(|| ObservedRotation {
        function_arn: desc.rotation_lambda_arn().unwrap_or_default().to_string(),
        days: desc
            .rotation_rules()
            .and_then(|r| r.automatically_after_days())
            .unwrap_or(0),
    });
    let description = desc.description().unwrap_or_default().to_string();
    let stages: BTreeMap<String, Vec<String>> = desc
        .version_ids_to_stages()
        .map(|m| m.iter().map(|(v, s)| (v.clone(), s.clone())).collect())
        .unwrap_or_default();
    let recorded = key_ledger::parse(&description);
    let (access_key_id, previous_key_id, pending_key_id, key_versions, key_ids_recorded) =
        match keys {
            Keys::FromValues => {
                let truth: BTreeMap<String, String> = [&current, &previous, &pending]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                let all_recorded = truth.iter().all(|(v, k)| recorded.get(v) == Some(k));
                let key = |h: Option<(String, String)>| h.map(|(_, k)| k);
                // A pending version that is also current is a finished rotation, not one
                // in flight.
                let pending = pending.filter(|p| Some(p) != current.as_ref());
                (
                    key(current),
                    key(previous),
                    key(pending),
                    truth,
                    all_recorded,
                )
            }
            Keys::FromRecord => {
                let k = key_ledger::stage_keys(&description, &stages);
                let staged = recorded
                    .into_iter()
                    .filter(|(v, _)| stages.contains_key(v))
                    .collect();
                (k.current, k.previous, k.pending, staged, k.complete)
            }
        };
    Ok(Some(ObservedSecret {
        name: desc.name().unwrap_or(name).to_string(),
        arn: desc.arn().unwrap_or(name).to_string(),
        tags: tags::from_sm(desc.tags()),
        kms_key_id: desc.kms_key_id().map(str::to_string),
        pending_deletion: desc.deleted_date().is_some(),
        pending_key_id,
        previous_key_id,
        access_key_id,
        rotation,
        key_versions,
        key_ids_recorded,
        grace_hours: key_ledger::parse_grace(&description),
        description,
    }))
}

pub use crate::model::key_ledger::{CURRENT, PENDING, PREVIOUS};

/// The version at `stage` and the access key id it holds, if it holds one.
pub async fn held_by_stage(
    c: &Clients,
    secret_id: &str,
    stage: &str,
) -> Result<Option<(String, String)>> {
    match c
        .sm
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .secret_string()
            .and_then(held_key_id)
            .map(|k| (out.version_id().unwrap_or_default().to_string(), k))),
        // Not found, scheduled for deletion, no such stage, or a version with no value
        // yet: no key.
        Err(e) if is_not_found(e.code()) || matches!(e.code(), Some("InvalidRequestException")) => {
            Ok(None)
        }
        Err(e) => Err(Error::aws(
            format!("reading the key id held by the {stage} version of secret {secret_id}"),
            e,
        )),
    }
}

pub fn held_key_id(secret_string: &str) -> Option<String> {
    let v: Value = serde_json::from_str(secret_string).ok()?;
    v.get("AccessKeyId")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_plain_or_url_encoded() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse_document(plain), parse_document(encoded));
        assert_eq!(parse_document(plain)["Version"], "2012-10-17");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn key_id_is_read_without_keeping_the_secret() {
        let s = r#"{"AccessKeyId":"AKIA1","SecretAccessKey":"s3cr3t","UserName":"u"}"#;
        assert_eq!(held_key_id(s).as_deref(), Some("AKIA1"));
        assert_eq!(held_key_id("not json"), None);
    }
}
