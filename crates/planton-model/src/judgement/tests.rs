use super::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ACCOUNT_ROLE: &str = "arn:aws:iam::123456789012:role/app-task-role";
/// Roles under the path the cases' deployment lets users pass (`PassableRolePaths`).
const PASSABLE: &str = "arn:aws:iam::123456789012:role/service-roles/*";

/// The deployment the cases and the corpus are judged in: it lets users pass the roles
/// under /service-roles/, so both sides of that boundary can be tested.
fn scope() -> Scope {
    Scope {
        passable_role_paths: vec!["/service-roles/".into()],
    }
}

fn allow(action: Value, resource: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
}

fn with_condition(action: &str, resource: &str, condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": resource, "Condition": condition}
    ]})
}

fn actions(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.action.as_str()).collect()
}

/// Each case: a name, a document, and the actions its findings must name (empty:
/// accepted). Both sides of every boundary sit next to each other.
fn cases() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    vec![
        // Named resource vs wildcard.
        (
            "PassRole on one named role",
            allow(json!("iam:PassRole"), json!(ACCOUNT_ROLE)),
            vec![],
        ),
        (
            "PassRole on every role",
            allow(
                json!("iam:PassRole"),
                json!("arn:aws:iam::123456789012:role/*"),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on a role prefix",
            allow(
                json!("iam:PassRole"),
                json!("arn:aws:iam::123456789012:role/amplify-*"),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on a ? wildcard",
            allow(
                json!("iam:PassRole"),
                json!("arn:aws:iam::123456789012:role/app-?"),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on *",
            allow(json!("iam:PassRole"), json!("*")),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on a list holding one wildcard",
            allow(
                json!("iam:PassRole"),
                json!([ACCOUNT_ROLE, "arn:aws:iam::123456789012:role/*"]),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on two named roles",
            allow(
                json!("iam:PassRole"),
                json!([ACCOUNT_ROLE, "arn:aws:iam::123456789012:role/other"]),
            ),
            vec![],
        ),
        (
            "CreateAccessKey on every user",
            allow(
                json!("iam:CreateAccessKey"),
                json!("arn:aws:iam::123456789012:user/*"),
            ),
            vec!["iam:CreateAccessKey"],
        ),
        (
            "CreateAccessKey on one named user",
            allow(
                json!("iam:CreateAccessKey"),
                json!("arn:aws:iam::123456789012:user/ci"),
            ),
            vec![],
        ),
        (
            "PutUserPolicy on the user itself through a policy variable",
            allow(
                json!("iam:PutUserPolicy"),
                json!("arn:aws:iam::123456789012:user/${aws:username}"),
            ),
            vec!["iam:PutUserPolicy"],
        ),
        (
            "AssumeRole on *",
            allow(json!("sts:AssumeRole"), json!("*")),
            vec!["sts:AssumeRole"],
        ),
        (
            "AssumeRole on one role",
            allow(json!("sts:AssumeRole"), json!(ACCOUNT_ROLE)),
            vec![],
        ),
        (
            "UpdateFunctionCode on every function",
            allow(
                json!("lambda:UpdateFunctionCode"),
                json!("arn:aws:lambda:us-east-1:123456789012:function:*"),
            ),
            vec!["lambda:UpdateFunctionCode"],
        ),
        (
            "UpdateFunctionCode on one function",
            allow(
                json!("lambda:UpdateFunctionCode"),
                json!("arn:aws:lambda:us-east-1:123456789012:function:app"),
            ),
            vec![],
        ),
        (
            "InvokeFunction on every function (not an escalation on its own)",
            allow(json!("lambda:InvokeFunction"), json!("*")),
            vec![],
        ),
        // PassRole with and without iam:PassedToService.
        (
            "PassRole on a passable path limited by StringEquals iam:PassedToService",
            with_condition(
                "iam:PassRole",
                PASSABLE,
                json!({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
            ),
            vec![],
        ),
        (
            "PassRole on a passable path limited by StringLike, key in another case",
            with_condition(
                "iam:PassRole",
                PASSABLE,
                json!({"StringLike": {"IAM:passedToService": ["lambda.amazonaws.com"]}}),
            ),
            vec![],
        ),
        (
            "PassRole on a passable path limited by ForAnyValue:StringEquals",
            with_condition(
                "iam:PassRole",
                PASSABLE,
                json!({"ForAnyValue:StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}}),
            ),
            vec![],
        ),
        (
            "PassRole on NotResource limited by iam:PassedToService (reaches roles outside the passable paths)",
            json!({"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "NotResource": ACCOUNT_ROLE,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}]}),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * limited by iam:PassedToService (roles outside the passable paths)",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on a passable path without iam:PassedToService",
            allow(json!("iam:PassRole"), json!(PASSABLE)),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on a path that only begins like the passable one",
            with_condition(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/service-roles-x/*",
                json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on a passable path in any account (IAM passes only the caller's)",
            with_condition(
                "iam:PassRole",
                "arn:aws:iam::*:role/service-roles/*",
                json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            ),
            vec![],
        ),
        (
            "PassRole with a wildcard before the passable path ends",
            with_condition(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/service-*/*",
                json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            ),
            vec!["iam:PassRole"],
        ),
        // A passed role put to work: the wildcard PassRole, however limited, with any
        // action that creates, starts or updates what acts as the role, on any resource.
        (
            "PassRole on a passable path with CreateFunction of one named function",
            json!({"Statement": [
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": PASSABLE,
                    "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
                {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"],
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:mine"}]}),
            vec!["lambda:CreateFunction"],
        ),
        (
            "PassRole on a passable path with CreateSchedule of one named schedule",
            json!({"Statement": [
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": PASSABLE,
                    "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}},
                {"Effect": "Allow", "Action": "scheduler:CreateSchedule",
                    "Resource": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/mine"}]}),
            vec!["scheduler:CreateSchedule"],
        ),
        (
            "PassRole on a passable path with a change set of the author's own stack",
            json!({"Statement": [
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": PASSABLE,
                    "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}},
                {"Effect": "Allow", "Action": ["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"],
                    "Resource": "arn:aws:cloudformation:us-east-1:123456789012:stack/mine/*"}]}),
            // Each twice: on the stack's wildcard id alone, and with the passed role.
            vec![
                "cloudformation:CreateChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:CreateChangeSet",
                "cloudformation:ExecuteChangeSet",
            ],
        ),
        (
            "PassRole of one named role with CreateFunction of one named function",
            json!({"Statement": [
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/service-roles/fn",
                    "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
                {"Effect": "Allow", "Action": "lambda:CreateFunction",
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:mine"}]}),
            vec![],
        ),
        (
            "PassRole on * with StringNotEquals iam:PassedToService",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringNotEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * with StringEqualsIfExists (true when the key is absent)",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringEqualsIfExists": {"iam:PassedToService": "ec2.amazonaws.com"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * with ForAllValues (true when the key is absent)",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"ForAllValues:StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * with StringLike on a wildcard service",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringLike": {"iam:PassedToService": "*"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * with a policy variable as the service",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringEquals": {"iam:PassedToService": "${aws:PrincipalTag/service}"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * with an empty service list",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringEquals": {"iam:PassedToService": []}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "PassRole on * with a condition on another key",
            with_condition(
                "iam:PassRole",
                "*",
                json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
            ),
            vec!["iam:PassRole"],
        ),
        (
            "iam:PassedToService exempts PassRole only, not its neighbours",
            json!({"Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "iam:CreateAccessKey"], "Resource": PASSABLE,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}]}),
            vec!["iam:CreateAccessKey"],
        ),
        (
            "iam:PassedToService does not exempt iam:*",
            with_condition(
                "iam:*",
                "*",
                json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
            ),
            vec!["iam:*"],
        ),
        // Deny never escalates.
        (
            "Deny of *",
            json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}),
            vec![],
        ),
        (
            "Deny with NotAction",
            json!({"Statement": [{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]}),
            vec![],
        ),
        (
            "Deny does not cancel an Allow",
            json!({"Statement": [
                {"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:PutUserPolicy", "Resource": "*"}
            ]}),
            vec!["iam:PutUserPolicy"],
        ),
        // NotAction and NotResource.
        (
            "Allow with NotAction on *",
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
            vec!["*"],
        ),
        (
            "Allow with NotAction on one named resource",
            json!({"Statement": [{"Effect": "Allow", "NotAction": ["s3:*"], "Resource": ACCOUNT_ROLE}]}),
            vec!["*"],
        ),
        (
            "Allow with an empty NotAction",
            json!({"Statement": [{"Effect": "Allow", "NotAction": [], "Resource": "*"}]}),
            vec!["*"],
        ),
        (
            "escalation action on NotResource",
            json!({"Statement": [{"Effect": "Allow", "Action": "iam:AttachUserPolicy", "NotResource": "arn:aws:iam::123456789012:user/admin"}]}),
            vec!["iam:AttachUserPolicy"],
        ),
        (
            "harmless action on NotResource",
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"}]}),
            vec![],
        ),
        // Every action, every IAM action, however spelled, whatever the resource.
        ("* on *", allow(json!("*"), json!("*")), vec!["*"]),
        (
            "* on one named resource",
            allow(json!("*"), json!("arn:aws:s3:::bucket")),
            vec!["*"],
        ),
        ("*:*", allow(json!("*:*"), json!(ACCOUNT_ROLE)), vec!["*"]),
        ("** ", allow(json!("**"), json!(ACCOUNT_ROLE)), vec!["*"]),
        ("iam:*", allow(json!("iam:*"), json!("*")), vec!["iam:*"]),
        (
            "iam:* on one named user (the user itself)",
            allow(json!("iam:*"), json!("arn:aws:iam::123456789012:user/app")),
            vec!["iam:*"],
        ),
        (
            "i*:*",
            allow(json!("i*:*"), json!(ACCOUNT_ROLE)),
            vec!["iam:*"],
        ),
        (
            "IAM:*",
            allow(json!("IAM:*"), json!(ACCOUNT_ROLE)),
            vec!["iam:*"],
        ),
        ("i*", allow(json!("i*"), json!(ACCOUNT_ROLE)), vec!["iam:*"]),
        // Patterns expand against the table.
        (
            "iam:Put*",
            allow(json!("iam:Put*"), json!("*")),
            vec![
                "iam:PutGroupPolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:PutUserPermissionsBoundary",
                "iam:PutUserPolicy",
            ],
        ),
        (
            "iam:Put* on one named user",
            allow(
                json!("iam:Put*"),
                json!("arn:aws:iam::123456789012:user/app"),
            ),
            vec![],
        ),
        (
            "upper and lower case: IAM:putuserpolicy",
            allow(json!("IAM:putuserpolicy"), json!("*")),
            vec!["iam:PutUserPolicy"],
        ),
        (
            "? wildcard: iam:P?tUserPolicy",
            allow(json!("iam:P?tUserPolicy"), json!("*")),
            vec!["iam:PutUserPolicy"],
        ),
        (
            "? does not match two characters",
            allow(json!("iam:P?UserPolicy"), json!("*")),
            vec![],
        ),
        (
            "* across the colon: *assRole",
            allow(json!("*assRole"), json!("*")),
            vec!["iam:PassRole"],
        ),
        (
            "sts:Assume* on *",
            allow(json!("sts:Assume*"), json!("*")),
            vec!["sts:AssumeRole", "sts:AssumeRoot"],
        ),
        (
            "iam:Get* and iam:List* on *",
            allow(json!(["iam:Get*", "iam:List*"]), json!("*")),
            vec![],
        ),
        (
            "sts:GetCallerIdentity on *",
            allow(json!("sts:GetCallerIdentity"), json!("*")),
            vec![],
        ),
        (
            "a pattern matching nothing in the table",
            allow(json!("s3:Get*"), json!("*")),
            vec![],
        ),
        (
            "surrounding spaces are ignored, as IAM would",
            allow(json!(" iam:PutUserPolicy "), json!("*")),
            vec!["iam:PutUserPolicy"],
        ),
        // Shapes.
        (
            "Statement as one object, Action and Resource as lists",
            json!({"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "iam:AttachRolePolicy"], "Resource": ["*"]}}),
            vec!["iam:AttachRolePolicy"],
        ),
        (
            "empty Statement list",
            json!({"Version": "2012-10-17", "Statement": []}),
            vec![],
        ),
        ("empty Action list", allow(json!([]), json!("*")), vec![]),
        (
            "empty Resource list",
            allow(json!("iam:PassRole"), json!([])),
            vec![],
        ),
    ]
}

#[test]
fn every_rule_on_both_sides_of_its_boundary() {
    let mut failures = Vec::new();
    for (name, doc, expected) in cases() {
        let findings = judge_in(&doc, &scope());
        let mut got = actions(&findings);
        got.dedup();
        if got != expected {
            failures.push(format!(
                "{name}: expected {expected:?}, got {got:?} ({})",
                findings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        assert!(
            findings.iter().all(|f| f.unreadable.is_none()),
            "{name}: {findings:?}"
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn unreadable_documents_are_refused_and_say_why() {
    let cases = [
        (json!([]), "not a JSON object"),
        (json!("{\"Statement\": []}"), "not a JSON object"),
        (json!({"Version": "2012-10-17"}), "no Statement"),
        (json!({"statement": []}), "no Statement"),
        (
            json!({"Statement": "Allow"}),
            "neither an object nor a list",
        ),
        (json!({"Statement": [42]}), "not an object"),
        (
            json!({"Statement": [{"Action": "s3:GetObject", "Resource": "*"}]}),
            "no Effect",
        ),
        (
            json!({"Statement": [{"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"}]}),
            "Effect is \"allow\"",
        ),
        (
            json!({"Statement": [{"Effect": true, "Action": "s3:GetObject", "Resource": "*"}]}),
            "Effect is true",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": 42, "Resource": "*"}]}),
            "Action holds 42",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", null], "Resource": "*"}]}),
            "Action holds null",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": {"iam": "*"}, "Resource": "*"}]}),
            "not a string",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "iam:Put UserPolicy", "Resource": "*"}]}),
            "not an action name",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "iam:PutUſerPolicy", "Resource": "*"}]}),
            "not an action name",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "", "Resource": "*"}]}),
            "not an action name",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "NotAction": [7], "Resource": "*"}]}),
            "NotAction holds 7",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]}),
            "neither Action nor NotAction",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject", "Resource": "*"}]}),
            "both Action and NotAction",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
            "neither Resource nor NotResource",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "NotResource": "*"}]}),
            "both Resource and NotResource",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [1]}]}),
            "Resource holds 1",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ""}]}),
            "Resource holds \"\"",
        ),
    ];
    for (doc, why) in cases {
        let findings = judge(&doc);
        assert_eq!(findings.len(), 1, "{doc}: {findings:?}");
        let reason = findings[0].unreadable.as_deref().unwrap_or_default();
        assert!(reason.contains(why), "{doc}: {reason:?} lacks {why:?}");
        assert_eq!(findings[0].action, "*");
        assert!(
            findings[0].to_string().contains("could not be read"),
            "{}",
            findings[0]
        );
    }
}

#[test]
fn a_deny_is_not_read_closely() {
    // A Deny grants nothing, so even one IAM would reject is no reason to refuse.
    let doc = json!({"Statement": [{"Effect": "Deny", "Action": 42}]});
    assert!(judge(&doc).is_empty());
}

#[test]
fn findings_name_the_statement_pattern_and_resource_as_written() {
    let doc = json!({"Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:Put*", "IAM:attachUserPolicy"], "Resource": ["arn:aws:iam::1:user/x", "arn:aws:iam::1:user/*"]}
    ]});
    let findings = judge(&doc);
    assert_eq!(findings.len(), 6, "{findings:?}");
    assert_eq!(
        findings[0],
        Finding {
            statement: 1,
            pattern: "iam:Put*".into(),
            action: "iam:PutGroupPolicy".into(),
            resource: "arn:aws:iam::1:user/*".into(),
            unreadable: None,
            with: None,
        }
    );
    assert_eq!(
        findings[5].to_string(),
        r#"statement 1: "IAM:attachUserPolicy" grants iam:AttachUserPolicy on "arn:aws:iam::1:user/*""#
    );
}

