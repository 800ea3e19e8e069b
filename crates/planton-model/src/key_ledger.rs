//! Which access key each version of a managed secret holds, recorded in the secret's
//! description by the function whenever it stores a key. The scheduled audit and the
//! grace sweep learn every stage's key from DescribeSecret alone (the description and
//! the version-to-stage map arrive in one answer), so the role they run under needs no
//! `secretsmanager:GetSecretValue`: key material never enters an auditor's memory.
//!
//! Keyed by version id, not by stage: Secrets Manager moves stages (finishSecret, a new
//! AWSCURRENT value) without the function rewriting anything, and a version's value
//! never changes, so an entry once written stays true. Entries for versions that no
//! longer carry a stage are dropped at the next write, which keeps the text short
//! (a handful of entries against Secrets Manager's 2,048-character limit).
//!
//! Each recorded key's creation time is kept beside it ([`CREATED_MARKER`]): IAM's
//! credential report lists a user's keys without their ids, only when each was made,
//! so the audit, which reads the whole account from that report, proves which key a
//! report line stands for by this time, and lists a user's keys one by one only when
//! it cannot.

use std::collections::BTreeMap;

/// Where the record starts in the description; the text before it is left as it is.
pub const MARKER: &str = " Key ids by version (written by planton-iam-user): ";

/// Where the resource's own grace period (`PreviousKeyGraceHours`) is recorded, when it
/// has one: the grace sweep and scheduled rotations read it from DescribeSecret too.
pub const GRACE_MARKER: &str = " Previous key grace (written by planton-iam-user): ";

/// Where each recorded key's creation time is kept: `<access key id>=<seconds since
/// 1970>`, as IAM's CreateDate. Written before the other records, so a reader that does
/// not know it (an earlier version of the function) keeps it as part of the
/// description's own text instead of misreading the key record that follows.
pub const CREATED_MARKER: &str = " Key creation times (written by planton-iam-user): ";

/// Secrets Manager's limit on a secret's description.
pub const MAX_DESCRIPTION: usize = 2048;

/// The entries a description records: version id -> access key id. Anything that does
/// not look like an entry (hand-edited text, a cut-off tail) is ignored, never guessed.
pub fn parse(description: &str) -> BTreeMap<String, String> {
    let Some((_, tail)) = description.split_once(MARKER) else {
        return BTreeMap::new();
    };
    tail.trim_end_matches('.')
        .split(", ")
        .filter_map(|e| e.split_once('='))
        .filter(|(v, k)| is_version_id(v) && is_key_id(k))
        .map(|(v, k)| (v.to_string(), k.to_string()))
        .collect()
}

/// The creation times a description records: access key id -> seconds since 1970.
/// Anything that does not look like an entry is ignored.
pub fn parse_created(description: &str) -> BTreeMap<String, u64> {
    let Some((_, tail)) = description.split_once(CREATED_MARKER) else {
        return BTreeMap::new();
    };
    // The section ends where the next record starts.
    let end = [GRACE_MARKER, MARKER]
        .iter()
        .filter_map(|m| tail.find(m))
        .min()
        .unwrap_or(tail.len());
    tail[..end]
        .trim_end_matches('.')
        .split(", ")
        .filter_map(|e| e.split_once('='))
        .filter(|(k, t)| is_key_id(k) && !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|(k, t)| Some((k.to_string(), t.parse().ok()?)))
        .collect()
}

/// The description with `key_id`'s creation time recorded (the other records as they
/// are). Only a key the description records keeps its time at the next write.
pub fn with_created(description: &str, key_id: &str, created_secs: u64) -> String {
    let mut created = parse_created(description);
    created.insert(key_id.to_string(), created_secs);
    let entries = parse(description);
    let keys = entries.iter().map(|(v, k)| (v.as_str(), k.as_str()));
    render_parts(
        base(description),
        &created,
        parse_grace(description),
        keys,
        &|_| true,
        None,
    )
}

/// The description's own text, before any record.
fn base(description: &str) -> &str {
    let cut = [MARKER, GRACE_MARKER, CREATED_MARKER]
        .iter()
        .filter_map(|m| description.find(m))
        .min()
        .unwrap_or(description.len());
    &description[..cut]
}

/// The grace period the description records, in hours.
pub fn parse_grace(description: &str) -> Option<u32> {
    let (_, tail) = description.split_once(GRACE_MARKER)?;
    let hours = tail.split(" hours.").next()?;
    hours.parse().ok().filter(|h| *h <= MAX_GRACE_HOURS)
}

/// At most a year, as `PLANTON_ROTATION_GRACE_HOURS`.
pub const MAX_GRACE_HOURS: u32 = 8760;

