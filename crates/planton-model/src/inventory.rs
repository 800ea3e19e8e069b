//! The audit's view of the whole account, joined from what IAM and Secrets Manager give
//! in pages: GetAccountAuthorizationDetails (every user with its path, tags, policies,
//! groups and boundary), the credential report (every user's keys: status, creation,
//! last use) and ListSecrets (every managed secret's description, stages and tags).
//! Reading the account this way costs a handful of calls whatever the number of users;
//! reading it user by user cost eight calls per user.
//!
//! The credential report names no key id, only when each of a user's (at most two)
//! keys was made. The function records every key id it stores, and its creation time,
//! in the secret's description ([`crate::key_ledger`]), so a report line is proven to be
//! a recorded key by its creation time. Whatever cannot be proven that way (a key made
//! by hand, a user newer than the report, a secret written before the times were
//! recorded) is not guessed: [`join_keys`] says why, and the caller lists that user's
//! keys one by one. The report may be up to four hours old ([`REPORT_REUSED_SECS`]);
//! the audit states its age, and re-reads a key before any write it leads to.
//!
//! Pure: every read has been made before these run.

use crate::key_ledger::{self, StageKeys};
use crate::state::{tag, ObservedUser, Owner, TAG_LOGICAL, TAG_SECRET_NAME, TAG_STACK};
use std::collections::BTreeMap;

/// The report's line for the account's root user: not an IAM user.
pub const ROOT_ROW: &str = "<root_account>";

/// IAM hands out the last credential report again, instead of making a new one, while
/// it is younger than this: the age of the data the audit judges keys by.
pub const REPORT_REUSED_SECS: u64 = 4 * 3600;

/// How far apart two creation times of one key may be: IAM's CreateDate and the
/// report's `last_rotated` are whole seconds, and one may be rounded where the other is
/// cut.
pub const SAME_KEY_SECS: u64 = 1;

pub const DAY: u64 = 86_400;

// ------------------------------------------------------------------ users

/// One user as GetAccountAuthorizationDetails describes it (no keys: IAM gives those in
/// the credential report), and when it was created: a user deleted and made again
/// under the same name since the report is told apart by it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountUser {
    pub user: ObservedUser,
    pub created: Option<u64>,
}

/// A user carrying both ownership tags.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedUser {
    /// How many listed users (managed or not) come before it in name order: where a
    /// run that stops before this user says it got to.
    pub position: usize,
    pub user: AccountUser,
    pub owner: Owner,
    /// The user's `planton:secret-name` tag: where its key is kept.
    pub secret_name: Option<String>,
}

/// The users one audit covers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Users under the path prefix (from `resume_from` on), managed or not.
    pub listed: usize,
    /// Those carrying both ownership tags, in name order.
    pub managed: Vec<ManagedUser>,
}

/// The users under `path_prefix`, from `resume_from` on, and among them those this
/// function manages, in name order (the order a continuation resumes in). A user
/// listed twice (pages read while the account changed) counts once. Nobody else's user
/// is kept.
pub fn select(
    users: impl IntoIterator<Item = AccountUser>,
    path_prefix: &str,
    resume_from: Option<&str>,
) -> Selection {
    let mut by_name: BTreeMap<String, AccountUser> = BTreeMap::new();
    for u in users {
        if !u.user.path.starts_with(path_prefix) {
            continue;
        }
        if resume_from.is_some_and(|from| u.user.name.as_str() < from) {
            continue;
        }
        by_name.insert(u.user.name.clone(), u);
    }
    let listed = by_name.len();
    let managed = by_name
        .into_values()
        .enumerate()
        .filter_map(|(position, u)| {
            let owner = owner_of(&u.user.tags)?;
            let secret_name = tag(&u.user.tags, TAG_SECRET_NAME).map(str::to_string);
            Some(ManagedUser {
                position,
                user: u,
                owner,
                secret_name,
            })
        })
        .collect();
    Selection { listed, managed }
}

