//! Reads what a policy grants, for the judgement before any write: a managed policy's
//! default version, and a group's attached and inline policies. IAM returns documents
//! URL-encoded; they come back parsed (or, unreadable, as a JSON string the judgement
//! refuses).

use crate::aws::observe::parse_document;
use crate::aws::Clients;
use crate::error::{Error, Result};
use serde_json::Value;

/// How long a warm process trusts an AWS managed policy's document it read: AWS
/// publishes new versions of its own policies rarely, and never on a customer's
/// request. A customer managed policy is read every time: anyone with
/// iam:CreatePolicyVersion can change it between two requests.
pub const AWS_MANAGED_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Documents of AWS managed policies a warm process read, with when.
#[derive(Debug, Clone, Default)]
pub struct AwsManagedDocuments(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Value)>>,
    >,
);

impl AwsManagedDocuments {
    fn get(&self, arn: &str) -> Option<Value> {
        let cache = self.0.lock().ok()?;
        let (at, doc) = cache.get(arn)?;
        (at.elapsed() < AWS_MANAGED_TTL).then(|| doc.clone())
    }

    fn put(&self, arn: &str, doc: &Value) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(arn.to_string(), (std::time::Instant::now(), doc.clone()));
        }
    }
}

/// AWS's own policies: `arn:<partition>:iam::aws:policy/...`.
fn is_aws_managed(arn: &str) -> bool {
    arn.split(':').nth(4) == Some("aws") && arn.contains(":policy/")
}

/// The document of a managed policy's default version: GetPolicy, then
/// GetPolicyVersion, since only the first says which version is the default. An AWS
/// managed policy read within [`AWS_MANAGED_TTL`] by this process is not read again,
/// so a warm Create naming only AWS managed policies saves those two round trips.
pub async fn managed_document(c: &Clients, arn: &str) -> Result<Value> {
    let aws_managed = is_aws_managed(arn);
    if aws_managed {
        if let Some(doc) = c.aws_managed.get(arn) {
            return Ok(doc);
        }
    }
    let doc = read_managed_document(c, arn).await?;
    if aws_managed {
        c.aws_managed.put(arn, &doc);
    }
    Ok(doc)
}

async fn read_managed_document(c: &Clients, arn: &str) -> Result<Value> {
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

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn only_aws_managed_policies_are_kept_and_only_for_a_while() {
        assert!(is_aws_managed("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(is_aws_managed(
            "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaRole"
        ));
        assert!(!is_aws_managed("arn:aws:iam::123456789012:policy/aws"));
        assert!(!is_aws_managed(
            "arn:aws:iam::123456789012:policy/iam::aws:policy/x"
        ));
        let cache = AwsManagedDocuments::default();
        let doc = serde_json::json!({"Version": "2012-10-17"});
        cache.put("arn:aws:iam::aws:policy/A", &doc);
        assert_eq!(cache.get("arn:aws:iam::aws:policy/A"), Some(doc.clone()));
        assert_eq!(cache.get("arn:aws:iam::aws:policy/B"), None);
        // Older than the TTL: read again.
        if let Some(old) = std::time::Instant::now().checked_sub(AWS_MANAGED_TTL) {
            cache
                .0
                .lock()
                .unwrap()
                .insert("arn:aws:iam::aws:policy/A".into(), (old, doc));
            assert_eq!(cache.get("arn:aws:iam::aws:policy/A"), None);
        }
    }
}
