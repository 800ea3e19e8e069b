//! Limits the operator sets in the function's environment, so that being allowed to
//! deploy a stack does not mean being allowed to mint an administrator. Checked with
//! the other validation rules, before any AWS call.

use crate::judgement::{judge_all_for, Holder, Scope};
use crate::spec::UserSpec;
use crate::violation::Violation;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardrails {
    /// `PLANTON_ALLOWED_PATH_PREFIX`: users must live under this path.
    pub allowed_path_prefix: String,
    /// `PLANTON_PERMISSIONS_BOUNDARY`: every user gets this boundary.
    pub permissions_boundary: Option<String>,
    /// `PLANTON_DENIED_POLICY_ARNS`: managed policies that may never be attached.
    pub denied_policy_arns: Vec<String>,
    /// `PLANTON_ALLOW_PRIVILEGED_INLINE`: let inline policies grant `*`, `iam:*`, or
    /// PassRole/CreateAccessKey/AttachUserPolicy on `*`.
    pub allow_privileged_inline: bool,
    /// `PLANTON_TRUSTED_POLICY_ARNS`: managed policies (ARN globs) the operator vetted;
    /// their content is not judged. Unset: every policy's content is.
    pub trusted_policy_arns: Vec<String>,
    /// `PLANTON_ALLOWED_GROUPS`: if set, the only groups users may join.
    pub allowed_groups: Option<Vec<String>>,
    /// `PLANTON_SECRET_NAME_PREFIX`: secrets must be named under this prefix (the
    /// function's role can only write there anyway; this says so before trying).
    pub secret_name_prefix: String,
    /// `PLANTON_SECRET_KMS_KEY_ARN`: the one customer managed key secrets may name
    /// (`Some(None)`: none may, the value `none`); unset: any. The role can use only
    /// the configured key, so this turns a CreateSecret AccessDenied halfway through a
    /// Create into a refusal before anything is made.
    pub secret_kms_key: Option<Option<String>>,
    /// `PLANTON_PASSABLE_ROLE_PATHS`: the role paths the judgement, like the default
    /// boundary, lets users pass on a wildcard ([`Scope`]).
    pub scope: Scope,
}

pub const PRIVILEGED_MANAGED: &[&str] =
    &["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"];
const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];
pub fn default_denied() -> Vec<String> {
    PARTITIONS
        .iter()
        .flat_map(|p| {
            PRIVILEGED_MANAGED
                .iter()
                .map(move |n| format!("arn:{p}:iam::aws:policy/{n}"))
        })
        .collect()
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            allowed_path_prefix: "/".into(),
            permissions_boundary: None,
            denied_policy_arns: default_denied(),
            allow_privileged_inline: false,
            trusted_policy_arns: Vec::new(),
            allowed_groups: None,
            scope: Scope::default(),
            secret_name_prefix: String::new(),
            secret_kms_key: None,
        }
    }
}

