//! Issue 12, layer 1, end to end: every grant a user would hold is judged by what it
//! allows before any write. The escalation corpus (tests/policies/escalation) is tried
//! as a customer managed policy, as a group's inline policy and as a group's attached
//! policy, each refused with nothing left behind; the benign corpus is accepted the same
//! three ways; AWS managed policies are judged by content, not by name.

use crate::harness::*;
use serde_json::{json, Value};
use std::path::PathBuf;

/// `(file stem, document)` of every corpus file in `tests/policies/<kind>`.
fn corpus(kind: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policies")
        .join(kind);
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                v["document"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// IAM names are at most 128 characters of `[\w+=,.@-]`; the corpus stems fit.
fn short(prefix: &str, stem: &str) -> String {
    let mut n = format!("{prefix}-{stem}");
    n.truncate(60);
    n
}

/// A customer managed policy holding `doc`, or `None` when IAM refuses the document
/// itself (the corpus has deliberately malformed ones; unit tests cover those inline).
async fn policy_with(name: &str, doc: &Value) -> Option<String> {
    let (iam, _) = aws().await;
    match iam
        .create_policy()
        .policy_name(name)
        .policy_document(doc.to_string())
        .send()
        .await
    {
        Ok(o) => o.policy?.arn,
        Err(e) => {
            let e = aws_sdk_iam::error::DisplayErrorContext(e).to_string();
            if e.contains("EntityAlreadyExists") {
                Some(format!("arn:aws:iam::123456789012:policy/{name}"))
            } else {
                None
            }
        }
    }
}

/// A group with `doc` as its inline policy, or `None` when IAM refuses the document.
async fn group_with_inline(name: &str, doc: &Value) -> Option<String> {
    let (iam, _) = aws().await;
    create_group(name).await;
    iam.put_group_policy()
        .group_name(name)
        .policy_name("corpus")
        .policy_document(doc.to_string())
        .send()
        .await
        .ok()?;
    Some(name.to_string())
}

async fn group_with_attached(name: &str, arn: &str) -> String {
    let (iam, _) = aws().await;
    create_group(name).await;
    iam.attach_group_policy()
        .group_name(name)
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
    name.to_string()
}

/// Creates a user with `props` under a fresh logical id; returns the answer and
/// whether the user exists afterwards. A user that was created is deleted again.
async fn try_create(cfn: &Cfn, props: Value) -> (Response, bool) {
    let name = props["UserName"].as_str().unwrap().to_string();
    let r = cfn.create(props.clone()).await;
    let exists = user_state(&name).await.exists;
    if r.status() == "SUCCESS" {
        cfn.delete(&name, props).await.assert_success();
        assert!(!user_state(&name).await.exists, "{name} cleaned up");
    }
    (r, exists)
}

#[tokio::test]
async fn every_escalation_path_is_refused_as_a_managed_or_a_group_policy() {
    let mut cfn = Cfn::new("GrantEscalation").await;
    // Refused even where the operator lets users pass the roles of one path.
    cfn.app.settings.guardrails.scope.passable_role_paths = vec!["/service-roles/".into()];
    let (mut managed, mut group_inline, mut group_attached, mut not_iam_valid) = (0, 0, 0, 0);
    let docs = corpus("escalation");
    assert!(docs.len() >= 70, "the escalation corpus: {}", docs.len());
    for (i, (stem, doc)) in docs.iter().enumerate() {
        let user = format!("ge-{i}");
        let Some(arn) = policy_with(&short("esc", stem), doc).await else {
            not_iam_valid += 1;
            continue;
        };
        // As a customer managed policy the template names.
        let (r, exists) = try_create(
            &cfn,
            json!({"UserName": format!("{user}-m"), "ManagedPolicyArns": [arn]}),
        )
        .await;
        r.assert_failed(&["ManagedPolicyArns[0]", &arn, "raise its own privilege"]);
        assert!(!exists, "{stem}: refused before any write");
        managed += 1;

        // Attached to a group the template joins.
        let g = group_with_attached(&short("gea", stem), &arn).await;
        let (r, exists) = try_create(
            &cfn,
            json!({"UserName": format!("{user}-a"), "Groups": [g]}),
        )
        .await;
        r.assert_failed(&["Groups[0]", "attaches", &arn]);
        assert!(!exists, "{stem}: refused before any write");
        group_attached += 1;

        // As a group's inline policy.
        if let Some(g) = group_with_inline(&short("gei", stem), doc).await {
            let (r, exists) = try_create(
                &cfn,
                json!({"UserName": format!("{user}-i"), "Groups": ["ReadersOk", g]}),
            )
            .await;
            r.assert_failed(&["Groups[1]", "inline policy corpus"]);
            assert!(!exists, "{stem}: refused before any write");
            group_inline += 1;
        }
    }
    println!(
        "escalation corpus: {} documents; refused as managed {managed}, as attached to a group {group_attached}, as a group's inline policy {group_inline}; {not_iam_valid} IAM itself rejects as a document (judged inline by the unit tests)",
        docs.len()
    );
    assert!(
        managed >= 60 && group_inline >= 60,
        "most of the corpus is valid IAM"
    );
}

#[tokio::test]
async fn ordinary_service_account_policies_are_accepted_every_way() {
    let mut cfn = Cfn::new("GrantBenign").await;
    // The benign corpus passes roles under /service-roles/ to the service they are for:
    // a deployment whose PassableRolePaths names that path.
    cfn.app.settings.guardrails.scope.passable_role_paths = vec!["/service-roles/".into()];
    create_group("ReadersOk").await;
    let docs = corpus("benign");
    let mut accepted = 0;
    for (i, (stem, doc)) in docs.iter().enumerate() {
        let Some(arn) = policy_with(&short("ben", stem), doc).await else {
            continue;
        };
        let g = group_with_attached(&short("gba", stem), &arn).await;
        let gi = group_with_inline(&short("gbi", stem), doc).await.unwrap();
        let (r, _) = try_create(
            &cfn,
            json!({"UserName": format!("gb-{i}"), "ManagedPolicyArns": [arn], "Groups": [g, gi],
                   "InlinePolicies": {"own": doc}}),
        )
        .await;
        r.assert_success();
        accepted += 1;
    }
    println!(
        "benign corpus: {accepted} of {} accepted as managed, group and inline policies",
        docs.len()
    );
    assert_eq!(
        accepted,
        docs.len(),
        "every benign document is valid IAM and accepted"
    );
}

#[tokio::test]
async fn aws_managed_policies_are_judged_by_content_not_name() {
    let mut cfn = Cfn::new("GrantAwsManaged").await;
    // Without the name-based deny list, the content still refuses the administrators.
    cfn.app.settings.guardrails.denied_policy_arns = Vec::new();
    for (i, name) in ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"]
        .iter()
        .enumerate()
    {
        let arn = format!("arn:aws:iam::aws:policy/{name}");
        let (r, exists) = try_create(
            &cfn,
            json!({"UserName": format!("gam-{i}"), "ManagedPolicyArns": [arn]}),
        )
        .await;
        r.assert_failed(&["ManagedPolicyArns[0]", name]);
        assert!(!exists);
    }
    let ro = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let (r, _) = try_create(
        &cfn,
        json!({"UserName": "gam-ro", "ManagedPolicyArns": [ro]}),
    )
    .await;
    r.assert_success();
}

#[tokio::test]
async fn the_operator_can_trust_a_vetted_policy_and_an_unreadable_one_is_refused() {
    let mut cfn = Cfn::new("GrantTrusted").await;
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]});
    let arn = policy_with("vetted-pass-any-role", &doc).await.unwrap();
    let props = json!({"UserName": "gt-1", "ManagedPolicyArns": [arn]});
    try_create(&cfn, props.clone())
        .await
        .0
        .assert_failed(&["iam:PassRole"]);
    cfn.app.settings.guardrails.trusted_policy_arns =
        vec!["arn:aws:iam::123456789012:policy/vetted-*".into()];
    try_create(&cfn, props).await.0.assert_success();

    // A policy that cannot be read (here: it does not exist) is refused, not trusted.
    let missing = "arn:aws:iam::123456789012:policy/no-such-policy";
    let (r, exists) = try_create(
        &cfn,
        json!({"UserName": "gt-2", "ManagedPolicyArns": [missing]}),
    )
    .await;
    r.assert_failed(&["ManagedPolicyArns[0]", "could not be read"]);
    assert!(!exists);
    let (r, exists) = try_create(
        &cfn,
        json!({"UserName": "gt-3", "Groups": ["no-such-group"]}),
    )
    .await;
    r.assert_failed(&["Groups[0]", "could not be read"]);
    assert!(!exists);
}

