//! Whether CloudFormation itself stands behind a custom-resource request. Nothing in the
//! event is authenticated: anyone who may deploy a stack may also invoke the function
//! directly with another team's StackId, LogicalResourceId and user name. What such a
//! caller cannot forge is the state CloudFormation reports for that stack: a genuine
//! request arrives only while its stack is mid-operation and its resource, declared as a
//! resource this function serves, is being worked on. Pure: the reads are made by the
//! caller.

/// The resource types this function serves, as `DescribeStackResource` reports them:
/// its own `Custom::PlantonIamUser` and the generic `AWS::CloudFormation::CustomResource`
/// a template may declare it as. CloudFormation reports the type but not the
/// ServiceToken, so a generic custom resource backed by another function cannot be told
/// apart from one backed by this function; every other type (a `WaitCondition`, another
/// `Custom::` name, an S3 bucket) can, and is refused: CloudFormation would never send
/// this function its Delete, so a user made for it would outlive its stack.
pub const RESOURCE_TYPES: &[&str] = &[
    "Custom::PlantonIamUser",
    "AWS::CloudFormation::CustomResource",
];

/// The request as the event tells it.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// `Create`, `Update` or `Delete`.
    pub request_type: &'a str,
    pub resource_type: &'a str,
    /// The event's PhysicalResourceId (Update and Delete).
    pub physical_id: Option<&'a str>,
}

/// What CloudFormation says of the stack and of the logical id; `None` where it says
/// the stack or the resource does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reported {
    pub stack_status: Option<String>,
    pub resource: Option<ReportedResource>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportedResource {
    pub resource_type: String,
    pub status: String,
    pub physical_id: Option<String>,
}