/// Both ownership tags, neither empty: the user is this function's.
pub fn owner_of(tags: &[(String, String)]) -> Option<Owner> {
    match (tag(tags, TAG_STACK), tag(tags, TAG_LOGICAL)) {
        (Some(s), Some(l)) if !s.is_empty() && !l.is_empty() => Some(Owner {
            stack_id: s.to_string(),
            logical_id: l.to_string(),
        }),
        _ => None,
    }
}

// ------------------------------------------------------ the credential report

/// When and where a key was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    pub at: u64,
    pub region: Option<String>,
    pub service: Option<String>,
}

/// What is known of a key's last use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    Never,
    At(LastUse),
    /// Not from the report: the caller asks IAM (GetAccessKeyLastUsed).
    Unknown,
}

/// One key slot of a report line that holds a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportKey {
    pub active: bool,
    pub created: u64,
    /// `None`: never used.
    pub last_used: Option<LastUse>,
}

/// One user's line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRow {
    pub arn: String,
    pub user_created: Option<u64>,
    /// The slots that hold a key, in the report's order.
    pub keys: Vec<ReportKey>,
    /// A field the parser could not read (an active slot without a creation time, a
    /// date it does not know): nothing on this line is trusted.
    pub unclear: bool,
}

/// A credential report: IAM's snapshot of every user's credentials at `generated`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialReport {
    /// Seconds since 1970 (GetCredentialReport's GeneratedTime).
    pub generated: u64,
    /// By user name; the root user's line is left out.
    pub rows: BTreeMap<String, ReportRow>,
}

impl CredentialReport {
    /// How old the report is at `now`, in seconds.
    pub fn age_secs(&self, now: u64) -> u64 {
        now.saturating_sub(self.generated)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the credential report is empty (no header line)")]
    Empty,
    #[error("the credential report has no {0} column")]
    MissingColumn(&'static str),
    #[error("line {line} of the credential report has {got} fields where its header has {want}")]
    Ragged {
        line: usize,
        got: usize,
        want: usize,
    },
}

/// The columns the audit reads, by the names IAM's header gives them (looked up by
/// name, so a column IAM adds or moves changes nothing).
const USER: &str = "user";
const ARN: &str = "arn";
const USER_CREATED: &str = "user_creation_time";
const SLOT_COLUMNS: [[&str; 5]; 2] = [
    [
        "access_key_1_active",
        "access_key_1_last_rotated",
        "access_key_1_last_used_date",
        "access_key_1_last_used_region",
        "access_key_1_last_used_service",
    ],
    [
        "access_key_2_active",
        "access_key_2_last_rotated",
        "access_key_2_last_used_date",
        "access_key_2_last_used_region",
        "access_key_2_last_used_service",
    ],
];

/// Parses the report's CSV (GetCredentialReport's Content, decoded). `generated` is
/// its GeneratedTime.
pub fn parse_report(csv: &str, generated: u64) -> Result<CredentialReport, ReportError> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header = split_csv(lines.next().ok_or(ReportError::Empty)?);
    let col = |name: &'static str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(ReportError::MissingColumn(name))
    };
    let (user_col, arn_col, created_col) = (col(USER)?, col(ARN)?, col(USER_CREATED)?);
    // Each key slot's columns: active, last_rotated, last_used_date (required),
    // last_used_region, last_used_service.
    let mut slot_cols = Vec::new();
    for names in SLOT_COLUMNS {
        let [active, rotated, used, region, service] = names;
        slot_cols.push((
            Some(col(active)?),
            Some(col(rotated)?),
            Some(col(used)?),
            col(region).ok(),
            col(service).ok(),
        ));
    }
    let mut rows = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let fields = split_csv(line);
        if fields.len() != header.len() {
            return Err(ReportError::Ragged {
                line: i + 2,
                got: fields.len(),
                want: header.len(),
            });
        }
        let get = |c: Option<usize>| c.and_then(|c| fields.get(c)).map(|f| f.trim());
        let user = get(Some(user_col)).unwrap_or_default();
        if user == ROOT_ROW || user.is_empty() {
            continue;
        }
        let mut row = ReportRow {
            arn: get(Some(arn_col)).unwrap_or_default().to_string(),
            user_created: get(Some(created_col)).and_then(parse_time),
            ..ReportRow::default()
        };
        for &(active, rotated, used, region, service) in &slot_cols {
            let active = match get(active) {
                Some(a) if a.eq_ignore_ascii_case("true") => true,
                Some(a) if a.eq_ignore_ascii_case("false") => false,
                _ => {
                    row.unclear = true;
                    false
                }
            };
            let created = match get(rotated) {
                Some(r) if is_absent(r) => None,
                Some(r) => match parse_time(r) {
                    Some(t) => Some(t),
                    None => {
                        row.unclear = true;
                        None
                    }
                },
                None => None,
            };
            let Some(created) = created else {
                // An active slot without a creation time: a key the line cannot place.
                row.unclear |= active;
                continue;
            };
            let last_used = match get(used) {
                Some(u) if is_absent(u) => None,
                Some(u) => match parse_time(u) {
                    Some(at) => Some(LastUse {
                        at,
                        region: get(region).filter(|r| !is_absent(r)).map(str::to_string),
                        service: get(service).filter(|s| !is_absent(s)).map(str::to_string),
                    }),
                    None => {
                        row.unclear = true;
                        None
                    }
                },
                None => None,
            };
            row.keys.push(ReportKey {
                active,
                created,
                last_used,
            });
        }
        rows.insert(user.to_string(), row);
    }
    Ok(CredentialReport { generated, rows })
}

