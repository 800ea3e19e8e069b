//! Reads what a policy grants, for the judgement before any write: a managed policy's
//! default version, and a group's attached and inline policies. IAM returns documents
//! URL-encoded; they come back parsed (or, unreadable, as a JSON string the judgement
//! refuses).

use crate::aws::observe::parse_document;
use crate::aws::Clients;
use crate::error::{Error, Result};
use serde_json::Value;

/// The document of a managed policy's default version: GetPolicy, then
/// GetPolicyVersion, since only the first says which version is the default.
pub async fn managed_document(c: &Clients, arn: &str) -> Result<Value> {
    let policy = c
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws(format!("reading managed policy {arn}"), e))?;
    let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
        return Err(Error::Internal(format!(
            "reading the default version of managed policy {arn}"
        )));
    };
    let got = c
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("reading version {version} of managed policy {arn}"),
                e,
            )
        })?;
    let raw = got
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or_default();
    Ok(parse_document(raw))
}

/// What a group gives its members: its attached managed policies' ARNs and its inline
/// policies' documents.
#[derive(Debug, Default, Clone)]
pub struct GroupPolicies {
    pub attached: Vec<String>,
    pub inline: Vec<(String, Value)>,
}

pub async fn group_policies(c: &Clients, group: &str) -> Result<GroupPolicies> {
    let attached = async {
        let mut pages = c
            .iam
            .list_attached_group_policies()
            .group_name(group)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                Error::aws(format!("listing the policies attached to group {group}"), e)
            })?;
            arns.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string)),
            );
        }
        Ok::<_, Error>(arns)
    };
    let inline_names = async {
        let mut pages = c
            .iam
            .list_group_policies()
            .group_name(group)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                Error::aws(format!("listing the inline policies of group {group}"), e)
            })?;
            names.extend(page.policy_names().iter().cloned());
        }
        Ok::<_, Error>(names)
    };
    let (attached, names) = futures::try_join!(attached, inline_names)?;
    let inline = futures::future::try_join_all(names.into_iter().map(|name| async move {
        let got = c
            .iam
            .get_group_policy()
            .group_name(group)
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| Error::aws(format!("reading inline policy {name} of group {group}"), e))?;
        let doc = parse_document(got.policy_document());
        Ok::<_, Error>((name, doc))
    }))
    .await?;
    Ok(GroupPolicies { attached, inline })
}
