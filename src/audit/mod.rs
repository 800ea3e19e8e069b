//! The scheduled audit: key hygiene and drift for every user this function manages.
//!
//! An EventBridge scheduled event starts it. The account is read in pages, not user by
//! user (`aws::inventory`): every user with its tags, policies, groups and boundary
//! (GetAccountAuthorizationDetails), every user's keys (the credential report, which
//! IAM makes at most every four hours: the summary states its age) and every managed
//! secret's record of its keys (ListSecrets). Every IAM user carrying both ownership
//! tags (`planton:stack-id`, `planton:logical-resource-id`) is audited; nobody else's
//! user is ever named in a record. A user is read on its own only where the pages do
//! not prove what it holds (`model::inventory::Lookup`: a key made by hand, a user
//! newer than the report, ...), and a key is read again before any write the audit
//! makes. For each access key the audit writes one JSON line (age, last use, stale,
//! idle); for each way a user differs from what it was last deployed with, one drift
//! line; then one summary line in CloudWatch Embedded Metric Format, so an alarm needs
//! no metric filter. Nothing is changed, except that with
//! `PLANTON_AUDIT_DEACTIVATE=true` active keys idle past the threshold are made
//! Inactive.
//!
//! Records go to stdout as bare JSON objects, one per line, not through `tracing`: EMF
//! wants the metric directive (`_aws`) at the top level of the log event, and the
//! Lambda runtime ships stdout lines to CloudWatch Logs as they are. No record ever
//! holds a secret access key: no secret value is read, only the key ids the function
//! records in each secret's description.

pub mod drift;
pub mod records;
#[cfg(test)]
mod tests;

use crate::aws::events::Publisher;
use crate::aws::inventory::{self as reads, PageSizes};
use crate::aws::observe::{self, Expect, Keys};
use crate::aws::users::{list_keys, KeyMeta};
use crate::aws::{keys, Clients};
use crate::error::{Error, Result};
use crate::model::deployed;
use crate::model::events::{owner_of, Event, Kind};
use crate::model::inventory::{
    self, join_keys, judge, recorded_keys, report_use, wants_deactivation, CredentialReport,
    KeyFact, ListedSecret, Lookup, ManagedUser, RecordedKey, SecretIndex, Thresholds, Use,
};
use crate::model::key_ledger;
use crate::model::state::{tag, ObservedUser, Owner, TAG_USER_NAME};
use crate::settings::AuditConfig;
use drift::{drifts, SecretView};
use futures::StreamExt;
pub use records::*;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
/// failure to read the account fails the audit; a managed user whose own reads fail
/// gets an error record and the others are audited all the same.
pub async fn run(
    clients: &Clients,
    cfg: &AuditConfig,
    max_in_flight: usize,
    now: SystemTime,
) -> Result<Report, Error> {
    run_scoped(clients, cfg, max_in_flight, now, &Scope::default()).await
}

/// Which part of the users one invocation audits, and how it reads the account.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// A continuation of a run that ran out of time: users from this name on.
    pub resume_from: Option<String>,
    /// No user is started after this instant.
    pub stop_at: Option<tokio::time::Instant>,
    /// No page of the account is asked for after this instant: later than `stop_at`,
    /// as no user can be audited, nor a continuation said, before the pages are read.
    /// A read still going then fails the audit (its summary would rest on part of the
    /// account).
    pub reads_until: Option<tokio::time::Instant>,
    /// The account reads' page sizes: IAM's and Secrets Manager's maxima unless a test
    /// asks for smaller pages.
    pub pages: PageSizes,
    /// Narrows the secrets listing to names under this prefix
    /// (`PLANTON_SECRET_NAME_PREFIX`; empty: the tag filter alone).
    pub secret_name_prefix: String,
}