#[tokio::test]
async fn an_update_that_would_escalate_changes_nothing() {
    let cfn = Cfn::new("GrantUpdate").await;
    let before = json!({"UserName": "gu-1", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]});
    cfn.create(before.clone()).await.assert_success();
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Put*", "Resource": "*"}]});
    let arn = policy_with("gu-put-anything", &doc).await.unwrap();
    let after = json!({"UserName": "gu-1", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", arn],
                       "Tags": [{"Key": "changed", "Value": "yes"}]});
    let state = user_state("gu-1").await;
    cfn.update("gu-1", after, before.clone())
        .await
        .assert_failed(&["ManagedPolicyArns[1]", "\"iam:Put*\" grants"]);
    let now = user_state("gu-1").await;
    assert_eq!(now.managed, state.managed, "nothing attached");
    assert_eq!(now.tags, state.tags, "nothing tagged");
    cfn.delete("gu-1", before).await.assert_success();
}

fn allow(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
}

/// Issue 22: `iam:PutUserPolicy` on the user's own literal ARN was accepted (one named
/// resource) while the `${aws:username}` form was refused; both let the user grant
/// itself anything. So do a group's policy writes on a group it joins and a new version
/// of a policy it holds. Each is refused before any write, as an inline, a managed and
/// a group's policy; the same grant on somebody else's user is still accepted.
#[tokio::test]
async fn a_grant_on_the_users_own_arn_group_or_policy_is_refused_before_any_write() {
    let cfn = Cfn::new("GrantOwn").await;
    let own = |user: &str| format!("arn:aws:iam::123456789012:user/{user}");

    let (r, exists) = try_create(
        &cfn,
        json!({"UserName": "go-inline",
               "InlinePolicies": {"self": allow("iam:PutUserPolicy", &own("go-inline"))}}),
    )
    .await;
    r.assert_failed(&[
        "InlinePolicies.self",
        "iam:PutUserPolicy",
        "raise its own privilege",
    ]);
    assert!(!exists, "refused before any write");

    let arn = policy_with(
        "go-put-on-go-managed",
        &allow("iam:PutUserPolicy", &own("go-managed")),
    )
    .await
    .unwrap();
    let (r, exists) = try_create(
        &cfn,
        json!({"UserName": "go-managed", "ManagedPolicyArns": [arn]}),
    )
    .await;
    r.assert_failed(&[
        "ManagedPolicyArns[0]",
        "iam:PutUserPolicy",
        &own("go-managed"),
    ]);
    assert!(!exists, "refused before any write");
    // The same policy for another user: one named user, somebody else's.
    let (r, _) = try_create(
        &cfn,
        json!({"UserName": "go-other", "ManagedPolicyArns": [arn]}),
    )
    .await;
    r.assert_success();

    // A policy that may rewrite itself, held by the user.
    let self_arn = "arn:aws:iam::123456789012:policy/go-rewrite-self";
    let arn = policy_with(
        "go-rewrite-self",
        &allow("iam:CreatePolicyVersion", self_arn),
    )
    .await
    .unwrap();
    assert_eq!(arn, self_arn);
    let (r, exists) = try_create(
        &cfn,
        json!({"UserName": "go-policy", "ManagedPolicyArns": [arn]}),
    )
    .await;
    r.assert_failed(&["ManagedPolicyArns[0]", "iam:CreatePolicyVersion"]);
    assert!(!exists, "refused before any write");

    // A group whose inline policy may put any policy on the group itself.
    let g = group_with_inline(
        "go-group",
        &allow(
            "iam:PutGroupPolicy",
            "arn:aws:iam::123456789012:group/go-group",
        ),
    )
    .await
    .unwrap();
    let (r, exists) = try_create(&cfn, json!({"UserName": "go-grouped", "Groups": [g]})).await;
    r.assert_failed(&["Groups[0]", "inline policy corpus", "iam:PutGroupPolicy"]);
    assert!(!exists, "refused before any write");
}

