//! Limits the operator sets in the function's environment, so that being allowed to
//! deploy a stack does not mean being allowed to mint an administrator. Checked with
//! the other validation rules, before any AWS call.

use crate::judgement::judge_all;
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
            for (name, doc) in &spec.inline_policies {
                if let Some(what) = escalation(doc) {
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
    let findings = judge_all(doc);
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

impl Guardrails {
    /// Whether the operator vetted this managed policy, so its content is not judged.
    pub fn trusts(&self, arn: &str) -> bool {
        let arn = arn.to_ascii_lowercase();
        self.trusted_policy_arns
            .iter()
            .any(|p| glob(&p.to_ascii_lowercase(), &arn))
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
            (statement(json!(["s3:GetObject", "s3:PutObject"]), "*"), false),
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

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("iam:*", "iam:passrole"));
        assert!(glob("iam:pass?ole", "iam:passrole"));
        assert!(glob("*", "anything"));
        assert!(!glob("iam:get*", "iam:passrole"));
        assert!(glob("iam:*key*", "iam:createaccesskey"));
    }
}