/// The description recording `grace` (none: the deployment's default applies), and the
/// key ids it recorded before.
pub fn with_grace(description: &str, grace: Option<u32>) -> String {
    let entries = parse(description);
    let keys = entries.iter().map(|(v, k)| (v.as_str(), k.as_str()));
    let created = parse_created(description);
    render_parts(base(description), &created, grace, keys, &|_| true, None)
}

/// The description with `entries` recorded after its own text (whatever record it
/// held before is replaced; a recorded grace period is kept, and so are the creation
/// times of the keys still recorded). Entries for versions not in `staged` are left
/// out, except `keep`, the version being written now.
pub fn render<'a>(
    description: &str,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    staged: &dyn Fn(&str) -> bool,
    keep: Option<&str>,
) -> String {
    let grace = parse_grace(description);
    let created = parse_created(description);
    render_parts(base(description), &created, grace, entries, staged, keep)
}

fn render_parts<'a>(
    base: &str,
    created: &BTreeMap<String, u64>,
    grace: Option<u32>,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    staged: &dyn Fn(&str) -> bool,
    keep: Option<&str>,
) -> String {
    let kept: BTreeMap<&str, &str> = entries
        .into_iter()
        .filter(|(v, k)| is_version_id(v) && is_key_id(k))
        .filter(|(v, _)| staged(v) || Some(*v) == keep)
        .collect();
    // Times only of the keys still recorded: the section stays as short as the record.
    let times: Vec<String> = created
        .iter()
        .filter(|(k, _)| kept.values().any(|v| v == k))
        .map(|(k, t)| format!("{k}={t}"))
        .collect();
    let mut record = if times.is_empty() {
        String::new()
    } else {
        format!("{CREATED_MARKER}{}.", times.join(", "))
    };
    record.push_str(
        &grace
            .map(|h| format!("{GRACE_MARKER}{h} hours."))
            .unwrap_or_default(),
    );
    if !kept.is_empty() {
        let list: Vec<String> = kept.iter().map(|(v, k)| format!("{v}={k}")).collect();
        record.push_str(&format!("{MARKER}{}.", list.join(", ")));
    }
    // The base is the function's own sentence; a description grown past the limit by
    // hand is cut there rather than failing the write.
    let room = MAX_DESCRIPTION.saturating_sub(record.len());
    let mut cut = base.len().min(room);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{record}", &base[..cut])
}

/// What DescribeSecret says about the keys: the key each stage's version holds, and
/// whether every staged version is recorded (a secret written before the record
/// existed is not, until the function's next Update or rotation of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageKeys {
    pub current: Option<String>,
    pub previous: Option<String>,
    /// On a version other than AWSCURRENT's: a rotation in flight.
    pub pending: Option<String>,
    /// False when some staged version has no entry: its key is unknown.
    pub complete: bool,
}

/// Reads the keys off a description and a version -> stages map.
pub fn stage_keys(description: &str, stages: &BTreeMap<String, Vec<String>>) -> StageKeys {
    let entries = parse(description);
    let on = |stage: &str| {
        stages
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(v, _)| v.as_str())
    };
    let key = |stage: &str| on(stage).and_then(|v| entries.get(v)).cloned();
    let pending = match (on(PENDING), on(CURRENT)) {
        (Some(p), Some(c)) if p == c => None,
        (Some(_), _) => key(PENDING),
        _ => None,
    };
    StageKeys {
        current: key(CURRENT),
        previous: key(PREVIOUS),
        pending,
        complete: stages
            .iter()
            .filter(|(_, s)| {
                s.iter()
                    .any(|x| [CURRENT, PREVIOUS, PENDING].contains(&x.as_str()))
            })
            .all(|(v, _)| entries.contains_key(v)),
    }
}

/// The version id a freshly issued key is stored under: named after the key, so each
/// new key gets a version of its own (Secrets Manager refuses a token reused with
/// another value) and the record's entry can be written before the value lands.
pub fn version_for_key(key_id: &str) -> String {
    let id: String = key_id.chars().take(52).collect();
    format!("planton-key-{id:0<20}")
}

pub const CURRENT: &str = "AWSCURRENT";
pub const PREVIOUS: &str = "AWSPREVIOUS";
pub const PENDING: &str = "AWSPENDING";

