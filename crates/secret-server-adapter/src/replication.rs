//! Several adapter replicas behind one load balancer.
//!
//! Each replica's workers write through to its own read model only. So that a read on replica B
//! sees a change applied by replica A as soon as A's audit event arrives (milliseconds, not B's next
//! resync), every replica follows the events stream with its own consumer group (`adapter-<replica_id>`) and, for each successful
//! `ResourceChange` of an instance it serves, reads that resource fresh from Secret Server (and its
//! stored attributes and meta from the shared state store) into its read model. A group's member
//! changes come from the event's typed fields ([`AppliedChange`]). A replica also sees its own
//! events; refreshing a resource it just wrote is harmless.
//!
//! **Reading one's writes on every replica.** A client told `201` by a write that replica A ran may
//! read next through replica B. So a read on a replica first takes the id of the newest event in
//! the stream and waits (briefly, bounded by `read_fence_wait`) until its follower has handled
//! the events up to it ([`Freshness`]): the write's event is published before its job succeeds,
//! so a read that begins after the client was answered sees the write, on every replica. The
//! cost is one Redis round trip per read (and the follower's delay after a write); when Redis
//! does not answer at once, or the follower stays behind, the read is served from the read model
//! as it is, except that such a read never answers "not found": a `GET` of a resource it does
//! not hold answers a retryable `503` instead (a client told `404` may create the resource again).
//! A restarted replica is ready only once its follower has handled what was published before it
//! started. A change whose Secret Server does not answer the follower's read is kept aside with
//! its instance's later ones (`Later`); until they apply, that instance's reads are those of a
//! replica that cannot vouch for what it holds ([`Freshness::behind_on`]).
//!
//! **A job on a replica behind the others.** A job fences its own resource (see
//! `Instance::caught_up_with`), and when the follower cannot close the gap reads it whole itself
//! ([`refresh`]). What else it names is read with the same care, at no cost on the
//! way to a success: a refusal the read model gives (a name taken, a grant that exists) is read
//! again once the follower has caught up (`Ctx::follow_others`), and a principal the model has
//! not seen is read from Secret Server with the attributes the shared store keeps of it
//! (`Ctx::unseen_user`), among them the connection that created it.

use crate::core::Core;
use crate::instance::Instance;
use crate::read_model::fetch::{Interner, folder_perm_ss, folder_ss, group_ss_from_group, secret_perm_ss, secret_ss};
use crate::read_model::records::{FolderPermRec, FolderRec, SecretPermRec, SecretRec, UserRec};
use audit_events::AppliedChange;
use futures::{StreamExt, TryStreamExt};
use job_queue::{EventBus, EventId, EventSubscription};
use scim::ResourceKind;
use secret_server_client::{FolderPermissionQuery, SecretPermissionQuery};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How far this replica's follower has handled the events stream.
#[derive(Debug)]
pub struct Freshness {
    handled: tokio::sync::watch::Sender<(u64, u64)>,
    wait: Duration,
    /// Whether the follower has handled what was published before it started (or once found
    /// nothing more to read): a restarted replica is not ready before that.
    drained: std::sync::atomic::AtomicBool,
    /// The instances (lower-cased names) whose changes the follower keeps for later (see `Later`),
    /// and whether there are any (read without the lock on every read).
    behind: std::sync::Mutex<Vec<String>>,
    any_behind: std::sync::atomic::AtomicBool,
}

/// How long a read waits for the newest event's id before it is served as is (Redis is slow or down).
const NEWEST_ID_TIMEOUT: Duration = Duration::from_millis(250);

