//! Checks a request before any work is done for it. Everything in the event is written
//! by whoever invoked the function, and anyone who may deploy a stack may invoke it
//! directly; the answer, though, may only ever go to CloudFormation.
//!
//! The ResponseURL is a presigned S3 PUT to CloudFormation's response bucket,
//! `cloudformation-custom-resource-response-<region without dashes>`, addressed
//! virtual-hosted style under `amazonaws.com` (`amazonaws.com.cn` in China). A function
//! that PUT wherever it was told would be a request forger for anyone who can invoke
//! it, and would hand a stranger the answer's Status and ids. So any other URL gets no
//! PUT and no work. `PLANTON_RESPONSE_URL_PREFIXES` adds prefixes for local emulators
//! and tests only; it must never be set in AWS. The URL is taken apart once
//! ([`HttpUrl`], the responder's own parser) and every check compares its parts, never
//! its text: a user name (`http://127.0.0.1:1@attacker.example/`) is refused whatever
//! the prefixes say.

use crate::settings::urls::{HttpUrl, Scheme};
use crate::settings::UrlPrefix;

const BUCKET: &str = "cloudformation-custom-resource-response-";

/// `Ok` when `url` may receive the answer; otherwise why not, for the log (never the
/// whole URL: it is a bearer credential for the answer). `region` is the function's own
/// (a custom resource's function is in its stack's region): the bucket must be that
/// region's, so a bucket somebody else named like a response bucket for a region AWS
/// does not use cannot receive it either.
pub fn response_url(
    url: &str,
    trusted_prefixes: &[UrlPrefix],
    region: Option<&str>,
) -> Result<(), String> {
    let url = HttpUrl::parse(url).map_err(|e| format!("the ResponseURL {e}"))?;
    if trusted_prefixes.iter().any(|p| p.admits(&url)) {
        return Ok(());
    }
    if url.scheme != Scheme::Https {
        return Err("the ResponseURL is not https".into());
    }
    if url.port.is_some() {
        return Err("the ResponseURL carries a port".into());
    }
    let host = url.host.as_str();
    let bucket_region = region.map(|r| r.replace('-', ""));
    let in_region = |host: &str| {
        bucket_region.as_ref().is_none_or(|r| {
            host.strip_prefix(BUCKET)
                .and_then(|rest| rest.split_once('.'))
                .is_some_and(|(b, _)| b == r)
        })
    };
    if is_response_bucket_host(host) && in_region(host) {
        Ok(())
    } else {
        Err(format!(
            "the ResponseURL's host {host} is not CloudFormation's response bucket"
        ))
    }
}

/// `cloudformation-custom-resource-response-useast1.s3.amazonaws.com`, `...s3-us-west-2
/// .amazonaws.com`, `...s3.us-west-2.amazonaws.com`, `...s3.cn-north-1.amazonaws.com.cn`
/// (and the dualstack and FIPS forms, which only add labels after `s3`).
fn is_response_bucket_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix(BUCKET) else {
        return false;
    };
    let Some((region, endpoint)) = rest.split_once('.') else {
        return false;
    };
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return false;
    }
    let Some(service) = endpoint
        .strip_suffix(".amazonaws.com")
        .or_else(|| endpoint.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let mut labels = service.split('.');
    let first = labels.next().unwrap_or_default();
    let s3 = first == "s3"
        || first == "s3-fips"
        || first.strip_prefix("s3-").is_some_and(is_region_name);
    s3 && labels.all(|l| l == "dualstack" || l == "s3-fips" || is_region_name(l))
}

/// `us-east-1`, `cn-north-1`, `us-gov-west-1`: letters, digits and dashes, a dash in it.
fn is_region_name(s: &str) -> bool {
    s.contains('-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str =
        "/arn%3Aaws%3Acloudformation%3Aus-east-1%3A1%3Astack/s/1%7CU%7Cr?X-Amz-Signature=0";

    #[test]
    fn only_cloudformations_response_bucket_is_answered() {
        let ok = [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
            "https://cloudformation-custom-resource-response-uswest2.s3-us-west-2.amazonaws.com",
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn",
            "https://cloudformation-custom-resource-response-usgovwest1.s3-fips.us-gov-west-1.amazonaws.com",
            "https://cloudformation-custom-resource-response-useast1.s3.dualstack.us-east-1.amazonaws.com",
            "https://CloudFormation-Custom-Resource-Response-UsEast1.S3.AmazonAWS.com",
        ];
        for host in ok {
            assert_eq!(
                response_url(&format!("{host}{Q}"), &[], None),
                Ok(()),
                "{host}"
            );
        }
        let refused = [
            // Not https, or not S3, or not the response bucket, or a look-alike.
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
            "https://attacker.example.com",
            "https://s3.amazonaws.com",
            "https://my-bucket.s3.amazonaws.com",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.net",
            "https://cloudformation-custom-resource-response-useast1.attacker.net",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.co",
            "https://cloudformation-custom-resource-response-.s3.amazonaws.com",
            "https://cloudformation-custom-resource-response-us-east-1.s3.amazonaws.com",
            "https://cloudformation-custom-resource-response-useast1.s3.evil.amazonaws.com",
            "https://cloudformation-custom-resource-response-useast1.sqs.us-east-1.amazonaws.com",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443",
            "https://user@cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
            "https://127.0.0.1",
            "https://169.254.169.254",
            "ftp://cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
            "not a url",
            "",
        ];
        for host in refused {
            assert!(
                response_url(&format!("{host}{Q}"), &[], None).is_err(),
                "{host}"
            );
        }
    }

    fn prefixes(list: &[&str]) -> Vec<UrlPrefix> {
        list.iter().map(|p| UrlPrefix::parse(p).unwrap()).collect()
    }

    #[test]
    fn the_operators_prefixes_are_matched_as_urls() {
        let local = prefixes(&["http://127.0.0.1:"]);
        assert_eq!(
            response_url("http://127.0.0.1:4567/x", &local, None),
            Ok(())
        );
        assert!(response_url("http://127.0.0.2:4567/x", &local, None).is_err());
        assert!(response_url("https://evil.example/?http://127.0.0.1:", &local, None).is_err());
        // Issue 22: the text starts with the prefix, the host is attacker.example.
        let one = prefixes(&["http://127.0.0.1:1"]);
        for url in [
            "http://127.0.0.1:1@attacker.example/",
            "http://127.0.0.1:1@attacker.example/response/r?X-Amz-Signature=s",
            "http://127.0.0.1:10/x",
        ] {
            assert!(response_url(url, &one, None).is_err(), "{url}");
        }
        assert!(
            response_url("http://127.0.0.1:1@attacker.example/", &one, None)
                .unwrap_err()
                .contains("user name")
        );
        // No prefix: nothing but the response bucket.
        assert!(response_url("http://127.0.0.1:4567/x", &[], None).is_err());
    }

    #[test]
    fn the_bucket_is_the_functions_own_regions() {
        let at = |bucket: &str| {
            format!("https://cloudformation-custom-resource-response-{bucket}.s3.amazonaws.com{Q}")
        };
        assert_eq!(response_url(&at("useast1"), &[], Some("us-east-1")), Ok(()));
        assert_eq!(
            response_url(&at("cnnorth1"), &[], Some("cn-north-1")),
            Ok(())
        );
        assert!(response_url(&at("euwest1"), &[], Some("us-east-1")).is_err());
        // A look-alike bucket for a region AWS does not have.
        assert!(response_url(&at("nowhere1"), &[], Some("us-east-1")).is_err());
    }
}