/// Secrets Manager's version ids (a ClientRequestToken): 32-64 characters; the
/// function's are UUIDs.
fn is_version_id(s: &str) -> bool {
    (32..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// IAM access key ids: 16-128 upper-case letters and digits.
fn is_key_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "11111111-1111-1111-1111-111111111111";
    const V2: &str = "22222222-2222-2222-2222-222222222222";
    const V3: &str = "33333333-3333-3333-3333-333333333333";
    const K1: &str = "AKIAAAAAAAAAAAAAAAA1";
    const K2: &str = "AKIAAAAAAAAAAAAAAAA2";
    const K3: &str = "AKIAAAAAAAAAAAAAAAA3";
    const BASE: &str = "Access key of IAM user u (Custom::PlantonIamUser in s)";

    fn stages(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(v, s)| (v.to_string(), s.iter().map(|x| x.to_string()).collect()))
            .collect()
    }

    #[test]
    fn a_record_round_trips_and_keeps_the_description_text() {
        let d = render(BASE, [(V1, K1), (V2, K2)], &|_| true, None);
        assert!(d.starts_with(BASE), "{d}");
        let back = parse(&d);
        assert_eq!(back.get(V1).map(String::as_str), Some(K1));
        assert_eq!(back.get(V2).map(String::as_str), Some(K2));
        // Rewriting replaces the record instead of appending a second one.
        let again = render(&d, [(V3, K3)], &|_| true, None);
        assert_eq!(again.matches(MARKER).count(), 1);
        assert_eq!(parse(&again).len(), 1);
    }

    #[test]
    fn a_grace_period_is_recorded_kept_and_removed() {
        let d = render(BASE, [(V1, K1)], &|_| true, None);
        assert_eq!(parse_grace(&d), None);
        let g = with_grace(&d, Some(0));
        assert_eq!(parse_grace(&g), Some(0));
        assert_eq!(parse(&g).get(V1).map(String::as_str), Some(K1));
        assert!(g.starts_with(BASE), "{g}");
        // A new key's record keeps the grace period.
        let again = render(&g, [(V2, K2)], &|_| true, None);
        assert_eq!(parse_grace(&again), Some(0));
        assert_eq!(parse(&again).len(), 1);
        assert_eq!(parse_grace(&with_grace(&again, Some(48))), Some(48));
        let removed = with_grace(&again, None);
        assert_eq!(parse_grace(&removed), None);
        assert!(!removed.contains(GRACE_MARKER));
        assert_eq!(parse(&removed).len(), 1);
        // Out of range or not a number: no grace recorded, the default applies.
        for bad in ["99999", "-1", "x", ""] {
            assert_eq!(
                parse_grace(&format!("{BASE}{GRACE_MARKER}{bad} hours.")),
                None
            );
        }
    }

    #[test]
    fn creation_times_are_kept_for_the_recorded_keys_only() {
        let d = render(BASE, [(V1, K1), (V2, K2)], &|_| true, None);
        let d = with_created(&d, K1, 1_700_000_000);
        let d = with_created(&d, K2, 1_700_000_100);
        let d = with_grace(&d, Some(24));
        assert!(d.starts_with(BASE), "{d}");
        assert_eq!(
            parse_created(&d),
            [
                (K1.to_string(), 1_700_000_000),
                (K2.to_string(), 1_700_000_100)
            ]
            .into()
        );
        assert_eq!(parse(&d).len(), 2, "{d}");
        assert_eq!(parse_grace(&d), Some(24), "{d}");
        // A rotation drops V1's entry: K1's time goes with it; K2's stays.
        let next = render(&d, [(V2, K2), (V3, K3)], &|v| v != V1, Some(V3));
        let next = with_created(&next, K3, 1_700_000_200);
        assert_eq!(
            parse_created(&next),
            [
                (K2.to_string(), 1_700_000_100),
                (K3.to_string(), 1_700_000_200)
            ]
            .into()
        );
        assert_eq!(parse_grace(&next), Some(24));
        assert_eq!(next.matches(CREATED_MARKER).count(), 1, "{next}");
        // A time for a key the record does not hold is not written.
        assert!(parse_created(&with_created(BASE, K1, 5)).is_empty());
        // Anything that is not an entry is ignored.
        for junk in [
            "K=1",
            &format!("{K1}=x"),
            &format!("{K1}=-1"),
            &format!("{K1}="),
        ] {
            let d = format!("{BASE}{CREATED_MARKER}{junk}.{MARKER}{V1}={K1}.");
            assert!(parse_created(&d).is_empty(), "{d}");
            assert_eq!(parse(&d).len(), 1, "{d}");
        }
    }

    #[test]
    fn a_reader_that_does_not_know_creation_times_reads_the_record_unchanged() {
        let d = render(BASE, [(V1, K1), (V2, K2)], &|_| true, None);
        let d = with_grace(&with_created(&d, K2, 1_700_000_100), Some(0));
        // What an earlier version parses: the text after MARKER, split at ", ".
        let (_, tail) = d.split_once(MARKER).unwrap();
        let old: Vec<&str> = tail.trim_end_matches('.').split(", ").collect();
        assert_eq!(old, [format!("{V1}={K1}"), format!("{V2}={K2}")]);
        // And its notion of the description's own text keeps the times verbatim.
        let old_base_end = [MARKER, GRACE_MARKER]
            .iter()
            .filter_map(|m| d.find(m))
            .min()
            .unwrap();
        assert!(d[..old_base_end].contains(CREATED_MARKER), "{d}");
        // Rewritten by such a version (its base, then its own record), the times still
        // read back.
        let rewritten = format!("{}{MARKER}{V2}={K2}.", &d[..old_base_end]);
        assert_eq!(parse_created(&rewritten).get(K2), Some(&1_700_000_100));
        assert!(base(&rewritten) == BASE, "{rewritten}");
    }

    #[test]
    fn versions_without_a_stage_are_dropped_but_the_one_being_written_is_kept() {
        let staged = |v: &str| v == V2;
        let d = render(BASE, [(V1, K1), (V2, K2), (V3, K3)], &staged, Some(V3));
        let e = parse(&d);
        assert_eq!(e.keys().map(String::as_str).collect::<Vec<_>>(), [V2, V3]);
        assert_eq!(render(BASE, [(V1, K1)], &|_| false, None), BASE);
    }

    #[test]
    fn anything_that_is_not_an_entry_is_ignored() {
        for d in [
            "",
            BASE,
            &format!("{BASE}{MARKER}"),
            &format!("{BASE}{MARKER}not-a-version={K1}."),
            &format!("{BASE}{MARKER}{V1}=lowercase-key-id."),
            &format!("{BASE}{MARKER}{V1}{K1}."),
        ] {
            assert!(parse(d).is_empty(), "{d}");
        }
        // A half-valid record keeps what is valid.
        let d = format!("{BASE}{MARKER}{V1}={K1}, junk, {V2}=x.");
        assert_eq!(parse(&d).len(), 1);
    }

    #[test]
    fn an_overlong_description_is_cut_so_the_record_fits() {
        let long = "x".repeat(3000);
        let d = render(&long, [(V1, K1)], &|_| true, None);
        assert_eq!(d.len(), MAX_DESCRIPTION);
        assert_eq!(parse(&d).len(), 1);
        let wide = "é".repeat(1500);
        let d = render(&wide, [(V1, K1)], &|_| true, None);
        assert!(d.len() <= MAX_DESCRIPTION);
        assert_eq!(parse(&d).len(), 1);
    }

    #[test]
    fn a_new_keys_version_id_is_valid_for_secrets_manager_and_recordable() {
        for k in [K1, "AKIA", &"A".repeat(128)] {
            let v = version_for_key(k);
            assert!((32..=64).contains(&v.len()), "{v}");
            assert!(is_version_id(&v), "{v}");
        }
        assert_ne!(version_for_key(K1), version_for_key(K2));
    }

    #[test]
    fn stages_resolve_through_versions() {
        let d = render(BASE, [(V1, K1), (V2, K2), (V3, K3)], &|_| true, None);
        type Stages<'a> = &'a [(&'a str, &'a [&'a str])];
        let cases: &[(Stages, StageKeys)] = &[
            (
                &[(V2, &[CURRENT]), (V1, &[PREVIOUS])],
                StageKeys {
                    current: Some(K2.into()),
                    previous: Some(K1.into()),
                    pending: None,
                    complete: true,
                },
            ),
            // A rotation in flight.
            (
                &[(V2, &[CURRENT]), (V3, &[PENDING])],
                StageKeys {
                    current: Some(K2.into()),
                    previous: None,
                    pending: Some(K3.into()),
                    complete: true,
                },
            ),
            // AWSPENDING left on the current version: no rotation in flight.
            (
                &[(V2, &[CURRENT, PENDING])],
                StageKeys {
                    current: Some(K2.into()),
                    previous: None,
                    pending: None,
                    complete: true,
                },
            ),
            // A version the record does not know: its key is unknown, not guessed.
            (
                &[
                    ("44444444-4444-4444-4444-444444444444", &[CURRENT]),
                    (V1, &[PREVIOUS]),
                ],
                StageKeys {
                    current: None,
                    previous: Some(K1.into()),
                    pending: None,
                    complete: false,
                },
            ),
            (
                &[],
                StageKeys {
                    complete: true,
                    ..StageKeys::default()
                },
            ),
        ];
        for (s, want) in cases {
            assert_eq!(&stage_keys(&d, &stages(s)), want, "{s:?}");
        }
        // No record at all: nothing is known.
        let none = stage_keys(BASE, &stages(&[(V1, &[CURRENT])]));
        assert_eq!(none.current, None);
        assert!(!none.complete);
    }
}
