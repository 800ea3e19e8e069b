//! The users this function manages, found the way the scheduled callers (the audit and
//! the grace sweep) need: every user under the allowed path, then one ListUserTags each
//! to tell ours (both ownership tags) from everybody else's, and each one's keys.

use crate::aws::{tags, Clients};
use crate::error::{is_not_found, Error};
use crate::model::state::{tag, Owner, TAG_LOGICAL, TAG_SECRET_NAME, TAG_STACK};
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use std::time::SystemTime;

pub async fn list_users(c: &Clients, path_prefix: &str) -> Result<Vec<String>, Error> {
    let mut pages = c
        .iam
        .list_users()
        .path_prefix(path_prefix)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| Error::aws(format!("listing the users under {path_prefix}"), e))?;
        names.extend(page.users.into_iter().map(|u| u.user_name));
    }
    Ok(names)
}

/// A user carrying both ownership tags.
#[derive(Debug, Clone)]
pub struct Managed {
    pub name: String,
    pub owner: Owner,
    /// The user's `planton:secret-name` tag: where its key is kept.
    pub secret_name: Option<String>,
    /// Every tag of the user, as listed (the owner tag among them).
    pub tags: Vec<(String, String)>,
}

/// `Ok(None)` for a user the function does not manage, or that is gone; `Err` when its
/// tags cannot be read (the user is then counted, never named).
pub async fn ownership(c: &Clients, name: String) -> Result<Option<Managed>, ()> {
    let mut pages = c
        .iam
        .list_user_tags()
        .user_name(&name)
        .into_paginator()
        .send();
    let mut tags = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => tags.extend(tags::from_iam(&p.tags)),
            Err(e) if is_not_found(e.code()) => return Ok(None),
            Err(e) => {
                tracing::warn!(
                    code = e.code().unwrap_or("Unknown"),
                    "a user's tags could not be read; it is left out of this run"
                );
                return Err(());
            }
        }
    }
    let owner = match (tag(&tags, TAG_STACK), tag(&tags, TAG_LOGICAL)) {
        (Some(s), Some(l)) if !s.is_empty() && !l.is_empty() => Owner {
            stack_id: s.to_string(),
            logical_id: l.to_string(),
        },
        _ => return Ok(None),
    };
    let secret_name = tag(&tags, TAG_SECRET_NAME).map(str::to_string);
    Ok(Some(Managed {
        name,
        owner,
        secret_name,
        tags,
    }))
}

/// One key as ListAccessKeys describes it.
#[derive(Debug, Clone)]
pub struct KeyMeta {
    pub id: String,
    pub active: bool,
    pub created: Option<SystemTime>,
}

/// `Ok(None)` when the user is gone.
pub async fn list_keys(c: &Clients, name: &str) -> Result<Option<Vec<KeyMeta>>, Error> {
    let mut pages = c
        .iam
        .list_access_keys()
        .user_name(name)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if is_not_found(e.code()) => return Ok(None),
            Err(e) => {
                return Err(Error::aws(
                    format!("listing the access keys of user {name}"),
                    e,
                ))
            }
        };
        for k in page.access_key_metadata {
            if let Some(id) = k.access_key_id {
                keys.push(KeyMeta {
                    id,
                    active: k.status == Some(StatusType::Active),
                    created: k.create_date.and_then(|d| SystemTime::try_from(d).ok()),
                });
            }
        }
    }
    Ok(Some(keys))
}

/// Every user under `path_prefix` that this function manages, sorted by name, with how
/// many were listed and how many could not be told apart (their tags unreadable).
#[derive(Debug, Default)]
pub struct Listing {
    pub listed: usize,
    pub unreadable: usize,
    pub managed: Vec<Managed>,
}

/// Only a failure to list the users fails; a user whose tags cannot be read is counted
/// in `unreadable` and never named.
pub async fn managed_users(
    c: &Clients,
    path_prefix: &str,
    max_in_flight: usize,
) -> Result<Listing, Error> {
    use futures::StreamExt;
    let names = list_users(c, path_prefix).await?;
    let listed = names.len();
    let tagged: Vec<Result<Option<Managed>, ()>> = futures::stream::iter(names)
        .map(|name| ownership(c, name))
        .buffer_unordered(max_in_flight.max(1))
        .collect()
        .await;
    let unreadable = tagged.iter().filter(|t| t.is_err()).count();
    let mut managed: Vec<Managed> = tagged.into_iter().flatten().flatten().collect();
    managed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Listing {
        listed,
        unreadable,
        managed,
    })
}
