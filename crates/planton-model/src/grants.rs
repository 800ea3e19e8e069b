//! How a refusal of the grants a user would hold is worded: one [`Violation`] per
//! escalating managed policy or group, named where the template lists it. The function
//! reads the documents from IAM; the CDK construct and the linters know some of them
//! from the template or the generated AWS managed verdicts ([`crate::aws_managed`]).
//! Both word what they find here, so an author reads the same sentence at synth, in
//! the linter and in the stack's events.

use crate::guardrails::escalation_in;
use crate::judgement::{powers, Holder, Scope};
use crate::spec::UserSpec;
use crate::violation::Violation;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a group holds, as far as its reader could tell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupGrants {
    /// Managed policy ARNs attached to the group.
    pub attached: Vec<String>,
    /// Inline policies by name.
    pub inline: Vec<(String, Value)>,
}

/// Every escalating grant among `spec`'s managed policies and groups. `verdicts` holds
/// each managed policy ARN the reader judged (`None`: nothing escalates; an ARN missing
/// here was not judged, for instance because the operator trusts it or the host cannot
/// know it); `groups` each requested group in `spec.groups` order, `Err` saying why its
/// policies could not be read. `props` are the template's properties, so a Reason names
/// each ARN at its index there rather than in the spec's sorted order. A group's inline
/// policies are judged here, in the deployment's `scope` and for the user as `holder`
/// (a grant on its own ARN or group counts as a wildcard).
pub fn refusals(
    spec: &UserSpec,
    props: &Value,
    verdicts: &BTreeMap<String, Option<String>>,
    groups: &[(String, Result<GroupGrants, String>)],
    scope: &Scope,
    holder: &Holder,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (sorted, arn) in spec.managed_policy_arns.iter().enumerate() {
        if let Some(why) = verdicts.get(arn.as_str()).and_then(Option::as_ref) {
            out.push(Violation::new(
                format!("ManagedPolicyArns[{}]", listed_at(props, arn, sorted)),
                format!("{arn}: {why}"),
            ));
        }
    }
    for (i, (name, listing)) in groups.iter().enumerate() {
        let at = format!("Groups[{i}]");
        let g = match listing {
            Ok(g) => g,
            Err(e) => {
                out.push(Violation::new(
                    at,
                    format!("the policies of group {name} could not be read ({e}); a group whose grants cannot be judged is refused"),
                ));
                continue;
            }
        };
        for arn in &g.attached {
            if let Some(why) = verdicts.get(arn.as_str()).and_then(Option::as_ref) {
                out.push(Violation::new(
                    at.clone(),
                    format!("group {name} attaches {arn}: {why}"),
                ));
            }
        }
        for (policy, doc) in &g.inline {
            if let Some(what) = escalation_in(doc, scope, holder) {
                out.push(Violation::new(
                    at.clone(),
                    format!("group {name} has inline policy {policy}: {what}"),
                ));
            }
        }
    }
    out
}

/// Where the template lists `arn` among its `ManagedPolicyArns` (the spec keeps them
/// sorted, a Reason names the template's index), or `sorted` when it does not.
fn listed_at(props: &Value, arn: &str, sorted: usize) -> usize {
    props
        .get("ManagedPolicyArns")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().position(|v| v.as_str() == Some(arn)))
        .unwrap_or(sorted)
}

/// Every document the user would hold whose text the caller has, for
/// [`union_refusals`]: its inline policies, the managed policies `managed` gives a
/// document for (the template's and its groups' attached ones) and its groups' inline
/// policies, each named where a Reason names it. The function passes what it read from
/// IAM, a host what its template or construct tree holds.
pub fn held<'a>(
    spec: &UserSpec,
    props: &Value,
    managed: impl Fn(&str) -> Option<&'a Value>,
    groups: &[(String, Result<GroupGrants, String>)],
) -> Vec<Held> {
    let mut out: Vec<Held> = spec
        .inline_policies
        .iter()
        .map(|(name, doc)| Held {
            property: format!("InlinePolicies.{name}"),
            source: format!("inline policy {name}"),
            doc: doc.clone(),
        })
        .collect();
    for (sorted, arn) in spec.managed_policy_arns.iter().enumerate() {
        if let Some(doc) = managed(arn) {
            out.push(Held {
                property: format!("ManagedPolicyArns[{}]", listed_at(props, arn, sorted)),
                source: arn.clone(),
                doc: doc.clone(),
            });
        }
    }
    for (i, (name, listing)) in groups.iter().enumerate() {
        let Ok(g) = listing else { continue };
        for (policy, doc) in &g.inline {
            out.push(Held {
                property: format!("Groups[{i}]"),
                source: format!("group {name}'s inline policy {policy}"),
                doc: doc.clone(),
            });
        }
        for arn in &g.attached {
            if let Some(doc) = managed(arn) {
                out.push(Held {
                    property: format!("Groups[{i}]"),
                    source: format!("group {name}'s {arn}"),
                    doc: doc.clone(),
                });
            }
        }
    }
    out
}

