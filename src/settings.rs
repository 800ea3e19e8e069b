//! Every `PLANTON_*` setting, read in one place and checked in one way: a value that
//! cannot be read is never replaced by a default nobody chose. It is recorded as a
//! problem naming the variable and its rule, and every invocation is refused with that
//! text until the operator fixes the function's environment (the template's parameters).

use crate::error::Error;
use crate::model::guardrails::{default_denied, Guardrails};
use crate::model::spec::{path_rule, policy_arn_rule};
use crate::model::violation::{Violation, Violations};
use std::time::Duration;
pub use urls::UrlPrefix;

pub mod urls;

/// The function's settings, from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `PLANTON_MAX_IN_FLIGHT` (16, 1-64): AWS calls in flight per invocation.
    pub max_in_flight: usize,
    /// `PLANTON_DEADLINE_MARGIN_MS` (10000, 1000-600000): time kept in reserve before
    /// the Lambda deadline. No new AWS call starts after `deadline - margin`; the work
    /// is abandoned at `deadline - margin/3` and the answer is sent in what is left.
    pub deadline_margin: Duration,
    /// `PLANTON_ROTATION_GRACE_HOURS` (24, 0-8760): how long the previous key keeps
    /// working after a rotation. Zero deactivates it at finishSecret.
    pub rotation_grace: Duration,
    /// The operator's limits on what a template may ask for.
    pub guardrails: Guardrails,
    /// `PLANTON_VERIFY_REQUESTS` (true): check every custom-resource request against
    /// CloudFormation (DescribeStacks, DescribeStackResource) before any write.
    pub verify_requests: bool,
    /// `PLANTON_RESPONSE_URL_PREFIXES` (none): URL prefixes trusted to receive an
    /// answer besides CloudFormation's response bucket; for local emulators and tests
    /// only, never in AWS. Each is a URL, compared part by part ([`UrlPrefix`]): a text
    /// prefix would let `http://127.0.0.1:1@attacker.example/` pass for
    /// `http://127.0.0.1:1`.
    pub response_url_prefixes: Vec<UrlPrefix>,
    /// The scheduled audit's thresholds.
    pub audit: AuditConfig,
    /// `PLANTON_SERVES` (all): which callers this deployment of the code answers. The
    /// template runs two functions from one zip: the custom-resource and rotation
    /// function, with the write role, and the scheduled one (audit and grace sweep) with
    /// a role that can only read and deactivate keys. Each refuses the other's callers,
    /// so a payload sent to the wrong function never runs with the wrong role.
    pub serves: Serves,
    /// Where events for a key's owners go, and how the owner is named.
    pub events: EventSettings,
    /// `PLANTON_ALLOW_ADOPTION` (false): a template's `AdoptExistingUser` may take over
    /// an existing user nobody owns.
    pub allow_adoption: bool,
    /// `PLANTON_CHANGE_RESPONSE` (quarantine): what the watch does about a hand-made
    /// change it observes: alert, quarantine or revert.
    pub change_response: crate::model::watch::Mode,
    /// `PLANTON_OWN_ROLE_ARNS` (none): the deployment's roles, whose calls the watch
    /// ignores (they are deployments and the watch's own answers, not hand changes).
    pub own_role_arns: Vec<String>,
    /// Every setting that could not be read.
    pub problems: Vec<Violation>,
}

/// The events the function publishes for a key's owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSettings {
    /// `PLANTON_EVENT_BUS` (`default`): the bus's name or ARN; `none` publishes nothing.
    pub bus: Option<String>,
    /// `PLANTON_OWNER_TAG_KEY` (`owner`): the user tag whose value each event carries,
    /// so rules can route it to the owning team.
    pub owner_tag_key: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            bus: Some("default".into()),
            owner_tag_key: "owner".into(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_in_flight: 16,
            deadline_margin: Duration::from_secs(10),
            rotation_grace: Duration::from_secs(24 * 3600),
            guardrails: Guardrails::default(),
            verify_requests: true,
            response_url_prefixes: Vec::new(),
            audit: AuditConfig::default(),
            serves: Serves::ALL,
            events: EventSettings::default(),
            allow_adoption: false,
            change_response: crate::model::watch::Mode::default(),
            own_role_arns: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// The callers one function answers (`PLANTON_SERVES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serves {
    /// CloudFormation's custom-resource requests.
    pub custom_resource: bool,
    /// Secrets Manager's rotation steps.
    pub rotation: bool,
    /// The scheduled audit and grace sweep.
    pub schedule: bool,
    /// CloudTrail events of IAM calls (the watch).
    pub watch: bool,
}

