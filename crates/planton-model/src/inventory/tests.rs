use super::*;
use crate::key_ledger::{render, with_created, CURRENT, PENDING, PREVIOUS};

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
const T0: u64 = 1_764_000_000; // 2025-11-24T16:00:00Z
const K1: &str = "AKIAAAAAAAAAAAAAAAA1";
const K2: &str = "AKIAAAAAAAAAAAAAAAA2";
const K3: &str = "AKIAAAAAAAAAAAAAAAA3";
const V1: &str = "11111111-1111-1111-1111-111111111111";
const V2: &str = "22222222-2222-2222-2222-222222222222";

fn iso(t: u64) -> String {
    // The inverse of parse_time for the tests' whole-second UTC times.
    let days = (t / DAY) as i64;
    let secs = t % DAY;
    let (mut y, mut d) = (1970i64, days);
    loop {
        let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let mut m = 1u32;
    while d >= i64::from(days_in_month(y, m)) {
        d -= i64::from(days_in_month(y, m));
        m += 1;
    }
    format!(
        "{y:04}-{m:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        d + 1,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// One key slot: active, created, last used (time, region, service).
type Slot<'a> = (bool, u64, Option<(u64, &'a str, &'a str)>);

/// A report line.
fn line(user: &str, created: u64, slots: &[Slot]) -> String {
    let mut f = vec![
        user.to_string(),
        format!("arn:aws:iam::123456789012:user/sa/{user}"),
        iso(created),
        "false".into(),
        "N/A".into(),
        "N/A".into(),
        "N/A".into(),
        "false".into(),
    ];
    for i in 0..2 {
        match slots.get(i) {
            Some((active, made, used)) => {
                f.push(active.to_string());
                f.push(iso(*made));
                match used {
                    Some((at, region, service)) => {
                        f.extend([iso(*at), region.to_string(), service.to_string()])
                    }
                    None => f.extend(["N/A".into(), "N/A".into(), "N/A".into()]),
                }
            }
            None => f.extend(
                ["false", "N/A", "N/A", "N/A", "N/A"]
                    .iter()
                    .map(|s| s.to_string()),
            ),
        }
    }
    f.extend(
        ["false", "N/A", "false", "N/A"]
            .iter()
            .map(|s| s.to_string()),
    );
    f.join(",")
}

fn report(lines: &[String]) -> CredentialReport {
    let mut csv = format!("{HEADER}\n");
    csv.push_str("<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2025-11-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n");
    for l in lines {
        csv.push_str(l);
        csv.push('\n');
    }
    parse_report(&csv, T0).expect("a report")
}

#[test]
fn times_parse_as_iam_writes_them() {
    let cases: &[(&str, Option<u64>)] = &[
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2025-11-24T16:00:00+00:00", Some(T0)),
        ("2025-11-24T16:00:00Z", Some(T0)),
        ("2025-11-24T16:00:00.999Z", Some(T0)),
        ("2025-11-24 16:00:00+00:00", Some(T0)),
        ("2025-11-24T18:00:00+02:00", Some(T0)),
        ("2025-11-24T14:30:00-01:30", Some(T0)),
        ("2024-02-29T00:00:00Z", Some(1_709_164_800)),
        ("2023-02-29T00:00:00Z", None),
        ("2025-13-01T00:00:00Z", None),
        ("2025-11-24T24:00:00Z", None),
        ("2025-11-24", None),
        ("N/A", None),
        ("no_information", None),
        ("", None),
        ("2025-11-24T16:00:00+0000x", None),
        ("1969-12-31T23:59:59Z", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_time(s), *want, "{s}");
    }
    for t in [0, T0, T0 + 86_399, 4_102_444_800] {
        assert_eq!(parse_time(&iso(t)), Some(t), "{}", iso(t));
    }
}

#[test]
fn the_report_reads_every_users_keys_and_leaves_out_the_root_user() {
    let r = report(&[
        line("none", T0 - 100 * DAY, &[]),
        line(
            "one",
            T0 - 100 * DAY,
            &[(true, T0 - 90 * DAY, Some((T0 - DAY, "eu-west-1", "s3")))],
        ),
        line(
            "two",
            T0 - 100 * DAY,
            &[(false, T0 - 90 * DAY, None), (true, T0 - DAY, None)],
        ),
    ]);
    assert_eq!(r.generated, T0);
    assert_eq!(r.rows.len(), 3, "{:?}", r.rows.keys());
    assert!(!r.rows.contains_key(ROOT_ROW));
    assert!(r.rows["none"].keys.is_empty());
    assert_eq!(
        r.rows["one"].keys,
        vec![ReportKey {
            active: true,
            created: T0 - 90 * DAY,
            last_used: Some(LastUse {
                at: T0 - DAY,
                region: Some("eu-west-1".into()),
                service: Some("s3".into()),
            }),
        }]
    );
    let two = &r.rows["two"];
    assert_eq!(
        two.keys.iter().map(|k| k.active).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(two.user_created, Some(T0 - 100 * DAY));
    assert!(two.keys.iter().all(|k| k.last_used.is_none()));
    assert!(!two.unclear);
    assert_eq!(r.age_secs(T0 + 3600), 3600);
    assert_eq!(r.age_secs(T0 - 5), 0);
}

#[test]
fn a_report_it_cannot_read_is_an_error_and_a_line_it_cannot_read_is_unclear() {
    assert_eq!(parse_report("", T0), Err(ReportError::Empty));
    assert_eq!(
        parse_report("user,arn\nu,a\n", T0),
        Err(ReportError::MissingColumn("user_creation_time"))
    );
    let no_slot = HEADER.replace("access_key_2_last_rotated", "something_else");
    assert_eq!(
        parse_report(&format!("{no_slot}\n"), T0),
        Err(ReportError::MissingColumn("access_key_2_last_rotated"))
    );
    assert!(matches!(
        parse_report(&format!("{HEADER}\nu,a,b\n"), T0),
        Err(ReportError::Ragged {
            line: 2,
            got: 3,
            ..
        })
    ));
    // Columns are found by name: reordered or added columns change nothing.
    let mut cols: Vec<&str> = HEADER.split(',').collect();
    cols.reverse();
    let l = line("u", T0 - DAY, &[(true, T0 - DAY, None)]);
    let mut fields: Vec<&str> = l.split(',').collect();
    fields.reverse();
    let r = parse_report(&format!("{}\n{}\n", cols.join(","), fields.join(",")), T0).unwrap();
    assert_eq!(r.rows["u"].keys.len(), 1);
    // A quoted user name holding a comma.
    let quoted = line("x", T0 - DAY, &[]).replacen("x,", "\"a,\"\"b\",", 1);
    let r = parse_report(&format!("{HEADER}\n{quoted}\n"), T0).unwrap();
    assert!(r.rows.contains_key("a,\"b"), "{:?}", r.rows.keys());
    // Unclear lines: an active slot without a creation time; a date it cannot read.
    for bad in [
        line("u", T0, &[(true, T0, None)]).replace(&iso(T0), "N/A"),
        line("u", T0, &[(true, T0 - 5, None)]).replace(&iso(T0 - 5), "yesterday"),
        line("u", T0, &[(true, T0 - 5, Some((T0 - 1, "r", "s")))]).replace(&iso(T0 - 1), "soon"),
        line("u", T0, &[(true, T0 - 5, None)]).replacen("true", "maybe", 1),
    ] {
        let r = parse_report(&format!("{HEADER}\n{bad}\n"), T0).unwrap();
        assert!(r.rows["u"].unclear, "{bad}");
    }
}

fn user(name: &str, path: &str, tags: &[(&str, &str)]) -> AccountUser {
    AccountUser {
        user: ObservedUser {
            name: name.into(),
            path: path.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ObservedUser::default()
        },
        created: Some(T0 - 100 * DAY),
    }
}

#[test]
fn only_users_under_the_prefix_are_listed_and_only_owned_ones_kept_in_name_order() {
    let owned = [
        (TAG_STACK, "s"),
        (TAG_LOGICAL, "L"),
        (TAG_SECRET_NAME, "planton/x"),
    ];
    let users = vec![
        user("c", "/sa/", &owned),
        user("a", "/sa/team/", &owned),
        user("b", "/sa/", &[(TAG_STACK, "s")]),
        user("d", "/sa/", &[(TAG_STACK, "s"), (TAG_LOGICAL, "")]),
        user("e", "/other/", &owned),
        user("c", "/sa/", &owned),
        user(
            "f",
            "/sa/",
            &[("PLANTON:STACK-ID", "s"), (TAG_LOGICAL, "M")],
        ),
    ];
    let s = select(users.clone(), "/sa/", None);
    assert_eq!(s.listed, 5, "a, b, c (once), d, f");
    let names: Vec<&str> = s
        .managed
        .iter()
        .map(|m| m.user.user.name.as_str())
        .collect();
    assert_eq!(names, ["a", "c", "f"], "tag keys are case-insensitive");
    let positions: Vec<usize> = s.managed.iter().map(|m| m.position).collect();
    assert_eq!(
        positions,
        [0, 2, 4],
        "a b c d f: where each stands in the listing"
    );
    assert_eq!(s.managed[0].secret_name.as_deref(), Some("planton/x"));
    assert_eq!(
        s.managed[2].owner,
        Owner {
            stack_id: "s".into(),
            logical_id: "M".into()
        }
    );
    let s = select(users, "/sa/", Some("c"));
    assert_eq!(s.listed, 3);
    let names: Vec<&str> = s
        .managed
        .iter()
        .map(|m| m.user.user.name.as_str())
        .collect();
    assert_eq!(names, ["c", "f"]);
    assert_eq!(select(Vec::new(), "/", None), Selection::default());
}

fn rec(id: &str, created: Option<u64>) -> RecordedKey {
    RecordedKey {
        id: id.into(),
        created,
    }
}

#[test]
fn report_lines_are_proven_to_be_recorded_keys_by_their_creation_time() {
    let made = T0 - 100 * DAY;
    let r = report(&[
        line(
            "one",
            made,
            &[(true, T0 - 10 * DAY, Some((T0 - DAY, "us-east-1", "sts")))],
        ),
        line(
            "rotated",
            made,
            &[(true, T0 - 40 * DAY, None), (true, T0 - 2 * DAY, None)],
        ),
        line("none", made, &[]),
        line(
            "twins",
            made,
            &[(true, T0 - DAY, None), (true, T0 - DAY, None)],
        ),
    ]);
    let ok = |name: &str, recorded: &[RecordedKey]| join_keys(&r, name, Some(made), recorded);
    let one = ok("one", &[rec(K1, Some(T0 - 10 * DAY))]).unwrap();
    assert_eq!(
        one,
        vec![KeyFact {
            id: K1.into(),
            active: true,
            created: Some(T0 - 10 * DAY),
            last_use: Use::At(LastUse {
                at: T0 - DAY,
                region: Some("us-east-1".into()),
                service: Some("sts".into())
            }),
        }]
    );
    // A second's difference either way is the same key (rounded against cut).
    assert!(ok("one", &[rec(K1, Some(T0 - 10 * DAY + 1))]).is_ok());
    // The previous key and the current one, each by its own time, whatever the order.
    let both = ok(
        "rotated",
        &[rec(K2, Some(T0 - 2 * DAY)), rec(K1, Some(T0 - 40 * DAY))],
    )
    .unwrap();
    assert_eq!(
        both.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        [K1, K2]
    );
    assert!(both.iter().all(|k| k.last_use == Use::Never));
    // No key on the line: nothing to prove, whatever the record says (keys deleted).
    assert_eq!(ok("none", &[rec(K1, Some(T0 - DAY))]), Ok(vec![]));
    assert_eq!(ok("none", &[]), Ok(vec![]));

    let cases: &[(&str, Option<u64>, Vec<RecordedKey>, Lookup)] = &[
        // A user newer than the report.
        ("nobody", Some(made), vec![], Lookup::NotInReport),
        // Deleted and made again under the same name since the report.
        (
            "one",
            Some(T0 - 3600),
            vec![rec(K1, Some(T0 - 10 * DAY))],
            Lookup::OtherIncarnation,
        ),
        // A recorded key newer than the report: the report cannot show it.
        (
            "one",
            Some(made),
            vec![rec(K1, Some(T0 - 10 * DAY)), rec(K2, Some(T0 + 60))],
            Lookup::NewerThanReport,
        ),
        // A key on the line that no recorded key matches: made by hand.
        (
            "rotated",
            Some(made),
            vec![rec(K2, Some(T0 - 2 * DAY))],
            Lookup::UnrecordedKey,
        ),
        // The secret records nothing (unowned, missing, older than the record).
        ("one", Some(made), vec![], Lookup::UnrecordedKey),
        // Recorded without creation times (written by an earlier version).
        (
            "one",
            Some(made),
            vec![rec(K1, None)],
            Lookup::NoCreationTime,
        ),
        // Two keys of the same second.
        (
            "twins",
            Some(made),
            vec![rec(K1, Some(T0 - DAY)), rec(K2, Some(T0 - DAY))],
            Lookup::Ambiguous,
        ),
        (
            "twins",
            Some(made),
            vec![rec(K1, Some(T0 - DAY))],
            Lookup::Ambiguous,
        ),
    ];
    for (name, created, recorded, want) in cases {
        assert_eq!(
            join_keys(&r, name, *created, recorded),
            Err(*want),
            "{name} {recorded:?}"
        );
    }
    // A user whose creation time is unknown is taken to be the report's.
    assert!(join_keys(&r, "one", None, &[rec(K1, Some(T0 - 10 * DAY))]).is_ok());
    // An unclear line proves nothing.
    let mut unclear = r.clone();
    if let Some(row) = unclear.rows.get_mut("one") {
        row.unclear = true;
    }
    assert_eq!(
        join_keys(&unclear, "one", Some(made), &[rec(K1, Some(T0 - 10 * DAY))]),
        Err(Lookup::UnclearLine)
    );
    let names: Vec<&str> = [
        Lookup::NotInReport,
        Lookup::OtherIncarnation,
        Lookup::UnclearLine,
        Lookup::NewerThanReport,
        Lookup::UnrecordedKey,
        Lookup::NoCreationTime,
        Lookup::Ambiguous,
    ]
    .iter()
    .map(|l| l.name())
    .collect();
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(names.len(), unique.len());
}

#[test]
fn keys_listed_one_by_one_take_their_last_use_from_the_report_when_it_shows_them() {
    let made = T0 - 100 * DAY;
    let r = report(&[
        line(
            "u",
            made,
            &[
                (true, T0 - 10 * DAY, Some((T0 - DAY, "us-east-1", "sts"))),
                (true, T0 - 5 * DAY, None),
            ],
        ),
        line(
            "twins",
            made,
            &[(true, T0 - DAY, None), (true, T0 - DAY, None)],
        ),
    ]);
    let cases: &[(&str, Option<u64>, Option<u64>, Use)] = &[
        (
            "u",
            Some(made),
            Some(T0 - 10 * DAY),
            Use::At(LastUse {
                at: T0 - DAY,
                region: Some("us-east-1".into()),
                service: Some("sts".into()),
            }),
        ),
        ("u", Some(made), Some(T0 - 5 * DAY), Use::Never),
        // Made after the report, unknown creation, another user, no line, two matches.
        ("u", Some(made), Some(T0 + 10), Use::Unknown),
        ("u", Some(made), None, Use::Unknown),
        ("u", Some(T0), Some(T0 - 10 * DAY), Use::Unknown),
        ("nobody", Some(made), Some(T0 - 10 * DAY), Use::Unknown),
        ("twins", Some(made), Some(T0 - DAY), Use::Unknown),
    ];
    for (name, user_created, key_created, want) in cases {
        assert_eq!(
            report_use(&r, name, *user_created, *key_created),
            *want,
            "{name} {key_created:?}"
        );
    }
}

#[test]
fn the_record_names_each_staged_key_once_with_its_time() {
    let d = render("Access key", [(V1, K1), (V2, K2)], &|_| true, None);
    let d = with_created(&d, K2, T0);
    let stages = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(v, s)| (v.to_string(), s.iter().map(|x| x.to_string()).collect()))
            .collect()
    };
    let (k, keys) = recorded_keys(&d, &stages(&[(V2, &[CURRENT]), (V1, &[PREVIOUS])]));
    assert_eq!(k.current.as_deref(), Some(K2));
    assert_eq!(keys, vec![rec(K2, Some(T0)), rec(K1, None)]);
    // A finished rotation leaves AWSPENDING on the current version: one key.
    let (_, keys) = recorded_keys(&d, &stages(&[(V2, &[CURRENT, PENDING])]));
    assert_eq!(keys, vec![rec(K2, Some(T0))]);
    let (k, keys) = recorded_keys("no record", &stages(&[(V1, &[CURRENT])]));
    assert!(keys.is_empty() && !k.complete);
    let _ = K3;
}

#[test]
fn the_listing_is_found_by_name_or_arn_and_a_secret_listed_twice_counts_once() {
    let s = |name: &str| ListedSecret {
        name: name.into(),
        arn: format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"),
        ..ListedSecret::default()
    };
    let index = SecretIndex::new([s("planton/a"), s("planton/b"), s("planton/a")]);
    assert_eq!(index.len(), 2);
    assert!(!index.is_empty());
    assert_eq!(
        index.get("planton/a").map(|x| x.name.as_str()),
        Some("planton/a")
    );
    assert_eq!(
        index
            .get("arn:aws:secretsmanager:us-east-1:123456789012:secret:planton/b-AbCdEf")
            .map(|x| x.name.as_str()),
        Some("planton/b")
    );
    assert!(index.get("planton/c").is_none());
}

#[test]
fn keys_are_judged_against_the_thresholds_in_whole_days() {
    let t = Thresholds {
        max_age_days: 90,
        max_idle_days: 30,
    };
    let now = T0;
    let cases: &[(Option<u64>, Option<u64>, Judged)] = &[
        // Fresh, never used.
        (
            Some(now),
            None,
            Judged {
                age_days: Some(0),
                idle_days: Some(0),
                stale: false,
                idle: false,
            },
        ),
        // 200 days old, used 2 days ago: stale, not idle.
        (
            Some(now - 200 * DAY),
            Some(now - 2 * DAY),
            Judged {
                age_days: Some(200),
                idle_days: Some(2),
                stale: true,
                idle: false,
            },
        ),
        // Exactly at the thresholds: neither (they must be exceeded).
        (
            Some(now - 90 * DAY),
            Some(now - 30 * DAY),
            Judged {
                age_days: Some(90),
                idle_days: Some(30),
                stale: false,
                idle: false,
            },
        ),
        // A day past each.
        (
            Some(now - 91 * DAY),
            Some(now - 31 * DAY),
            Judged {
                age_days: Some(91),
                idle_days: Some(31),
                stale: true,
                idle: true,
            },
        ),
        // Never used: idle from creation.
        (
            Some(now - 100 * DAY),
            None,
            Judged {
                age_days: Some(100),
                idle_days: Some(100),
                stale: true,
                idle: true,
            },
        ),
        // Creation unknown: nothing to judge by.
        (None, None, Judged::default()),
        // A time in the future counts as 0 days.
        (
            Some(now + DAY),
            None,
            Judged {
                age_days: Some(0),
                idle_days: Some(0),
                stale: false,
                idle: false,
            },
        ),
    ];
    for (created, used, want) in cases {
        assert_eq!(
            judge(*created, *used, now, t),
            *want,
            "{created:?} {used:?}"
        );
    }
    let idle = judge(Some(now - 100 * DAY), None, now, t);
    let fresh = judge(Some(now), None, now, t);
    for (deactivate, active, j, want) in [
        (true, true, &idle, true),
        (false, true, &idle, false),
        (true, false, &idle, false),
        (true, true, &fresh, false),
    ] {
        assert_eq!(wants_deactivation(deactivate, active, j), want);
    }
}