/// Issue 22: trusted policy globs match path and name case-sensitively, as IAM keeps
/// them. The operator trusts `policy/team/*`; anyone who may create policies makes
/// `policy/TEAM/admin`, which used to match and so went unjudged.
#[tokio::test]
async fn a_trusted_path_does_not_trust_the_same_path_in_another_case() {
    let mut cfn = Cfn::new("GrantTrustCase").await;
    cfn.app.settings.guardrails.trusted_policy_arns =
        vec!["arn:aws:iam::123456789012:policy/team/*".into()];
    let (iam, _) = aws().await;
    let mut arns = Vec::new();
    for (path, name) in [("/team/", "gtc-vetted"), ("/TEAM/", "gtc-lookalike")] {
        let made = iam
            .create_policy()
            .policy_name(name)
            .path(path)
            .policy_document(allow("iam:Put*", "*").to_string())
            .send()
            .await;
        let arn = match made {
            Ok(o) => o.policy.unwrap().arn.unwrap(),
            Err(e) => {
                let e = aws_sdk_iam::error::DisplayErrorContext(e).to_string();
                assert!(e.contains("EntityAlreadyExists"), "{e}");
                format!("arn:aws:iam::123456789012:policy{path}{name}")
            }
        };
        arns.push(arn);
    }
    let (r, _) = try_create(
        &cfn,
        json!({"UserName": "gtc-vetted", "ManagedPolicyArns": [arns[0]]}),
    )
    .await;
    r.assert_success();
    let (r, exists) = try_create(
        &cfn,
        json!({"UserName": "gtc-lookalike", "ManagedPolicyArns": [arns[1]]}),
    )
    .await;
    r.assert_failed(&[
        "ManagedPolicyArns[0]",
        "policy/TEAM/gtc-lookalike",
        "iam:Put*",
    ]);
    assert!(!exists, "refused before any write");
}
