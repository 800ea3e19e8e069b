//! The source-network fence: `AllowedSourceIps` and `AllowedVpcEndpoints` -> a [`Fence`]
//! -> one inline Deny policy ([`document`]) named [`FENCE_POLICY_NAME`].
//!
//! Pure, like the spec: no AWS calls, every violation collected at once. The
//! caller merges the violations with the rest of the properties, refuses
//! [`FENCE_POLICY_NAME`] as a template inline policy name, and counts [`size`] of the
//! document against the user's inline policy budget (the spec's `MAX_INLINE_TOTAL`).
//!
//! # Properties
//!
//! * `AllowedSourceIps`: a list of IPv4 and IPv6 CIDRs. A bare address is accepted, as
//!   `aws:SourceIp` accepts it, and means that one address (`/32` or `/128`).
//! * `AllowedVpcEndpoints`: a list of VPC endpoint ids (`vpce-` and 8 or 17 lowercase
//!   hex digits).
//!
//! The fence exists when either property is given; absent (or null) means no fence.
//! An explicitly **empty** list is refused rather than read as "no fence": it says
//! "allow no network", and the only policy that means that denies every request the
//! user makes, which is never what a service account is for. Giving at least one
//! entry or omitting the property says which was meant.
//!
//! Each entry is normalised (`10.0.0.5` -> `10.0.0.5/32`, `2001:DB8:0::/32` ->
//! `2001:db8::/32`) and the lists are sorted (IPv4 before IPv6, then by network, then by
//! prefix) and free of duplicates, so equal fences give byte-equal documents.
//!
//! Note on private ranges: requests over the internet (including through a NAT gateway)
//! carry the public address in `aws:SourceIp`, and requests through a VPC endpoint carry
//! no `aws:SourceIp` at all, so a private range such as `10.0.0.0/8` only ever matches
//! nothing. To let a VPC reach AWS, list its interface or gateway endpoint in
//! `AllowedVpcEndpoints`; to let it reach AWS over the internet, list its NAT gateway's
//! public addresses. Private ranges are accepted (they are valid CIDRs) but do not help.

use crate::values::{clip, kind};
use crate::violation::Violation;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The inline policy this resource writes for the fence. Reserved: a template may not
/// use this name for one of its own inline policies.
pub const FENCE_POLICY_NAME: &str = "PlantonSourceFence";
/// The statement id of the one statement in [`document`].
pub const FENCE_SID: &str = "PlantonDenyOutsideAllowedNetworks";
pub const SOURCE_IPS: &str = "AllowedSourceIps";
pub const VPC_ENDPOINTS: &str = "AllowedVpcEndpoints";
/// The properties this module reads; the caller adds them to the accepted property set.
pub const PROPERTIES: &[&str] = &[SOURCE_IPS, VPC_ENDPOINTS];
/// A sanity cap on each list. The real limit is the user's inline policy budget
/// (2048 characters for all inline policies together), which the caller checks with
/// [`size`]: 100 IPv4 `/32`s alone already take about 2100.
pub const MAX_SOURCE_IPS: usize = 100;
pub const MAX_VPC_ENDPOINTS: usize = 100;

/// A validated fence: the networks the user's requests may come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fence {
    /// Normalised CIDRs (`addr/prefix`, IPv6 in RFC 5952 form), IPv4 first, sorted by
    /// network then prefix, no duplicates.
    pub source_ips: Vec<String>,
    /// VPC endpoint ids, sorted, no duplicates.
    pub vpc_endpoints: Vec<String>,
}

