//! What the audit writes: one JSON line per key, per drift and per unreadable user, then
//! a summary in CloudWatch Embedded Metric Format, so an alarm needs no metric filter.
//! Records go to stdout as bare JSON objects, not through `tracing`: EMF wants the
//! metric directive (`_aws`) at the top level of the log event. No record ever holds a
//! secret access key.

use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::model::events::{DIMENSION, NAMESPACE};

/// The metrics the summary carries, all of unit Count.
pub const METRICS: [&str; 9] = [
    "ManagedUsers",
    "Keys",
    "StaleKeys",
    "IdleKeys",
    "DeactivatedKeys",
    "DriftedUsers",
    "Drifts",
    "AuditErrors",
    "CoveredUsers",
];

pub const KEY_RECORD: &str = "planton.audit.key";

pub const DRIFT_RECORD: &str = "planton.audit.drift";

pub const ERROR_RECORD: &str = "planton.audit.error";

pub const SUMMARY_RECORD: &str = "planton.audit.summary";

pub const HINT: &str = "the next stack Update converges it";

pub const DAY: u64 = 86_400;

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
    /// Users of the listing this invocation started (from `resume_from` of the run it
    /// continues, if any): a partial run says so.
    pub covered_users: u64,
    /// Every listed user was audited.
    pub complete: bool,
    /// Where the next invocation resumes when this one ran out of time: the first user
    /// (in name order) it did not start.
    pub resume_from: Option<String>,
    /// The credential report the keys were judged by: IAM makes a new one at most
    /// every four hours, so key status and last use may be that old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_report: Option<ReportAge>,
    /// What the run read, and why it read a user on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Reads>,
}

/// When the credential report was made, and how old it was when the audit ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAge {
    pub generated: String,
    pub age_seconds: u64,
}

/// The audit's AWS calls, in the units that make them: pages of the account, and the
/// few reads of one user or key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reads {
    /// GetAccountAuthorizationDetails pages.
    pub account_pages: u32,
    /// ListSecrets pages.
    pub secret_pages: u32,
    /// GenerateCredentialReport and GetCredentialReport calls.
    pub credential_report_calls: u32,
    /// Users whose keys were listed one by one (ListAccessKeys), by reason.
    pub key_lookups: u32,
    pub key_lookup_reasons: std::collections::BTreeMap<String, u32>,
    /// Secrets the listing did not hold, read one by one (DescribeSecret).
    pub secret_lookups: u32,
    /// GetAccessKeyLastUsed calls: keys the report does not show, and the re-check of
    /// each key before it is deactivated.
    pub last_use_reads: u32,
}

/// Everything one audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub keys: Vec<KeyRecord>,
    pub drifts: Vec<DriftRecord>,
    pub errors: Vec<ErrorRecord>,
    pub summary: Summary,
    /// What the keys' owners are told: keys the audit deactivated, users that drifted.
    pub events: Vec<crate::model::events::Event>,
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
            "CoveredUsers": s.covered_users,
            "complete": s.complete,
            // The continuation: EventBridge's rule on this function's results starts
            // the next invocation here (template.yaml, AuditContinueRule).
            "continuation": s.resume_from.as_ref().map(|r| json!({"resume-from": r})),
            "credential_report": s.credential_report,
            "reads": s.reads,
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

/// Whole days from `from` to `to`; 0 for a time in the future.
pub fn days_between(from: SystemTime, to: SystemTime) -> u64 {
    to.duration_since(from).unwrap_or(Duration::ZERO).as_secs() / DAY
}

pub fn iso(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

pub fn parse_time(s: &str) -> Option<SystemTime> {
    aws_smithy_types::DateTime::from_str(s, Format::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}
