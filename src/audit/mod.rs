//! The scheduled audit: key hygiene and drift for every user this function manages.
//!
//! An EventBridge scheduled event starts it. Every IAM user carrying both ownership tags
//! (`planton:stack-id`, `planton:logical-resource-id`) is read; nobody else's user is
//! ever named in a record. For each of their access keys the audit writes one JSON line
//! (age, last use, stale, idle); for each way a user differs from what it was last
//! deployed with, one drift line; then one summary line in CloudWatch Embedded Metric
//! Format, so an alarm needs no metric filter. Nothing is changed, except that with
//! `PLANTON_AUDIT_DEACTIVATE=true` active keys idle past the threshold are made Inactive.
//!
//! Records go to stdout as bare JSON objects, one per line, not through `tracing`: EMF
//! wants the metric directive (`_aws`) at the top level of the log event, and the
//! Lambda runtime ships stdout lines to CloudWatch Logs as they are. No record ever
//! holds a secret access key: secrets are read only for the `AccessKeyId` of each
//! staged version, and the value is dropped at once.

pub mod drift;
pub mod records;
#[cfg(test)]
mod tests;

use crate::aws::events::Publisher;
use crate::aws::observe::{self, Depth, Expect, Keys};
use crate::aws::users::{list_users, ownership, KeyMeta, Managed};
use crate::aws::{keys, Clients};
use crate::error::{Error, Result};
use crate::model::deployed;
use crate::model::events::{owner_of, Event, Kind};
use crate::model::state::{
    tag, ObservedUser, Owner, TAG_LOGICAL, TAG_SECRET_NAME, TAG_STACK, TAG_USER_NAME,
};
use crate::settings::AuditConfig;
use drift::{drifts, SecretView};
use futures::StreamExt;
pub use records::*;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Runs one audit with the settings in the function's environment, writes its records
/// to stdout and returns the summary record (the invocation's result).
/// Runs one audit with the function's settings, writes every record to stdout and
/// returns the summary record (the invocation's result).
pub async fn handle(
    c: &Clients,
    cfg: &AuditConfig,
    max_in_flight: usize,
    events: &Publisher<'_>,
    scope: &Scope,
    now: SystemTime,
) -> Result<Value> {
    let function_name = events.function;
    let report = run_scoped(c, cfg, max_in_flight, now, scope).await?;
    report.emit(function_name);
    events.publish(&report.events).await;
    Ok(report.summary_record(function_name))
}

/// Audits every user under `cfg.path_prefix` that carries both ownership tags. Only a
/// failure to list the users fails the audit; a user that cannot be read gets an error
/// record and the others are audited all the same.
pub async fn run(
    clients: &Clients,
    cfg: &AuditConfig,
    max_in_flight: usize,
    now: SystemTime,
) -> Result<Report, Error> {
    run_scoped(clients, cfg, max_in_flight, now, &Scope::default()).await
}

/// Which part of the users one invocation audits: from `resume_from` (a continuation
/// of a run that ran out of time), and no user started after `stop_at`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub resume_from: Option<String>,
    pub stop_at: Option<tokio::time::Instant>,
}