/// Reads `AllowedSourceIps` and `AllowedVpcEndpoints` from the resource properties.
///
/// Returns `(None, [])` when neither is given, `(Some(fence), [])` when the fence is
/// valid, and `(None, violations)` with every broken rule otherwise (never a partial
/// fence: a fence with one CIDR dropped would lock out that network).
pub fn parse(obj: &Map<String, Value>) -> (Option<Fence>, Vec<Violation>) {
    let mut v = Vec::new();
    let ips = list(&mut v, obj, SOURCE_IPS, "one CIDR");
    let vpces = list(&mut v, obj, VPC_ENDPOINTS, "one VPC endpoint id");

    let mut nets: BTreeMap<Net, usize> = BTreeMap::new();
    if let Some(items) = &ips {
        if items.len() > MAX_SOURCE_IPS {
            v.push(Violation::new(
                SOURCE_IPS,
                format!(
                    "{} CIDRs given; at most {MAX_SOURCE_IPS} (and all inline policies of a user share 2048 characters)",
                    items.len()
                ),
            ));
        }
        for (i, raw) in items {
            let prop = format!("{SOURCE_IPS}[{i}]");
            match parse_cidr(raw) {
                Err(rule) => v.push(Violation::new(prop, rule)),
                Ok(net) => {
                    if let Some(first) = nets.get(&net) {
                        v.push(Violation::new(
                            prop,
                            format!("{net} is listed twice (also {SOURCE_IPS}[{first}])"),
                        ));
                    } else {
                        nets.insert(net, *i);
                    }
                }
            }
        }
    }

    let mut endpoints: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(items) = &vpces {
        if items.len() > MAX_VPC_ENDPOINTS {
            v.push(Violation::new(
                VPC_ENDPOINTS,
                format!(
                    "{} VPC endpoints given; at most {MAX_VPC_ENDPOINTS} (and all inline policies of a user share 2048 characters)",
                    items.len()
                ),
            ));
        }
        for (i, raw) in items {
            let prop = format!("{VPC_ENDPOINTS}[{i}]");
            if let Some(rule) = vpce_rule(raw) {
                v.push(Violation::new(prop, rule));
            } else if let Some(first) = endpoints.get(raw.as_str()) {
                v.push(Violation::new(
                    prop,
                    format!("{raw} is listed twice (also {VPC_ENDPOINTS}[{first}])"),
                ));
            } else {
                endpoints.insert(raw.clone(), *i);
            }
        }
    }

    if !v.is_empty() || (ips.is_none() && vpces.is_none()) {
        return (None, v);
    }
    let fence = Fence {
        source_ips: nets.keys().map(Net::to_string).collect(),
        vpc_endpoints: endpoints.into_keys().collect(),
    };
    (Some(fence), v)
}

