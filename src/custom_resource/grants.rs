//! Judges every policy the user would hold, before the first write of a Create or an
//! Update: each requested managed policy's default version (AWS managed ones too), and
//! each requested group's attached and inline policies. The template's own inline
//! documents are judged earlier, with the other guardrails, since they need no read.
//!
//! A grant is judged by what it allows, not by its name: a customer managed policy
//! called `ReadOnly` that grants `iam:*` is refused like `AdministratorAccess`. A policy
//! that cannot be read is refused too (fail closed): the function cannot vouch for what
//! it could not see. Only the operator can exempt a managed policy, by ARN
//! (`PLANTON_TRUSTED_POLICY_ARNS`).

use crate::aws::policies::{group_policies, managed_document, GroupPolicies};
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::model::grants::{refusals, GroupGrants};
use crate::model::guardrails::{escalation, Guardrails};
use crate::model::spec::UserSpec;
use crate::model::violation::Violation;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};

/// Every escalating grant among the policies `spec` asks for, each a [`Violation`]
/// naming where it comes from (`ManagedPolicyArns[i]`, `Groups[i]`, `i` as in the
/// template's `props`); reads run `max_in_flight` at a time. Managed policies shared by
/// the template and a group are read once.
pub async fn judge(
    c: &Clients,
    spec: &UserSpec,
    props: &serde_json::Value,
    guardrails: &Guardrails,
    max_in_flight: usize,
) -> Vec<Violation> {
    let limit = max_in_flight.max(1);
    let wanted: BTreeSet<String> = spec
        .managed_policy_arns
        .iter()
        .filter(|a| !guardrails.trusts(a))
        .cloned()
        .collect();
    // The template's policies and the groups' listings at once; then whatever the
    // groups attach that the template did not name.
    let (mut verdicts, groups) = futures::join!(
        judge_managed(c, wanted, limit),
        read_groups(c, spec.groups.clone(), limit)
    );
    let more: BTreeSet<String> = groups
        .iter()
        .filter_map(|(_, g)| g.as_ref().ok())
        .flat_map(|g| g.attached.iter())
        .filter(|a| !guardrails.trusts(a) && !verdicts.contains_key(a.as_str()))
        .cloned()
        .collect();
    verdicts.extend(judge_managed(c, more, limit).await);

    let groups: Vec<(String, std::result::Result<GroupGrants, String>)> = groups
        .into_iter()
        .map(|(name, listing)| {
            let listing = listing
                .map(|g| GroupGrants {
                    attached: g.attached,
                    inline: g.inline,
                })
                .map_err(|e| e.to_string());
            (name, listing)
        })
        .collect();
    refusals(spec, props, &verdicts, &groups)
}

/// Each managed policy's verdict: `None` when it grants no escalation, else why it is
/// refused (what it grants, or why it could not be read). The streams own what they
/// carry: futures borrowing from the caller's collections would not be `Send` for every
/// lifetime, and a request's future must be.
async fn judge_managed(
    c: &Clients,
    arns: BTreeSet<String>,
    limit: usize,
) -> BTreeMap<String, Option<String>> {
    futures::stream::iter(arns)
        .map(|arn| async move {
            let verdict = match managed_document(c, &arn).await {
                Ok(doc) => escalation(&doc),
                Err(e) => Some(unreadable(&e)),
            };
            (arn, verdict)
        })
        .buffer_unordered(limit)
        .collect()
        .await
}

async fn read_groups(
    c: &Clients,
    groups: Vec<String>,
    limit: usize,
) -> Vec<(String, Result<GroupPolicies>)> {
    let mut read: Vec<(usize, String, Result<GroupPolicies>)> =
        futures::stream::iter(groups.into_iter().enumerate())
            .map(|(i, g)| async move {
                let r = group_policies(c, &g).await;
                (i, g, r)
            })
            .buffer_unordered(limit)
            .collect()
            .await;
    read.sort_by_key(|(i, _, _)| *i);
    read.into_iter().map(|(_, g, r)| (g, r)).collect()
}

fn unreadable(e: &Error) -> String {
    format!("its document could not be read ({e}); a policy the function cannot read is refused")
}