#[test]
fn display_reads_as_a_reason() {
    let shown = |doc: Value| judge(&doc)[0].to_string();
    assert_eq!(
        shown(allow(json!("iam:Put*"), json!("*"))),
        r#"statement 0: "iam:Put*" grants iam:PutGroupPolicy on "*""#
    );
    assert_eq!(
        shown(allow(json!("*"), json!("*"))),
        r#"statement 0: "*" grants every action on "*""#
    );
    assert_eq!(
        shown(allow(json!("i*:*"), json!("*"))),
        r#"statement 0: "i*:*" grants every IAM action on "*""#
    );
    assert_eq!(
        shown(json!({"Statement": [{"Effect": "Allow", "NotAction": ["s3:*"], "Resource": "*"}]})),
        r#"statement 0: NotAction ["s3:*"] grants every action it does not list on "*""#
    );
    assert_eq!(
        shown(
            json!({"Statement": {"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::1:role/a"}})
        ),
        r#"statement 0: "iam:PassRole" grants iam:PassRole on NotResource "arn:aws:iam::1:role/a""#
    );
    assert_eq!(
        shown(json!({"Statement": [{"Effect": "Allow", "Action": 1, "Resource": "*"}]})),
        "statement 0 could not be read (Action holds 1, not a string), so it counts as granting every action"
    );
}

