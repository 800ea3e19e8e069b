//! The pre-adoption snapshot's secret: written once before an adoption changes anything,
//! read by the rollback that gives the user back, removed when the adoption settles.

use crate::aws::{tags, Clients};
use crate::error::{is_not_found, Error, Result};
use crate::model::adoption::Snapshot;
use crate::model::state::{Owner, TAG_USER_NAME};
use aws_sdk_iam::error::ProvideErrorMetadata;

/// Writes `snap` to secret `name`, tagged for `owner`, and returns the snapshot the
/// secret holds. One already there is kept only when it is this resource's and records
/// the user's state as it is now (a re-delivered adopting Create that changed nothing
/// yet): anything else, a snapshot planted with copied tags included, refuses the
/// adoption before any change.
pub async fn save(c: &Clients, name: &str, owner: &Owner, snap: &Snapshot) -> Result<Snapshot> {
    let mut t = owner.tags();
    t.push((TAG_USER_NAME.to_string(), snap.user.clone()));
    let value = serde_json::to_string(snap)
        .map_err(|e| Error::Internal(format!("writing the snapshot of user {}: {e}", snap.user)))?;
    let created = c
        .sm
        .create_secret()
        .name(name)
        .description(format!(
            "IAM user {} as it was before Custom::PlantonIamUser in {} adopted it: restored if the adopting Create rolls back, removed at the resource's next Update",
            snap.user, owner.stack_id
        ))
        .secret_string(value)
        .set_tags(Some(tags::to_sm(&t)))
        .send()
        .await;
    match created {
        Ok(_) => Ok(snap.clone()),
        Err(e) if e.code() == Some("ResourceExistsException") => {
            match load(c, name).await? {
                Some((_, mine))
                    if mine_for(&mine, owner, &snap.user) && mine.snapshot.same_state(snap) =>
                {
                    Ok(mine.snapshot)
                }
                _ => Err(Error::Invalid(crate::model::violation::Violations(vec![
                    crate::model::violation::Violation::new(
                        "AdoptExistingUser",
                        format!("secret {name} exists and is not this resource's snapshot of the user as it is; nothing was changed"),
                    ),
                ]))),
            }
        }
        Err(e) => Err(Error::aws(format!("saving the pre-adoption state of user {} in secret {name}", snap.user), e)),
    }
}

fn mine_for(found: &Loaded, owner: &Owner, user: &str) -> bool {
    owner.owns(&found.tags) && found.snapshot.user == user
}

/// A snapshot secret as read back: its tags and the snapshot.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub tags: Vec<(String, String)>,
    pub snapshot: Snapshot,
}

/// The snapshot in secret `name`, with its ARN; `None` when there is none (or it is not
/// a snapshot).
pub async fn load(c: &Clients, name: &str) -> Result<Option<(String, Loaded)>> {
    let (desc, value) = futures::join!(
        c.sm.describe_secret().secret_id(name).send(),
        c.sm.get_secret_value().secret_id(name).send()
    );
    let desc = match desc {
        Ok(d) => d,
        Err(e) if is_not_found(e.code()) => return Ok(None),
        Err(e) => return Err(Error::aws(format!("reading secret {name}"), e)),
    };
    if desc.deleted_date().is_some() {
        return Ok(None);
    }
    let value = match value {
        Ok(v) => v,
        Err(e) if is_not_found(e.code()) => return Ok(None),
        Err(e) => {
            return Err(Error::aws(
                format!("reading the adoption snapshot {name}"),
                e,
            ))
        }
    };
    let Some(snapshot) = value
        .secret_string()
        .and_then(|s| serde_json::from_str::<Snapshot>(s).ok())
    else {
        return Ok(None);
    };
    Ok(Some((
        desc.arn().unwrap_or(name).to_string(),
        Loaded {
            tags: tags::from_sm(desc.tags()),
            snapshot,
        },
    )))
}

/// Whether a loaded snapshot is this resource's for `user`.
pub fn is_mine(found: &Loaded, owner: &Owner, user: &str) -> bool {
    mine_for(found, owner, user)
}