/// The report's words for "nothing here": N/A, and what it writes for data it does not
/// keep.
fn is_absent(field: &str) -> bool {
    field.is_empty()
        || field.eq_ignore_ascii_case("N/A")
        || field == "no_information"
        || field == "not_supported"
}

/// One CSV line (RFC 4180 quoting: a user name or path may hold a comma).
fn split_csv(line: &str) -> Vec<String> {
    let line = line.trim_end_matches('\r');
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// ISO 8601 date-time as IAM writes it (`2014-08-14T22:41:03+00:00`, `...Z`, fractions
/// of a second allowed) -> seconds since 1970. `None` for anything else.
pub fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, rest) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 || mo.len() != 2 || da.len() != 2 {
        return None;
    }
    let (year, month, day): (i64, u32, u32) = (num(y)?, num(mo)?, num(da)?);
    // The offset: Z, +hh:mm, -hh:mm (or none: UTC).
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0i64)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = off[1..].replace(':', "");
        if off.len() != 4 {
            return None;
        }
        let (h, m): (i64, i64) = (num(&off[..2])?, num(&off[2..])?);
        (t, sign * (h * 3600 + m * 60))
    } else {
        (rest, 0)
    };
    let time = time.split('.').next()?;
    let mut t = time.split(':');
    let (h, mi, se) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() || h.len() != 2 || mi.len() != 2 || se.len() != 2 {
        return None;
    }
    let (hour, minute, second): (i64, i64, i64) = (num(h)?, num(mi)?, num(se)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * DAY as i64 + hour * 3600 + minute * 60 + second
        - offset_secs;
    u64::try_from(secs).ok()
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ------------------------------------------------------------ the secrets

/// One secret as ListSecrets describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedSecret {
    pub name: String,
    pub arn: String,
    pub description: String,
    /// Version id -> its staging labels (only versions that carry one).
    pub stages: BTreeMap<String, Vec<String>>,
    pub tags: Vec<(String, String)>,
    pub pending_deletion: bool,
}

