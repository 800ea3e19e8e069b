//! The watch's own calls: who a group or a managed policy reaches, whether a user has a
//! console password, and the writes of a quarantine or a revert. Each write names one
//! user and one thing on it; "already gone" is success, since a redelivered event or a
//! second watcher may have made it first.

use crate::aws::{keys, Clients};
use crate::error::{is_not_found, Error, Result};
use crate::model::watch::Action;
use aws_sdk_iam::error::ProvideErrorMetadata;

/// The members of `group`, at most `cap` (a larger group is left to the audit). `Ok`
/// empty when the group is gone.
pub async fn group_members(c: &Clients, group: &str, cap: usize) -> Result<Vec<String>> {
    let mut pages = c.iam.get_group().group_name(group).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => out.extend(p.users().iter().map(|u| u.user_name().to_string())),
            Err(e) if is_not_found(e.code()) => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::aws(
                    format!("listing the members of group {group}"),
                    e,
                ))
            }
        }
        if out.len() >= cap {
            out.truncate(cap);
            break;
        }
    }
    Ok(out)
}

/// The users and groups a managed policy is attached to, at most `cap` of each.
pub async fn policy_holders(
    c: &Clients,
    arn: &str,
    cap: usize,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut pages = c
        .iam
        .list_entities_for_policy()
        .policy_arn(arn)
        .into_paginator()
        .send();
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                users.extend(
                    p.policy_users()
                        .iter()
                        .filter_map(|u| u.user_name().map(str::to_string)),
                );
                groups.extend(
                    p.policy_groups()
                        .iter()
                        .filter_map(|g| g.group_name().map(str::to_string)),
                );
            }
            Err(e) if is_not_found(e.code()) => break,
            Err(e) => return Err(Error::aws(format!("listing who holds policy {arn}"), e)),
        }
        if users.len() >= cap && groups.len() >= cap {
            break;
        }
    }
    users.truncate(cap);
    groups.truncate(cap);
    Ok((users, groups))
}

/// Whether the user has a console password (the resource never makes one).
pub async fn has_login_profile(c: &Clients, user: &str) -> Result<bool> {
    match c.iam.get_login_profile().user_name(user).send().await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(e.code()) => Ok(false),
        Err(e) => Err(Error::aws(
            format!("reading the console password of user {user}"),
            e,
        )),
    }
}

/// Makes one write of a response.
pub async fn apply(c: &Clients, user: &str, action: &Action) -> Result<()> {
    let iam = &c.iam;
    let gone_ok = |r: std::result::Result<(), (Option<String>, Error)>| match r {
        Ok(()) => Ok(()),
        Err((code, _)) if is_not_found(code.as_deref()) => Ok(()),
        Err((_, e)) => Err(e),
    };
    match action {
        Action::DeactivateKey(k) => keys::deactivate_key(iam, user, k, &format!("access key {k}"))
            .await
            .map(drop),
        Action::DeleteKey(k) => keys::delete_key(iam, user, k, " (made by hand)").await,
        Action::DeleteLoginProfile => gone_ok(
            iam.delete_login_profile()
                .user_name(user)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    let code = e.code().map(str::to_string);
                    (
                        code,
                        Error::aws(format!("deleting the console password of user {user}"), e),
                    )
                }),
        ),
        Action::DetachPolicy(p) => gone_ok(
            iam.detach_user_policy()
                .user_name(user)
                .policy_arn(p)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    let code = e.code().map(str::to_string);
                    (
                        code,
                        Error::aws(format!("detaching {p} from user {user}"), e),
                    )
                }),
        ),
        Action::DeleteInlinePolicy(p) => gone_ok(
            iam.delete_user_policy()
                .user_name(user)
                .policy_name(p)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    let code = e.code().map(str::to_string);
                    (
                        code,
                        Error::aws(format!("deleting inline policy {p} of user {user}"), e),
                    )
                }),
        ),
        Action::RemoveFromGroup(g) => gone_ok(
            iam.remove_user_from_group()
                .user_name(user)
                .group_name(g)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    let code = e.code().map(str::to_string);
                    (
                        code,
                        Error::aws(format!("removing user {user} from group {g}"), e),
                    )
                }),
        ),
    }
}