/// `Ok` when the request is one CloudFormation is making now; otherwise the reason, a
/// sentence for the FAILED answer and the log.
pub fn check(claim: &Claim, reported: &Reported) -> Result<(), String> {
    let Some(stack) = reported.stack_status.as_deref() else {
        return Err("CloudFormation knows no such stack".into());
    };
    if !stack.ends_with("_IN_PROGRESS") {
        return Err(format!(
            "the stack is {stack}, not in the middle of an operation, so CloudFormation is not waiting for this answer"
        ));
    }
    let Some(res) = &reported.resource else {
        return Err("the stack declares no resource with this logical id".into());
    };
    if !RESOURCE_TYPES.contains(&res.resource_type.as_str()) {
        return Err(format!(
            "the stack declares this logical id as {}, which this function does not serve (only {})",
            res.resource_type,
            RESOURCE_TYPES.join(" or ")
        ));
    }
    if res.resource_type != claim.resource_type {
        return Err(format!(
            "the stack declares this logical id as {}, not {}",
            res.resource_type, claim.resource_type
        ));
    }
    // After a replacement CloudFormation deletes the old physical id in the cleanup
    // phase, while the logical id already names the new resource, settled.
    let cleanup = stack.ends_with("_CLEANUP_IN_PROGRESS");
    if cleanup {
        return match (claim.request_type, claim.physical_id, &res.physical_id) {
            ("Delete", Some(old), Some(new)) if old != new => Ok(()),
            ("Delete", _, _) => Err(
                "in a cleanup CloudFormation deletes only a replaced resource, and this physical id is the current one"
                    .into(),
            ),
            (other, _, _) => Err(format!(
                "CloudFormation sends no {other} while it cleans up a stack"
            )),
        };
    }
    if !res.status.ends_with("_IN_PROGRESS") {
        return Err(format!(
            "the resource is {}, so CloudFormation is not working on it",
            res.status
        ));
    }
    if claim.request_type == "Create" {
        // CloudFormation sends a Create only for a resource it is creating, which has
        // no physical id until this answer gives it one. A custom resource is never
        // replaced by a Create (CloudFormation refuses a change of its type, and a new
        // physical id comes from an Update's answer), so a Create for a resource that
        // is being updated or deleted, or that holds an id, is somebody else's
        // resource in progress: the user would be tagged and reported as theirs.
        if res.status != "CREATE_IN_PROGRESS" {
            return Err(format!(
                "the resource is {}, and CloudFormation sends a Create only while it creates the resource",
                res.status
            ));
        }
        if let Some(held) = &res.physical_id {
            return Err(format!(
                "the resource already is {held}, and CloudFormation sends a Create only for a resource that has no physical id yet"
            ));
        }
        return Ok(());
    }
    // An Update or a Delete names the resource CloudFormation holds.
    match (claim.physical_id, &res.physical_id) {
        (Some(said), Some(held)) if said == held => Ok(()),
        (Some(said), Some(held)) => Err(format!(
            "the event names physical id {said}, but the stack's resource is {held}"
        )),
        // The rollback Delete of a Create that never answered (or that CloudFormation
        // gave up on) may find no id recorded; what it deletes is then only what this
        // very stack and logical id own (the ownership tags), and only while
        // CloudFormation is deleting that logical id.
        (Some(_), None) if claim.request_type == "Delete" && res.status == "DELETE_IN_PROGRESS" => {
            Ok(())
        }
        (Some(said), None) => Err(format!(
            "the event names physical id {said}, but the stack's resource holds none"
        )),
        (None, _) => Err("the event names no physical id".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(stack: Option<&str>, res: Option<(&str, &str, Option<&str>)>) -> Reported {
        Reported {
            stack_status: stack.map(str::to_string),
            resource: res.map(|(t, s, p)| ReportedResource {
                resource_type: t.into(),
                status: s.into(),
                physical_id: p.map(str::to_string),
            }),
        }
    }

    const T: &str = "Custom::PlantonIamUser";

    #[test]
    fn genuine_requests_pass_and_forgeries_do_not() {
        /// (request, event's physical id, stack status, resource, accepted)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<(&'a str, &'a str, Option<&'a str>)>,
            bool,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // (request, event's physical id, stack status, resource, accepted)
            ("Create", None, Some("CREATE_IN_PROGRESS"), Some((T, "CREATE_IN_PROGRESS", None)), true),
            // A resource added by a stack update.
            ("Create", None, Some("UPDATE_IN_PROGRESS"), Some((T, "CREATE_IN_PROGRESS", None)), true),
            ("Update", Some("u"), Some("UPDATE_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", Some("u"))), true),
            ("Update", Some("u"), Some("UPDATE_ROLLBACK_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", Some("u"))), true),
            ("Delete", Some("u"), Some("DELETE_IN_PROGRESS"), Some((T, "DELETE_IN_PROGRESS", Some("u"))), true),
            // The rollback Delete after a failed Create, with or without the id recorded.
            ("Delete", Some("u"), Some("ROLLBACK_IN_PROGRESS"), Some((T, "DELETE_IN_PROGRESS", Some("u"))), true),
            ("Delete", Some("u"), Some("ROLLBACK_IN_PROGRESS"), Some((T, "DELETE_IN_PROGRESS", None)), true),
            // The cleanup Delete of a replaced resource, forward and after a rollback.
            ("Delete", Some("old"), Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), Some((T, "UPDATE_COMPLETE", Some("new"))), true),
            ("Delete", Some("new"), Some("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"), Some((T, "UPDATE_COMPLETE", Some("old"))), true),
            // Forged against a settled stack, or an unknown one.
            ("Delete", Some("u"), Some("UPDATE_COMPLETE"), Some((T, "UPDATE_COMPLETE", Some("u"))), false),
            ("Update", Some("u"), Some("CREATE_COMPLETE"), Some((T, "CREATE_COMPLETE", Some("u"))), false),
            ("Create", None, Some("ROLLBACK_COMPLETE"), Some((T, "DELETE_COMPLETE", None)), false),
            ("Delete", Some("u"), None, None, false),
            ("Delete", Some("u"), Some("DELETE_IN_PROGRESS"), None, false),
            // The stack is busy, but not with this resource.
            ("Delete", Some("u"), Some("UPDATE_IN_PROGRESS"), Some((T, "UPDATE_COMPLETE", Some("u"))), false),
            // Another resource type under this logical id.
            ("Delete", Some("u"), Some("DELETE_IN_PROGRESS"), Some(("AWS::S3::Bucket", "DELETE_IN_PROGRESS", Some("u"))), false),
            // Another physical id than the stack holds: somebody else's user.
            ("Delete", Some("victim"), Some("DELETE_IN_PROGRESS"), Some((T, "DELETE_IN_PROGRESS", Some("mine"))), false),
            ("Update", Some("victim"), Some("UPDATE_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", Some("mine"))), false),
            // A cleanup never deletes the current resource, and sends nothing else.
            ("Delete", Some("new"), Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), Some((T, "UPDATE_COMPLETE", Some("new"))), false),
            ("Update", Some("u"), Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), Some((T, "UPDATE_COMPLETE", Some("v"))), false),
            // A Create only for a resource being created that holds no id yet (issue 22):
            // not during another team's in-place update, a delete or an import, and not
            // for a resource that already holds a user.
            ("Create", None, Some("UPDATE_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", Some("theirs"))), false),
            ("Create", None, Some("UPDATE_ROLLBACK_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", Some("theirs"))), false),
            ("Create", None, Some("DELETE_IN_PROGRESS"), Some((T, "DELETE_IN_PROGRESS", Some("theirs"))), false),
            ("Create", None, Some("IMPORT_IN_PROGRESS"), Some((T, "IMPORT_IN_PROGRESS", None)), false),
            ("Create", None, Some("CREATE_IN_PROGRESS"), Some((T, "CREATE_IN_PROGRESS", Some("theirs"))), false),
            // An Update only for the id the resource holds: none held is no match.
            ("Update", Some("u"), Some("UPDATE_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", None)), false),
            // A Delete without a held id only while CloudFormation deletes the resource.
            ("Delete", Some("u"), Some("CREATE_IN_PROGRESS"), Some((T, "CREATE_IN_PROGRESS", None)), false),
            ("Delete", Some("u"), Some("UPDATE_IN_PROGRESS"), Some((T, "UPDATE_IN_PROGRESS", None)), false),
        ];
        for (request_type, physical_id, stack, res, want) in cases {
            let claim = Claim {
                request_type,
                resource_type: T,
                physical_id: *physical_id,
            };
            let got = check(&claim, &reported(*stack, *res));
            assert_eq!(
                got.is_ok(),
                *want,
                "{request_type} {physical_id:?} {stack:?} {res:?}: {got:?}"
            );
        }
    }

    /// Only a resource this function serves: its own type or the generic custom
    /// resource. A forger naming a `WaitCondition` (or any other type) in a stack of
    /// their own, created right now, and claiming that type in the event, is refused:
    /// CloudFormation would never send this function that resource's Delete.
    #[test]
    fn only_the_types_this_function_serves_are_acted_on() {
        let create = |event_type: &str, declared: &str| {
            let claim = Claim {
                request_type: "Create",
                resource_type: event_type,
                physical_id: None,
            };
            check(
                &claim,
                &reported(
                    Some("CREATE_IN_PROGRESS"),
                    Some((declared, "CREATE_IN_PROGRESS", None)),
                ),
            )
        };
        for t in RESOURCE_TYPES {
            assert_eq!(create(t, t), Ok(()), "{t}");
        }
        for other in [
            "AWS::CloudFormation::WaitCondition",
            "AWS::CloudFormation::WaitConditionHandle",
            "Custom::SomethingElse",
            "Custom::PlantonIamUserX",
            "custom::plantoniamuser",
            "AWS::IAM::User",
        ] {
            let why = create(other, other).unwrap_err();
            assert!(why.contains("does not serve"), "{other}: {why}");
        }
        // The event's type must be the one declared, even between the two served.
        assert!(create(
            "Custom::PlantonIamUser",
            "AWS::CloudFormation::CustomResource"
        )
        .is_err());
    }
}