/// The inline policy enforcing `f`: one Deny of everything, applying only to a request
/// that comes from none of the allowed addresses, through none of the allowed VPC
/// endpoints, and not from an AWS service acting for the user.
///
/// ```json
/// {"Version": "2012-10-17", "Statement": [{
///   "Sid": "PlantonDenyOutsideAllowedNetworks", "Effect": "Deny",
///   "Action": "*", "Resource": "*",
///   "Condition": {
///     "NotIpAddress":    {"aws:SourceIp":   ["203.0.113.0/24", "2001:db8::/32"]},
///     "StringNotEquals": {"aws:SourceVpce": ["vpce-0123456789abcdef0"]},
///     "BoolIfExists":    {"aws:ViaAWSService": "false"}}}]}
/// ```
///
/// `NotIpAddress` is left out when no CIDR is given and `StringNotEquals` when no
/// endpoint is given: an operator with an empty list would be a policy IAM refuses, and
/// leaving it out is what "that kind of network is not allowed" means.
///
/// Why each operator, given IAM's rules (operators in one `Condition` are ANDed, the
/// values of one key are ORed, and a key missing from the request makes a negated
/// operator such as `NotIpAddress` or `StringNotEquals` *true*, a plain one *false*,
/// and any `...IfExists` operator *true*):
///
/// * `NotIpAddress` on `aws:SourceIp`: true when the caller's address is in none of the
///   ranges. A request through a VPC endpoint has no `aws:SourceIp`, so the operator is
///   true for it: with an IP-only fence, VPC endpoint traffic is denied (the fence means
///   what it lists), and with endpoints listed the next operator decides. IPv4 and IPv6
///   ranges share one list; a request only ever matches its own family.
/// * `StringNotEquals` on `aws:SourceVpce`: true when the request came through none of
///   the listed endpoints, including when it came through no endpoint at all (the key is
///   missing, and a negated operator is then true). `StringNotEqualsIfExists` would
///   evaluate identically, missing key included; the plain operator is the one in AWS's
///   own examples and is shorter. Case-sensitive matching is right: endpoint ids are
///   lowercase, and [`parse`] only accepts lowercase.
/// * `BoolIfExists` on `aws:ViaAWSService` = `"false"`: calls an AWS service makes with
///   the user's credentials (CloudFormation creating a stack's resources, KMS decrypting
///   for S3) come from the service's network, not the user's, and the user's own call
///   that started them was already fenced. AWS's "deny access based on the source IP"
///   example uses plain `Bool`. AWS documents the key as always present, so the two
///   agree on every request today; they differ only if a request ever lacks it, where
///   `Bool` would be false and let the request through the fence, and `BoolIfExists` is
///   true and keeps the deny. A security fence fails closed, so `BoolIfExists`.
///
/// The values are sorted and deduplicated here as well, so the document is a function
/// of the sets, whatever order a hand-built `Fence` has. A `Fence` with both lists empty
/// (which [`parse`] never returns) allows no network: its document denies every request
/// not made by an AWS service.
pub fn document(f: &Fence) -> Value {
    let mut condition = Map::new();
    if !f.source_ips.is_empty() {
        let mut ips = f.source_ips.clone();
        ips.sort_by_cached_key(|s| (s.parse::<Net>().ok(), s.clone()));
        ips.dedup();
        condition.insert("NotIpAddress".into(), json!({ "aws:SourceIp": ips }));
    }
    if !f.vpc_endpoints.is_empty() {
        let mut ids = f.vpc_endpoints.clone();
        ids.sort();
        ids.dedup();
        condition.insert("StringNotEquals".into(), json!({ "aws:SourceVpce": ids }));
    }
    condition.insert(
        "BoolIfExists".into(),
        json!({ "aws:ViaAWSService": "false" }),
    );
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": FENCE_SID,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": condition,
        }],
    })
}

/// The document's size as IAM counts it against the user's inline policy total:
/// exactly [`crate::values::policy_size`] (compact JSON, whitespace not counted).
pub fn size(doc: &Value) -> usize {
    crate::values::policy_size(doc)
}

/// One network, for ordering and duplicate detection: IPv4 before IPv6 (variant order),
/// then address, then prefix. Host bits are always zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Net {
    V4(u32, u8),
    V6(u128, u8),
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Net::V4(a, p) => write!(f, "{}/{p}", Ipv4Addr::from(a)),
            Net::V6(a, p) => write!(f, "{}/{p}", Ipv6Addr::from(a)),
        }
    }
}

impl std::str::FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_cidr(s)
    }
}

