//! The account-wide reads the audit is built on, each in pages: every user (IAM
//! GetAccountAuthorizationDetails), every user's keys (the credential report) and every
//! managed secret (Secrets Manager ListSecrets). Their calls grow with pages, not with
//! users; the pure join is `model::inventory`. The three run at once: each is a chain
//! of pages (a page names the next), so together they take as long as the longest.

use crate::aws::observe::parse_document;
use crate::aws::{tags, Clients};
use crate::error::{Error, Result};
use crate::model::inventory::{self, AccountUser, CredentialReport, ListedSecret};
use crate::model::state::{ObservedUser, TAG_USER_NAME};
use aws_sdk_iam::types::{EntityType, ReportStateType};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// How many items each page asks for: IAM's and Secrets Manager's maxima (fewer pages,
/// fewer calls); the tests ask for small pages to prove the paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    /// GetAccountAuthorizationDetails `MaxItems`, 1-1000 (users, groups and policies
    /// together).
    pub account: i32,
    /// ListSecrets `MaxResults`, 1-100.
    pub secrets: i32,
}

impl Default for PageSizes {
    fn default() -> Self {
        PageSizes {
            account: 1000,
            secrets: 100,
        }
    }
}

/// What the three reads found, and what they cost.
#[derive(Debug, Default)]
pub struct Inventory {
    pub users: Vec<AccountUser>,
    /// Groups and customer managed policies GetAccountAuthorizationDetails listed
    /// beside the users (read as the filter asks; counted, not judged yet).
    pub groups: usize,
    pub local_policies: usize,
    pub report: CredentialReport,
    pub secrets: Vec<ListedSecret>,
    pub account_pages: u32,
    pub secret_pages: u32,
    /// GenerateCredentialReport calls until the report was ready, and GetCredentialReport
    /// calls.
    pub report_calls: u32,
}

/// Reads the three at once. `stop_at`: no page is asked for after it (the caller's
/// deadline margin); a read that cannot finish by then fails the audit, whose summary
/// would otherwise rest on part of the account.
pub async fn read(
    c: &Clients,
    pages: PageSizes,
    secret_name_prefix: &str,
    stop_at: Option<Instant>,
) -> Result<Inventory> {
    let (
        (users, groups, local_policies, account_pages),
        (report, report_calls),
        (secrets, secret_pages),
    ) = futures::try_join!(
        account_users(c, pages.account, stop_at),
        credential_report(c, stop_at),
        managed_secrets(c, pages.secrets, secret_name_prefix, stop_at),
    )?;
    Ok(Inventory {
        users,
        groups,
        local_policies,
        report,
        secrets,
        account_pages,
        secret_pages,
        report_calls,
    })
}

fn in_time(stop_at: Option<Instant>, step: &str) -> Result<()> {
    match stop_at {
        Some(s) if Instant::now() >= s => Err(Error::Timeout {
            step: step.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Every user of the account with its path, tags, policies (inline documents
/// included), groups and boundary: GetAccountAuthorizationDetails, Filter User, Group
/// and LocalManagedPolicy, `max_items` per page.
pub async fn account_users(
    c: &Clients,
    max_items: i32,
    stop_at: Option<Instant>,
) -> Result<(Vec<AccountUser>, usize, usize, u32)> {
    let mut users = Vec::new();
    let (mut groups, mut policies, mut pages) = (0, 0, 0u32);
    let mut marker: Option<String> = None;
    loop {
        in_time(
            stop_at,
            "reading the account's users (GetAccountAuthorizationDetails)",
        )?;
        let page = c
            .iam
            .get_account_authorization_details()
            .filter(EntityType::User)
            .filter(EntityType::Group)
            .filter(EntityType::LocalManagedPolicy)
            .max_items(max_items)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| Error::aws("reading the account's users and policies", e))?;
        pages += 1;
        groups += page.group_detail_list().len();
        policies += page.policies().len();
        users.extend(
            page.user_detail_list
                .unwrap_or_default()
                .into_iter()
                .map(account_user),
        );
        match page.marker {
            Some(m) if page.is_truncated && !m.is_empty() => marker = Some(m),
            _ => break,
        }
    }
    Ok((users, groups, policies, pages))
}

fn account_user(u: aws_sdk_iam::types::UserDetail) -> AccountUser {
    let inline = u
        .user_policy_list()
        .iter()
        .filter_map(|p| {
            Some((
                p.policy_name()?.to_string(),
                parse_document(p.policy_document().unwrap_or_default()),
            ))
        })
        .collect::<BTreeMap<_, _>>();
    AccountUser {
        created: u.create_date().and_then(|d| u64::try_from(d.secs()).ok()),
        user: ObservedUser {
            name: u.user_name().unwrap_or_default().to_string(),
            arn: u.arn().unwrap_or_default().to_string(),
            user_id: u.user_id().unwrap_or_default().to_string(),
            path: u.path().unwrap_or("/").to_string(),
            boundary: u
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string),
            tags: tags::from_iam(u.tags()),
            managed: u
                .attached_managed_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect(),
            inline,
            groups: u.group_list().to_vec(),
            keys: Vec::new(),
            extras: Default::default(),
        },
    }
}

/// At most this many GenerateCredentialReport calls (about five minutes of waiting at
/// [`report_backoff`]'s pace) when the caller sets no deadline: a report IAM never
/// finishes fails the audit instead of holding it forever.
const MAX_REPORT_POLLS: u32 = 150;

/// How long to wait between GenerateCredentialReport calls while IAM makes the report:
/// from a quarter second, doubling, at most 2 s.
fn report_backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(3)).min(2_000))
}

