use super::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A refusal case: (case name, properties, property named, substring of the rule).
type Refusal = (&'static str, Value, &'static str, &'static str);

fn obj(props: &Value) -> Map<String, Value> {
    match props {
        Value::Object(m) => m.clone(),
        other => panic!("properties must be an object, got {other}"),
    }
}

fn parse_ok(name: &str, props: &Value) -> Fence {
    match parse(&obj(props)) {
        (Some(f), v) if v.is_empty() => f,
        (f, v) => panic!("{name}: expected a fence and no violations, got {f:?} and {v:?}"),
    }
}

fn parse_err(name: &str, props: &Value) -> Vec<Violation> {
    match parse(&obj(props)) {
        (None, v) if !v.is_empty() => v,
        (f, v) => panic!("{name}: expected no fence and violations, got {f:?} and {v:?}"),
    }
}

/// Every case yields exactly one violation, on `property`, whose rule contains `rule`.
fn assert_refused(cases: &[Refusal]) {
    assert!(!cases.is_empty());
    for (name, p, property, rule) in cases {
        let v = parse_err(name, p);
        assert_eq!(
            v.len(),
            1,
            "{name}: expected exactly one violation on {property}, got {v:?}"
        );
        assert_eq!(v[0].property, *property, "{name}: wrong property in {v:?}");
        assert!(
            v[0].rule.contains(rule),
            "{name}: rule {:?} does not contain {rule:?}",
            v[0].rule
        );
    }
}

fn ips(list: &[&str]) -> Value {
    json!({ "AllowedSourceIps": list })
}

fn vpces(list: &[&str]) -> Value {
    json!({ "AllowedVpcEndpoints": list })
}

fn fence(source_ips: &[&str], vpc_endpoints: &[&str]) -> Fence {
    Fence {
        source_ips: source_ips.iter().map(|s| s.to_string()).collect(),
        vpc_endpoints: vpc_endpoints.iter().map(|s| s.to_string()).collect(),
    }
}

const VPCE8: &str = "vpce-1a2b3c4d";
const VPCE17: &str = "vpce-0123456789abcdef0";

// ---------------------------------------------------------------------------------------
// No fence
// ---------------------------------------------------------------------------------------

#[test]
fn absent_or_null_properties_mean_no_fence() {
    let cases: Vec<(&str, Value)> = vec![
        ("no properties at all", json!({})),
        (
            "other properties only",
            json!({"UserName": "svc-ci", "Path": "/"}),
        ),
        ("AllowedSourceIps null", json!({"AllowedSourceIps": null})),
        (
            "AllowedVpcEndpoints null",
            json!({"AllowedVpcEndpoints": null}),
        ),
        (
            "both null",
            json!({"AllowedSourceIps": null, "AllowedVpcEndpoints": null}),
        ),
    ];
    for (name, p) in cases {
        let (f, v) = parse(&obj(&p));
        assert_eq!(f, None, "{name}");
        assert!(v.is_empty(), "{name}: {v:?}");
    }
}

// ---------------------------------------------------------------------------------------
// AllowedSourceIps: accepted and normalised
// ---------------------------------------------------------------------------------------

#[test]
fn source_ips_are_accepted_normalised_and_sorted() {
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "IPv4 network",
            vec!["203.0.113.0/24"],
            vec!["203.0.113.0/24"],
        ),
        ("IPv4 /32", vec!["203.0.113.7/32"], vec!["203.0.113.7/32"]),
        ("IPv4 /1", vec!["128.0.0.0/1"], vec!["128.0.0.0/1"]),
        ("IPv4 private range", vec!["10.0.0.0/8"], vec!["10.0.0.0/8"]),
        (
            "bare IPv4 is /32",
            vec!["203.0.113.7"],
            vec!["203.0.113.7/32"],
        ),
        ("IPv6 network", vec!["2001:db8::/32"], vec!["2001:db8::/32"]),
        (
            "IPv6 uppercase and zeros are canonicalised",
            vec!["2001:0DB8:0000:0000::/64"],
            vec!["2001:db8::/64"],
        ),
        (
            "IPv6 /128",
            vec!["2001:db8::1/128"],
            vec!["2001:db8::1/128"],
        ),
        ("IPv6 /1", vec!["8000::/1"], vec!["8000::/1"]),
        (
            "bare IPv6 is /128",
            vec!["2001:db8::1"],
            vec!["2001:db8::1/128"],
        ),
        (
            "surrounding whitespace is dropped",
            vec![" 198.51.100.0/24\n"],
            vec!["198.51.100.0/24"],
        ),
        (
            "leading zeros in the prefix are dropped",
            vec!["198.51.100.0/024"],
            vec!["198.51.100.0/24"],
        ),
        (
            "mixed: IPv4 first, then IPv6",
            vec!["2001:db8::/32", "203.0.113.0/24", "198.51.100.7"],
            vec!["198.51.100.7/32", "203.0.113.0/24", "2001:db8::/32"],
        ),
        (
            "numeric order, not text order",
            vec![
                "10.0.0.0/8",
                "9.0.0.0/8",
                "2001:db8::/32",
                "2001:db8:a::/48",
                "2001:db8:9::/48",
            ],
            vec![
                "9.0.0.0/8",
                "10.0.0.0/8",
                "2001:db8::/32",
                "2001:db8:9::/48",
                "2001:db8:a::/48",
            ],
        ),
        (
            "same network with two prefixes: both kept, shorter first",
            vec!["10.0.0.0/16", "10.0.0.0/8"],
            vec!["10.0.0.0/8", "10.0.0.0/16"],
        ),
    ];
    for (name, input, want) in cases {
        let f = parse_ok(name, &ips(&input));
        assert_eq!(f.source_ips, want, "{name}");
        assert!(f.vpc_endpoints.is_empty(), "{name}");
    }
}