impl Guardrails {
    /// Checks `spec` against the limits; fills in the required boundary when the
    /// template names none (so minimal templates keep working), and refuses one that
    /// names a different boundary.
    pub fn apply(&self, spec: &mut UserSpec) -> Vec<Violation> {
        let mut v: Vec<Violation> = Vec::new();
        if !spec.path.starts_with(&self.allowed_path_prefix) {
            v.push(Violation::new(
                "Path",
                format!(
                    "{} is outside {}, the only path this function may manage (PLANTON_ALLOWED_PATH_PREFIX)",
                    spec.path, self.allowed_path_prefix
                ),
            ));
        }
        if let Some(required) = &self.permissions_boundary {
            match &spec.permissions_boundary {
                None => spec.permissions_boundary = Some(required.clone()),
                Some(b) if b == required => {}
                Some(b) => v.push(Violation::new(
                    "PermissionsBoundary",
                    format!(
                        "{b} is not allowed: every user gets {required} (PLANTON_PERMISSIONS_BOUNDARY); name that one or omit the property"
                    ),
                )),
            }
        }
        for arn in &spec.managed_policy_arns {
            if self
                .denied_policy_arns
                .iter()
                .any(|d| d.eq_ignore_ascii_case(arn))
            {
                v.push(Violation::new(
                    "ManagedPolicyArns",
                    format!("{arn} may not be attached through this function (PLANTON_DENIED_POLICY_ARNS)"),
                ));
            }
        }
        if !self.allow_privileged_inline {
            let holder = holder_of(spec);
            for (name, doc) in &spec.inline_policies {
                if let Some(what) = escalation_in(doc, &self.scope, &holder) {
                    v.push(Violation::new(
                        format!("InlinePolicies.{name}"),
                        format!(
                            "{what}, which would let this user raise its own privilege; refused unless the operator sets PLANTON_ALLOW_PRIVILEGED_INLINE=true"
                        ),
                    ));
                }
            }
        }
        if let Some(allowed) = &self.allowed_groups {
            for (i, g) in spec.groups.iter().enumerate() {
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(g)) {
                    let rule = if allowed.is_empty() {
                        format!("{g}: this function may add users to no group (PLANTON_ALLOWED_GROUPS is none)")
                    } else {
                        format!(
                            "{g} is not one of the groups this function may add users to (PLANTON_ALLOWED_GROUPS: {})",
                            allowed.join(", ")
                        )
                    };
                    v.push(Violation::new(format!("Groups[{i}]"), rule));
                }
            }
        }
        let named_key = spec.key.as_ref().and_then(|k| k.kms_key_id.as_deref());
        match (&self.secret_kms_key, named_key) {
            (Some(None), Some(k)) => v.push(Violation::new(
                "SecretKmsKeyId",
                format!(
                    "{k} is not allowed: this function may only use the AWS managed key aws/secretsmanager (PLANTON_SECRET_KMS_KEY_ARN is none); remove SecretKmsKeyId"
                ),
            )),
            // The key's ARN, or its bare id (the ARN's last part), name the same key.
            (Some(Some(allowed)), Some(k))
                if k != allowed && allowed.rsplit_once(":key/").map(|(_, id)| id) != Some(k) =>
            {
                v.push(Violation::new(
                    "SecretKmsKeyId",
                    format!(
                        "{k} is not allowed: the only customer managed key this function may use is {allowed} (PLANTON_SECRET_KMS_KEY_ARN)"
                    ),
                ))
            }
            _ => {}
        }
        if spec.key.is_some() && !spec.secret_name.starts_with(&self.secret_name_prefix) {
            v.push(Violation::new(
                "SecretName",
                format!(
                    "{} does not start with {}, the only prefix this function may write (PLANTON_SECRET_NAME_PREFIX)",
                    spec.secret_name, self.secret_name_prefix
                ),
            ));
        }
        v
    }
}

/// What a policy document grants that lets its holder raise its own privilege, as one
/// clause for a Reason (`statement 0: "iam:Put*" grants iam:PutUserPolicy on "*"`), or
/// `None` when it grants nothing of the kind. The judgement itself is
/// [`crate::judgement`]; this only words it, naming at most three findings so
/// the Reason stays within CloudFormation's 4 KB.
pub fn escalation(doc: &Value) -> Option<String> {
    escalation_for(doc, &Holder::default())
}

/// [`escalation`] of a document given to `holder`: a grant on the user's own ARN, a
/// group it joins or a policy it holds counts as a grant on a wildcard.
pub fn escalation_for(doc: &Value, holder: &Holder) -> Option<String> {
    escalation_in(doc, &Scope::default(), holder)
}

/// [`escalation_for`] in a deployment's [`Scope`] (the role paths users may pass).
pub fn escalation_in(doc: &Value, scope: &Scope, holder: &Holder) -> Option<String> {
    let findings = judge_all_for(doc, scope, holder);
    if findings.is_empty() {
        return None;
    }
    let (shown, rest) = findings.split_at(findings.len().min(3));
    let mut text = shown
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if !rest.is_empty() {
        text.push_str(&format!(" (and {} more)", rest.len()));
    }
    Some(text)
}

/// The holder a template's user is: its name, the groups it asks to join and the
/// managed policies it asks for (the caller adds what its groups attach, once read).
pub fn holder_of(spec: &UserSpec) -> Holder {
    Holder {
        user_name: spec.user_name.clone(),
        groups: spec.groups.clone(),
        policy_arns: spec.managed_policy_arns.iter().cloned().collect(),
    }
}

impl Guardrails {
    /// Whether the operator vetted this managed policy, so its content is not judged.
    ///
    /// The path and name match case-sensitively, as IAM keeps them: IAM paths are
    /// case-sensitive, so `policy/team/*` must not trust `policy/Team/admin`, a policy
    /// anyone who may create policies can make, nor `policy/ReadOnly*` trust a policy
    /// called `readonly-admin`. The head (`arn:<partition>:iam::<account>:policy/`) is
    /// nobody's choice, so the case it is written in does not matter.
    pub fn trusts(&self, arn: &str) -> bool {
        let (head, tail) = split_policy_arn(arn);
        let head = head.to_ascii_lowercase();
        self.trusted_policy_arns.iter().any(|p| {
            let (p_head, p_tail) = split_policy_arn(p);
            glob(&p_head.to_ascii_lowercase(), &head) && glob(p_tail, tail)
        })
    }
}