/// The secrets listed, found by name or ARN (a user's tag names its secret by name).
#[derive(Debug, Clone, Default)]
pub struct SecretIndex {
    by_name: BTreeMap<String, ListedSecret>,
    by_arn: BTreeMap<String, String>,
}

impl SecretIndex {
    /// A secret listed twice (pages read while secrets changed) is kept once.
    pub fn new(secrets: impl IntoIterator<Item = ListedSecret>) -> Self {
        let mut index = SecretIndex::default();
        for s in secrets {
            index.by_arn.insert(s.arn.clone(), s.name.clone());
            index.by_name.insert(s.name.clone(), s);
        }
        index
    }

    /// `None` when the listing does not hold it: the caller reads that secret itself
    /// (the listing is filtered, and may be a few minutes behind).
    pub fn get(&self, name_or_arn: &str) -> Option<&ListedSecret> {
        self.by_name.get(name_or_arn).or_else(|| {
            self.by_arn
                .get(name_or_arn)
                .and_then(|n| self.by_name.get(n))
        })
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// A key the secret's description records, with its creation time when recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedKey {
    pub id: String,
    pub created: Option<u64>,
}

/// Which key each stage holds ([`key_ledger::stage_keys`]) and the distinct keys the
/// staged versions hold, with their creation times.
pub fn recorded_keys(
    description: &str,
    stages: &BTreeMap<String, Vec<String>>,
) -> (StageKeys, Vec<RecordedKey>) {
    let k = key_ledger::stage_keys(description, stages);
    let created = key_ledger::parse_created(description);
    let mut keys: Vec<RecordedKey> = Vec::new();
    for id in [&k.current, &k.previous, &k.pending].into_iter().flatten() {
        if keys.iter().all(|r| &r.id != id) {
            keys.push(RecordedKey {
                id: id.clone(),
                created: created.get(id).copied(),
            });
        }
    }
    (k, keys)
}

// ------------------------------------------------------------- the join

/// One key of a managed user, as the audit judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFact {
    pub id: String,
    pub active: bool,
    pub created: Option<u64>,
    pub last_use: Use,
}

/// Why a user's keys must be listed one by one (ListAccessKeys): the report and the
/// secret's record do not prove which key is which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lookup {
    /// The report has no line for the user (made after the report).
    NotInReport,
    /// The report's line is for an earlier user of the same name.
    OtherIncarnation,
    /// The report's line could not be read.
    UnclearLine,
    /// A recorded key is newer than the report, which cannot show it yet.
    NewerThanReport,
    /// A key on the report matches no recorded key: made outside the function, or its
    /// secret records no keys (unowned, missing, written before the record).
    UnrecordedKey,
    /// The record names the keys but not when they were made (written before the
    /// function recorded creation times).
    NoCreationTime,
    /// Two keys made within a second of each other: the time cannot tell them apart.
    Ambiguous,
}

impl Lookup {
    pub fn name(self) -> &'static str {
        match self {
            Lookup::NotInReport => "not_in_report",
            Lookup::OtherIncarnation => "other_incarnation",
            Lookup::UnclearLine => "unclear_line",
            Lookup::NewerThanReport => "newer_than_report",
            Lookup::UnrecordedKey => "unrecorded_key",
            Lookup::NoCreationTime => "no_creation_time",
            Lookup::Ambiguous => "ambiguous",
        }
    }
}

fn close(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= SAME_KEY_SECS
}

/// The report's line for a user, if it is this user's: a line for an earlier user of
/// the same name (deleted and made again since) is not.
pub fn row_for<'a>(
    report: &'a CredentialReport,
    name: &str,
    user_created: Option<u64>,
) -> Result<&'a ReportRow, Lookup> {
    let row = report.rows.get(name).ok_or(Lookup::NotInReport)?;
    match (row.user_created, user_created) {
        (Some(a), Some(b)) if !close(a, b) => Err(Lookup::OtherIncarnation),
        _ if row.unclear => Err(Lookup::UnclearLine),
        _ => Ok(row),
    }
}

