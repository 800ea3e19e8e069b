//! The changes a plan is made of: one AWS write each (a key flow counts its own
//! sequential calls), and how each is described in an error or a timeout.

use crate::spec::KeyStatus;

/// Where a freshly issued key is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Create {
        name: String,
        kms_key_id: Option<String>,
        tags: Vec<(String, String)>,
        /// `PreviousKeyGraceHours`, recorded in the new secret's description.
        grace_hours: Option<u32>,
    },
    /// A new version of an existing secret; `restore` first if it is scheduled for
    /// deletion. `description` and `key_versions` are what the secret records now: the
    /// new version's key is added to them before the value is stored.
    Put {
        secret_id: String,
        restore: bool,
        description: String,
        key_versions: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateUser {
        path: String,
        boundary: Option<String>,
        tags: Vec<(String, String)>,
    },
    UpdatePath(String),
    PutBoundary(String),
    DeleteBoundary,
    TagUser(Vec<(String, String)>),
    UntagUser(Vec<String>),
    AttachPolicy(String),
    DetachPolicy(String),
    PutInlinePolicy {
        name: String,
        document: String,
    },
    DeleteInlinePolicy(String),
    AddToGroup(String),
    RemoveFromGroup(String),
    SetKeyStatus {
        key_id: String,
        status: KeyStatus,
    },
    DeleteKey(String),
    /// CreateAccessKey, then store it; if storing fails the new key is deleted again, so
    /// no key ever lives without a secret holding it.
    IssueKey {
        status: KeyStatus,
        store: Store,
    },
    /// The same rotation Secrets Manager runs on schedule: a new key stored as
    /// AWSPENDING, proven by using it, made AWSCURRENT; the old key stays active for its
    /// grace period (deactivated at once only when there is none), after which the grace
    /// sweep, the next stack Update or the next rotation deactivates it.
    RotateKey {
        secret_id: String,
        status: KeyStatus,
    },
    /// Records in the secret's description which key each staged version holds (for a
    /// secret written before the function kept that record: `key_versions`, read from
    /// the values) and the resource's grace period. Merged with what the description
    /// holds when it runs, after any new key of the same plan.
    RecordKeyIds {
        secret_id: String,
        key_versions: Vec<(String, String)>,
        grace_hours: Option<u32>,
    },
    /// Scheduled rotation every `days`, with this function as the rotator.
    ConfigureRotation {
        secret_id: String,
        days: u16,
    },
    CancelRotation {
        secret_id: String,
    },
    TagSecret {
        secret_id: String,
        tags: Vec<(String, String)>,
    },
    UntagSecret {
        secret_id: String,
        keys: Vec<String>,
    },
    SetSecretKms {
        secret_id: String,
        kms_key_id: String,
    },
    DeleteSecret(String),
    DeleteLoginProfile,
    DeactivateMfa(String),
    DeleteSigningCertificate(String),
    DeleteSshPublicKey(String),
    DeleteServiceCredential(String),
    DeleteUser,
}

impl Change {
    /// What this change does, in words: the context of an error and of a timeout
    /// ("attaching policy X to user Y").
    pub fn describe(&self, user: &str) -> String {
        match self {
            Change::CreateUser { .. } => format!("creating user {user}"),
            Change::UpdatePath(p) => format!("moving user {user} to path {p}"),
            Change::PutBoundary(a) => format!("setting permissions boundary {a} on user {user}"),
            Change::DeleteBoundary => format!("removing the permissions boundary of user {user}"),
            Change::TagUser(t) => format!(
                "tagging user {user} with {}",
                t.iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Change::UntagUser(k) => format!("removing tags {} from user {user}", k.join(", ")),
            Change::AttachPolicy(a) => format!("attaching policy {a} to user {user}"),
            Change::DetachPolicy(a) => format!("detaching policy {a} from user {user}"),
            Change::PutInlinePolicy { name, .. } => {
                format!("putting inline policy {name} on user {user}")
            }
            Change::DeleteInlinePolicy(n) => format!("deleting inline policy {n} of user {user}"),
            Change::AddToGroup(g) => format!("adding user {user} to group {g}"),
            Change::RemoveFromGroup(g) => format!("removing user {user} from group {g}"),
            Change::SetKeyStatus { status, .. } => format!(
                "setting the access key of user {user} to {}",
                status.as_str()
            ),
            Change::DeleteKey(_) => format!("deleting an access key of user {user}"),
            Change::IssueKey { store, .. } => match store {
                Store::Create { name, .. } => {
                    format!("creating an access key for user {user} and storing it in new secret {name}")
                }
                Store::Put { secret_id, .. } => {
                    format!("creating an access key for user {user} and storing it in secret {secret_id}")
                }
            },
            Change::RotateKey { secret_id, .. } => {
                format!("rotating the access key of user {user} held by secret {secret_id}")
            }
            Change::ConfigureRotation { secret_id, days } => {
                format!("scheduling rotation of secret {secret_id} every {days} days")
            }
            Change::CancelRotation { secret_id } => {
                format!("cancelling the scheduled rotation of secret {secret_id}")
            }
            Change::RecordKeyIds { secret_id, .. } => {
                format!("recording the key ids of secret {secret_id} in its description")
            }
            Change::TagSecret { secret_id, .. } => format!("tagging secret {secret_id}"),
            Change::UntagSecret { secret_id, .. } => {
                format!("removing tags from secret {secret_id}")
            }
            Change::SetSecretKms {
                secret_id,
                kms_key_id,
            } => format!("setting KMS key {kms_key_id} on secret {secret_id}"),
            Change::DeleteSecret(s) => format!("deleting secret {s}"),
            Change::DeleteLoginProfile => format!("deleting the console password of user {user}"),
            Change::DeactivateMfa(s) => format!("deactivating MFA device {s} of user {user}"),
            Change::DeleteSigningCertificate(i) => {
                format!("deleting signing certificate {i} of user {user}")
            }
            Change::DeleteSshPublicKey(i) => format!("deleting SSH public key {i} of user {user}"),
            Change::DeleteServiceCredential(i) => {
                format!("deleting service-specific credential {i} of user {user}")
            }
            Change::DeleteUser => format!("deleting user {user}"),
        }
    }

    /// Sequential round trips this change costs on its own.
    pub(super) fn round_trips(&self) -> usize {
        match self {
            // Read the description, write it.
            Change::RecordKeyIds { .. } => 2,
            // CreateAccessKey, then store it (into an existing secret: record the new
            // key's id in its description first).
            Change::IssueKey {
                store: Store::Put { .. },
                ..
            } => 3,
            Change::IssueKey { .. } => 2,
            // Read, create, store, use, move the stage, and (with no grace period)
            // deactivate the old key.
            Change::RotateKey { .. } => 6,
            _ => 1,
        }
    }
}
