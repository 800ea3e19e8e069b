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

use crate::deployed::{self, Record, ASPECTS, TAG_DEPLOYED};
use crate::error::{is_not_found, Error, Violation, Violations};
use crate::handler::App;
use crate::observe::{self, Clients, Depth, Expect};
use crate::state::{tag, ObservedUser, Owner, TAG_LOGICAL, TAG_SECRET_NAME, TAG_STACK};
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use aws_smithy_types::date_time::Format;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of the summary's metrics.
pub const NAMESPACE: &str = "Planton/IamUser";
/// The one dimension of every metric: the function's name.
pub const DIMENSION: &str = "FunctionName";
/// The metrics the summary carries, all of unit Count.
pub const METRICS: [&str; 8] = [
    "ManagedUsers",
    "Keys",
    "StaleKeys",
    "IdleKeys",
    "DeactivatedKeys",
    "DriftedUsers",
    "Drifts",
    "AuditErrors",
];
pub const KEY_RECORD: &str = "planton.audit.key";
pub const DRIFT_RECORD: &str = "planton.audit.drift";
pub const ERROR_RECORD: &str = "planton.audit.error";
pub const SUMMARY_RECORD: &str = "planton.audit.summary";
pub const HINT: &str = "the next stack Update converges it";

const DAY: u64 = 86_400;
const STAGES: [&str; 3] = ["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"];

/// The audit's settings, from the function's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// `PLANTON_KEY_MAX_AGE_DAYS` (90): a key older than this is stale.
    pub max_age_days: u64,
    /// `PLANTON_KEY_MAX_IDLE_DAYS` (90): a key unused for longer than this is idle (a
    /// key never used is idle from its creation).
    pub max_idle_days: u64,
    /// `PLANTON_AUDIT_DEACTIVATE` (false): make idle active keys Inactive.
    pub deactivate: bool,
    /// Only users under this path are listed: `PLANTON_ALLOWED_PATH_PREFIX`, the same
    /// guardrail that confines the users the function creates (`/`: every user).
    pub path_prefix: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            max_age_days: 90,
            max_idle_days: 90,
            deactivate: false,
            path_prefix: "/".into(),
        }
    }
}

/// At most a hundred years: a longer threshold is a typo.
const MAX_DAYS: u64 = 36_500;