/// [`run`] over `scope`: users in name order, each one's ownership read and, if it is
/// managed, its audit, as one stream; a user is started only while there is time, so
/// an account too large for one invocation is covered in several, each saying where
/// the next begins (`Summary::resume_from`), never silently in part.
pub async fn run_scoped(
    clients: &Clients,
    cfg: &AuditConfig,
    max_in_flight: usize,
    now: SystemTime,
    scope: &Scope,
) -> Result<Report, Error> {
    let max_in_flight = max_in_flight.max(1);
    let mut names = list_users(clients, &cfg.path_prefix).await?;
    names.sort();
    if let Some(from) = &scope.resume_from {
        names.retain(|n| n >= from);
    }
    let listed = names.len() as u64;
    let started = std::sync::atomic::AtomicUsize::new(0);

    // A managed user costs a handful of concurrent reads; the in-flight bound (which
    // the pace adapts to throttling) keeps the total near the limit.
    let per_user = (max_in_flight / 2).max(1);
    // Owned names: a stream of borrowed ones would make this future's type depend on a
    // lifetime `tokio::spawn` cannot name.
    let outcomes: Vec<Option<UserOutcome>> = futures::stream::iter(names.clone())
        .take_while(|_| {
            let time_left = scope
                .stop_at
                .is_none_or(|s| tokio::time::Instant::now() < s);
            if time_left {
                started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            std::future::ready(time_left)
        })
        .map(|name| async move {
            // One ListUserTags decides ownership; nothing else is read for a user the
            // function does not manage.
            match ownership(clients, name).await {
                Ok(Some(m)) => Some(audit_user(clients, cfg, now, m).await),
                Ok(None) => None,
                Err(()) => Some(UserOutcome {
                    unreadable: true,
                    ..UserOutcome::default()
                }),
            }
        })
        .buffer_unordered(per_user)
        .collect()
        .await;
    let covered = started.load(std::sync::atomic::Ordering::Relaxed);
    let resume_from = names.get(covered).cloned();
    let unreadable = outcomes.iter().flatten().filter(|o| o.unreadable).count() as u64;
    let outcomes = outcomes.into_iter().flatten().filter(|o| !o.unreadable);

    let mut report = Report::default();
    let mut managed_users = 0;
    let mut drifted_users = 0;
    for o in outcomes {
        if o.vanished {
            continue;
        }
        managed_users += 1;
        if !o.drifts.is_empty() {
            drifted_users += 1;
        }
        report.keys.extend(o.keys);
        report.drifts.extend(o.drifts);
        report.errors.extend(o.errors);
        report.events.extend(o.events);
    }
    report
        .keys
        .sort_by(|a, b| (&a.user, &a.access_key_id).cmp(&(&b.user, &b.access_key_id)));
    // A stable sort: each user's drifts keep the report order `drifts` gave them.
    report.drifts.sort_by(|a, b| a.user.cmp(&b.user));
    report.errors.sort_by(|a, b| a.user.cmp(&b.user));
    let count = |f: fn(&KeyRecord) -> bool| report.keys.iter().filter(|k| f(k)).count() as u64;
    report.summary = Summary {
        time: iso(now),
        max_age_days: cfg.max_age_days,
        max_idle_days: cfg.max_idle_days,
        deactivate: cfg.deactivate,
        path_prefix: cfg.path_prefix.clone(),
        listed_users: listed,
        unreadable_users: unreadable,
        managed_users,
        keys: report.keys.len() as u64,
        stale_keys: count(|k| k.stale),
        idle_keys: count(|k| k.idle),
        deactivated_keys: count(|k| k.deactivated),
        drifted_users,
        drifts: report.drifts.len() as u64,
        audit_errors: unreadable + report.errors.len() as u64 + count(|k| k.error.is_some()),
        covered_users: covered as u64,
        complete: resume_from.is_none(),
        resume_from,
    };
    Ok(report)
}

#[derive(Debug, Default)]
struct UserOutcome {
    /// Deleted while the audit ran: no longer managed, no records.
    vanished: bool,
    /// Its tags could not be read: whether it is managed is unknown (counted, never
    /// named).
    unreadable: bool,
    keys: Vec<KeyRecord>,
    drifts: Vec<DriftRecord>,
    errors: Vec<ErrorRecord>,
    events: Vec<Event>,
}

async fn audit_user(c: &Clients, cfg: &AuditConfig, now: SystemTime, m: Managed) -> UserOutcome {
    let name = m.name.as_str();
    let mut out = UserOutcome::default();
    let error = |e: String| ErrorRecord {
        record: ERROR_RECORD.into(),
        user: m.name.clone(),
        stack_id: m.owner.stack_id.clone(),
        logical_id: m.owner.logical_id.clone(),
        error: e,
    };
    let user = Box::pin(observe::user(c, name, Depth::Converge, Expect::Exists)).await;
    let user = match user {
        Ok(Some(u)) => u,
        Ok(None) => {
            out.vanished = true;
            return out;
        }
        Err(e) => {
            out.errors.push(error(e.to_string()));
            return out;
        }
    };
    // The ownership tags are read again with the user: a user whose tags changed since
    // the listing is audited under what it carries now, or not at all.
    let owner = Owner {
        stack_id: tag(&user.tags, TAG_STACK).unwrap_or("").to_string(),
        logical_id: tag(&user.tags, TAG_LOGICAL).unwrap_or("").to_string(),
    };
    if owner != m.owner {
        out.vanished = true;
        return out;
    }
    // The keys as the user's own read listed them: no second ListAccessKeys.
    let keys: Vec<KeyMeta> = user
        .keys
        .iter()
        .map(|k| KeyMeta {
            id: k.id.clone(),
            active: k.active,
            created: k
                .created
                .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)),
        })
        .collect();
    let secret_name = tag(&user.tags, TAG_SECRET_NAME).map(str::to_string);
    let secret = match &secret_name {
        Some(n) => match read_secret(c, n, &owner, name).await {
            Ok(s) => s,
            Err(e) => {
                out.errors.push(error(e.to_string()));
                return out;
            }
        },
        None => SecretView::default(),
    };

    out.keys = futures::future::join_all(
        keys.iter()
            .map(|k| key_record(c, cfg, now, &user, &owner, &secret, k)),
    )
    .await;
    out.drifts = drifts(&user, &owner, &keys, &secret);
    let event = |kind: Kind| {
        let mut e = Event::new(kind, name, &owner.stack_id, &owner.logical_id);
        e.user_arn = Some(user.arn.clone()).filter(|a| !a.is_empty());
        e.owner = owner_of(&user.tags, &cfg.owner_tag_key);
        e
    };
    for k in out.keys.iter().filter(|k| k.deactivated) {
        let mut e = event(Kind::KeyDeactivatedByAudit);
        e.access_key_id = Some(k.access_key_id.clone());
        e.extra.insert("idle_days".into(), json!(k.idle_days));
        e.extra
            .insert("max_idle_days".into(), json!(cfg.max_idle_days));
        out.events.push(e);
    }
    if !out.drifts.is_empty() {
        let mut e = event(Kind::DriftFound);
        let aspects: Vec<&str> = out.drifts.iter().map(|d| d.aspect.as_str()).collect();
        e.extra.insert("aspects".into(), json!(aspects));
        out.events.push(e);
    }
    out
}

