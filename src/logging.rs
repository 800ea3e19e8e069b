//! Logging setup: Lambda's advanced logging controls (`AWS_LAMBDA_LOG_LEVEL`, then
//! `RUST_LOG`, as a level; `AWS_LAMBDA_LOG_FORMAT=JSON`), like the runtime's default
//! subscriber, with one difference: the SDK, HTTP and TLS crates are capped at INFO.
//! At DEBUG and TRACE they print request and response contents (access key ids among
//! them), and no log level an operator picks may put credentials in the log.

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use std::str::FromStr;

/// Crates whose DEBUG/TRACE output includes wire contents.
const CAPPED: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_smithy_query",
    "aws_smithy_json",
    "aws_smithy_xml",
    "aws_sigv4",
    "aws_runtime",
    "aws_config",
    "aws_sdk_iam",
    "aws_sdk_secretsmanager",
    "aws_sdk_sts",
    "aws_sdk_cloudformation",
    "aws_sdk_eventbridge",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "h2",
    "rustls",
    "lambda_runtime",
    "lambda_runtime_api_client",
];

/// The filter for a requested level: that level for everything, at most INFO for
/// the crates above.
pub fn filter_directives(requested: Option<&str>) -> String {
    let level = requested
        .and_then(|l| LevelFilter::from_str(l.trim()).ok())
        .unwrap_or(LevelFilter::INFO);
    let cap = level.min(LevelFilter::INFO);
    let mut d = vec![level.to_string().to_lowercase()];
    d.extend(
        CAPPED
            .iter()
            .map(|c| format!("{c}={}", cap.to_string().to_lowercase())),
    );
    d.join(",")
}

pub fn init() {
    let requested = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let filter = EnvFilter::new(filter_directives(requested.as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .map(|f| f.eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    let fmt = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if json {
        fmt.json().init()
    } else {
        fmt.init()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_crates_never_log_below_info() {
        let d = filter_directives(Some("TRACE"));
        assert!(d.starts_with("trace,"), "{d}");
        assert!(d.contains("aws_smithy_runtime=info"));
        assert!(d.contains("hyper=info"));
        let d = filter_directives(Some("warn"));
        assert!(
            d.starts_with("warn,") && d.contains("aws_sigv4=warn"),
            "{d}"
        );
        assert!(filter_directives(None).starts_with("info,"));
        assert!(
            filter_directives(Some("debug,hyper=trace")).starts_with("info,"),
            "only a level is taken"
        );
        EnvFilter::try_new(filter_directives(Some("trace"))).expect("valid directives");
    }
}