/// A policy ARN (or glob) split after its first `:policy/`, found in any case: the
/// fixed head and the path and name. Without `:policy/`, all of it is the head.
fn split_policy_arn(arn: &str) -> (&str, &str) {
    const MARK: &str = ":policy/";
    // Lower-casing ASCII keeps every byte where it was, so the index holds for `arn`.
    match arn.to_ascii_lowercase().find(MARK) {
        Some(i) => arn.split_at(i + MARK.len()),
        None => (arn, ""),
    }
}

/// IAM-style wildcards: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(props: Value) -> UserSpec {
        crate::spec::parse(&props, Some("aws")).unwrap()
    }

    fn statement(action: Value, resource: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
    }

    #[test]
    fn privileged_inline_documents_are_recognised() {
        let cases = [
            (statement(json!("*"), "arn:aws:s3:::b"), true),
            (statement(json!("iam:*"), "arn:aws:iam::1:user/x"), true),
            (
                statement(json!(["s3:GetObject", "IAM:*"]), "arn:aws:s3:::b"),
                true,
            ),
            (statement(json!("iam:PassRole"), "*"), true),
            (statement(json!("iam:Pass*"), "*"), true),
            (statement(json!("iam:CreateAccessKey"), "*"), true),
            (statement(json!("iam:*AccessKey*"), "*"), true),
            (statement(json!("iam:AttachUserPolicy"), "*"), true),
            (
                statement(json!("iam:PassRole"), "arn:aws:iam::123456789012:role/app"),
                false,
            ),
            (statement(json!("iam:GetUser"), "*"), false),
            // s3:* on every bucket writes every bucket's policy and ACLs: a bucket
            // policy naming the user reaches it past its boundary.
            (statement(json!("s3:*"), "*"), true),
            (statement(json!("s3:*"), "arn:aws:s3:::one-bucket"), false),
            (
                statement(json!(["s3:GetObject", "s3:PutObject"]), "*"),
                false,
            ),
            (
                json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}}),
                true,
            ),
            (
                json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}),
                false,
            ),
            (
                json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::1:role/x"}}),
                true,
            ),
            (
                statement(json!("iam:**"), "arn:aws:iam::123456789012:user/u"),
                true,
            ),
            (statement(json!("**"), "arn:aws:s3:::b"), true),
            (statement(json!("i*"), "arn:aws:s3:::b"), true),
            (
                statement(json!("iam:PassRole"), "arn:aws:iam::*:role/*"),
                true,
            ),
            (statement(json!("iam:PassRole"), "arn:*"), true),
            (
                statement(json!("iam:CreateAccessKey"), "arn:aws:iam::*:user/*"),
                true,
            ),
            // A prefix is not a name: roles created later under it are reachable too
            // (issue 12 tightened this; it used to be accepted).
            (
                statement(
                    json!("iam:PassRole"),
                    "arn:aws:iam::123456789012:role/app-*",
                ),
                true,
            ),
            (statement(json!("s3:Get*"), "*"), false),
        ];
        for (doc, want) in cases {
            assert_eq!(escalation(&doc).is_some(), want, "{doc}");
        }
    }

    #[test]
    fn defaults_deny_admin_policies_in_every_partition_and_nothing_else() {
        let g = Guardrails::default();
        assert_eq!(g.denied_policy_arns.len(), 9);
        let mut s = spec(json!({"UserName": "u", "ManagedPolicyArns": [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/ReadOnlyAccess"]}));
        let v = g.apply(&mut s);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].rule.contains("AdministratorAccess"));
        let mut cn = crate::spec::parse(
            &json!({"UserName": "u", "ManagedPolicyArns": ["arn:aws-cn:iam::aws:policy/IAMFullAccess"]}),
            Some("aws-cn"),
        )
        .unwrap();
        assert_eq!(g.apply(&mut cn).len(), 1);
    }

    /// Issue 22: `iam:PutUserPolicy` on the user's own literal ARN was accepted while the
    /// `${aws:username}` form was refused; both are the user granting itself anything.
    #[test]
    fn a_grant_on_the_users_own_arn_is_refused_like_aws_username() {
        let with = |action: &str, resource: &str| {
            let mut s = spec(json!({"UserName": "svc-ci", "Path": "/service-accounts/",
                "Groups": ["deployers"],
                "ManagedPolicyArns": ["arn:aws:iam::123456789012:policy/team/ci"],
                "InlinePolicies": {"self": statement(json!(action), resource)}}));
            Guardrails::default().apply(&mut s)
        };
        for (action, resource) in [
            (
                "iam:PutUserPolicy",
                "arn:aws:iam::${aws:accountid}:user/service-accounts/${aws:username}",
            ),
            (
                "iam:PutUserPolicy",
                "arn:aws:iam::123456789012:user/service-accounts/svc-ci",
            ),
            (
                "iam:AttachUserPolicy",
                "arn:aws:iam::123456789012:user/service-accounts/svc-ci",
            ),
            (
                "iam:DeleteUserPermissionsBoundary",
                "arn:aws:iam::123456789012:user/service-accounts/svc-ci",
            ),
            (
                "iam:Put*",
                "arn:aws:iam::123456789012:user/service-accounts/SVC-CI",
            ),
            // Another path or account, same name: maybe the user, so refused.
            ("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/svc-ci"),
            (
                "iam:PutUserPolicy",
                "arn:aws:iam::999999999999:user/service-accounts/svc-ci",
            ),
            // Its own group and its own policy.
            (
                "iam:PutGroupPolicy",
                "arn:aws:iam::123456789012:group/deployers",
            ),
            (
                "iam:AttachGroupPolicy",
                "arn:aws:iam::123456789012:group/teams/Deployers",
            ),
            (
                "iam:CreatePolicyVersion",
                "arn:aws:iam::123456789012:policy/team/ci",
            ),
        ] {
            let v = with(action, resource);
            assert_eq!(v.len(), 1, "{action} on {resource}: {v:?}");
            assert_eq!(v[0].property, "InlinePolicies.self");
            assert!(v[0].rule.contains("raise its own privilege"), "{v:?}");
        }
        // Another user, group or policy, named in full, stays a reviewable choice.
        for (action, resource) in [
            (
                "iam:PutUserPolicy",
                "arn:aws:iam::123456789012:user/service-accounts/svc-other",
            ),
            (
                "iam:PutGroupPolicy",
                "arn:aws:iam::123456789012:group/auditors",
            ),
            (
                "iam:CreatePolicyVersion",
                "arn:aws:iam::123456789012:policy/team/other",
            ),
            // Reads on itself are no escalation.
            (
                "iam:GetUser",
                "arn:aws:iam::123456789012:user/service-accounts/svc-ci",
            ),
        ] {
            assert!(with(action, resource).is_empty(), "{action} on {resource}");
        }
    }

    #[test]
    fn trusted_policy_globs_match_path_and_name_case_sensitively() {
        let g = Guardrails {
            trusted_policy_arns: vec![
                "arn:aws:iam::123456789012:policy/team/*".into(),
                "arn:aws:iam::aws:policy/ReadOnly*".into(),
                "ARN:AWS:IAM::*:POLICY/ops/Deploy?".into(),
            ],
            ..Guardrails::default()
        };
        #[rustfmt::skip]
        let cases = [
            ("arn:aws:iam::123456789012:policy/team/deploy", true),
            ("arn:aws:iam::123456789012:policy/team/sub/x", true),
            ("arn:aws:iam::aws:policy/ReadOnlyAccess", true),
            // The fixed head in another case is the same ARN.
            ("ARN:AWS:IAM::123456789012:POLICY/team/deploy", true),
            ("arn:aws:iam::123456789012:policy/ops/Deploy1", true),
            // Issue 22: another path or name, differing only in case, is another policy.
            ("arn:aws:iam::123456789012:policy/Team/admin", false),
            ("arn:aws:iam::123456789012:policy/TEAM/deploy", false),
            ("arn:aws:iam::aws:policy/readonlyaccess", false),
            ("arn:aws:iam::123456789012:policy/readonly-admin", false),
            ("arn:aws:iam::123456789012:policy/ops/deploy1", false),
            // A path that looks like a second head is still path.
            ("arn:aws:iam::123456789012:policy/x:policy/team/y", false),
            ("arn:aws:iam::999999999999:policy/team/deploy", false),
        ];
        for (arn, want) in cases {
            assert_eq!(g.trusts(arn), want, "{arn}");
        }
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("iam:*", "iam:passrole"));
        assert!(glob("iam:pass?ole", "iam:passrole"));
        assert!(glob("*", "anything"));
        assert!(!glob("iam:get*", "iam:passrole"));
        assert!(glob("iam:*key*", "iam:createaccesskey"));
    }
}