/// The user's keys, each named by its recorded id, when the report proves them: every
/// key on the report's line matches exactly one recorded key by creation time, and no
/// recorded key is newer than the report. `recorded` must come from a secret that is
/// the user's own (tagged for it, not being deleted); otherwise pass none.
pub fn join_keys(
    report: &CredentialReport,
    name: &str,
    user_created: Option<u64>,
    recorded: &[RecordedKey],
) -> Result<Vec<KeyFact>, Lookup> {
    let row = row_for(report, name, user_created)?;
    if recorded.iter().any(|r| {
        r.created
            .is_some_and(|c| c > report.generated + SAME_KEY_SECS)
    }) {
        return Err(Lookup::NewerThanReport);
    }
    let mut used: Vec<&str> = Vec::new();
    let mut facts = Vec::new();
    for slot in &row.keys {
        let matches: Vec<&RecordedKey> = recorded
            .iter()
            .filter(|r| r.created.is_some_and(|c| close(c, slot.created)))
            .collect();
        let key = match matches.as_slice() {
            [one] if !used.contains(&one.id.as_str()) => *one,
            [] if recorded.iter().any(|r| r.created.is_none()) => {
                return Err(Lookup::NoCreationTime)
            }
            [] => return Err(Lookup::UnrecordedKey),
            _ => return Err(Lookup::Ambiguous),
        };
        used.push(&key.id);
        facts.push(KeyFact {
            id: key.id.clone(),
            active: slot.active,
            created: Some(slot.created),
            last_use: slot.last_used.clone().map_or(Use::Never, Use::At),
        });
    }
    Ok(facts)
}

/// For a key learnt one by one (ListAccessKeys: id, status, creation), its last use
/// from the report's line when the line shows exactly one key made at that time;
/// [`Use::Unknown`] otherwise (the caller asks IAM).
pub fn report_use(
    report: &CredentialReport,
    name: &str,
    user_created: Option<u64>,
    key_created: Option<u64>,
) -> Use {
    let (Ok(row), Some(created)) = (row_for(report, name, user_created), key_created) else {
        return Use::Unknown;
    };
    match row
        .keys
        .iter()
        .filter(|k| close(k.created, created))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] => one.last_used.clone().map_or(Use::Never, Use::At),
        _ => Use::Unknown,
    }
}

// ------------------------------------------------------------ the decisions

/// The audit's thresholds, in whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub max_age_days: u64,
    pub max_idle_days: u64,
}

/// How a key stands against the thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Judged {
    pub age_days: Option<u64>,
    /// Days since the last use, or since creation for a key never used.
    pub idle_days: Option<u64>,
    /// `age_days > max_age_days`.
    pub stale: bool,
    /// `idle_days > max_idle_days`.
    pub idle: bool,
}

/// Whole days from `from` to `to`; 0 for a time in the future.
pub fn days_between(from: u64, to: u64) -> u64 {
    to.saturating_sub(from) / DAY
}

/// A key made at `created`, last used at `last_used` (`None`: never), judged at `now`.
pub fn judge(created: Option<u64>, last_used: Option<u64>, now: u64, t: Thresholds) -> Judged {
    let age_days = created.map(|c| days_between(c, now));
    let idle_days = last_used.or(created).map(|u| days_between(u, now));
    Judged {
        age_days,
        idle_days,
        stale: age_days.is_some_and(|d| d > t.max_age_days),
        idle: idle_days.is_some_and(|d| d > t.max_idle_days),
    }
}

/// Whether the audit would make this key Inactive: told to, the key active and idle.
/// The judgement may rest on a report hours old, so the caller first reads the key's
/// last use again and judges once more ([`judge`]); only a key still idle is written.
pub fn wants_deactivation(deactivate: bool, active: bool, judged: &Judged) -> bool {
    deactivate && active && judged.idle
}

#[cfg(test)]
mod tests;