#[test]
fn findings_are_deduplicated_capped_and_stable() {
    let twice = json!({"Statement": [{"Effect": "Allow", "Action": ["iam:PutUserPolicy", "iam:PutUserPolicy"], "Resource": ["*", "*"]}]});
    assert_eq!(judge(&twice).len(), 1);

    let many = allow(json!("iam:*Policy*"), json!(["*", "arn:aws:iam::1:role/*"]));
    let all = judge_all(&many);
    assert!(all.len() > MAX_FINDINGS, "{}", all.len());
    let capped = judge(&many);
    assert_eq!(capped.len(), MAX_FINDINGS);
    assert_eq!(capped[..], all[..MAX_FINDINGS]);
    assert_eq!(judge(&many), capped, "same document, same order");
    let named: Vec<&str> = actions(&all);
    for policy_writer in [
        "iam:AttachGroupPolicy",
        "iam:AttachRolePolicy",
        "iam:AttachUserPolicy",
        "iam:CreatePolicyVersion",
        "iam:PutUserPolicy",
        "iam:SetDefaultPolicyVersion",
        "iam:UpdateAssumeRolePolicy",
    ] {
        assert!(named.contains(&policy_writer), "{policy_writer}: {named:?}");
    }
}

#[test]
fn judge_str_parses_and_reports_bad_json() {
    let found =
        judge_str(r#"{"Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}}"#)
            .unwrap();
    assert_eq!(actions(&found), ["iam:*"]);
    assert!(judge_str(r#"{"Statement": []}"#).unwrap().is_empty());
    let err = judge_str("%7B%22Statement%22").unwrap_err();
    assert!(err.contains("not valid JSON"), "{err}");
}

#[test]
fn glob_follows_iam_wildcards() {
    assert!(glob("iam:*", "iam:passrole"));
    assert!(glob("*", ""));
    assert!(glob("i*:*", "iam:passrole"));
    assert!(glob("*role", "iam:passrole"));
    assert!(glob("iam:p?ssrole", "iam:passrole"));
    assert!(glob("*a*a*", "iam:passrole"));
    assert!(!glob("iam:p?role", "iam:passrole"));
    assert!(!glob("iam:pass", "iam:passrole"));
    assert!(!glob("iam:passrole?", "iam:passrole"));
    assert!(!glob("sts:*", "iam:passrole"));
}

#[test]
fn the_table_is_sorted_lower_case_and_spelled() {
    for list in [PERMISSIONS_MANAGEMENT, OTHER_ESCALATION] {
        assert!(
            list.windows(2).all(|w| w[0] < w[1]),
            "unsorted or duplicated"
        );
        assert!(list.iter().all(|a| *a == a.to_ascii_lowercase()));
    }
    // Every service's, not only IAM's: resource policies, grants and ACLs too.
    for required in [
        "iam:putuserpolicy",
        "kms:putkeypolicy",
        "kms:creategrant",
        "s3:putbucketpolicy",
        "sso:createpermissionset",
        "sso:attachmanagedpolicytopermissionset",
        "lambda:addpermission",
        "secretsmanager:putresourcepolicy",
    ] {
        assert!(
            PERMISSIONS_MANAGEMENT.contains(&required),
            "{required} is not in the table"
        );
    }
    assert!(OTHER_ESCALATION
        .iter()
        .all(|a| !PERMISSIONS_MANAGEMENT.contains(a)));
    let lower: Vec<String> = SPELLING.iter().map(|s| s.to_ascii_lowercase()).collect();
    let mut table: Vec<&str> = PERMISSIONS_MANAGEMENT
        .iter()
        .chain(OTHER_ESCALATION)
        .chain(ROLE_TAKERS)
        .copied()
        .collect();
    table.sort_unstable();
    table.dedup();
    assert_eq!(lower, table);
    // The brief's must-haves, so that a regenerated table cannot silently lose one.
    for required in [
        "iam:passrole",
        "iam:createaccesskey",
        "iam:createloginprofile",
        "iam:updateloginprofile",
        "iam:updateassumerolepolicy",
        "iam:addusertogroup",
        "iam:createpolicyversion",
        "iam:putuserpolicy",
        "sts:assumerole",
        "lambda:updatefunctioncode",
        "lambda:createfunction",
        "glue:createdevendpoint",
        "glue:updatedevendpoint",
        "cloudformation:createstack",
        "cloudformation:updatestack",
        "ec2:runinstances",
        "ecs:runtask",
        "datapipeline:createpipeline",
        "datapipeline:putpipelinedefinition",
        "ssm:sendcommand",
        "ssm:startsession",
        "codestar:createproject",
        "sagemaker:createnotebookinstance",
    ] {
        assert!(table.contains(&required), "{required} is not in the table");
    }
    assert!(!table.contains(&"lambda:invokefunction"));
}

/// The repository root: `file!()` is this file's path, relative to the crate root in
/// the real crate and absolute where a scratch crate includes it by path.
fn policies_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join(file!());
    here.ancestors()
        .map(|dir| dir.join("tests").join("policies"))
        .find(|dir| dir.join("escalation").is_dir())
        .expect("tests/policies above this file")
}

/// Every corpus file, by its path under tests/policies, with its document.
fn corpus(kind: &str) -> BTreeMap<String, Value> {
    let dir = policies_dir().join(kind);
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let case: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            case["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{}: no description",
            path.display()
        );
        let name = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());
        files.insert(name, case["document"].clone());
    }
    files
}