impl AuditConfig {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get`; an unreadable setting refuses the audit rather
    /// than running it (and perhaps deactivating keys) with a threshold nobody chose.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let d = AuditConfig::default();
        let mut bad = Vec::new();
        let mut days = |name: &str, default: u64| match get(name) {
            None => default,
            Some(v) if v.trim().is_empty() => default,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=MAX_DAYS).contains(&n) => n,
                _ => {
                    bad.push(Violation::new(
                        name,
                        format!("must be a whole number of days from 1 to {MAX_DAYS}, got {v:?}"),
                    ));
                    default
                }
            },
        };
        let max_age_days = days("PLANTON_KEY_MAX_AGE_DAYS", d.max_age_days);
        let max_idle_days = days("PLANTON_KEY_MAX_IDLE_DAYS", d.max_idle_days);
        let deactivate = match get("PLANTON_AUDIT_DEACTIVATE") {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" | "" => false,
                _ => {
                    bad.push(Violation::new(
                        "PLANTON_AUDIT_DEACTIVATE",
                        format!("must be true or false, got {v:?}"),
                    ));
                    false
                }
            },
        };
        if !bad.is_empty() {
            return Err(Error::Invalid(Violations(bad)));
        }
        Ok(AuditConfig {
            max_age_days,
            max_idle_days,
            deactivate,
            path_prefix: d.path_prefix,
        })
    }
}

/// One access key of a managed user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub record: String,
    pub user: String,
    pub stack_id: String,
    pub logical_id: String,
    /// The key's id only: ids are not secret; the secret access key is never read here.
    pub access_key_id: String,
    /// Active or Inactive, as found (before any deactivation by this run).
    pub status: String,
    /// Held by one of the secret's staged versions (AWSCURRENT, AWSPREVIOUS, AWSPENDING).
    pub in_secret: bool,
    pub created: Option<String>,
    pub age_days: Option<u64>,
    /// `None`: never used.
    pub last_used: Option<String>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
    /// Days since the last use, or since creation for a key never used.
    pub idle_days: Option<u64>,
    /// `age_days > max_age_days`.
    pub stale: bool,
    /// `idle_days > max_idle_days`.
    pub idle: bool,
    /// This run made the key Inactive.
    pub deactivated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One way a managed user differs from what it was last deployed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftRecord {
    pub record: String,
    pub user: String,
    pub stack_id: String,
    pub logical_id: String,
    /// path, permissions_boundary, managed_policies, inline_policies, groups, tags,
    /// key_status, access_keys, secret or record.
    pub aspect: String,
    /// What the aspect holds now.
    pub now: Value,
    /// What it was deployed with, when the audit can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed: Option<Value>,
    /// Items present now that the deployment did not make (policies attached by hand,
    /// keys created outside the function, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    pub detail: String,
    pub hint: String,
}

/// A managed user the audit could not read completely. The audit goes on with the
/// others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub record: String,
    pub user: String,
    pub stack_id: String,
    pub logical_id: String,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub time: String,
    pub max_age_days: u64,
    pub max_idle_days: u64,
    pub deactivate: bool,
    pub path_prefix: String,
    /// Users listed under the path prefix, managed or not.
    pub listed_users: u64,
    /// Users whose tags could not be read, so whether they are managed is unknown;
    /// counted in `audit_errors`, never named.
    pub unreadable_users: u64,
    pub managed_users: u64,
    pub keys: u64,
    pub stale_keys: u64,
    pub idle_keys: u64,
    pub deactivated_keys: u64,
    pub drifted_users: u64,
    pub drifts: u64,
    pub audit_errors: u64,
}

/// Everything one audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub keys: Vec<KeyRecord>,
    pub drifts: Vec<DriftRecord>,
    pub errors: Vec<ErrorRecord>,
    pub summary: Summary,
}

impl Report {
    /// The summary record: a CloudWatch Embedded Metric Format document whose metrics
    /// (namespace [`NAMESPACE`], dimension [`DIMENSION`] = `function`) CloudWatch
    /// extracts from the log line, plus the audit's settings.
    pub fn summary_record(&self, function: &str) -> Value {
        let s = &self.summary;
        let timestamp = parse_time(&s.time)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let metrics: Vec<Value> = METRICS
            .iter()
            .map(|m| json!({"Name": m, "Unit": "Count"}))
            .collect();
        json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": metrics,
                }],
            },
            DIMENSION: function,
            "record": SUMMARY_RECORD,
            "time": s.time,
            "max_age_days": s.max_age_days,
            "max_idle_days": s.max_idle_days,
            "deactivate": s.deactivate,
            "path_prefix": s.path_prefix,
            "listed_users": s.listed_users,
            "unreadable_users": s.unreadable_users,
            "ManagedUsers": s.managed_users,
            "Keys": s.keys,
            "StaleKeys": s.stale_keys,
            "IdleKeys": s.idle_keys,
            "DeactivatedKeys": s.deactivated_keys,
            "DriftedUsers": s.drifted_users,
            "Drifts": s.drifts,
            "AuditErrors": s.audit_errors,
        })
    }

    /// Every record as one JSON line: keys, drifts, errors, then the summary.
    pub fn lines(&self, function: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |v: Result<String, serde_json::Error>| {
            if let Ok(line) = v {
                out.push(line);
            }
        };
        for k in &self.keys {
            push(serde_json::to_string(k));
        }
        for d in &self.drifts {
            push(serde_json::to_string(d));
        }
        for e in &self.errors {
            push(serde_json::to_string(e));
        }
        push(serde_json::to_string(&self.summary_record(function)));
        out
    }

    /// Writes [`Report::lines`] to stdout, each line whole.
    pub fn emit(&self, function: &str) {
        let mut out = std::io::stdout().lock();
        for line in self.lines(function) {
            // A log line that cannot be written has nowhere else to go.
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

/// Runs one audit with the settings in the function's environment, writes its records
/// to stdout and returns the summary record (the invocation's result).
pub async fn handle(app: &App, now: SystemTime) -> Result<Value, Error> {
    let mut cfg = AuditConfig::from_env()?;
    cfg.path_prefix = app.guardrails.allowed_path_prefix.clone();
    let report = run(&app.clients, &cfg, app.settings.max_in_flight, now).await?;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "planton-iam-user".into());
    report.emit(&function);
    Ok(report.summary_record(&function))
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
    let max_in_flight = max_in_flight.max(1);
    let names = list_users(clients, &cfg.path_prefix).await?;
    let listed = names.len() as u64;

    // One ListUserTags per user decides ownership; nothing else is read for a user the
    // function does not manage.
    let tagged: Vec<Result<Option<Managed>, ()>> = futures::stream::iter(names)
        .map(|name| async move { ownership(clients, name).await })
        .buffer_unordered(max_in_flight)
        .collect()
        .await;
    let unreadable = tagged.iter().filter(|t| t.is_err()).count() as u64;
    let mut managed: Vec<Managed> = tagged.into_iter().flatten().flatten().collect();
    managed.sort_by(|a, b| a.name.cmp(&b.name));

    // A managed user costs a handful of concurrent reads; keep the total near the limit.
    let per_user = (max_in_flight / 4).max(1);
    let outcomes: Vec<UserOutcome> = futures::stream::iter(managed)
        .map(|m| async move { audit_user(clients, cfg, now, m).await })
        .buffer_unordered(per_user)
        .collect()
        .await;

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
    }
    report
        .keys
        .sort_by(|a, b| (&a.user, &a.access_key_id).cmp(&(&b.user, &b.access_key_id)));
    report
        .drifts
        .sort_by(|a, b| (&a.user, aspect_rank(&a.aspect)).cmp(&(&b.user, aspect_rank(&b.aspect))));
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
    };
    Ok(report)
}

pub(crate) async fn list_users(c: &Clients, path_prefix: &str) -> Result<Vec<String>, Error> {
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
pub(crate) struct Managed {
    pub(crate) name: String,
    owner: Owner,
    /// The user's `planton:secret-name` tag: where its key is kept.
    pub(crate) secret_name: Option<String>,
}

/// `Ok(None)` for a user the function does not manage, or that is gone; `Err` when its
/// tags cannot be read (the user is then counted, never named).
pub(crate) async fn ownership(c: &Clients, name: String) -> Result<Option<Managed>, ()> {
    let mut pages = c
        .iam
        .list_user_tags()
        .user_name(&name)
        .into_paginator()
        .send();
    let mut tags = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => tags.extend(
                p.tags
                    .into_iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            ),
            Err(e) if is_not_found(e.code()) => return Ok(None),
            Err(e) => {
                tracing::warn!(
                    code = e.code().unwrap_or("Unknown"),
                    "a user's tags could not be read; it is left out of the audit"
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
    }))
}

#[derive(Debug, Default)]
struct UserOutcome {
    /// Deleted while the audit ran: no longer managed, no records.
    vanished: bool,
    keys: Vec<KeyRecord>,
    drifts: Vec<DriftRecord>,
    errors: Vec<ErrorRecord>,
}

/// One key as ListAccessKeys describes it.
#[derive(Debug, Clone)]
struct KeyMeta {
    id: String,
    active: bool,
    created: Option<SystemTime>,
}

/// What the user's secret says about its keys.
#[derive(Debug, Clone, Default)]
struct SecretView {
    name: Option<String>,
    exists: bool,
    pending_deletion: bool,
    /// Tagged for the same owner and this user.
    owned: bool,
    /// The key id of the AWSCURRENT version.
    current: Option<String>,
    /// The key ids of every staged version.
    held: BTreeSet<String>,
    /// The secret's template tags: a copy of what the user was deployed with.
    template_tags: Vec<(String, String)>,
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
    let (user, keys) = futures::join!(
        Box::pin(observe::user(c, name, Depth::Converge, Expect::Exists)),
        list_keys(c, name),
    );
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
    let keys = match keys {
        Ok(k) => k,
        Err(e) => {
            out.errors.push(error(e.to_string()));
            return out;
        }
    };
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
    out
}

async fn list_keys(c: &Clients, name: &str) -> Result<Vec<KeyMeta>, Error> {
    let mut pages = c
        .iam
        .list_access_keys()
        .user_name(name)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| Error::aws(format!("listing the access keys of user {name}"), e))?;
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
    Ok(keys)
}

/// Reads the secret's description and the key id of each staged version. The values
/// are parsed for `AccessKeyId` alone and dropped.
async fn read_secret(
    c: &Clients,
    name: &str,
    owner: &Owner,
    user: &str,
) -> Result<SecretView, Error> {
    let describe = async {
        match c.sm.describe_secret().secret_id(name).send().await {
            Ok(d) => Ok(Some(d)),
            Err(e) if is_not_found(e.code()) => Ok(None),
            Err(e) => Err(Error::aws(format!("reading secret {name}"), e)),
        }
    };
    let staged = futures::future::try_join_all(STAGES.map(|stage| async move {
        match c
            .sm
            .get_secret_value()
            .secret_id(name)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(v) => Ok(v.secret_string().and_then(observe_key_id)),
            // No such secret or stage, or scheduled for deletion: no key.
            Err(e)
                if is_not_found(e.code())
                    || matches!(e.code(), Some("InvalidRequestException")) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::aws(
                format!("reading the key id held by the {stage} version of secret {name}"),
                e,
            )),
        }
    }));
    let (desc, staged) = futures::try_join!(describe, staged)?;
    let Some(desc) = desc else {
        return Ok(SecretView {
            name: Some(name.to_string()),
            ..SecretView::default()
        });
    };
    let tags: Vec<(String, String)> = desc
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect();
    let owned = owner.owns(&tags) && tag(&tags, crate::state::TAG_USER_NAME) == Some(user);
    let [current, previous, pending] =
        <[Option<String>; 3]>::try_from(staged).unwrap_or([None, None, None]);
    let held = [&current, &previous, &pending]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    Ok(SecretView {
        name: Some(name.to_string()),
        exists: true,
        pending_deletion: desc.deleted_date().is_some(),
        owned,
        template_tags: deployed::template_tags(&tags)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        current,
        held,
    })
}

fn observe_key_id(secret_string: &str) -> Option<String> {
    let v: Value = serde_json::from_str(secret_string).ok()?;
    v.get("AccessKeyId")?.as_str().map(str::to_string)
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
        match c
            .iam
            .update_access_key()
            .user_name(&user.name)
            .access_key_id(&k.id)
            .status(StatusType::Inactive)
            .send()
            .await
        {
            Ok(_) => r.deactivated = true,
            Err(e) => {
                r.error = Some(
                    Error::aws(
                        format!("deactivating idle key {} of user {}", k.id, user.name),
                        e,
                    )
                    .to_string(),
                )
            }
        }
    }
    r
}

/// Whole days from `from` to `to`; 0 for a time in the future.
fn days_between(from: SystemTime, to: SystemTime) -> u64 {
    to.duration_since(from).unwrap_or(Duration::ZERO).as_secs() / DAY
}

fn iso(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<SystemTime> {
    aws_smithy_types::DateTime::from_str(s, Format::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}

fn aspect_name(a: &str) -> &'static str {
    match a {
        "p" => "path",
        "b" => "permissions_boundary",
        "m" => "managed_policies",
        "i" => "inline_policies",
        "g" => "groups",
        "t" => "tags",
        _ => "unknown",
    }
}

fn aspect_rank(name: &str) -> usize {
    const ORDER: [&str; 10] = [
        "record",
        "path",
        "permissions_boundary",
        "managed_policies",
        "inline_policies",
        "groups",
        "tags",
        "key_status",
        "secret",
        "access_keys",
    ];
    ORDER.iter().position(|n| *n == name).unwrap_or(ORDER.len())
}

fn key_status_name(k: &str) -> &'static str {
    match k {
        "A" => "Active",
        "I" => "Inactive",
        _ => "none",
    }
}

/// Compares the user with its deployment record, its secret and its keys. Pure: every
/// read has been made.
fn drifts(
    user: &ObservedUser,
    owner: &Owner,
    keys: &[KeyMeta],
    secret: &SecretView,
) -> Vec<DriftRecord> {
    let drift = |aspect: &str, now: Value, detail: String| DriftRecord {
        record: DRIFT_RECORD.into(),
        user: user.name.clone(),
        stack_id: owner.stack_id.clone(),
        logical_id: owner.logical_id.clone(),
        aspect: aspect.into(),
        now,
        deployed: None,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        detail,
        hint: HINT.into(),
    };
    let mut out = Vec::new();
    let raw = tag(&user.tags, TAG_DEPLOYED);
    let record = raw.and_then(Record::from_tag);
    if record.is_none() {
        let detail = match raw {
            None => format!(
                "the user has no {TAG_DEPLOYED} tag: it was removed by hand, or the user was \
                 last deployed by an older version; its properties cannot be compared"
            ),
            Some(_) => format!(
                "the {TAG_DEPLOYED} tag cannot be read (edited by hand, or written by a later \
                 version); the user's properties cannot be compared"
            ),
        };
        out.push(drift(
            "record",
            raw.map(Value::from).unwrap_or(Value::Null),
            detail,
        ));
    }

    // The key the secret's AWSCURRENT version holds, as found on the user.
    let secret_usable = secret.exists && !secret.pending_deletion && secret.owned;
    let current = secret
        .current
        .as_ref()
        .filter(|_| secret_usable)
        .and_then(|id| keys.iter().find(|k| &k.id == id));
    let key_now = match current {
        None => "-",
        Some(k) if k.active => "A",
        Some(_) => "I",
    };
    let keys_expected = match &record {
        Some(r) => r.key != "-",
        None => secret.name.is_some(),
    };

    let mut secret_problem = false;
    if keys_expected {
        let name = secret.name.clone().unwrap_or_default();
        let problem = if secret.name.is_none() {
            Some(format!(
                "keys are enabled but the user's {TAG_SECRET_NAME} tag is gone, so no secret holds its key"
            ))
        } else if !secret.exists {
            Some(format!(
                "secret {name} that holds the user's key does not exist"
            ))
        } else if secret.pending_deletion {
            Some(format!(
                "secret {name} that holds the user's key is scheduled for deletion"
            ))
        } else if !secret.owned {
            Some(format!(
                "secret {name} is not tagged for this resource and user, so it is not the user's"
            ))
        } else if secret.current.is_none() {
            Some(format!(
                "secret {name} holds no access key in its AWSCURRENT version"
            ))
        } else if current.is_none() {
            Some(format!(
                "the key in secret {name} no longer exists on the user (deleted by hand)"
            ))
        } else {
            None
        };
        if let Some(detail) = problem {
            secret_problem = true;
            let now = if secret.exists && !secret.pending_deletion {
                json!(name)
            } else {
                Value::Null
            };
            out.push(drift("secret", now, detail));
        }
    }

    if let Some(r) = &record {
        let observed = deployed::of_observed(user, key_now);
        let items = deployed::items_of_observed(user);
        for a in ASPECTS {
            let (Some(want), Some(have)) = (r.digests.get(a), observed.digests.get(a)) else {
                continue;
            };
            if want != have {
                out.push(aspect_drift(
                    drift(aspect_name(a), Value::Null, String::new()),
                    a,
                    want,
                    user,
                    &items,
                    secret,
                ));
            }
        }
        if r.key != key_now && !secret_problem {
            let mut d = drift(
                "key_status",
                json!(key_status_name(key_now)),
                format!(
                    "the key in the secret is {} but was deployed {}",
                    key_status_name(key_now),
                    key_status_name(&r.key)
                ),
            );
            d.deployed = Some(json!(key_status_name(&r.key)));
            out.push(d);
        }
    }

    // Keys no staged version of the user's own secret holds were made outside the
    // function (the console, the CLI, another tool).
    let held = if secret_usable {
        &secret.held
    } else {
        &BTreeSet::new()
    };
    let extra: Vec<String> = keys
        .iter()
        .filter(|k| !held.contains(&k.id))
        .map(|k| k.id.clone())
        .collect();
    if !extra.is_empty() {
        let detail = if secret_usable {
            format!(
                "{} access key(s) on the user are held by no version of its secret: created outside the function",
                extra.len()
            )
        } else {
            format!(
                "{} access key(s) on the user are held by no secret of the user's: created outside the function, or left without their secret",
                extra.len()
            )
        };
        let mut d = drift(
            "access_keys",
            json!(keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>()),
            detail,
        );
        d.added = extra;
        out.push(d);
    }
    out
}

/// Fills in a drifted aspect: what it holds now and, where the record allows, what
/// changed.
fn aspect_drift(
    mut d: DriftRecord,
    aspect: &str,
    deployed_digest: &str,
    user: &ObservedUser,
    items: &deployed::Items,
    secret: &SecretView,
) -> DriftRecord {
    let added = deployed::added_since(items.get(aspect), deployed_digest);
    let what = d.aspect.replace('_', " ");
    match aspect {
        "p" => {
            d.now = json!(user.path);
            d.detail = format!("the user's path is now {} (moved by hand)", user.path);
        }
        "b" => {
            d.now = json!(user.boundary);
            let deployed_none = deployed::digest_of(&[String::new()]) == deployed_digest;
            d.detail = match (&user.boundary, deployed_none) {
                (Some(b), true) => {
                    d.deployed = Some(Value::Null);
                    d.added = vec![b.clone()];
                    format!("permissions boundary {b} was set by hand")
                }
                (Some(b), false) => {
                    format!("the permissions boundary was replaced by hand with {b}")
                }
                (None, _) => "the permissions boundary was removed by hand".to_string(),
            };
        }
        "m" | "i" | "g" => {
            let now: Vec<String> = match aspect {
                "m" => user.managed.iter().cloned().collect(),
                "i" => user.inline.keys().cloned().collect(),
                _ => user.groups.clone(),
            };
            // Items as digested; shown as the names they stand for.
            let show = |item: &str| -> String {
                match aspect {
                    "i" => deployed::inline_item_name(item).to_string(),
                    "g" => user
                        .groups
                        .iter()
                        .find(|g| g.eq_ignore_ascii_case(item))
                        .cloned()
                        .unwrap_or_else(|| item.to_string()),
                    _ => item.to_string(),
                }
            };
            d.now = json!(now);
            d.detail = match added {
                Some(a) if !a.is_empty() => {
                    d.added = a.iter().map(|i| show(i)).collect();
                    format!("{what} differ from the last deployment: {} added by hand", d.added.join(", "))
                }
                _ if aspect == "i" => format!(
                    "{what} differ from the last deployment: a policy was added, removed or edited by hand"
                ),
                _ => format!("{what} differ from the last deployment: removed or replaced by hand"),
            };
        }
        "t" => {
            let now: Vec<(String, String)> = deployed::template_tags(&user.tags)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            d.now = Value::Object(
                now.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<Map<_, _>>(),
            );
            // The secret carries the template's tags too: when they digest to the
            // record, they are exactly what the user was deployed with.
            let mut mirrored: Vec<String> = secret
                .template_tags
                .iter()
                .map(|(k, v)| deployed::tag_item(k, v))
                .collect();
            mirrored.sort_unstable();
            if secret.owned && deployed::digest_of(&mirrored) == deployed_digest {
                let was: BTreeMap<&str, &str> = secret
                    .template_tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let is: BTreeMap<&str, &str> =
                    now.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                d.deployed = Some(json!(was));
                d.added = is
                    .keys()
                    .filter(|k| !was.contains_key(*k))
                    .map(|k| k.to_string())
                    .collect();
                d.removed = was
                    .keys()
                    .filter(|k| !is.contains_key(*k))
                    .map(|k| k.to_string())
                    .collect();
                d.changed = is
                    .iter()
                    .filter(|(k, v)| was.get(*k).is_some_and(|w| w != *v))
                    .map(|(k, _)| k.to_string())
                    .collect();
            } else if let Some(a) = added {
                d.added = a
                    .iter()
                    .map(|i| deployed::split_tag_item(i).0.to_string())
                    .collect();
            }
            let mut parts = Vec::new();
            for (label, list) in [
                ("added", &d.added),
                ("removed", &d.removed),
                ("changed", &d.changed),
            ] {
                if !list.is_empty() {
                    parts.push(format!("{} {label}", list.join(", ")));
                }
            }
            d.detail = if parts.is_empty() {
                "tags differ from the last deployment: removed or changed by hand".to_string()
            } else {
                format!(
                    "tags differ from the last deployment: {} by hand",
                    parts.join("; ")
                )
            };
        }
        _ => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_refuse_what_they_cannot_read() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            AuditConfig::from_lookup(env(&[])).unwrap(),
            AuditConfig::default()
        );
        let c = AuditConfig::from_lookup(env(&[
            ("PLANTON_KEY_MAX_AGE_DAYS", " 30 "),
            ("PLANTON_KEY_MAX_IDLE_DAYS", ""),
            ("PLANTON_AUDIT_DEACTIVATE", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(
            (c.max_age_days, c.max_idle_days, c.deactivate),
            (30, 90, true)
        );
        let e = AuditConfig::from_lookup(env(&[
            ("PLANTON_KEY_MAX_AGE_DAYS", "0"),
            ("PLANTON_KEY_MAX_IDLE_DAYS", "ninety"),
            ("PLANTON_AUDIT_DEACTIVATE", "yes"),
        ]))
        .unwrap_err()
        .to_string();
        for n in [
            "PLANTON_KEY_MAX_AGE_DAYS",
            "PLANTON_KEY_MAX_IDLE_DAYS",
            "PLANTON_AUDIT_DEACTIVATE",
        ] {
            assert!(e.contains(n), "{e}");
        }
    }

    #[test]
    fn days_are_whole_and_never_negative() {
        let t = UNIX_EPOCH + Duration::from_secs(1_000 * DAY);
        assert_eq!(days_between(t, t + Duration::from_secs(DAY - 1)), 0);
        assert_eq!(days_between(t, t + Duration::from_secs(91 * DAY)), 91);
        assert_eq!(days_between(t + Duration::from_secs(5), t), 0);
        assert_eq!(iso(t), "1972-09-27T00:00:00Z");
        assert_eq!(parse_time(&iso(t)), Some(t));
    }

    #[test]
    fn the_summary_is_an_emf_document() {
        let r = Report {
            summary: Summary {
                time: "2026-01-02T03:04:05Z".into(),
                stale_keys: 2,
                ..Summary::default()
            },
            ..Report::default()
        };
        let v = r.summary_record("fn");
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], NAMESPACE);
        assert_eq!(v["_aws"]["Timestamp"], 1_767_323_045_000u64);
        for dims in d["Dimensions"].as_array().unwrap() {
            for k in dims.as_array().unwrap() {
                assert!(
                    v[k.as_str().unwrap()].is_string(),
                    "dimension {k} is a member"
                );
            }
        }
        for m in d["Metrics"].as_array().unwrap() {
            assert!(
                v[m["Name"].as_str().unwrap()].is_u64(),
                "metric {m} is a member"
            );
        }
        assert_eq!(v["StaleKeys"], 2);
        assert_eq!(r.lines("fn").len(), 1);
    }

    fn user() -> ObservedUser {
        ObservedUser {
            name: "u".into(),
            path: "/".into(),
            managed: ["arn:aws:iam::aws:policy/A".to_string()].into(),
            tags: vec![("team".into(), "x".into()), ("env".into(), "prod".into())],
            ..ObservedUser::default()
        }
    }

    fn owner() -> Owner {
        Owner {
            stack_id: "s".into(),
            logical_id: "L".into(),
        }
    }

    fn with_record(mut u: ObservedUser, deployed: &ObservedUser, key: &str) -> ObservedUser {
        let r = deployed::of_observed(deployed, key);
        u.tags.push((TAG_STACK.into(), "s".into()));
        u.tags.push((TAG_LOGICAL.into(), "L".into()));
        u.tags.push((TAG_SECRET_NAME.into(), "sec".into()));
        u.tags.push((TAG_DEPLOYED.into(), r.to_tag()));
        u
    }

    fn secret_holding(id: &str, tags: &[(&str, &str)]) -> SecretView {
        SecretView {
            name: Some("sec".into()),
            exists: true,
            owned: true,
            current: Some(id.into()),
            held: [id.to_string()].into(),
            template_tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..SecretView::default()
        }
    }

    fn key(id: &str, active: bool) -> KeyMeta {
        KeyMeta {
            id: id.into(),
            active,
            created: None,
        }
    }

    #[test]
    fn an_untouched_user_has_no_drift() {
        let u = with_record(user(), &user(), "A");
        let s = secret_holding("K1", &[("team", "x"), ("env", "prod")]);
        assert_eq!(drifts(&u, &owner(), &[key("K1", true)], &s), vec![]);
    }

    #[test]
    fn each_hand_made_change_is_named() {
        let mut now = user();
        now.managed.insert("arn:aws:iam::aws:policy/ByHand".into());
        now.tags.retain(|(k, _)| k != "env");
        now.tags.push(("new".into(), "1".into()));
        let u = with_record(now, &user(), "A");
        let s = secret_holding("K1", &[("team", "x"), ("env", "prod")]);
        let d = drifts(&u, &owner(), &[key("K1", false), key("K2", true)], &s);
        let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
        assert_eq!(
            aspects,
            vec!["managed_policies", "tags", "key_status", "access_keys"]
        );
        assert_eq!(d[0].added, vec!["arn:aws:iam::aws:policy/ByHand"]);
        assert_eq!(d[1].removed, vec!["env"]);
        assert_eq!(d[1].added, vec!["new"]);
        assert_eq!(d[1].deployed, Some(json!({"team": "x", "env": "prod"})));
        assert_eq!(d[2].now, "Inactive");
        assert_eq!(d[2].deployed, Some(json!("Active")));
        assert_eq!(d[3].added, vec!["K2"]);
        assert!(d.iter().all(|x| x.hint == HINT && x.user == "u"));
    }

    #[test]
    fn a_missing_secret_or_record_is_reported_not_fatal() {
        let u = with_record(user(), &user(), "A");
        let gone = SecretView {
            name: Some("sec".into()),
            ..SecretView::default()
        };
        let d = drifts(&u, &owner(), &[key("K1", true)], &gone);
        let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
        assert_eq!(aspects, vec!["secret", "access_keys"], "{d:?}");

        let mut no_record = user();
        no_record
            .tags
            .push((TAG_DEPLOYED.into(), "v9 whatever".into()));
        let d = drifts(
            &no_record,
            &owner(),
            &[key("K1", true)],
            &SecretView::default(),
        );
        let aspects: Vec<&str> = d.iter().map(|x| x.aspect.as_str()).collect();
        assert_eq!(aspects, vec!["record", "access_keys"], "{d:?}");
        assert_eq!(d[0].now, "v9 whatever");
    }
}
