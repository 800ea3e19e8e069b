//! Writes docs/aws-managed-policies.md: which AWS managed policies the policy judgement
//! refuses, and the first reason for each, so that an operator knows before attaching
//! one through `ManagedPolicyArns` whether this function will accept it.
//!
//! Run by scripts/gen-managed-policy-report, which dumps moto's copy of the managed
//! policies to a JSON file (`{"PolicyName": document, ...}`) and passes its path and
//! the moto version:
//!
//! ```text
//! cargo run --quiet --example managed_policy_report -- DUMP.json MOTO_VERSION > docs/aws-managed-policies.md
//! ```

use planton_iam_user::model::judgement::{judge, judge_all};
use serde_json::Value;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dump), Some(moto)) = (args.next(), args.next()) else {
        return Err("usage: managed_policy_report DUMP.json MOTO_VERSION".into());
    };
    let policies: BTreeMap<String, Value> = serde_json::from_str(&std::fs::read_to_string(&dump)?)?;
    print!("{}", report(&policies, &moto));
    Ok(())
}

fn report(policies: &BTreeMap<String, Value>, moto: &str) -> String {
    let mut refused = Vec::new();
    let mut by_action: BTreeMap<String, usize> = BTreeMap::new();
    for (name, document) in policies {
        if let Some(first) = judge(document).into_iter().next() {
            let total = judge_all(document).len();
            *by_action.entry(kind(&first.action)).or_default() += 1;
            refused.push((name, first.to_string(), total));
        }
    }
    let accepted = policies.len() - refused.len();
    let mut top: Vec<(String, usize)> = by_action.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# AWS managed policies the policy judgement refuses\n");
    let _ = writeln!(
        w,
        "<!-- Generated: do not edit. Regenerate with `.venv/bin/python scripts/gen-managed-policy-report` \
         (`--check` fails when this page differs). -->\n"
    );
    let _ = writeln!(
        w,
        "Each verdict is `judge` (crates/planton-model/src/judgement.rs) on the default version of every AWS managed \
         policy in moto {moto}'s copy (`moto/iam/aws_managed_policies.py`). A refused policy cannot be \
         attached through this function; the first finding says why, and the count is how many \
         findings `judge_all` returns.\n"
    );
    let _ = writeln!(
        w,
        "**{} of {} refused; {accepted} accepted.**\n",
        refused.len(),
        policies.len()
    );
    let _ = writeln!(w, "| First finding's action | Policies |\n| --- | ---: |");
    for (action, count) in &top {
        let _ = writeln!(w, "| {action} | {count} |");
    }
    let _ = writeln!(
        w,
        "\n| Policy | Findings | First finding |\n| --- | ---: | --- |"
    );
    for (name, first, total) in &refused {
        let _ = writeln!(w, "| {name} | {total} | `{}` |", cell(first));
    }
    out
}

/// The summary groups by action; `*` and `iam:*` read better spelled out.
fn kind(action: &str) -> String {
    match action {
        "*" => "every action (`*`, `*:*` or NotAction) or an unreadable statement".into(),
        "iam:*" => "every IAM action (`iam:*`)".into(),
        a => a.to_string(),
    }
}

/// A finding inside a code span in a table cell: pipes would end the cell and
/// backticks the span.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('`', "'")
}