#[test]
fn corpus_escalations_refused_and_benign_accepted() {
    let escalation = corpus("escalation");
    let benign = corpus("benign");
    assert!(
        escalation.len() >= 40,
        "{} escalation files",
        escalation.len()
    );
    assert!(benign.len() >= 10, "{} benign files", benign.len());
    let accepted: Vec<&String> = escalation
        .iter()
        .filter(|(_, doc)| judge_in(doc, &scope()).is_empty())
        .map(|(name, _)| name)
        .collect();
    let refused: Vec<String> = benign
        .iter()
        .filter_map(|(name, doc)| {
            judge_in(doc, &scope())
                .first()
                .map(|f| format!("{name}: {f}"))
        })
        .collect();
    println!(
        "escalation corpus: {}/{} refused; benign corpus: {}/{} accepted",
        escalation.len() - accepted.len(),
        escalation.len(),
        benign.len() - refused.len(),
        benign.len()
    );
    assert!(accepted.is_empty(), "escalations accepted: {accepted:?}");
    assert!(refused.is_empty(), "benign policies refused: {refused:#?}");
}

/// Documents cloudsplaining flags that `judge` accepts on purpose, with the reason.
/// Empty: every document cloudsplaining flags is refused.
const CLOUDSPLAINING_EXCEPTIONS: &[(&str, &str)] = &[];