impl Serves {
    pub const ALL: Serves = Serves {
        custom_resource: true,
        rotation: true,
        schedule: true,
        watch: true,
    };
    const NAMES: &'static str = "custom-resource, rotation, schedule, watch";
}

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
    /// The user tag whose value the owners' events carry (`PLANTON_OWNER_TAG_KEY`).
    pub owner_tag_key: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            max_age_days: 90,
            max_idle_days: 90,
            deactivate: false,
            path_prefix: "/".into(),
            owner_tag_key: "owner".into(),
        }
    }
}

/// At most a hundred years: a longer threshold is a typo.
const MAX_DAYS: u64 = 36_500;

impl Settings {
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads every setting through `get`. An empty value means "not set".
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut s = Settings::default();
        let mut r = Reader {
            get: &get,
            problems: Vec::new(),
        };
        if let Some(n) = r.number("PLANTON_MAX_IN_FLIGHT", 1, 64) {
            s.max_in_flight = n as usize;
        }
        if let Some(n) = r.number("PLANTON_DEADLINE_MARGIN_MS", 1_000, 600_000) {
            s.deadline_margin = Duration::from_millis(n);
        }
        // At most a year: a grace longer than any rotation period means no grace end.
        if let Some(n) = r.number("PLANTON_ROTATION_GRACE_HOURS", 0, 8760) {
            s.rotation_grace = Duration::from_secs(n * 3600);
        }
        s.guardrails = r.guardrails();
        if let Some(b) = r.boolean("PLANTON_VERIFY_REQUESTS") {
            s.verify_requests = b;
        }
        for p in r.list("PLANTON_RESPONSE_URL_PREFIXES").unwrap_or_default() {
            match UrlPrefix::parse(&p) {
                Ok(prefix) => s.response_url_prefixes.push(prefix),
                Err(e) => r.refuse(
                    "PLANTON_RESPONSE_URL_PREFIXES",
                    format!("{p:?} {e}; write an http(s) URL such as http://127.0.0.1: (any port of that host) or http://localhost:4566/cb"),
                ),
            }
        }
        if let Some(n) = r.number("PLANTON_KEY_MAX_AGE_DAYS", 1, MAX_DAYS) {
            s.audit.max_age_days = n;
        }
        if let Some(n) = r.number("PLANTON_KEY_MAX_IDLE_DAYS", 1, MAX_DAYS) {
            s.audit.max_idle_days = n;
        }
        if let Some(b) = r.boolean("PLANTON_AUDIT_DEACTIVATE") {
            s.audit.deactivate = b;
        }
        s.audit.path_prefix = s.guardrails.allowed_path_prefix.clone();
        if let Some(callers) = r.list("PLANTON_SERVES").filter(|l| !l.is_empty()) {
            let mut serves = Serves {
                custom_resource: false,
                rotation: false,
                schedule: false,
                watch: false,
            };
            for c in &callers {
                match c.as_str() {
                    "custom-resource" => serves.custom_resource = true,
                    "rotation" => serves.rotation = true,
                    "schedule" => serves.schedule = true,
                    "watch" => serves.watch = true,
                    other => r.refuse(
                        "PLANTON_SERVES",
                        format!("{other:?} is not a caller; name some of: {}", Serves::NAMES),
                    ),
                }
            }
            s.serves = serves;
        }
        if let Some(bus) = r.text("PLANTON_EVENT_BUS") {
            let name_ok = |b: &str| {
                (1..=256).contains(&b.len())
                    && b.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
            };
            if bus.eq_ignore_ascii_case("none") {
                s.events.bus = None;
            } else if name_ok(&bus) {
                s.events.bus = Some(bus);
            } else {
                r.refuse(
                    "PLANTON_EVENT_BUS",
                    format!("{bus:?} is not an EventBridge bus name or ARN (or none)"),
                );
            }
        }
        if let Some(key) = r.text("PLANTON_OWNER_TAG_KEY") {
            if key.len() > 128 || key.starts_with("aws:") {
                r.refuse(
                    "PLANTON_OWNER_TAG_KEY",
                    format!("{key:?} is not a user tag key (1-128 characters, not aws:)"),
                );
            } else {
                s.events.owner_tag_key = key;
            }
        }
        s.audit.owner_tag_key = s.events.owner_tag_key.clone();
        if let Some(b) = r.boolean("PLANTON_ALLOW_ADOPTION") {
            s.allow_adoption = b;
        }
        if let Some(v) = r.text("PLANTON_CHANGE_RESPONSE") {
            match crate::model::watch::Mode::parse(&v) {
                Some(m) => s.change_response = m,
                None => r.refuse(
                    "PLANTON_CHANGE_RESPONSE",
                    format!("{v:?} is not a response; name one of: alert, quarantine, revert"),
                ),
            }
        }
        s.own_role_arns = r.list("PLANTON_OWN_ROLE_ARNS").unwrap_or_default();
        for a in &s.own_role_arns {
            if !(a.starts_with("arn:") && a.contains(":role/")) {
                r.refuse(
                    "PLANTON_OWN_ROLE_ARNS",
                    format!("{a:?} is not a role ARN (arn:aws:iam::<account>:role/<path><name>)"),
                );
            }
        }
        s.problems = r.problems;
        s
    }

    /// `Err` naming every variable that could not be read.
    pub fn check(&self) -> Result<(), Error> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(Violations(self.problems.clone())))
        }
    }
}

