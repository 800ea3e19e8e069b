//! What a user was last deployed with, recorded on the user itself so the audit can
//! tell a hand-made change from a deployment without asking CloudFormation.
//!
//! The record is one tag, `planton:deployed`, holding a short digest per aspect
//! (path, boundary, managed policies, inline policies, groups, template tags, key
//! status). A digest, not the desired state itself: an IAM tag value holds 256
//! characters, a desired state can hold kilobytes. The audit recomputes the same digests
//! from what it observes; an aspect whose digests differ drifted, and the audit then
//! reports what that aspect holds now.

use crate::spec::{KeyStatus, UserSpec};
use crate::state::ObservedUser;
use crate::values::compact;
use serde_json::Value;
use std::collections::BTreeMap;

pub const TAG_DEPLOYED: &str = "planton:deployed";
const VERSION: &str = "v1";

/// One part of a user the record digests separately, so the audit can say which part
/// drifted. Declared in the order a record writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aspect {
    Path,
    PermissionsBoundary,
    ManagedPolicies,
    InlinePolicies,
    Groups,
    Tags,
}

impl Aspect {
    /// Every aspect, in the order a record writes them.
    pub const ALL: [Aspect; 6] = [
        Aspect::Path,
        Aspect::PermissionsBoundary,
        Aspect::ManagedPolicies,
        Aspect::InlinePolicies,
        Aspect::Groups,
        Aspect::Tags,
    ];

    /// The aspect's key in the tag (`p=...`). Records already on users carry these
    /// letters: never change one.
    pub fn letter(self) -> &'static str {
        match self {
            Aspect::Path => "p",
            Aspect::PermissionsBoundary => "b",
            Aspect::ManagedPolicies => "m",
            Aspect::InlinePolicies => "i",
            Aspect::Groups => "g",
            Aspect::Tags => "t",
        }
    }

    /// The aspect as the audit's drift records name it.
    pub fn name(self) -> &'static str {
        match self {
            Aspect::Path => "path",
            Aspect::PermissionsBoundary => "permissions_boundary",
            Aspect::ManagedPolicies => "managed_policies",
            Aspect::InlinePolicies => "inline_policies",
            Aspect::Groups => "groups",
            Aspect::Tags => "tags",
        }
    }

    fn from_letter(letter: &str) -> Option<Aspect> {
        Aspect::ALL.into_iter().find(|a| a.letter() == letter)
    }
}

/// The access key's status a record holds: the key the secret's AWSCURRENT version
/// holds, as found on the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Keys disabled, or no key found.
    NoKey,
    Active,
    Inactive,
}

impl KeyState {
    /// The key status of a spec's key (`None`: keys disabled).
    pub fn of(status: Option<KeyStatus>) -> KeyState {
        match status {
            None => KeyState::NoKey,
            Some(KeyStatus::Active) => KeyState::Active,
            Some(KeyStatus::Inactive) => KeyState::Inactive,
        }
    }

    /// The status's value in the tag (`k=A`). Records already on users carry these:
    /// never change one.
    pub fn letter(self) -> &'static str {
        match self {
            KeyState::NoKey => "-",
            KeyState::Active => "A",
            KeyState::Inactive => "I",
        }
    }

    /// The status as the audit's drift records name it.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::NoKey => "none",
            KeyState::Active => "Active",
            KeyState::Inactive => "Inactive",
        }
    }

    fn from_letter(letter: &str) -> Option<KeyState> {
        [KeyState::NoKey, KeyState::Active, KeyState::Inactive]
            .into_iter()
            .find(|k| k.letter() == letter)
    }
}

/// Digests of one state, by aspect, plus the key status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub digests: BTreeMap<Aspect, String>,
    pub key: KeyState,
    /// The user was adopted (`AdoptExistingUser`): when, and the keys it already had,
    /// which keep working for the grace period from then. Written by the function in
    /// the same call as the ownership tags; carried forward while any of those keys is
    /// still on the user.
    pub adopted: Option<Adopted>,
}

/// When a user was adopted, the access keys it came with, and the fingerprint of the
/// snapshot kept to give it back (the adoption snapshot's fingerprint):
/// the snapshot's secret can be rewritten by whoever may write secrets under the prefix
/// (its tags copied with it), the user's tags only by the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub keys: Vec<String>,
    pub snapshot: String,
}

impl Adopted {
    /// `a=<at>:<key>,<key>:<fingerprint>` (no keys: `a=<at>::<fingerprint>`).
    fn to_part(&self) -> String {
        format!("a={}:{}:{}", self.at, self.keys.join(","), self.snapshot)
    }