#[test]
fn a_hundred_cidrs_are_accepted() {
    let list: Vec<String> = (0..MAX_SOURCE_IPS)
        .map(|i| format!("10.0.{i}.0/24"))
        .collect();
    let f = parse_ok("100 CIDRs", &json!({ "AllowedSourceIps": list }));
    assert_eq!(f.source_ips, list);
}

// ---------------------------------------------------------------------------------------
// AllowedSourceIps: refused
// ---------------------------------------------------------------------------------------

#[test]
fn host_bits_are_refused_with_the_network_meant() {
    let cases: Vec<Refusal> = vec![
        (
            "IPv4 /24",
            ips(&["10.0.0.5/24"]),
            "AllowedSourceIps[0]",
            "10.0.0.5/24 has host bits set beyond the /24 prefix; did you mean 10.0.0.0/24 (the network) or 10.0.0.5/32 (only that address)?",
        ),
        (
            "IPv4 /31",
            ips(&["203.0.113.1/31"]),
            "AllowedSourceIps[0]",
            "did you mean 203.0.113.0/31",
        ),
        (
            "IPv4 /1",
            ips(&["192.0.0.0/1"]),
            "AllowedSourceIps[0]",
            "did you mean 128.0.0.0/1",
        ),
        (
            "IPv6 /32",
            ips(&["2001:db8::1/32"]),
            "AllowedSourceIps[0]",
            "2001:db8::1/32 has host bits set beyond the /32 prefix; did you mean 2001:db8::/32 (the network) or 2001:db8::1/128 (only that address)?",
        ),
        (
            "IPv6 /127",
            ips(&["2001:db8::1/127"]),
            "AllowedSourceIps[0]",
            "did you mean 2001:db8::/127",
        ),
        (
            "second entry is named",
            ips(&["203.0.113.0/24", "198.51.100.9/24"]),
            "AllowedSourceIps[1]",
            "did you mean 198.51.100.0/24",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn prefixes_out_of_range_or_malformed_are_refused() {
    let cases: Vec<Refusal> = vec![
        (
            "IPv4 /33",
            ips(&["10.0.0.0/33"]),
            "AllowedSourceIps[0]",
            "prefix /33 is out of range; IPv4 prefixes are 1-32",
        ),
        (
            "IPv4 /255",
            ips(&["10.0.0.0/255"]),
            "AllowedSourceIps[0]",
            "prefix /255 is out of range",
        ),
        (
            "IPv4 /999",
            ips(&["10.0.0.0/999"]),
            "AllowedSourceIps[0]",
            "prefix /999 is out of range",
        ),
        (
            "IPv6 /129",
            ips(&["2001:db8::/129"]),
            "AllowedSourceIps[0]",
            "prefix /129 is out of range; IPv6 prefixes are 1-128",
        ),
        (
            "empty prefix",
            ips(&["10.0.0.0/"]),
            "AllowedSourceIps[0]",
            "the prefix after / must be a number 1-32 for IPv4",
        ),
        (
            "negative prefix",
            ips(&["10.0.0.0/-8"]),
            "AllowedSourceIps[0]",
            "must be a number",
        ),
        (
            "plus sign",
            ips(&["10.0.0.0/+8"]),
            "AllowedSourceIps[0]",
            "must be a number",
        ),
        (
            "word prefix",
            ips(&["2001:db8::/abc"]),
            "AllowedSourceIps[0]",
            "must be a number 1-128 for IPv6",
        ),
        (
            "four digits",
            ips(&["10.0.0.0/0008"]),
            "AllowedSourceIps[0]",
            "must be a number",
        ),
        (
            "two slashes",
            ips(&["10.0.0.0/8/8"]),
            "AllowedSourceIps[0]",
            "must be a number",
        ),
        (
            "space inside",
            ips(&["10.0.0.0/ 8"]),
            "AllowedSourceIps[0]",
            "must be a number",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn prefix_zero_is_refused_for_both_families() {
    let cases: Vec<Refusal> = vec![
        (
            "0.0.0.0/0",
            ips(&["0.0.0.0/0"]),
            "AllowedSourceIps[0]",
            "allows every IPv4 address, so the fence would not fence anything",
        ),
        (
            "::/0",
            ips(&["::/0"]),
            "AllowedSourceIps[0]",
            "allows every IPv6 address, so the fence would not fence anything",
        ),
        (
            "IPv4 /0 with host bits",
            ips(&["10.0.0.0/0"]),
            "AllowedSourceIps[0]",
            "allows every IPv4 address",
        ),
        (
            "IPv6 /0 with host bits",
            ips(&["2001:db8::/0"]),
            "AllowedSourceIps[0]",
            "allows every IPv6 address",
        ),
        (
            "/00",
            ips(&["0.0.0.0/00"]),
            "AllowedSourceIps[0]",
            "allows every IPv4 address",
        ),
        (
            "IPv4-mapped /96 is every IPv4 address too",
            ips(&["::ffff:0.0.0.0/96"]),
            "AllowedSourceIps[0]",
            "list the IPv4 networks themselves",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn garbage_is_refused() {
    let cases: Vec<Refusal> = vec![
        ("a word", ips(&["office"]), "AllowedSourceIps[0]", "\"office\" is not an IPv4 or IPv6 address or CIDR"),
        ("empty string", ips(&[""]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("only a prefix", ips(&["/24"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("three octets", ips(&["10.0.0/24"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("octet over 255", ips(&["10.0.0.256"]), "AllowedSourceIps[0]", "each of the four numbers must be 0-255 without leading zeros"),
        ("leading zero", ips(&["010.0.0.0/8"]), "AllowedSourceIps[0]", "without leading zeros"),
        ("hostname", ips(&["example.com"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("range", ips(&["10.0.0.1-10.0.0.9"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("bracketed IPv6", ips(&["[2001:db8::1]"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("IPv6 zone id", ips(&["fe80::1%eth0"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        ("IPv6 two ::", ips(&["2001::db8::1"]), "AllowedSourceIps[0]", "is not an IPv4 or IPv6 address or CIDR"),
        (
            "IPv4-mapped IPv6",
            ips(&["::ffff:203.0.113.0/120"]),
            "AllowedSourceIps[0]",
            "IPv4-mapped IPv6 range, which aws:SourceIp never carries (IPv4 callers appear as IPv4): write 203.0.113.0/24",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn long_garbage_is_clipped_in_the_rule() {
    let long = "x".repeat(10_000);
    let v = parse_err("long", &ips(&[&long]));
    assert_eq!(v.len(), 1);
    assert!(v[0].rule.len() < 200, "{}", v[0].rule);
    assert!(v[0].rule.contains("..."), "{}", v[0].rule);
}

#[test]
fn duplicates_are_refused_after_normalisation() {
    let cases: Vec<Refusal> = vec![
        (
            "same text",
            ips(&["203.0.113.0/24", "203.0.113.0/24"]),
            "AllowedSourceIps[1]",
            "203.0.113.0/24 is listed twice (also AllowedSourceIps[0])",
        ),
        (
            "bare and /32",
            ips(&["203.0.113.7", "198.51.100.0/24", "203.0.113.7/32"]),
            "AllowedSourceIps[2]",
            "203.0.113.7/32 is listed twice (also AllowedSourceIps[0])",
        ),
        (
            "IPv6 spelled two ways",
            ips(&["2001:DB8:0::/32", "2001:db8::/32"]),
            "AllowedSourceIps[1]",
            "2001:db8::/32 is listed twice (also AllowedSourceIps[0])",
        ),
        (
            "bare IPv6 and /128",
            ips(&["2001:db8::1/128", "2001:0db8::0001"]),
            "AllowedSourceIps[1]",
            "2001:db8::1/128 is listed twice",
        ),
        (
            "whitespace does not make it different",
            ips(&["10.0.0.0/8", " 10.0.0.0/8 "]),
            "AllowedSourceIps[1]",
            "10.0.0.0/8 is listed twice",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn empty_lists_non_lists_and_non_strings_are_refused() {
    let cases: Vec<Refusal> = vec![
        (
            "empty AllowedSourceIps",
            json!({"AllowedSourceIps": []}),
            "AllowedSourceIps",
            "is an empty list, which would allow no network and deny every request: give at least one CIDR or omit the property",
        ),
        (
            "empty AllowedSourceIps next to endpoints",
            json!({"AllowedSourceIps": [], "AllowedVpcEndpoints": [VPCE17]}),
            "AllowedSourceIps",
            "give at least one CIDR or omit the property",
        ),
        (
            "empty AllowedVpcEndpoints",
            json!({"AllowedVpcEndpoints": []}),
            "AllowedVpcEndpoints",
            "give at least one VPC endpoint id or omit the property",
        ),
        (
            "a single CIDR as a string",
            json!({"AllowedSourceIps": "10.0.0.0/8"}),
            "AllowedSourceIps",
            "must be a list of strings, got a string (even one CIDR goes in a list: [\"10.0.0.0/8\"])",
        ),
        (
            "comma-separated string",
            json!({"AllowedSourceIps": "10.0.0.0/8,192.0.2.0/24"}),
            "AllowedSourceIps",
            "must be a list of strings, got a string",
        ),
        (
            "a number",
            json!({"AllowedSourceIps": 10}),
            "AllowedSourceIps",
            "must be a list of strings, got a number",
        ),
        (
            "an object",
            json!({"AllowedSourceIps": {"Cidr": "10.0.0.0/8"}}),
            "AllowedSourceIps",
            "must be a list of strings, got an object",
        ),
        (
            "a boolean",
            json!({"AllowedVpcEndpoints": true}),
            "AllowedVpcEndpoints",
            "must be a list of strings, got a boolean",
        ),
        (
            "endpoint as a string",
            json!({"AllowedVpcEndpoints": VPCE17}),
            "AllowedVpcEndpoints",
            "(even one VPC endpoint id goes in a list: [\"vpce-0123456789abcdef0\"])",
        ),
        (
            "a number item",
            json!({"AllowedSourceIps": ["10.0.0.0/8", 7]}),
            "AllowedSourceIps[1]",
            "must be a string, got a number",
        ),
        (
            "a null item",
            json!({"AllowedVpcEndpoints": [null]}),
            "AllowedVpcEndpoints[0]",
            "must be a string, got null",
        ),
        (
            "a nested list item",
            json!({"AllowedSourceIps": [["10.0.0.0/8"]]}),
            "AllowedSourceIps[0]",
            "must be a string, got a list",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn more_than_the_cap_is_refused() {
    let list: Vec<String> = (0..=MAX_SOURCE_IPS)
        .map(|i| format!("10.0.{i}.0/24"))
        .collect();
    let ids: Vec<String> = (0..=MAX_VPC_ENDPOINTS)
        .map(|i| format!("vpce-{i:08x}"))
        .collect();
    let cases: Vec<Refusal> = vec![
        (
            "101 CIDRs",
            json!({ "AllowedSourceIps": list }),
            "AllowedSourceIps",
            "101 CIDRs given; at most 100",
        ),
        (
            "101 endpoints",
            json!({ "AllowedVpcEndpoints": ids }),
            "AllowedVpcEndpoints",
            "101 VPC endpoints given; at most 100",
        ),
    ];
    assert_refused(&cases);
}

#[test]
fn every_violation_is_reported_at_once() {
    let p = json!({
        "AllowedSourceIps": ["10.0.0.5/24", "garbage", "0.0.0.0/0", "10.0.0.0/24", "10.0.0.0/24", 3],
        "AllowedVpcEndpoints": ["vpce-XYZ", VPCE8, VPCE8],
    });
    let v = parse_err("everything wrong", &p);
    let got: Vec<(&str, &str)> = v
        .iter()
        .map(|x| (x.property.as_str(), x.rule.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = vec![
        ("AllowedSourceIps[5]", "must be a string"),
        ("AllowedSourceIps[0]", "did you mean 10.0.0.0/24"),
        ("AllowedSourceIps[1]", "is not an IPv4 or IPv6 address"),
        ("AllowedSourceIps[2]", "allows every IPv4 address"),
        (
            "AllowedSourceIps[4]",
            "is listed twice (also AllowedSourceIps[3])",
        ),
        ("AllowedVpcEndpoints[0]", "is not a VPC endpoint id"),
        (
            "AllowedVpcEndpoints[2]",
            "is listed twice (also AllowedVpcEndpoints[1])",
        ),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((gp, gr), (wp, wr)) in got.iter().zip(&want) {
        assert_eq!(gp, wp, "{got:?}");
        assert!(gr.contains(wr), "{gp}: {gr:?} does not contain {wr:?}");
    }
}

// ---------------------------------------------------------------------------------------
// AllowedVpcEndpoints
// ---------------------------------------------------------------------------------------

#[test]
fn vpc_endpoints_are_accepted_and_sorted() {
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("8 hex digits", vec![VPCE8], vec![VPCE8]),
        ("17 hex digits", vec![VPCE17], vec![VPCE17]),
        ("all digits", vec!["vpce-12345678"], vec!["vpce-12345678"]),
        (
            "sorted",
            vec!["vpce-ffffffff", VPCE17, VPCE8],
            vec![VPCE17, VPCE8, "vpce-ffffffff"],
        ),
    ];
    for (name, input, want) in cases {
        let f = parse_ok(name, &vpces(&input));
        assert_eq!(f.vpc_endpoints, want, "{name}");
        assert!(f.source_ips.is_empty(), "{name}");
    }
}

#[test]
fn vpc_endpoints_and_source_ips_together() {
    let p = json!({
        "AllowedSourceIps": ["2001:db8::/32", "203.0.113.0/24"],
        "AllowedVpcEndpoints": [VPCE8, VPCE17],
    });
    assert_eq!(
        parse_ok("both", &p),
        fence(&["203.0.113.0/24", "2001:db8::/32"], &[VPCE17, VPCE8])
    );
}

#[test]
fn invalid_vpc_endpoints_are_refused() {
    let e = "AllowedVpcEndpoints[0]";
    let not_id = "is not a VPC endpoint id: vpce- followed by 8 or 17 lowercase hex digits";
    let cases: Vec<Refusal> = vec![
        ("uppercase hex", vpces(&["vpce-0123456789ABCDEF0"]), e, "must be written exactly as AWS shows it (lowercase, no spaces): vpce-0123456789abcdef0"),
        ("uppercase prefix", vpces(&["VPCE-1a2b3c4d"]), e, "lowercase, no spaces): vpce-1a2b3c4d"),
        ("surrounding space", vpces(&[" vpce-1a2b3c4d"]), e, "(lowercase, no spaces): vpce-1a2b3c4d"),
        ("7 digits", vpces(&["vpce-1a2b3c4"]), e, not_id),
        ("9 digits", vpces(&["vpce-1a2b3c4d5"]), e, not_id),
        ("16 digits", vpces(&["vpce-0123456789abcdef"]), e, not_id),
        ("18 digits", vpces(&["vpce-0123456789abcdef01"]), e, not_id),
        ("not hex", vpces(&["vpce-1a2b3c4g"]), e, not_id),
        ("no prefix", vpces(&["0123456789abcdef0"]), e, not_id),
        ("a VPC id", vpces(&["vpc-0123456789abcdef0"]), e, not_id),
        ("an endpoint service id", vpces(&["vpce-svc-0123456789abcdef0"]), e, not_id),
        ("an ARN", vpces(&["arn:aws:ec2:us-east-1:123456789012:vpc-endpoint/vpce-0123456789abcdef0"]), e, not_id),
        ("empty", vpces(&[""]), e, not_id),
        (
            "duplicate",
            vpces(&[VPCE17, VPCE8, VPCE17]),
            "AllowedVpcEndpoints[2]",
            "vpce-0123456789abcdef0 is listed twice (also AllowedVpcEndpoints[0])",
        ),
    ];
    assert_refused(&cases);
}

// ---------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------

#[test]
fn documents_are_exact() {
    let cases: Vec<(&str, Fence, Value)> = vec![
        (
            "IPv4 only",
            fence(&["198.51.100.7/32", "203.0.113.0/24"], &[]),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlantonDenyOutsideAllowedNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "NotIpAddress": {"aws:SourceIp": ["198.51.100.7/32", "203.0.113.0/24"]},
                        "BoolIfExists": {"aws:ViaAWSService": "false"}
                    }
                }]
            }),
        ),
        (
            "IPv6 only",
            fence(&["2001:db8::/32"], &[]),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlantonDenyOutsideAllowedNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "NotIpAddress": {"aws:SourceIp": ["2001:db8::/32"]},
                        "BoolIfExists": {"aws:ViaAWSService": "false"}
                    }
                }]
            }),
        ),
        (
            "IPv4 and IPv6 share one list",
            fence(&["203.0.113.0/24", "2001:db8::/32"], &[]),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlantonDenyOutsideAllowedNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
                        "BoolIfExists": {"aws:ViaAWSService": "false"}
                    }
                }]
            }),
        ),
        (
            "IPs and VPC endpoints",
            fence(&["203.0.113.0/24", "2001:db8::/32"], &[VPCE17, VPCE8]),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlantonDenyOutsideAllowedNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
                        "StringNotEquals": {"aws:SourceVpce": ["vpce-0123456789abcdef0", "vpce-1a2b3c4d"]},
                        "BoolIfExists": {"aws:ViaAWSService": "false"}
                    }
                }]
            }),
        ),
        (
            "VPC endpoints only",
            fence(&[], &[VPCE17]),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlantonDenyOutsideAllowedNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "StringNotEquals": {"aws:SourceVpce": ["vpce-0123456789abcdef0"]},
                        "BoolIfExists": {"aws:ViaAWSService": "false"}
                    }
                }]
            }),
        ),
        (
            "a hand-built empty fence allows no network",
            fence(&[], &[]),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlantonDenyOutsideAllowedNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "BoolIfExists": {"aws:ViaAWSService": "false"}
                    }
                }]
            }),
        ),
    ];
    for (name, f, want) in cases {
        assert_eq!(document(&f), want, "{name}");
    }
}

#[test]
fn the_document_of_parsed_properties_is_exact() {
    let p = json!({
        "AllowedSourceIps": ["2001:DB8::/32", "203.0.113.7"],
        "AllowedVpcEndpoints": [VPCE8],
    });
    let want = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PlantonDenyOutsideAllowedNetworks",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "NotIpAddress": {"aws:SourceIp": ["203.0.113.7/32", "2001:db8::/32"]},
                "StringNotEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]},
                "BoolIfExists": {"aws:ViaAWSService": "false"}
            }
        }]
    });
    assert_eq!(document(&parse_ok("parsed", &p)), want);
}

#[test]
fn the_document_depends_only_on_the_sets() {
    let sorted = fence(
        &[
            "9.0.0.0/8",
            "10.0.0.0/8",
            "2001:db8::/32",
            "2001:db8:a::/48",
        ],
        &[VPCE17, VPCE8],
    );
    let cases: Vec<(&str, Fence)> = vec![
        (
            "reversed",
            fence(
                &[
                    "2001:db8:a::/48",
                    "2001:db8::/32",
                    "10.0.0.0/8",
                    "9.0.0.0/8",
                ],
                &[VPCE8, VPCE17],
            ),
        ),
        (
            "shuffled with duplicates",
            fence(
                &[
                    "10.0.0.0/8",
                    "2001:db8::/32",
                    "9.0.0.0/8",
                    "10.0.0.0/8",
                    "2001:db8:a::/48",
                ],
                &[VPCE8, VPCE17, VPCE8],
            ),
        ),
    ];
    let want = document(&sorted);
    for (name, f) in cases {
        assert_eq!(document(&f), want, "{name}");
        assert_eq!(
            serde_json::to_string(&document(&f)).ok(),
            serde_json::to_string(&want).ok(),
            "{name}: byte-equal"
        );
    }
}

#[test]
fn the_document_is_a_valid_inline_policy_for_spec() {
    // The same shape checks spec.rs applies to template inline policies.
    let doc = document(&fence(&["203.0.113.0/24"], &[VPCE8]));
    assert_eq!(doc["Version"], "2012-10-17");
    assert!(doc["Statement"].as_array().is_some_and(|s| s.len() == 1));
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
}

// ---------------------------------------------------------------------------------------
// Size and names
// ---------------------------------------------------------------------------------------

#[test]
fn size_counts_like_spec_policy_size() {
    let cases: Vec<(&str, Fence, usize)> = vec![
        // {"Statement":[{"Action":"*","Condition":{"BoolIfExists":{"aws:ViaAWSService":"false"}},
        //  "Effect":"Deny","Resource":"*","Sid":"PlantonDenyOutsideAllowedNetworks"}],"Version":"2012-10-17"}
        ("no networks: the fixed overhead", fence(&[], &[]), 185),
        // + `"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]},` = 14+1+1+14+1+1+16+1+1+1 = 51
        ("one IPv4 CIDR", fence(&["203.0.113.0/24"], &[]), 236),
        // + `"198.51.100.7/32",` = 18
        (
            "two IPv4 CIDRs",
            fence(&["198.51.100.7/32", "203.0.113.0/24"], &[]),
            254,
        ),
        // + `"StringNotEquals":{"aws:SourceVpce":["vpce-0123456789abcdef0"]},` = 17+1+1+16+1+1+24+1+1+1 = 64
        (
            "one CIDR and one endpoint",
            fence(&["203.0.113.0/24"], &[VPCE17]),
            300,
        ),
    ];
    for (name, f, want) in cases {
        let doc = document(&f);
        assert_eq!(size(&doc), want, "{name}");
        assert_eq!(size(&doc), crate::values::policy_size(&doc), "{name}");
        let compact = serde_json::to_string(&doc).unwrap_or_default();
        assert_eq!(
            size(&doc),
            compact.len(),
            "{name}: no whitespace in the document"
        );
    }
}

#[test]
fn size_ignores_spaces_but_counts_escapes() {
    // Spaces count for nothing; tabs and newlines are escaped (\t, \n) in JSON text and
    // count as the two characters of their escape.
    let cases: Vec<(&str, Value, usize)> = vec![
        ("no whitespace", json!({"Sid": "abc"}), 13),
        ("two spaces", json!({"Sid": "a b c"}), 13),
        ("tab and newline", json!({"Sid": "a\tb\n"}), 16),
    ];
    for (name, doc, want) in cases {
        assert_eq!(size(&doc), want, "{name}");
        assert_eq!(size(&doc), crate::values::policy_size(&doc), "{name}");
    }
}

#[test]
fn the_reserved_name_and_sid_are_valid_iam_names() {
    for name in [FENCE_POLICY_NAME, FENCE_SID] {
        assert!(!name.is_empty() && name.len() <= 128, "{name}");
        // Sids are alphanumeric only; policy names allow more, so check the stricter rule.
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
    }
    assert_eq!(FENCE_POLICY_NAME, "PlantonSourceFence");
    assert_eq!(PROPERTIES, &["AllowedSourceIps", "AllowedVpcEndpoints"]);
}