/// One policy document the user would hold, and where it comes from: the property a
/// Reason names (`InlinePolicies.deploy`, `ManagedPolicyArns[1]`, `Groups[0]`) and how a
/// reader finds the document (`inline policy deploy`, an ARN, `group ci's inline policy x`).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub property: String,
    pub source: String,
    pub doc: Value,
}

/// What escalates only when the user's documents are read together: an action that
/// puts a passed role to work in one document, and `iam:PassRole` on a wildcard in
/// another (within one document, the judgement already refuses the pair). Each
/// refusal names both documents, on the property of the one whose action it is.
pub fn union_refusals(held: &[Held], scope: &Scope) -> Vec<Violation> {
    let read: Vec<_> = held.iter().map(|h| (h, powers(&h.doc, scope))).collect();
    let mut out: Vec<Violation> = Vec::new();
    for (i, (taker_doc, p)) in read.iter().enumerate() {
        let pass = read
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .find_map(|(_, (h, q))| q.passes.first().map(|pass| (h, pass)));
        let Some((passer, pass)) = pass else {
            continue;
        };
        let mut seen = std::collections::BTreeSet::new();
        for t in &p.takers {
            if !seen.insert(t.action.clone()) {
                continue;
            }
            out.push(Violation::new(
                taker_doc.property.clone(),
                format!(
                    "{} grants {} on {:?} (statement {}) and {} grants iam:PassRole on {:?} (statement {}): together they put to work any role the user may pass",
                    taker_doc.source, t.action, t.resource, t.statement, passer.source, pass.resource, pass.statement
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(property: &str, doc: Value) -> Held {
        Held {
            property: property.into(),
            source: property.into(),
            doc,
        }
    }

    fn scope() -> Scope {
        Scope {
            passable_role_paths: vec!["/service-roles/".into()],
        }
    }

    #[test]
    fn a_passed_role_and_its_taker_are_refused_together_across_documents() {
        let pass = json!({"Statement": {"Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::123456789012:role/service-roles/*",
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}});
        let named_pass = json!({"Statement": {"Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::123456789012:role/service-roles/fn",
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}});
        let create = json!({"Statement": {"Effect": "Allow",
            "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"],
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:mine"}});
        let read_only =
            json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
        let cases: Vec<(Vec<Held>, Vec<&str>)> = vec![
            // (the user's documents, the properties refused)
            (
                vec![
                    held("InlinePolicies.pass", pass.clone()),
                    held("ManagedPolicyArns[0]", create.clone()),
                ],
                vec!["ManagedPolicyArns[0]"],
            ),
            (
                vec![
                    held("Groups[0]", create.clone()),
                    held("InlinePolicies.pass", pass.clone()),
                ],
                vec!["Groups[0]"],
            ),
            (
                vec![
                    held("InlinePolicies.pass", named_pass),
                    held("InlinePolicies.fn", create.clone()),
                ],
                vec![],
            ),
            (
                vec![
                    held("InlinePolicies.pass", pass.clone()),
                    held("InlinePolicies.read", read_only),
                ],
                vec![],
            ),
            (vec![held("InlinePolicies.fn", create)], vec![]),
        ];
        for (docs, want) in cases {
            let got = union_refusals(&docs, &scope());
            let props: Vec<&str> = got.iter().map(|v| v.property.as_str()).collect();
            assert_eq!(props, want, "{got:?}");
            for v in &got {
                assert!(
                    v.rule.contains("lambda:CreateFunction")
                        && v.rule.contains("InlinePolicies.pass"),
                    "{v}"
                );
            }
        }
    }
}