struct Reader<'a, F: Fn(&str) -> Option<String>> {
    get: &'a F,
    problems: Vec<Violation>,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    /// The trimmed value, `None` when unset or empty.
    fn text(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn refuse(&mut self, name: &str, rule: String) {
        self.problems.push(Violation::new(name, rule));
    }

    fn number(&mut self, name: &str, min: u64, max: u64) -> Option<u64> {
        let v = self.text(name)?;
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.refuse(
                    name,
                    format!("must be a whole number from {min} to {max}, got {v:?}"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, name: &str) -> Option<bool> {
        let v = self.text(name)?;
        match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.refuse(name, format!("must be true or false, got {v:?}"));
                None
            }
        }
    }

    fn list(&self, name: &str) -> Option<Vec<String>> {
        let v = (self.get)(name)?;
        Some(
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    fn guardrails(&mut self) -> Guardrails {
        let mut g = Guardrails::default();
        if let Some(p) = self.text("PLANTON_ALLOWED_PATH_PREFIX") {
            let p = if p.ends_with('/') { p } else { format!("{p}/") };
            if !p.starts_with('/') || path_rule(&p).is_some() {
                self.refuse(
                    "PLANTON_ALLOWED_PATH_PREFIX",
                    format!("{p:?} is not an IAM path like /service-accounts/"),
                );
            }
            g.allowed_path_prefix = p;
        }
        if let Some(b) = self.text("PLANTON_PERMISSIONS_BOUNDARY") {
            if let Some(rule) = policy_arn_rule(&b, None) {
                self.refuse("PLANTON_PERMISSIONS_BOUNDARY", rule);
            }
            g.permissions_boundary = Some(b);
        }
        // Set but empty: the operator cleared the default deny list on purpose.
        g.denied_policy_arns = self
            .list("PLANTON_DENIED_POLICY_ARNS")
            .unwrap_or_else(default_denied);
        if let Some(b) = self.boolean("PLANTON_ALLOW_PRIVILEGED_INLINE") {
            g.allow_privileged_inline = b;
        }
        g.trusted_policy_arns = self.list("PLANTON_TRUSTED_POLICY_ARNS").unwrap_or_default();
        for p in &g.trusted_policy_arns {
            if !p.starts_with("arn:") || !p.contains(":policy/") {
                self.refuse(
                    "PLANTON_TRUSTED_POLICY_ARNS",
                    format!("{p:?} is not a managed policy ARN (wildcards * and ? allowed), like arn:aws:iam::aws:policy/ReadOnlyAccess"),
                );
            }
        }
        g.scope.passable_role_paths = self.list("PLANTON_PASSABLE_ROLE_PATHS").unwrap_or_default();
        for p in &g.scope.passable_role_paths {
            let printable = p
                .chars()
                .all(|c| c.is_ascii_graphic() && !"*?$".contains(c));
            if !(p.starts_with('/') && p.ends_with('/') && printable && !p.contains("//")) {
                self.refuse(
                    "PLANTON_PASSABLE_ROLE_PATHS",
                    format!("{p:?} is not an IAM path without wildcards, like /ecs-task-roles/"),
                );
            }
        }
        // `none`: no group at all (the template's spelling when the operator allows none).
        match self.text("PLANTON_ALLOWED_GROUPS") {
            Some(v) if v.eq_ignore_ascii_case("none") => g.allowed_groups = Some(Vec::new()),
            Some(_) => g.allowed_groups = self.list("PLANTON_ALLOWED_GROUPS"),
            None => {}
        }
        if let Some(p) = self.text("PLANTON_SECRET_NAME_PREFIX") {
            g.secret_name_prefix = p;
        }
        if let Some(v) = self.text("PLANTON_SECRET_KMS_KEY_ARN") {
            if v.eq_ignore_ascii_case("none") {
                g.secret_kms_key = Some(None);
            } else if v.starts_with("arn:") && v.contains(":kms:") && v.contains(":key/") {
                g.secret_kms_key = Some(Some(v));
            } else {
                self.refuse(
                    "PLANTON_SECRET_KMS_KEY_ARN",
                    format!("must be a KMS key ARN (arn:...:kms:...:key/...) or none, got {v:?}"),
                );
            }
        }
        g
    }
}

#[cfg(test)]
#[path = "settings/guardrails_tests.rs"]
mod guardrails_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_settings_default_and_refuse_what_they_cannot_read() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Settings::from_lookup(env(&[])).audit,
            AuditConfig::default()
        );
        let c = Settings::from_lookup(env(&[
            ("PLANTON_KEY_MAX_AGE_DAYS", " 30 "),
            ("PLANTON_KEY_MAX_IDLE_DAYS", ""),
            ("PLANTON_AUDIT_DEACTIVATE", "TRUE"),
        ]))
        .audit;
        assert_eq!(
            (c.max_age_days, c.max_idle_days, c.deactivate),
            (30, 90, true)
        );
        let e = Settings::from_lookup(env(&[
            ("PLANTON_KEY_MAX_AGE_DAYS", "0"),
            ("PLANTON_KEY_MAX_IDLE_DAYS", "ninety"),
            ("PLANTON_AUDIT_DEACTIVATE", "yes"),
        ]))
        .check()
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
    fn numbers_out_of_range_are_refused_not_clamped() {
        let s = Settings::from_lookup(|k| match k {
            "PLANTON_MAX_IN_FLIGHT" => Some("0".into()),
            "PLANTON_DEADLINE_MARGIN_MS" => Some("ten".into()),
            "PLANTON_ROTATION_GRACE_HOURS" => Some("9000".into()),
            _ => None,
        });
        let e = s.check().unwrap_err().to_string();
        for n in [
            "PLANTON_MAX_IN_FLIGHT",
            "PLANTON_DEADLINE_MARGIN_MS",
            "PLANTON_ROTATION_GRACE_HOURS",
        ] {
            assert!(e.contains(n), "{e}");
        }
        assert!(e.contains("function's configuration"), "{e}");
        let ok = Settings::from_lookup(|k| match k {
            "PLANTON_MAX_IN_FLIGHT" => Some(" 3 ".into()),
            "PLANTON_ROTATION_GRACE_HOURS" => Some("0".into()),
            _ => None,
        });
        assert!(ok.check().is_ok());
        assert_eq!(ok.max_in_flight, 3);
        assert_eq!(ok.rotation_grace, Duration::ZERO);
    }

    #[test]
    fn passable_role_paths_are_read_and_checked() {
        let s = Settings::from_lookup(|k| {
            (k == "PLANTON_PASSABLE_ROLE_PATHS").then(|| "/ecs-task-roles/, /app/fn/".into())
        });
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(
            s.guardrails.scope.passable_role_paths,
            vec!["/ecs-task-roles/", "/app/fn/"]
        );
        for bad in ["ecs/", "/app/*", "/", "/a//b/", "/${aws:username}/"] {
            let s =
                Settings::from_lookup(|k| (k == "PLANTON_PASSABLE_ROLE_PATHS").then(|| bad.into()));
            let refused = s
                .problems
                .iter()
                .any(|p| p.property == "PLANTON_PASSABLE_ROLE_PATHS");
            // "/" is an IAM path (every role): the template refuses nothing of it, the
            // operator names it on purpose.
            assert_eq!(refused, bad != "/", "{bad}");
        }
        assert!(Settings::from_lookup(|_| None)
            .guardrails
            .scope
            .passable_role_paths
            .is_empty());
    }

    #[test]
    fn none_allows_no_group_and_trusted_arns_must_be_policy_arns() {
        let s = Settings::from_lookup(|k| match k {
            "PLANTON_ALLOWED_GROUPS" => Some("None".into()),
            "PLANTON_TRUSTED_POLICY_ARNS" => Some(
                "arn:aws:iam::aws:policy/ReadOnly*, arn:aws:iam::123456789012:policy/team/*".into(),
            ),
            "PLANTON_VERIFY_REQUESTS" => Some("false".into()),
            _ => None,
        });
        assert!(s.check().is_ok(), "{:?}", s.problems);
        assert_eq!(s.guardrails.allowed_groups, Some(vec![]));
        assert!(s
            .guardrails
            .trusts("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(s
            .guardrails
            .trusts("ARN:AWS:IAM::123456789012:POLICY/team/deploy"));
        assert!(!s
            .guardrails
            .trusts("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(!s.verify_requests);
        assert!(
            Settings::default().verify_requests,
            "verification is on unless turned off"
        );
        let bad = Settings::from_lookup(|k| {
            (k == "PLANTON_TRUSTED_POLICY_ARNS").then(|| "*".to_string())
        });
        assert_eq!(bad.problems[0].property, "PLANTON_TRUSTED_POLICY_ARNS");
        for bad in [
            "127.0.0.1:",
            "http://127.0.0.1:1@attacker.example/",
            "http://127.0.0.1:/cb?x",
        ] {
            let url = Settings::from_lookup(move |k| {
                (k == "PLANTON_RESPONSE_URL_PREFIXES").then(|| format!("http://localhost:, {bad}"))
            });
            assert_eq!(url.problems.len(), 1, "{bad}: {:?}", url.problems);
            assert_eq!(url.problems[0].property, "PLANTON_RESPONSE_URL_PREFIXES");
            assert!(url.problems[0].rule.contains(bad), "{:?}", url.problems);
        }
        let url = Settings::from_lookup(|k| {
            (k == "PLANTON_RESPONSE_URL_PREFIXES").then(|| " http://127.0.0.1: ,".to_string())
        });
        assert!(url.check().is_ok(), "{:?}", url.problems);
        assert_eq!(url.response_url_prefixes.len(), 1);
        assert_eq!(
            url.response_url_prefixes[0].to_string(),
            "http://127.0.0.1:"
        );
    }

    #[test]
    fn each_function_serves_the_callers_it_names() {
        let with = |v: &'static str| {
            Settings::from_lookup(move |k| (k == "PLANTON_SERVES").then(|| v.to_string()))
        };
        assert_eq!(with("").serves, Serves::ALL);
        let scheduled = with("schedule");
        assert!(scheduled.check().is_ok());
        assert_eq!(
            scheduled.serves,
            Serves {
                custom_resource: false,
                rotation: false,
                schedule: true,
                watch: false
            }
        );
        let writer = with(" custom-resource , rotation ");
        assert!(writer.serves.custom_resource && writer.serves.rotation);
        assert!(!writer.serves.schedule);
        let typo = with("custom-resource,audit");
        assert_eq!(typo.problems[0].property, "PLANTON_SERVES");
        assert!(
            typo.problems[0].rule.contains("\"audit\""),
            "{:?}",
            typo.problems
        );
    }
}