/// What the user's secret says about its keys, through the one secret reader
/// ([`observe::secret`]) from DescribeSecret alone: the key ids the function recorded
/// for each version, never a secret value.
async fn read_secret(c: &Clients, name: &str, owner: &Owner, user: &str) -> Result<SecretView> {
    let Some(s) = observe::secret(c, name, Expect::Exists, Keys::FromRecord).await? else {
        return Ok(SecretView {
            name: Some(name.to_string()),
            ..SecretView::default()
        });
    };
    let owned = owner.owns(&s.tags) && tag(&s.tags, TAG_USER_NAME) == Some(user);
    let held = [&s.access_key_id, &s.previous_key_id, &s.pending_key_id]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    Ok(SecretView {
        name: Some(name.to_string()),
        exists: true,
        pending_deletion: s.pending_deletion,
        owned,
        template_tags: deployed::template_tags(&s.tags)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        current: s.access_key_id,
        held,
        recorded: s.key_ids_recorded,
    })
}

#[allow(clippy::too_many_arguments)]
async fn key_record(
    c: &Clients,
    cfg: &AuditConfig,
    now: SystemTime,
    user: &ObservedUser,
    owner: &Owner,
    secret: &SecretView,
    k: &KeyMeta,
) -> KeyRecord {
    let mut r = KeyRecord {
        record: KEY_RECORD.into(),
        user: user.name.clone(),
        stack_id: owner.stack_id.clone(),
        logical_id: owner.logical_id.clone(),
        access_key_id: k.id.clone(),
        status: if k.active { "Active" } else { "Inactive" }.into(),
        in_secret: secret.owned && !secret.pending_deletion && secret.held.contains(&k.id),
        created: k.created.map(iso),
        age_days: k.created.map(|t| days_between(t, now)),
        last_used: None,
        last_used_service: None,
        last_used_region: None,
        idle_days: None,
        stale: false,
        idle: false,
        deactivated: false,
        error: None,
    };
    r.stale = r.age_days.is_some_and(|d| d > cfg.max_age_days);
    let used = match c
        .iam
        .get_access_key_last_used()
        .access_key_id(&k.id)
        .send()
        .await
    {
        Ok(out) => out.access_key_last_used,
        Err(e) => {
            // Without the last use the key's idleness is unknown: never deactivated.
            r.error =
                Some(Error::aws(format!("reading the last use of key {}", k.id), e).to_string());
            return r;
        }
    };
    let last_used = used
        .as_ref()
        .and_then(|u| u.last_used_date)
        .and_then(|d| SystemTime::try_from(d).ok());
    let known = |s: &str| (!s.is_empty() && s != "N/A").then(|| s.to_string());
    if last_used.is_some() {
        r.last_used_service = used.as_ref().and_then(|u| known(u.service_name()));
        r.last_used_region = used.as_ref().and_then(|u| known(u.region()));
    }
    r.last_used = last_used.map(iso);
    r.idle_days = last_used.or(k.created).map(|t| days_between(t, now));
    r.idle = r.idle_days.is_some_and(|d| d > cfg.max_idle_days);
    if cfg.deactivate && r.idle && k.active {
        let what = format!("idle key {}", k.id);
        match keys::deactivate_key(&c.iam, &user.name, &k.id, &what).await {
            Ok(deactivated) => r.deactivated = deactivated,
            Err(e) => r.error = Some(e.to_string()),
        }
    }
    r
}