    fn from_part(value: &str) -> Option<Adopted> {
        let (at, rest) = value.split_once(':')?;
        let (keys, snapshot) = rest.split_once(':')?;
        if snapshot.len() != 16 || !snapshot.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let keys: Vec<String> = keys
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        let key_ok = |k: &String| {
            (16..=128).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        (keys.len() <= 2 && keys.iter().all(key_ok)).then_some(Adopted {
            at: at.parse().ok()?,
            keys,
            snapshot: snapshot.to_string(),
        })
    }
}

impl Record {
    /// The tag value: `v1 p=1a2b3c4d b=... m=... i=... g=... t=... k=A`.
    pub fn to_tag(&self) -> String {
        let mut out = String::from(VERSION);
        for a in Aspect::ALL {
            if let Some(d) = self.digests.get(&a) {
                out.push_str(&format!(" {}={d}", a.letter()));
            }
        }
        out.push_str(&format!(" k={}", self.key.letter()));
        if let Some(a) = &self.adopted {
            out.push(' ');
            out.push_str(&a.to_part());
        }
        out
    }

    /// Reads a tag value; `None` for a record this version cannot read (absent, edited
    /// by hand, or written by a later version), which the audit reports as such.
    pub fn from_tag(value: &str) -> Option<Record> {
        let mut parts = value.split(' ');
        if parts.next()? != VERSION {
            return None;
        }
        let mut digests = BTreeMap::new();
        let mut key = None;
        let mut adopted = None;
        for p in parts {
            let (a, d) = p.split_once('=')?;
            if a == "k" {
                key = Some(KeyState::from_letter(d)?);
            } else if a == "a" {
                adopted = Some(Adopted::from_part(d)?);
            } else if let Some(aspect) = Aspect::from_letter(a).filter(|_| d.len() == 8) {
                digests.insert(aspect, d.to_string());
            } else {
                return None;
            }
        }
        (digests.len() == Aspect::ALL.len()).then_some(Record {
            digests,
            key: key?,
            adopted,
        })
    }
}

/// The record of a desired state. `inline` is every inline policy the user must carry,
/// the function's own (the source-IP fence) included.
pub fn of_spec(spec: &UserSpec, inline: &BTreeMap<String, Value>) -> Record {
    Record {
        digests: items(
            &spec.path,
            spec.permissions_boundary.as_deref(),
            spec.managed_policy_arns.iter().map(String::as_str),
            inline,
            spec.groups.iter().map(String::as_str),
            spec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .digests(),
        key: KeyState::of(spec.key.as_ref().map(|k| k.status)),
        adopted: None,
    }
}

/// The adoption a user's record carries, if any.
pub fn adopted_of(tags: &[(String, String)]) -> Option<Adopted> {
    let value = tags
        .iter()
        .find(|(k, _)| k == TAG_DEPLOYED)
        .map(|(_, v)| v)?;
    Record::from_tag(value)?.adopted
}

/// The record of an observed user. Tags under `planton:` are the function's own and not
/// part of any aspect. The key status is left to the caller, which knows which key the
/// secret holds.
pub fn of_observed(u: &ObservedUser, key: KeyState) -> Record {
    Record {
        digests: items_of_observed(u).digests(),
        key,
        adopted: None,
    }
}

pub fn is_own_tag(key: &str) -> bool {
    key.len() >= crate::spec::RESERVED_TAG_PREFIX.len()
        && key[..crate::spec::RESERVED_TAG_PREFIX.len()]
            .eq_ignore_ascii_case(crate::spec::RESERVED_TAG_PREFIX)
}

/// The canonical items of each aspect, in the order they are digested: what the digest
/// of an aspect is computed from, and what the audit compares item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items(pub BTreeMap<Aspect, Vec<String>>);

impl Items {
    pub fn get(&self, aspect: Aspect) -> &[String] {
        self.0.get(&aspect).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn digests(&self) -> BTreeMap<Aspect, String> {
        self.0
            .iter()
            .map(|(a, items)| (*a, digest(items.iter().map(String::as_str))))
            .collect()
    }
}

/// The items of an observed user's aspects (see [`of_observed`] for what is left out).
pub fn items_of_observed(u: &ObservedUser) -> Items {
    items(
        &u.path,
        u.boundary.as_deref(),
        u.managed.iter().map(String::as_str),
        &u.inline,
        u.groups.iter().map(String::as_str),
        template_tags(&u.tags),
    )
}

/// The tags that are the template's: everything but the function's own `planton:` tags.
pub fn template_tags(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .filter(|(k, _)| !is_own_tag(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// One tag as the tags aspect digests it.
pub fn tag_item(key: &str, value: &str) -> String {
    format!("{key}{SEP}{value}")
}

/// The tag an item of the tags aspect stands for.
pub fn split_tag_item(item: &str) -> (&str, &str) {
    item.split_once(SEP).unwrap_or((item, ""))
}

/// The name of an inline policy an item of the inline policies aspect stands for.
pub fn inline_item_name(item: &str) -> &str {
    item.split_once(SEP).map(|(n, _)| n).unwrap_or(item)
}

/// The digest of one aspect's items, as a record holds it.
pub fn digest_of(items: &[String]) -> String {
    digest(items.iter().map(String::as_str))
}

/// Which of `items` were added since the state `deployed` digests: the smallest set of
/// at most two items whose removal gives back that digest. `None` when no such set
/// exists (something was removed or changed too).
pub fn added_since(items: &[String], deployed: &str) -> Option<Vec<String>> {
    let without = |skip: &[usize]| {
        digest(
            items
                .iter()
                .enumerate()
                .filter(|(i, _)| !skip.contains(i))
                .map(|(_, s)| s.as_str()),
        )
    };
    if without(&[]) == deployed {
        return Some(Vec::new());
    }
    for (i, item) in items.iter().enumerate() {
        if without(&[i]) == deployed {
            return Some(vec![item.clone()]);
        }
    }
    for (i, a) in items.iter().enumerate() {
        for (j, b) in items.iter().enumerate().skip(i + 1) {
            if without(&[i, j]) == deployed {
                return Some(vec![a.clone(), b.clone()]);
            }
        }
    }
    None
}

const SEP: char = '\u{1f}';

fn items<'a>(
    path: &str,
    boundary: Option<&str>,
    managed: impl Iterator<Item = &'a str>,
    inline: &BTreeMap<String, Value>,
    groups: impl Iterator<Item = &'a str>,
    tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> Items {
    let mut managed: Vec<String> = managed.map(str::to_string).collect();
    managed.sort_unstable();
    // Group names are case-insensitive in IAM.
    let mut groups: Vec<String> = groups.map(str::to_lowercase).collect();
    groups.sort_unstable();
    let mut tags: Vec<String> = tags.map(|(k, v)| tag_item(k, v)).collect();
    tags.sort_unstable();
    let inline: Vec<String> = inline
        .iter()
        .map(|(n, d)| format!("{n}{SEP}{}", compact(d)))
        .collect();
    let mut out = BTreeMap::new();
    out.insert(Aspect::Path, vec![path.to_string()]);
    out.insert(
        Aspect::PermissionsBoundary,
        vec![boundary.unwrap_or("").to_string()],
    );
    out.insert(Aspect::ManagedPolicies, managed);
    out.insert(Aspect::InlinePolicies, inline);
    out.insert(Aspect::Groups, groups);
    out.insert(Aspect::Tags, tags);
    Items(out)
}

/// FNV-1a over the items with a separator, folded to 32 bits: stable across versions
/// and platforms (unlike `std`'s hasher), and plenty to tell "changed" from "same".
fn digest<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for item in items {
        for b in item.bytes().chain([0x1e]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:08x}", (h ^ (h >> 32)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_tag_and_fits_in_one() {
        let spec = crate::spec::parse(&serde_json::json!({"UserName": "u"}), None).unwrap();
        let r = of_spec(&spec, &spec.inline_policies);
        let tag = r.to_tag();
        assert!(tag.len() <= 256, "{tag}");
        assert_eq!(Record::from_tag(&tag), Some(r));
        assert_eq!(Record::from_tag("v2 p=00000000"), None);
        assert_eq!(Record::from_tag("edited"), None);
    }

    #[test]
    fn digests_are_stable_and_order_free() {
        assert_eq!(digest(["a", "b"]), digest(["a", "b"]));
        assert_ne!(digest(["a", "b"]), digest(["ab"]));
        assert_ne!(digest(["a"]), digest(["b"]));
        assert_eq!(digest([] as [&str; 0]).len(), 8);
    }

    #[test]
    fn a_deployed_state_and_the_same_state_observed_agree() {
        let spec = crate::spec::parse(
            &serde_json::json!({
                "UserName": "u", "Path": "/svc/",
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/B", "arn:aws:iam::aws:policy/A"],
                "Groups": ["Deployers"],
                "Tags": [{"Key": "team", "Value": "x"}],
                "InlinePolicies": {"p": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}
            }),
            None,
        )
        .unwrap();
        let u = ObservedUser {
            path: "/svc/".into(),
            managed: spec.managed_policy_arns.clone(),
            inline: spec.inline_policies.clone(),
            groups: vec!["deployers".into()],
            tags: vec![
                ("team".into(), "x".into()),
                ("planton:stack-id".into(), "s".into()),
            ],
            ..ObservedUser::default()
        };
        let want = of_spec(&spec, &spec.inline_policies);
        assert_eq!(of_observed(&u, want.key), want);
        let mut changed = u.clone();
        changed.managed.insert("arn:aws:iam::aws:policy/C".into());
        let got = of_observed(&changed, want.key);
        let differ: Vec<_> = Aspect::ALL
            .into_iter()
            .filter(|a| got.digests.get(a) != want.digests.get(a))
            .collect();
        assert_eq!(differ, vec![Aspect::ManagedPolicies]);
    }

    #[test]
    fn hand_made_additions_are_named_from_the_digest_alone() {
        let deployed: Vec<String> = vec!["arn:a".into(), "arn:c".into()];
        let d = digest_of(&deployed);
        let now: Vec<String> = vec!["arn:a".into(), "arn:b".into(), "arn:c".into()];
        assert_eq!(added_since(&now, &d), Some(vec!["arn:b".to_string()]));
        let two: Vec<String> = vec![
            "arn:0".into(),
            "arn:a".into(),
            "arn:b".into(),
            "arn:c".into(),
        ];
        assert_eq!(
            added_since(&two, &d),
            Some(vec!["arn:0".to_string(), "arn:b".to_string()])
        );
        assert_eq!(added_since(&deployed, &d), Some(vec![]));
        let removed: Vec<String> = vec!["arn:a".into()];
        assert_eq!(
            added_since(&removed, &d),
            None,
            "a removal is not an addition"
        );
    }

    #[test]
    fn items_name_what_they_stand_for() {
        let u = ObservedUser {
            path: "/".into(),
            tags: vec![
                ("team".into(), "x=y".into()),
                ("planton:deployed".into(), "v1".into()),
            ],
            inline: [("p".to_string(), serde_json::json!({"a": 1}))].into(),
            ..ObservedUser::default()
        };
        let items = items_of_observed(&u);
        assert_eq!(
            items.get(Aspect::Tags).len(),
            1,
            "own tags are not the template's"
        );
        assert_eq!(split_tag_item(&items.get(Aspect::Tags)[0]), ("team", "x=y"));
        assert_eq!(inline_item_name(&items.get(Aspect::InlinePolicies)[0]), "p");
        assert_eq!(items.digests(), of_observed(&u, KeyState::NoKey).digests);
        assert_eq!(
            digest_of(items.get(Aspect::PermissionsBoundary)),
            digest([""])
        );
    }

    #[test]
    fn the_tag_format_is_pinned() {
        // Records already on users were written with these letters.
        let letters: Vec<&str> = Aspect::ALL.iter().map(|a| a.letter()).collect();
        assert_eq!(letters, ["p", "b", "m", "i", "g", "t"]);
        let names: Vec<&str> = Aspect::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "path",
                "permissions_boundary",
                "managed_policies",
                "inline_policies",
                "groups",
                "tags"
            ]
        );
        let spec = crate::spec::parse(&serde_json::json!({"UserName": "u"}), None).unwrap();
        let mut r = of_spec(&spec, &spec.inline_policies);
        for (key, letter, name) in [
            (KeyState::NoKey, "-", "none"),
            (KeyState::Active, "A", "Active"),
            (KeyState::Inactive, "I", "Inactive"),
        ] {
            r.key = key;
            let tag = r.to_tag();
            assert!(tag.ends_with(&format!(" k={letter}")), "{tag}");
            assert_eq!(key.name(), name);
            assert_eq!(Record::from_tag(&tag), Some(r.clone()));
            let edited = tag.replace(&format!(" k={letter}"), " k=X");
            assert_eq!(Record::from_tag(&edited), None, "{edited}");
        }
        let disabled = crate::spec::parse(
            &serde_json::json!({"UserName": "u", "DisableAccessKeys": true}),
            None,
        )
        .unwrap();
        assert_eq!(
            of_spec(&disabled, &disabled.inline_policies).key,
            KeyState::NoKey
        );
    }

    #[test]
    fn digests_never_change_across_versions() {
        // Records already on users must keep reading as "no drift": pinned.
        let spec = crate::spec::parse(&serde_json::json!({"UserName": "u"}), None).unwrap();
        assert_eq!(
            of_spec(&spec, &spec.inline_policies).to_tag(),
            "v1 p=b34befa7 b=29620e0d m=4fd0bfc1 i=4fd0bfc1 g=4fd0bfc1 t=4fd0bfc1 k=A"
        );
    }
}