/// The address with every bit after the first `prefix` cleared.
fn mask4(a: u32, prefix: u8) -> u32 {
    a & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask6(a: u128, prefix: u8) -> u128 {
    a & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// One `AllowedSourceIps` entry -> its network, or the rule it breaks.
fn parse_cidr(raw: &str) -> Result<Net, String> {
    let s = raw.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let shape = || {
        format!(
            "{:?} is not an IPv4 or IPv6 address or CIDR (like 203.0.113.0/24, 203.0.113.7 or 2001:db8::/32)",
            clip(raw)
        )
    };
    let v4 = addr.parse::<Ipv4Addr>().ok();
    let v6 = addr.parse::<Ipv6Addr>().ok();
    let max: u8 = match (v4, v6) {
        (Some(_), _) => 32,
        (None, Some(_)) => 128,
        (None, None) => {
            // Rust's parser (like AWS's) refuses leading zeros: "010" could mean 8 or 10.
            let octets: Vec<&str> = addr.split('.').collect();
            if octets.len() == 4
                && octets
                    .iter()
                    .all(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!(
                    "{:?} is not an IPv4 address: each of the four numbers must be 0-255 without leading zeros",
                    clip(raw)
                ));
            }
            return Err(shape());
        }
    };
    let family = if max == 32 { "IPv4" } else { "IPv6" };
    let prefix: u8 = match prefix {
        None => max,
        Some(p) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{:?}: the prefix after / must be a number 1-{max} for {family}",
                    clip(raw)
                ));
            }
            match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "{:?}: prefix /{p} is out of range; {family} prefixes are 1-{max}",
                        clip(raw)
                    ))
                }
            }
        }
    };
    if prefix == 0 {
        return Err(format!(
            "{:?} allows every {family} address, so the fence would not fence anything: list the networks the user calls from (or omit {SOURCE_IPS} for no fence)",
            clip(raw)
        ));
    }
    let net = match (v4, v6) {
        (Some(a), _) => {
            let bits = u32::from(a);
            let network = mask4(bits, prefix);
            if network != bits {
                return Err(format!(
                    "{s} has host bits set beyond the /{prefix} prefix; did you mean {}/{prefix} (the network) or {a}/32 (only that address)?",
                    Ipv4Addr::from(network)
                ));
            }
            Net::V4(bits, prefix)
        }
        (None, Some(a)) => {
            let bits = u128::from(a);
            let network = mask6(bits, prefix);
            if network != bits {
                return Err(format!(
                    "{s} has host bits set beyond the /{prefix} prefix; did you mean {}/{prefix} (the network) or {a}/128 (only that address)?",
                    Ipv6Addr::from(network)
                ));
            }
            // Host bits are clear, so a mapped address has a prefix of at least 96.
            if let Some(v4) = a.to_ipv4_mapped() {
                let instead = match prefix.saturating_sub(96) {
                    0 => "list the IPv4 networks themselves".to_string(),
                    p => format!("write {v4}/{p}"),
                };
                return Err(format!(
                    "{s} is an IPv4-mapped IPv6 range, which aws:SourceIp never carries (IPv4 callers appear as IPv4): {instead}"
                ));
            }
            Net::V6(bits, prefix)
        }
        (None, None) => return Err(shape()),
    };
    Ok(net)
}

/// `vpce-` followed by 8 (older) or 17 lowercase hex digits.
fn vpce_rule(id: &str) -> Option<String> {
    let ok = |s: &str| {
        s.strip_prefix("vpce-").is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    };
    if ok(id) {
        return None;
    }
    let lower = id.trim().to_ascii_lowercase();
    if ok(&lower) {
        return Some(format!(
            "{:?} must be written exactly as AWS shows it (lowercase, no spaces): {lower}",
            clip(id)
        ));
    }
    Some(format!(
        "{:?} is not a VPC endpoint id: vpce- followed by 8 or 17 lowercase hex digits, like vpce-0123456789abcdef0",
        clip(id)
    ))
}

/// A list property: `None` when absent or null; otherwise the string items with their
/// indexes (non-strings are violations). An empty list is a violation: see the module
/// documentation.
fn list(
    v: &mut Vec<Violation>,
    obj: &Map<String, Value>,
    key: &str,
    one: &str,
) -> Option<Vec<(usize, String)>> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if items.is_empty() {
                v.push(Violation::new(
                    key,
                    format!(
                        "is an empty list, which would allow no network and deny every request: give at least {one} or omit the property for no fence"
                    ),
                ));
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push((i, s.clone())),
                    other => v.push(Violation::new(
                        format!("{key}[{i}]"),
                        format!("must be a string, got {}", kind(other)),
                    )),
                }
            }
            Some(out)
        }
        Some(other) => {
            let hint = match other {
                Value::String(s) => format!(" (even {one} goes in a list: [{:?}])", clip(s)),
                _ => String::new(),
            };
            v.push(Violation::new(
                key,
                format!("must be a list of strings, got {}{hint}", kind(other)),
            ));
            // Given but unusable: still "given", so no fence is silently dropped.
            Some(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests;