/// [`run`] over `scope`. The account is read in pages (every user, every key from the
/// credential report, every managed secret: `aws::inventory`); then each managed user,
/// in name order, is joined and judged, and read on its own only where the pages do not
/// prove what it holds (`model::inventory::Lookup`) or before a write. A user is
/// started only while there is time, so an account too large for one invocation is
/// covered in several, each saying where the next begins (`Summary::resume_from`),
/// never silently in part.
pub async fn run_scoped(
    clients: &Clients,
    cfg: &AuditConfig,
    max_in_flight: usize,
    now: SystemTime,
    scope: &Scope,
) -> Result<Report, Error> {
    let max_in_flight = max_in_flight.max(1);
    let inv = reads::read(
        clients,
        scope.pages,
        &scope.secret_name_prefix,
        scope.reads_until,
    )
    .await?;
    let selection = inventory::select(inv.users, &cfg.path_prefix, scope.resume_from.as_deref());
    let listed = selection.listed as u64;
    let secrets = SecretIndex::new(inv.secrets);
    let report_data = &inv.report;
    let now_secs = secs(now);
    let positions: Vec<(usize, String)> = selection
        .managed
        .iter()
        .map(|m| (m.position, m.user.user.name.clone()))
        .collect();
    let started = std::sync::atomic::AtomicUsize::new(0);
    let ctx = UserCtx {
        c: clients,
        cfg,
        now_secs,
        report: report_data,
        secrets: &secrets,
    };
    let ctx = &ctx;

    // Most users need no call at all; the few that do (a lookup, a re-check before a
    // write) run at the in-flight bound the pace adapts to throttling.
    let outcomes: Vec<UserOutcome> = futures::stream::iter(selection.managed)
        .take_while(|_| {
            let time_left = scope
                .stop_at
                .is_none_or(|s| tokio::time::Instant::now() < s);
            if time_left {
                started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            std::future::ready(time_left)
        })
        .map(|m| async move { audit_user(ctx, m).await })
        .buffer_unordered(max_in_flight)
        .collect()
        .await;
    let started = started.load(std::sync::atomic::Ordering::Relaxed);
    // Covered: every listed user before the first managed user not started (the users
    // in between need no work), or all of them.
    let (covered, resume_from) = match positions.get(started) {
        Some((position, name)) => (*position as u64, Some(name.clone())),
        None => (listed, None),
    };

    let mut report = Report::default();
    let mut managed_users = 0;
    let mut drifted_users = 0;
    let mut reads = Reads {
        account_pages: inv.account_pages,
        secret_pages: inv.secret_pages,
        credential_report_calls: inv.report_calls,
        ..Reads::default()
    };
    for o in outcomes {
        if let Some(l) = o.lookup {
            reads.key_lookups += 1;
            *reads
                .key_lookup_reasons
                .entry(l.name().to_string())
                .or_default() += 1;
        }
        reads.secret_lookups += u32::from(o.secret_lookup);
        reads.last_use_reads += o.last_use_reads;
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
        unreadable_users: 0,
        managed_users,
        keys: report.keys.len() as u64,
        stale_keys: count(|k| k.stale),
        idle_keys: count(|k| k.idle),
        deactivated_keys: count(|k| k.deactivated),
        drifted_users,
        drifts: report.drifts.len() as u64,
        audit_errors: report.errors.len() as u64 + count(|k| k.error.is_some()),
        covered_users: covered,
        complete: resume_from.is_none(),
        resume_from,
        credential_report: Some(ReportAge {
            generated: iso(UNIX_EPOCH + Duration::from_secs(report_data.generated)),
            age_seconds: report_data.age_secs(now_secs),
        }),
        reads: Some(reads),
    };
    Ok(report)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn time(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

/// What every user's audit shares: the clients, the settings and the account's pages.
struct UserCtx<'a> {
    c: &'a Clients,
    cfg: &'a AuditConfig,
    now_secs: u64,
    report: &'a CredentialReport,
    secrets: &'a SecretIndex,
}

#[derive(Debug, Default)]
struct UserOutcome {
    /// Deleted while the audit ran: no longer managed, no records.
    vanished: bool,
    keys: Vec<KeyRecord>,
    drifts: Vec<DriftRecord>,
    errors: Vec<ErrorRecord>,
    events: Vec<Event>,
    /// The user's keys were listed one by one, and why.
    lookup: Option<Lookup>,
    /// Its secret was not in the listing and was read on its own.
    secret_lookup: bool,
    /// GetAccessKeyLastUsed calls: keys the report does not show, re-checks before a
    /// write.
    last_use_reads: u32,
}

async fn audit_user(ctx: &UserCtx<'_>, m: ManagedUser) -> UserOutcome {
    let (c, cfg) = (ctx.c, ctx.cfg);
    let ManagedUser {
        user: account_user,
        owner,
        secret_name,
        ..
    } = m;
    let user = account_user.user;
    let name = user.name.as_str();
    let mut out = UserOutcome::default();
    let error = |e: String| ErrorRecord {
        record: ERROR_RECORD.into(),
        user: user.name.clone(),
        stack_id: owner.stack_id.clone(),
        logical_id: owner.logical_id.clone(),
        error: e,
    };

    // The secret: from the listing, or read on its own when the listing does not hold
    // it (missing, untagged, newer than the listing, named by ARN outside it).
    let secret = match &secret_name {
        Some(n) => match ctx.secrets.get(n) {
            Some(listed) => from_listing(n, listed, &owner, name),
            None => {
                out.secret_lookup = true;
                match read_secret(c, n, &owner, name).await {
                    Ok(s) => s,
                    Err(e) => {
                        out.errors.push(error(e.to_string()));
                        return out;
                    }
                }
            }
        },
        None => SecretFacts::default(),
    };
    // The record names the user's keys only in its own secret.
    let usable = secret.view.exists && !secret.view.pending_deletion && secret.view.owned;
    let recorded: &[RecordedKey] = if usable { &secret.recorded } else { &[] };

    // The keys: proven from the report by their recorded creation times, or listed.
    let facts = match join_keys(ctx.report, name, account_user.created, recorded) {
        Ok(facts) => facts,
        Err(why) => {
            out.lookup = Some(why);
            match list_keys(c, name).await {
                Ok(Some(listed)) => listed
                    .into_iter()
                    .map(|k| {
                        let created = k.created.map(secs);
                        KeyFact {
                            last_use: report_use(ctx.report, name, account_user.created, created),
                            id: k.id,
                            active: k.active,
                            created,
                        }
                    })
                    .collect(),
                Ok(None) => {
                    out.vanished = true;
                    return out;
                }
                Err(e) => {
                    out.errors.push(error(e.to_string()));
                    return out;
                }
            }
        }
    };
    let keys: Vec<KeyMeta> = facts
        .iter()
        .map(|k| KeyMeta {
            id: k.id.clone(),
            active: k.active,
            created: k.created.map(time),
        })
        .collect();

    let records = futures::future::join_all(
        facts
            .into_iter()
            .map(|k| key_record(ctx, &user, &owner, &secret.view, k)),
    )
    .await;
    for (r, reads) in records {
        out.last_use_reads += reads;
        out.keys.push(r);
    }
    out.drifts = drifts(&user, &owner, &keys, &secret.view);
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

/// What the user's secret says: the view the drift report compares against, and the
/// keys its record names with their creation times.
#[derive(Debug, Default)]
struct SecretFacts {
    view: SecretView,
    recorded: Vec<RecordedKey>,
}

/// The view of a secret that exists, before its keys are filled in.
fn secret_view(
    name: &str,
    owner: &Owner,
    user: &str,
    tags: &[(String, String)],
    pending_deletion: bool,
) -> SecretView {
    SecretView {
        name: Some(name.to_string()),
        exists: true,
        pending_deletion,
        owned: owner.owns(tags) && tag(tags, TAG_USER_NAME) == Some(user),
        template_tags: deployed::template_tags(tags)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..SecretView::default()
    }
}

/// The listing's entry, read as DescribeSecret's answer is ([`read_secret`]): the same
/// description, stages and tags.
fn from_listing(name: &str, s: &ListedSecret, owner: &Owner, user: &str) -> SecretFacts {
    let (k, recorded) = recorded_keys(&s.description, &s.stages);
    SecretFacts {
        view: SecretView {
            current: k.current,
            held: recorded.iter().map(|r| r.id.clone()).collect(),
            recorded: k.complete,
            ..secret_view(name, owner, user, &s.tags, s.pending_deletion)
        },
        recorded,
    }
}

/// What the user's secret says about its keys, through the one secret reader
/// ([`observe::secret`]) from DescribeSecret alone: the key ids the function recorded
/// for each version, never a secret value.
async fn read_secret(c: &Clients, name: &str, owner: &Owner, user: &str) -> Result<SecretFacts> {
    let Some(s) = observe::secret(c, name, Expect::Exists, Keys::FromRecord).await? else {
        return Ok(SecretFacts {
            view: SecretView {
                name: Some(name.to_string()),
                ..SecretView::default()
            },
            recorded: Vec::new(),
        });
    };
    let created = key_ledger::parse_created(&s.description);
    let mut recorded: Vec<RecordedKey> = Vec::new();
    for id in [&s.access_key_id, &s.previous_key_id, &s.pending_key_id]
        .into_iter()
        .flatten()
    {
        if recorded.iter().all(|r| &r.id != id) {
            recorded.push(RecordedKey {
                id: id.clone(),
                created: created.get(id).copied(),
            });
        }
    }
    Ok(SecretFacts {
        view: SecretView {
            current: s.access_key_id.clone(),
            held: recorded.iter().map(|r| r.id.clone()).collect(),
            recorded: s.key_ids_recorded,
            ..secret_view(name, owner, user, &s.tags, s.pending_deletion)
        },
        recorded,
    })
}

/// One key's record, and how many GetAccessKeyLastUsed calls it took: one for a key
/// whose last use the report does not show, one more to re-check a key before it is
/// deactivated (the report may be hours old).
async fn key_record(
    ctx: &UserCtx<'_>,
    user: &ObservedUser,
    owner: &Owner,
    secret: &SecretView,
    k: KeyFact,
) -> (KeyRecord, u32) {
    let (c, cfg) = (ctx.c, ctx.cfg);
    let thresholds = Thresholds {
        max_age_days: cfg.max_age_days,
        max_idle_days: cfg.max_idle_days,
    };
    let mut reads = 0;
    let mut r = KeyRecord {
        record: KEY_RECORD.into(),
        user: user.name.clone(),
        stack_id: owner.stack_id.clone(),
        logical_id: owner.logical_id.clone(),
        access_key_id: k.id.clone(),
        status: if k.active { "Active" } else { "Inactive" }.into(),
        in_secret: secret.owned && !secret.pending_deletion && secret.held.contains(&k.id),
        created: k.created.map(|t| iso(time(t))),
        age_days: None,
        last_used: None,
        last_used_service: None,
        last_used_region: None,
        idle_days: None,
        stale: false,
        idle: false,
        deactivated: false,
        error: None,
    };
    r.stale = judge(k.created, None, ctx.now_secs, thresholds).stale;
    r.age_days = judge(k.created, None, ctx.now_secs, thresholds).age_days;
    let mut used = k.last_use.clone();
    if used == Use::Unknown {
        reads += 1;
        match keys::last_use(&c.iam, &k.id).await {
            Ok(u) => used = u,
            Err(e) => {
                // Without the last use the key's idleness is unknown: never deactivated.
                r.error = Some(e.to_string());
                return (r, reads);
            }
        }
    }
    fill_use(&mut r, &used, k.created, ctx.now_secs, thresholds);
    let judged = judge(k.created, at(&used), ctx.now_secs, thresholds);
    if wants_deactivation(cfg.deactivate, k.active, &judged) {
        // The report may be hours old: read this key's last use again, and write only
        // if it is still idle.
        if k.last_use != Use::Unknown {
            reads += 1;
            match keys::last_use(&c.iam, &k.id).await {
                Ok(fresh) => {
                    fill_use(&mut r, &fresh, k.created, ctx.now_secs, thresholds);
                    used = fresh;
                }
                Err(e) => {
                    r.error = Some(e.to_string());
                    return (r, reads);
                }
            }
        }
        let still = judge(k.created, at(&used), ctx.now_secs, thresholds);
        if wants_deactivation(cfg.deactivate, k.active, &still) {
            let what = format!("idle key {}", k.id);
            match keys::deactivate_key(&c.iam, &user.name, &k.id, &what).await {
                Ok(deactivated) => r.deactivated = deactivated,
                Err(e) => r.error = Some(e.to_string()),
            }
        }
    }
    (r, reads)
}

fn at(u: &Use) -> Option<u64> {
    match u {
        Use::At(l) => Some(l.at),
        _ => None,
    }
}

/// The record's last-use fields and idleness from `used`.
fn fill_use(r: &mut KeyRecord, used: &Use, created: Option<u64>, now: u64, t: Thresholds) {
    let (last, service, region) = match used {
        Use::At(l) => (Some(l.at), l.service.clone(), l.region.clone()),
        _ => (None, None, None),
    };
    let j = judge(created, last, now, t);
    r.last_used = last.map(|s| iso(time(s)));
    r.last_used_service = service;
    r.last_used_region = region;
    r.idle_days = j.idle_days;
    r.idle = j.idle;
}
