//! What CloudFormation reports of a stack and one of its logical ids: the two reads a
//! custom-resource request is checked against ([`crate::model::request_check`]). Run
//! together, and alongside the request's other reads, so they add no round trip.

use crate::error::{Error, Result};
use crate::model::request_check::{Reported, ReportedResource};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;

pub async fn reported(
    cfn: &aws_sdk_cloudformation::Client,
    stack_id: &str,
    logical_id: &str,
) -> Result<Reported> {
    let stack = async {
        match cfn.describe_stacks().stack_name(stack_id).send().await {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_string())),
            Err(e) if does_not_exist(e.code(), e.message()) => Ok(None),
            Err(e) => Err(Error::aws(
                "asking CloudFormation for the request's stack (DescribeStacks)",
                e,
            )),
        }
    };
    let resource = async {
        match cfn
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.stack_resource_detail().map(|d| ReportedResource {
                resource_type: d.resource_type().unwrap_or_default().to_string(),
                status: d
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                physical_id: d
                    .physical_resource_id()
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
            })),
            Err(e) if does_not_exist(e.code(), e.message()) => Ok(None),
            Err(e) => Err(Error::aws(
                "asking CloudFormation for the request's resource (DescribeStackResource)",
                e,
            )),
        }
    };
    let (stack_status, resource) = futures::try_join!(stack, resource)?;
    Ok(Reported {
        stack_status,
        resource,
    })
}

/// CloudFormation answers an unknown stack or logical id with a ValidationError saying
/// it "does not exist"; any other ValidationError is a real error.
fn does_not_exist(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError") && message.is_some_and(|m| m.contains("does not exist"))
}