impl Freshness {
    /// Reads wait at most `wait` for the follower.
    pub fn new(wait: Duration) -> Self {
        Self {
            handled: tokio::sync::watch::Sender::new((0, 0)),
            wait,
            drained: std::sync::atomic::AtomicBool::new(false),
            behind: std::sync::Mutex::new(Vec::new()),
            any_behind: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the follower keeps changes of `instance` that it could not apply yet: this
    /// replica's read model of it may miss another replica's latest changes, whatever
    /// [`Freshness::catch_up`] says.
    pub fn behind_on(&self, instance: &str) -> bool {
        self.any_behind.load(std::sync::atomic::Ordering::Acquire)
            && self
                .behind
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .any(|name| name.eq_ignore_ascii_case(instance))
    }

    fn set_behind(&self, instances: Vec<String>) {
        let mut behind = self.behind.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.any_behind.store(!instances.is_empty(), std::sync::atomic::Ordering::Release);
        *behind = instances;
    }

    /// True once the follower has handled every event published before it started.
    pub fn drained(&self) -> bool {
        self.drained.load(std::sync::atomic::Ordering::Acquire)
    }

    fn handled(&self, id: &EventId) {
        if let Some(position) = id.position() {
            self.handled.send_if_modified(|at| {
                let later = position > *at;
                if later {
                    *at = position;
                }
                later
            });
        }
    }

    /// Waits until the follower has handled every event published before now (at most the
    /// configured wait); true when it has.
    pub async fn catch_up(&self, events: &dyn EventBus) -> bool {
        let newest = match tokio::time::timeout(NEWEST_ID_TIMEOUT, events.last_id()).await {
            Ok(Ok(Some(id))) => id.position(),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot read the newest event's id; serving the read as is");
                return false;
            }
            Err(_) => return false,
        };
        let Some(newest) = newest else { return true };
        let mut handled = self.handled.subscribe();
        tokio::time::timeout(self.wait, handled.wait_for(|at| *at >= newest)).await.is_ok_and(|r| r.is_ok())
    }
}

async fn subscribe(core: &Core, replica: &str, cancel: &CancellationToken) -> Option<Box<dyn EventSubscription>> {
    let group = format!("adapter-{replica}");
    loop {
        match core.events.subscribe(&group, replica).await {
            Ok(sub) => return Some(sub),
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the events stream yet");
                tokio::select! {
                    () = cancel.cancelled() => return None,
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }
}

/// Follows the events stream until `cancel`, telling `freshness` how far it got.
///
/// It starts reading once no instance is on its first attempt to load (each loaded from its
/// snapshot or from Secret Server, or failed): the events its consumer group has not acknowledged
/// yet, those since it last stopped, then apply to the restored read model instead of being passed
/// over. An instance whose load failed does not hold the others back (its events are passed over:
/// its load, when it succeeds, reads Secret Server whole).
pub async fn follow(core: Arc<Core>, replica: String, freshness: Arc<Freshness>, cancel: CancellationToken) {
    for instance in core.instances.values() {
        let mut loaded = instance.loaded();
        while instance.first_load() == crate::instance::FirstLoad::UnderWay {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = loaded.wait_for(|l| *l) => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
    let Some(mut sub) = subscribe(&core, &replica, &cancel).await else { return };
    // What was published before the follower started: once handled, this replica has caught up
    // with what the others did while it was away, even if writes never pause.
    let started_at = core.events.last_id().await.ok().flatten().and_then(|id| id.position());
    let mut later = Later::default();
    loop {
        // The newest event before the read: when the read then finds nothing new, every event up to
        // it has been delivered, so reads waiting for it need not wait for the next write.
        let newest_before = core.events.last_id().await.ok().flatten();
        let batch = tokio::select! {
            () = cancel.cancelled() => return,
            batch = sub.next_batch(100, Duration::from_secs(1)) => batch,
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "reading the events stream failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        later.retry_if_due(&core, &freshness).await;
        if batch.is_empty() {
            if let Some(newest) = &newest_before {
                freshness.handled(newest);
            }
            freshness.drained.store(true, std::sync::atomic::Ordering::Release);
            continue;
        }
        let mut done = Vec::with_capacity(batch.len());
        let newest = batch.last().map(|d| d.id.clone());
        for delivery in batch {
            if let Some(change) = AppliedChange::decode(&delivery.payload)
                && let Some(instance) = core.instance(&change.instance)
                && instance.is_loaded()
            {
                later.apply_or_keep(instance, change, &freshness).await;
            }
            done.push(delivery.id);
        }
        if let Err(e) = sub.ack(&done).await {
            tracing::warn!(error = %e, "cannot acknowledge events");
        }
        if let Some(newest) = newest {
            freshness.handled(&newest);
        }
        if started_at.is_some_and(|start| *freshness.handled.borrow() >= start) {
            freshness.drained.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The changes of other replicas this replica could not apply yet (their Secret Server did not
/// answer the read), per instance, tried again after a pause that grows while they keep failing
/// (1 s, doubling to 30 s). Their events are acknowledged all the same: a change kept for later
/// neither stops the follower (an unacknowledged event came back before every new one, so one
/// unreachable instance held back every other instance's changes, and the reads of every instance
/// waited for them) nor is lost.
///
/// An instance with changes kept applies its later ones behind them, in the order they came (a
/// group's events carry the members each added and removed), without trying them on their own:
/// one instance that does not answer costs its own events a push each, not a call. A pass applies
/// at most [`Later::PER_PASS`] of an instance's changes, and every read the follower makes of
/// Secret Server gets [`FOLLOWER_CALL_TIMEOUT`]: the other instances' events wait for no long
/// pass. While an instance has changes kept, [`Freshness::behind_on`] says so, and its reads that
/// find nothing answer a retryable `503` rather than `404`.
///
/// Changes kept before a resync of their instance that began later and succeeded are dropped (it
/// read Secret Server whole; a group's old member changes applied on top could undo a newer one).
/// A change still failing after [`Later::GIVE_UP`] attempts, or the oldest past [`Later::MAX`],
/// is given up: a resync of the instance is asked for at once, and the instance stays behind
/// until one that began after it succeeded.
#[derive(Default)]
struct Later {
    instances: HashMap<String, Kept>,
}

/// How long the follower waits for Secret Server's answer to one change's reads before keeping the
/// change for later (a client's own timeout and retries may take minutes against a hanging server).
const FOLLOWER_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// One instance's kept changes.
struct Kept {
    changes: std::collections::VecDeque<KeptChange>,
    due: tokio::time::Instant,
    pause: Duration,
    /// When a change of it was last given up, until a resync that began later succeeds.
    lost_at: Option<std::time::Instant>,
}

struct KeptChange {
    change: AppliedChange,
    kept_at: std::time::Instant,
    attempts: u32,
}

/// Applies another replica's change, as long as Secret Server answers within the follower's bound.
async fn apply_bounded(instance: &Instance, change: &AppliedChange) -> anyhow::Result<()> {
    match tokio::time::timeout(FOLLOWER_CALL_TIMEOUT, apply_remote(instance, change)).await {
        Ok(applied) => applied,
        Err(_) => Err(anyhow::anyhow!("Secret Server did not answer within {FOLLOWER_CALL_TIMEOUT:?}")),
    }
}

impl Later {
    const MAX: usize = 10_000;
    const GIVE_UP: u32 = 12;
    const PER_PASS: usize = 64;
    const FIRST_PAUSE: Duration = Duration::from_secs(1);
    const LONGEST_PAUSE: Duration = Duration::from_secs(30);

    /// Applies `change`, or keeps it for later when its instance has changes kept or Secret Server
    /// does not answer.
    async fn apply_or_keep(&mut self, instance: &Arc<Instance>, change: AppliedChange, freshness: &Freshness) {
        let key = instance.name.to_ascii_lowercase();
        if let Some(kept) = self.instances.get_mut(&key) {
            return kept.push(change, instance);
        }
        if let Err(e) = apply_bounded(instance, &change).await {
            tracing::warn!(instance = %instance.name, error = %e,
                "cannot apply another replica's change yet; it is tried again later");
            let mut kept = Kept {
                changes: std::collections::VecDeque::new(),
                due: tokio::time::Instant::now() + Self::FIRST_PAUSE,
                pause: Self::FIRST_PAUSE,
                lost_at: None,
            };
            kept.push(change, instance);
            self.instances.insert(key, kept);
            freshness.set_behind(self.instances.keys().cloned().collect());
        }
    }

    /// Drops what a resync has superseded, then tries each instance's kept changes again once its
    /// pause is over, in order, up to the first that fails again (at most [`Later::PER_PASS`]).
    async fn retry_if_due(&mut self, core: &Core, freshness: &Freshness) {
        if self.instances.is_empty() {
            return;
        }
        let now = tokio::time::Instant::now();
        for (key, kept) in &mut self.instances {
            let Some(instance) = core.instance(key) else {
                kept.changes.clear();
                kept.lost_at = None;
                continue;
            };
            kept.changes.retain(|c| !instance.synced_since(c.kept_at));
            if kept.lost_at.is_some_and(|at| instance.synced_since(at)) {
                kept.lost_at = None;
            }
            if kept.due > now {
                continue;
            }
            if kept.changes.is_empty() {
                // Only a lost change left, and no resync since: ask again (one runs at a time).
                instance.start_resync();
                kept.pause = (kept.pause * 2).min(Self::LONGEST_PAUSE);
                kept.due = now + kept.pause;
                continue;
            }
            let mut applied = 0;
            while let Some(front) = kept.changes.front_mut() {
                if applied == Self::PER_PASS {
                    // More next time round, after the other instances' events.
                    kept.due = now;
                    break;
                }
                match apply_bounded(instance, &front.change).await {
                    Ok(()) => {
                        kept.changes.pop_front();
                        applied += 1;
                    }
                    Err(e) if front.attempts + 1 >= Self::GIVE_UP => {
                        tracing::error!(instance = %instance.name, error = %e, resource_id = %front.change.resource_id,
                            "gave up applying another replica's change; a resync of the instance repairs it");
                        kept.changes.pop_front();
                        kept.lose(instance);
                    }
                    Err(_) => {
                        front.attempts += 1;
                        kept.pause = (kept.pause * 2).min(Self::LONGEST_PAUSE);
                        kept.due = tokio::time::Instant::now() + kept.pause;
                        break;
                    }
                }
            }
        }
        self.instances.retain(|_, kept| !kept.changes.is_empty() || kept.lost_at.is_some());
        freshness.set_behind(self.instances.keys().cloned().collect());
    }
}

impl Kept {
    fn push(&mut self, change: AppliedChange, instance: &Arc<Instance>) {
        if self.changes.len() >= Later::MAX {
            tracing::warn!(instance = %instance.name,
                "too many changes of other replicas kept for later; the oldest is left to a resync");
            self.changes.pop_front();
            self.lose(instance);
        }
        self.changes.push_back(KeptChange { change, kept_at: std::time::Instant::now(), attempts: 0 });
    }

    /// A change was given up: a resync repairs what it changed (asked for now; the instance stays
    /// behind until one that began after this succeeds).
    fn lose(&mut self, instance: &Arc<Instance>) {
        self.lost_at = Some(std::time::Instant::now());
        instance.start_resync();
    }
}

/// Secret Server ids among `ids`; another id cannot name one of its users.
fn secret_server_ids(ids: &[String]) -> Vec<i64> {
    ids.iter().filter_map(|id| adapter_api::id::parse(id)).collect()
}

/// Replays onto `instance` every change of it published after `after` (a restore from a snapshot);
/// the number of changes read.
///
/// # Errors
/// When the events stream cannot be read; a change that cannot be applied is left to the resync.
pub async fn replay(
    events: &dyn EventBus,
    instance: &Instance,
    after: EventId,
) -> Result<usize, job_queue::QueueError> {
    let mut after = after;
    let mut replayed = 0;
    loop {
        let batch = events.read_after(&after, 500).await?;
        let Some(last) = batch.last() else { return Ok(replayed) };
        after = last.id.clone();
        for delivery in batch {
            if let Some(change) = AppliedChange::decode(&delivery.payload)
                && change.instance.eq_ignore_ascii_case(&instance.name)
            {
                replayed += 1;
                if let Err(e) = apply_remote(instance, &change).await {
                    tracing::warn!(instance = %instance.name, error = %e, "cannot replay a change; the resync will");
                }
            }
        }
    }
}

/// Reads resource `id` of `kind` whole into the read model, from Secret Server and the shared
/// store, as the follower reads a change of it (a group's members aside: they come with the
/// changes' events or a resync).
///
/// # Errors
/// When Secret Server or the state store fails.
pub async fn refresh(instance: &Instance, kind: ResourceKind, id: i64) -> anyhow::Result<()> {
    let change = AppliedChange {
        instance: instance.name.clone(),
        kind,
        resource_id: id.to_string(),
        members: audit_events::MemberChanges::default(),
    };
    apply_remote(instance, &change).await
}

/// How many added members the read model has not seen the follower reads for one change; the
/// others wait for the next resync (the change's bound, `FOLLOWER_CALL_TIMEOUT`, is for all of them).
const UNSEEN_MEMBERS_READ: usize = 64;

/// The read model learns of the users among `ids` it does not hold (made in Secret Server since
/// its last resync, and learnt by the replica that added them to a group): each read whole (roles,
/// stored attributes, tombstone) and learnt at once, so that a change given more time later makes
/// progress, persisting nothing. One that cannot be read is left to the next resync.
async fn learn_unseen_users(instance: &Instance, ids: &[i64]) {
    let missing: Vec<i64> = instance.model.read(|s| ids.iter().copied().filter(|u| !s.users.contains_key(u)).collect());
    if missing.len() > UNSEEN_MEMBERS_READ {
        tracing::info!(instance = %instance.name, unseen = missing.len(), read = UNSEEN_MEMBERS_READ,
            "members not seen yet beyond what the follower reads for one change; the next resync brings the rest");
    }
    futures::stream::iter(missing.into_iter().take(UNSEEN_MEMBERS_READ))
        .for_each_concurrent(8, |id| async move {
            if let Err(e) = learn_unseen_user(instance, id).await {
                tracing::debug!(instance = %instance.name, user = id, error = %e,
                    "cannot read a member not seen yet; the next resync brings it");
            }
        })
        .await;
}

async fn learn_unseen_user(instance: &Instance, id: i64) -> anyhow::Result<()> {
    let read_at = std::time::Instant::now();
    let Some(rec) = instance.read_user(id).await? else { return Ok(()) };
    instance
        .learn(&[(ResourceKind::User, id)], read_at, |s| {
            if !s.users.contains_key(&id) {
                s.put_user(rec);
            }
        })
        .await?;
    Ok(())
}

/// Reads the changed resource fresh into the read model.
async fn apply_remote(instance: &Instance, change: &AppliedChange) -> anyhow::Result<()> {
    // What this reading writes does not overwrite what a job of this replica writes meanwhile.
    let read_at = std::time::Instant::now();
    let kind = change.kind;
    let Some(id) = adapter_api::id::parse(&change.resource_id) else { return Ok(()) };
    let client = &instance.client;
    match kind {
        ResourceKind::User => match instance.read_user(id).await? {
            Some(rec) => {
                instance
                    .write_remote(Some(read_at), &[(kind, id)], |s| {
                        let meta = s.users.get(&id).map(|u| u.meta).unwrap_or_default();
                        s.put_user(UserRec { meta, ..rec });
                    })
                    .await?;
            }
            None => {
                instance.write_remote(Some(read_at), &[(kind, id)], |s| drop(s.remove_user(id))).await?;
            }
        },
        ResourceKind::Group => match client.get_group(id).await {
            Ok(group) => {
                let attrs = instance.attrs.get(kind, id).await?;
                let added = secret_server_ids(&change.members.added);
                let removed = secret_server_ids(&change.members.removed);
                let mut ss = group_ss_from_group(group);
                ss.roles = match crate::read_model::fetch::group_roles(client, id).await {
                    Ok(roles) => roles,
                    // Deleted between the two reads (the change after this one says so): gone. Kept
                    // for later, it held back every later change of the instance.
                    Err(e) if e.is_not_found() => {
                        instance.write_remote(Some(read_at), &[(kind, id)], |s| drop(s.remove_group(id))).await?;
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                };
                // Members this replica has not seen: learnt first, or the group shows none of them.
                learn_unseen_users(instance, &added).await;
                let mut touched = vec![(kind, id)];
                touched.extend(added.iter().chain(&removed).map(|u| (ResourceKind::User, *u)));
                instance
                    .write_remote(Some(read_at), &touched, |s| s.change_group(ss, Some(attrs), &added, &removed))
                    .await?;
            }
            Err(e) if e.is_not_found() => {
                instance.write_remote(Some(read_at), &[(kind, id)], |s| drop(s.remove_group(id))).await?;
            }
            Err(e) => return Err(e.into()),
        },
        ResourceKind::Container => match client.get_folder(id).await {
            Ok(folder) => {
                let attrs = instance.attrs.get(kind, id).await?;
                let ss = folder_ss(folder);
                instance
                    .write_remote(Some(read_at), &[(kind, id)], |s| {
                        let meta = s.folders.get(&id).map(|f| f.meta).unwrap_or_default();
                        s.put_folder(FolderRec { ss, attrs, meta });
                    })
                    .await?;
                refresh_folder_permissions(instance, id).await?;
                // Secrets the change moved into the folder or out of it.
                let moved = secret_server_ids(&change.members.added)
                    .into_iter()
                    .chain(secret_server_ids(&change.members.removed));
                for secret in moved {
                    refresh_secret(instance, secret).await?;
                }
            }
            Err(e) if e.is_not_found() => {
                let perms = instance.model.read(|s| s.idx.fperm_by_folder.get(id));
                instance
                    .write_remote(Some(read_at), &[(kind, id)], |s| {
                        s.remove_folder(id);
                        for p in &perms {
                            s.remove_folder_perm(*p);
                        }
                    })
                    .await?;
            }
            Err(e) => return Err(e.into()),
        },
        ResourceKind::ContainerPermission => {
            let folder = match client.get_folder_permission(id).await {
                Ok(p) => Some(p.folder_id).filter(|f| *f > 0),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            }
            .or_else(|| instance.model.read(|s| s.folder_perms.get(&id).map(|p| p.ss.folder)));
            match folder {
                Some(folder) => {
                    // A grant may have broken the folder's inheritance: read the folder too.
                    if let Ok(f) = client.get_folder(folder).await {
                        let ss = folder_ss(f);
                        instance
                            .write_remote(Some(read_at), &[(ResourceKind::Container, folder)], |s| {
                                if let Some(rec) = s.folders.get(&folder).cloned() {
                                    s.put_folder(FolderRec { ss, ..rec });
                                }
                            })
                            .await?;
                    }
                    refresh_folder_permissions(instance, folder).await?;
                }
                None => {
                    instance.write_remote(Some(read_at), &[(kind, id)], |s| drop(s.remove_folder_perm(id))).await?;
                }
            }
        }
        ResourceKind::PrivilegedDataPermission => {
            let secret = match client.get_secret_permission(id).await {
                Ok(p) => Some(p.secret_id).filter(|x| *x > 0),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            }
            .or_else(|| instance.model.read(|s| s.secret_perms.get(&id).map(|p| p.ss.secret)));
            match secret {
                Some(secret) => refresh_secret_permissions(instance, secret).await?,
                None => {
                    instance.write_remote(Some(read_at), &[(kind, id)], |s| drop(s.remove_secret_perm(id))).await?;
                }
            }
        }
        // Read-only: never changed through the adapter.
        ResourceKind::PrivilegedData | ResourceKind::Role => return Ok(()),
    }
    Ok(())
}

async fn refresh_folder_permissions(instance: &Instance, folder: i64) -> anyhow::Result<()> {
    // Records a job of this replica writes after this reading began are left as it wrote them.
    let read_at = std::time::Instant::now();
    let fresh: Vec<_> = instance
        .client
        .search_folder_permissions(&FolderPermissionQuery::folder(folder))
        .try_collect::<Vec<_>>()
        .await?
        .iter()
        .filter_map(folder_perm_ss)
        .filter(|p| p.folder == folder)
        .collect();
    let mut entries = Vec::with_capacity(fresh.len());
    for p in &fresh {
        entries.push((*p, instance.attrs.get(ResourceKind::ContainerPermission, p.id).await?));
    }
    let known = instance.model.read(|s| s.idx.fperm_by_folder.get(folder));
    let mut touched: Vec<_> = known.iter().map(|p| (ResourceKind::ContainerPermission, *p)).collect();
    touched.extend(fresh.iter().map(|p| (ResourceKind::ContainerPermission, p.id)));
    instance
        .write_list(read_at, &touched, true, |s, newer| {
            for id in &known {
                if !newer(ResourceKind::ContainerPermission, *id) && !fresh.iter().any(|p| p.id == *id) {
                    s.remove_folder_perm(*id);
                }
            }
            for (ss, attrs) in entries {
                if newer(ResourceKind::ContainerPermission, ss.id) {
                    continue;
                }
                let meta = s.folder_perms.get(&ss.id).map(|p| p.meta).unwrap_or_default();
                s.put_folder_perm(FolderPermRec { ss, attrs, meta });
            }
        })
        .await?;
    Ok(())
}

/// Reads a secret's metadata fresh, touching the folder it was in and the one it is in now.
async fn refresh_secret(instance: &Instance, secret: i64) -> anyhow::Result<()> {
    let read_at = std::time::Instant::now();
    if let Ok(summary) = instance.client.secret_summary(secret).await {
        let ss = secret_ss(summary, &mut Interner::default());
        let folder = ss.folder;
        let before = instance.model.read(|s| s.secrets.get(&secret).map(|x| x.ss.folder));
        let mut touched = vec![(ResourceKind::PrivilegedData, secret), (ResourceKind::Container, folder)];
        touched.extend(before.filter(|b| *b != folder).map(|b| (ResourceKind::Container, b)));
        instance
            .write_remote(Some(read_at), &touched, |s| {
                let meta = s.secrets.get(&secret).map(|x| x.meta).unwrap_or_default();
                s.put_secret(SecretRec { ss, meta });
            })
            .await?;
    }
    Ok(())
}

async fn refresh_secret_permissions(instance: &Instance, secret: i64) -> anyhow::Result<()> {
    refresh_secret(instance, secret).await?;
    // Records a job of this replica writes after this reading began are left as it wrote them.
    let read_at = std::time::Instant::now();
    let fresh: Vec<_> = instance
        .client
        .search_secret_permissions(&SecretPermissionQuery::secret(secret))
        .try_collect::<Vec<_>>()
        .await?
        .iter()
        .filter_map(secret_perm_ss)
        .filter(|p| p.secret == secret)
        .collect();
    let mut entries = Vec::with_capacity(fresh.len());
    for p in &fresh {
        entries.push((*p, instance.attrs.get(ResourceKind::PrivilegedDataPermission, p.id).await?));
    }
    let known = instance.model.read(|s| s.idx.sperm_by_secret.get(secret));
    let mut touched: Vec<_> = known.iter().map(|p| (ResourceKind::PrivilegedDataPermission, *p)).collect();
    touched.extend(fresh.iter().map(|p| (ResourceKind::PrivilegedDataPermission, p.id)));
    instance
        .write_list(read_at, &touched, true, |s, newer| {
            for id in &known {
                if !newer(ResourceKind::PrivilegedDataPermission, *id) && !fresh.iter().any(|p| p.id == *id) {
                    s.remove_secret_perm(*id);
                }
            }
            for (ss, attrs) in entries {
                if newer(ResourceKind::PrivilegedDataPermission, ss.id) {
                    continue;
                }
                let meta = s.secret_perms.get(&ss.id).map(|p| p.meta).unwrap_or_default();
                s.put_secret_perm(SecretPermRec { ss, attrs, meta });
            }
        })
        .await?;
    Ok(())
}
