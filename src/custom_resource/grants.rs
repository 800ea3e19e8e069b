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
//!
//! Every document is judged for this user ([`Holder`]): a grant on its own ARN, on a
//! group it joins or on a policy it would hold (its groups' included) counts as a grant
//! on a wildcard, so the documents are read first and judged once all of it is known.

use crate::aws::policies::{group_policies, managed_document, GroupPolicies};
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::model::grants::{held, refusals, union_refusals, GroupGrants};
use crate::model::guardrails::{escalation_in, holder_of, Guardrails};
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
    let (mut documents, groups) = futures::join!(
        read_managed(c, wanted, limit),
        read_groups(c, spec.groups.clone(), limit)
    );
    let attached = groups
        .iter()
        .filter_map(|(_, g)| g.as_ref().ok())
        .flat_map(|g| g.attached.iter());
    let more: BTreeSet<String> = attached
        .clone()
        .filter(|a| !guardrails.trusts(a) && !documents.contains_key(a.as_str()))
        .cloned()
        .collect();
    documents.extend(read_managed(c, more, limit).await);
    let mut holder = holder_of(spec);
    holder.policy_arns.extend(attached.cloned());
    let scope = &guardrails.scope;
    let verdicts: BTreeMap<String, Option<String>> = documents
        .iter()
        .map(|(arn, doc)| {
            let verdict = match doc {
                Ok(doc) => escalation_in(doc, scope, &holder),
                Err(why) => Some(why.clone()),
            };
            (arn.clone(), verdict)
        })
        .collect();
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
    let mut out = refusals(spec, props, &verdicts, &groups, scope, &holder);
    let read = |arn: &str| documents.get(arn).and_then(|d| d.as_ref().ok());
    out.extend(union_refusals(&held(spec, props, read, &groups), scope));
    out
}

/// Each managed policy's default document, or why it could not be read (a reason to
/// refuse it). The streams own what they carry: futures borrowing from the caller's
/// collections would not be `Send` for every lifetime, and a request's future must be.
async fn read_managed(
    c: &Clients,
    arns: BTreeSet<String>,
    limit: usize,
) -> BTreeMap<String, std::result::Result<serde_json::Value, String>> {
    futures::stream::iter(arns)
        .map(|arn| async move {
            let doc = managed_document(c, &arn).await.map_err(|e| unreadable(&e));
            (arn, doc)
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