#[test]
fn cloudsplaining_flags_nothing_that_judge_accepts() {
    let path = policies_dir().join("cloudsplaining-verdicts.json");
    // None: cloudsplaining could not read the document (judge refuses those itself).
    let verdicts: BTreeMap<String, Option<Vec<String>>> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut documents = corpus("escalation");
    documents.extend(corpus("benign"));
    let names: Vec<&String> = documents.keys().collect();
    let judged: Vec<&String> = verdicts.keys().collect();
    assert_eq!(
        names, judged,
        "cloudsplaining-verdicts.json is stale: run tests/policies/cloudsplaining.py"
    );
    let (mut flagged, mut unread, mut stricter) = (0, 0, 0);
    let mut missed = Vec::new();
    for (name, verdict) in &verdicts {
        let refused = !judge(&documents[name]).is_empty();
        match verdict {
            None => unread += 1,
            Some(methods) if methods.is_empty() => stricter += usize::from(refused),
            Some(methods) => {
                flagged += 1;
                let excepted = CLOUDSPLAINING_EXCEPTIONS.iter().any(|(n, _)| n == name);
                if !refused && !excepted {
                    missed.push(format!("{name}: cloudsplaining reports {methods:?}"));
                }
            }
        }
    }
    println!(
        "cloudsplaining: {} documents, {flagged} flagged ({} of them accepted by judge), \
         {unread} unreadable to it; judge refuses {stricter} more that it does not flag",
        verdicts.len(),
        missed.len()
    );
    assert!(missed.is_empty(), "{missed:#?}");
}