/// The account's credential report: GenerateCredentialReport until IAM says it is
/// complete (IAM hands out the last one again while it is younger than four hours),
/// then GetCredentialReport. Returns the report and the calls it took.
pub async fn credential_report(
    c: &Clients,
    stop_at: Option<Instant>,
) -> Result<(CredentialReport, u32)> {
    let mut calls = 0u32;
    let mut attempt = 0u32;
    loop {
        in_time(stop_at, "waiting for IAM's credential report")?;
        if attempt >= MAX_REPORT_POLLS {
            return Err(Error::Aws {
                action: "waiting for IAM's credential report".into(),
                code: "ReportInProgress".into(),
                message: format!(
                    "still not complete after {MAX_REPORT_POLLS} GenerateCredentialReport calls; the next run asks again"
                ),
            });
        }
        let state = c
            .iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| Error::aws("asking IAM for the credential report", e))?
            .state;
        calls += 1;
        if state == Some(ReportStateType::Complete) {
            in_time(stop_at, "reading IAM's credential report")?;
            calls += 1;
            match c.iam.get_credential_report().send().await {
                Ok(out) => {
                    let generated = out
                        .generated_time()
                        .and_then(|d| u64::try_from(d.secs()).ok())
                        .unwrap_or(0);
                    let content = out
                        .content()
                        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                        .unwrap_or_default();
                    return Ok((inventory::parse_report(&content, generated)?, calls));
                }
                // Made again, or expired, between the two calls: ask again.
                Err(e)
                    if e.as_service_error().is_some_and(|s| {
                        s.is_credential_report_not_ready_exception()
                            || s.is_credential_report_expired_exception()
                            || s.is_credential_report_not_present_exception()
                    }) => {}
                Err(e) => return Err(Error::aws("reading IAM's credential report", e)),
            }
        }
        tokio::time::sleep(report_backoff(attempt)).await;
        attempt += 1;
    }
}

/// Every secret tagged by this function (tag key `planton:user-name`), under
/// `name_prefix` when one is set, secrets scheduled for deletion included: ListSecrets,
/// `max_results` per page. A secret the listing does not hold is read on its own by the
/// caller (the filter is an optimisation, never a finding).
pub async fn managed_secrets(
    c: &Clients,
    max_results: i32,
    name_prefix: &str,
    stop_at: Option<Instant>,
) -> Result<(Vec<ListedSecret>, u32)> {
    let mut filters = vec![Filter::builder()
        .key(FilterNameStringType::TagKey)
        .values(TAG_USER_NAME)
        .build()];
    if !name_prefix.is_empty() {
        filters.push(
            Filter::builder()
                .key(FilterNameStringType::Name)
                .values(name_prefix)
                .build(),
        );
    }
    let mut out = Vec::new();
    let mut pages = 0u32;
    let mut token: Option<String> = None;
    loop {
        in_time(stop_at, "listing the managed secrets (ListSecrets)")?;
        let page =
            c.sm.list_secrets()
                .set_filters(Some(filters.clone()))
                .include_planned_deletion(true)
                .max_results(max_results)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::aws("listing the managed secrets", e))?;
        pages += 1;
        for s in page.secret_list() {
            out.push(ListedSecret {
                name: s.name().unwrap_or_default().to_string(),
                arn: s.arn().unwrap_or_default().to_string(),
                description: s.description().unwrap_or_default().to_string(),
                stages: s
                    .secret_versions_to_stages()
                    .map(|m| m.iter().map(|(v, l)| (v.clone(), l.clone())).collect())
                    .unwrap_or_default(),
                tags: tags::from_sm(s.tags()),
                pending_deletion: s.deleted_date().is_some(),
            });
        }
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok((out, pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_polled_from_a_quarter_second_up_to_two() {
        let waits: Vec<u128> = (0..6).map(|a| report_backoff(a).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 2000, 2000]);
    }
}
