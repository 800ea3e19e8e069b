//! How a refusal of the grants a user would hold is worded: one [`Violation`] per
//! escalating managed policy or group, named where the template lists it. The function
//! reads the documents from IAM; the CDK construct and the linters know some of them
//! from the template or the generated AWS managed verdicts ([`crate::aws_managed`]).
//! Both word what they find here, so an author reads the same sentence at synth, in
//! the linter and in the stack's events.

use crate::guardrails::escalation;
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
/// each ARN at its index there rather than in the spec's sorted order.
pub fn refusals(
    spec: &UserSpec,
    props: &Value,
    verdicts: &BTreeMap<String, Option<String>>,
    groups: &[(String, Result<GroupGrants, String>)],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let listed = props.get("ManagedPolicyArns").and_then(Value::as_array);
    let at = |arn: &str, sorted: usize| {
        listed
            .and_then(|l| l.iter().position(|v| v.as_str() == Some(arn)))
            .unwrap_or(sorted)
    };
    for (sorted, arn) in spec.managed_policy_arns.iter().enumerate() {
        if let Some(why) = verdicts.get(arn.as_str()).and_then(Option::as_ref) {
            out.push(Violation::new(
                format!("ManagedPolicyArns[{}]", at(arn, sorted)),
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
            if let Some(what) = escalation(doc) {
                out.push(Violation::new(
                    at.clone(),
                    format!("group {name} has inline policy {policy}: {what}"),
                ));
            }
        }
    }
    out
}