/// Issue 22: a grant on the holder's own user, group or policy, named in full, is judged
/// like `${aws:username}` (a wildcard), while the same grant on anybody else's stays a
/// reviewable choice; with no holder, nothing is anybody's own.
#[test]
fn the_holders_own_resources_count_as_wildcards() {
    let holder = Holder {
        user_name: "svc-ci".into(),
        groups: vec!["deployers".into()],
        policy_arns: vec!["arn:aws:iam::123456789012:policy/team/ci".into()],
    };
    #[rustfmt::skip]
    let cases: &[(&str, &str, bool)] = &[
        ("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/service-accounts/svc-ci", true),
        ("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/service-accounts/${aws:username}", true),
        ("iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/svc-ci", true),
        ("iam:PutUserPermissionsBoundary", "ARN:AWS:IAM::123456789012:USER/SVC-CI", true),
        ("iam:DeleteUserPermissionsBoundary", "arn:aws-cn:iam::123456789012:user/a/b/svc-ci", true),
        ("iam:PutGroupPolicy", "arn:aws:iam::123456789012:group/deployers", true),
        ("iam:AttachGroupPolicy", "arn:aws:iam::123456789012:group/path/DEPLOYERS", true),
        ("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/team/ci", true),
        ("iam:SetDefaultPolicyVersion", "arn:aws:iam::123456789012:policy/team/CI", true),
        // Somebody else's, named in full.
        ("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/service-accounts/svc-ci2", false),
        ("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/svc-ci/other", false),
        ("iam:PutGroupPolicy", "arn:aws:iam::123456789012:group/auditors", false),
        ("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/team/other", false),
        ("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/other/ci", false),
        // Not IAM, or a read.
        ("s3:PutBucketPolicy", "arn:aws:s3:::svc-ci", false),
        ("iam:GetUser", "arn:aws:iam::123456789012:user/svc-ci", false),
    ];
    for (action, resource, refused) in cases {
        let doc = allow(json!(action), json!(resource));
        let found = judge_for(&doc, &scope(), &holder);
        assert_eq!(
            !found.is_empty(),
            *refused,
            "{action} on {resource}: {found:?}"
        );
        if *refused && !resource.contains("${") {
            assert!(
                judge_in(&doc, &scope()).is_empty(),
                "{action} on {resource}: a named resource with no holder"
            );
            assert_eq!(found[0].resource, *resource, "named as written");
        }
    }
    assert!(
        !Holder::default().owns("arn:aws:iam::123456789012:user/"),
        "no holder owns nothing"
    );
}

/// Every published escalation path (tests/policies/paths.json, generated by
/// scripts/gen-escalation-paths from the pinned sources) is refused when one document
/// grants its actions on `*`, and when its actions are split across two documents
/// (judged together). Named resources are the author's choice and reviewable; the
/// end-to-end test tries each path as an inline, managed and group policy.
#[test]
fn every_published_path_is_refused() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(policies_dir().join("paths.json")).unwrap())
            .unwrap();
    let paths = file["paths"].as_array().unwrap();
    assert!(paths.len() >= 100, "{} paths", paths.len());
    // Paths through a service AWS discontinued cannot be walked: no policy can grant
    // their actions (not in the Service Authorization Reference).
    let retired: Vec<&str> = file["unknown_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["reason"].as_str().unwrap().contains("discontinued"))
        .flat_map(|u| {
            u["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
        })
        .collect();
    assert!(retired.len() <= 2, "{retired:?}");
    let mut open = Vec::new();
    let mut open_split = Vec::new();
    for p in paths {
        let id = p["id"].as_str().unwrap();
        if retired.contains(&id) {
            continue;
        }
        let actions: Vec<&str> = p["spelling"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let doc = |a: &[&str]| allow(json!(a), json!("*"));
        if judge_in(&doc(&actions), &scope()).is_empty() {
            open.push(format!("{id} {actions:?}"));
        }
        // Split: the first action alone, the rest in a second document.
        if actions.len() > 1 {
            let held = [
                crate::grants::Held {
                    property: "InlinePolicies.a".into(),
                    source: "a".into(),
                    doc: doc(&actions[..1]),
                },
                crate::grants::Held {
                    property: "InlinePolicies.b".into(),
                    source: "b".into(),
                    doc: doc(&actions[1..]),
                },
            ];
            let alone = held.iter().any(|h| !judge_in(&h.doc, &scope()).is_empty());
            if !alone && crate::grants::union_refusals(&held, &scope()).is_empty() {
                open_split.push(id.to_string());
            }
        }
    }
    println!(
        "published paths: {} refused of {} ({} through a discontinued service); split in two documents: {} open",
        paths.len() - retired.len() - open.len(),
        paths.len(),
        retired.len(),
        open_split.len()
    );
    assert!(
        open.is_empty(),
        "paths the judgement accepts:\n{}",
        open.join("\n")
    );
    assert!(
        open_split.is_empty(),
        "split paths accepted: {open_split:?}"
    );
}
