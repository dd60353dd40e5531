//! One Secret Server instance as the adapter holds it: its client, its read model, the persisted
//! state keyed by it (attributes, meta, tombstones, intents), and its load/resync cycle.

use crate::attributes::AttributeStore;
use crate::intents::Intents;
use crate::meta::MetaStore;
use crate::metrics;
use crate::principals::Protection;
use crate::read_model::ReadModel;
use crate::read_model::apply::{Stored, current_version, refresh_meta};
use crate::read_model::confirm;
use crate::read_model::fetch::{FetchOptions, Fetched, fetch_all};
use crate::read_model::records::Meta;
use crate::read_model::state::State;
use crate::resync::{Held, RemovalsHeld, ResyncTracker};
use crate::text::now_millis;
use crate::tombstones::Tombstones;
use anyhow::Context;
use job_queue::EventBus;
use parking_lot::Mutex;
use scim::ResourceKind;
use secret_server_client::SecretServerClient;
use state_store::StateStore;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Above this many records new to the read model, a resync reads their stored state namespace by
/// namespace instead of one record at a time.
const BULK_STORED_READ: usize = 500;

/// A user read enabled but with a tombstone written after the read began (`since`; `None`: any
/// tombstone, for a snapshot of unknown freshness) was deleted through SCIM after Secret Server was
/// read: it is taken as disabled, as it now is, instead of "enabled again directly in Secret
/// Server", which would drop the tombstone and show the deleted user again. (The stored state of
/// records new to the read model is read after Secret Server, so it can be newer than the read:
/// another replica's deletion, made while this one was reading.)
fn tombstones_win(fetched: &mut Fetched, stored: &Stored, since: Option<i64>) {
    for user in &mut fetched.users {
        if user.enabled
            && let Some(tombstone) = stored.tombstones.get(&user.id)
            && since.is_none_or(|since| tombstone.at >= since)
        {
            user.enabled = false;
        }
    }
}

/// What the last load or resync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub first_load: bool,
    pub records: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
struct Status {
    last_success: Option<Instant>,
    /// When the last successful read of Secret Server (a load or a resync) began.
    last_success_began: Option<Instant>,
    last_error: Option<String>,
}

/// Runs `f` on `state` and recomputes the metas of `touched`: one whose version is the one
/// `persisted` records takes that meta; the metas that changed are returned, to persist.
fn with_metas(
    state: &mut State,
    touched: &[(ResourceKind, i64)],
    persisted: &HashMap<(ResourceKind, i64), Meta>,
    f: impl FnOnce(&mut State),
    now: i64,
) -> Vec<(ResourceKind, i64, Meta)> {
    f(state);
    let mut changes = Vec::new();
    for (kind, id) in touched {
        if let Some(p) = persisted.get(&(*kind, *id))
            && current_version(state, *kind, *id).is_some_and(|(v, _, _)| v == p.version)
        {
            state.set_meta(*kind, *id, *p);
            continue;
        }
        if let Some(m) = refresh_meta(state, *kind, *id, None, now) {
            changes.push((*kind, *id, m));
        }
    }
    changes
}

/// A reading of Secret Server and the shared store that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Client(#[from] secret_server_client::ClientError),
    #[error(transparent)]
    Store(#[from] state_store::StoreError),
}

/// One Secret Server instance.
#[derive(Debug)]
pub struct Instance {
    pub name: String,
    pub client: SecretServerClient,
    pub model: ReadModel,
    pub meta: MetaStore,
    pub attrs: AttributeStore,
    pub tombstones: Tombstones,
    pub intents: Intents,
    /// The principals here that no connection may change.
    pub protection: Protection,
    loaded: watch::Sender<bool>,
    status: Mutex<Status>,
    /// One load or resync at a time.
    sync_lock: tokio::sync::Mutex<()>,
    fetch_options: FetchOptions,
    /// The records the last resync found missing beyond the removal bound, kept until a resync
    /// finds the same.
    pending_removals: Mutex<Option<Vec<(ResourceKind, i64)>>>,
    /// What the admin API shows of the resync, and the held removals' report.
    pub resync: ResyncTracker,
    /// Where the held removals are put on record (the events stream).
    events: Option<Arc<dyn EventBus>>,
    /// Console sign-in with this instance's accounts: the console group and the client
    /// configuration each check starts from (the API account's credentials replaced).
    console: Option<(String, secret_server_client::ClientConfig)>,
}

/// Where an instance's first load stands (see [`Instance::first_load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstLoad {
    Done,
    /// The first attempt has not finished yet.
    UnderWay,
    /// An attempt failed (Secret Server unreachable, or refusing the account); the next is on its
    /// way, with a growing pause between attempts.
    Failed(String),
}

impl Instance {
    /// An instance named `name`, read through `client`, persisting into `state`, protecting
    /// `protection`'s principals; not loaded yet.
    pub fn new(
        name: &str,
        client: SecretServerClient,
        state: Arc<dyn StateStore>,
        options: FetchOptions,
        protection: Protection,
    ) -> Self {
        Self {
            name: name.to_owned(),
            client,
            model: ReadModel::default(),
            meta: MetaStore::new(state.clone(), name),
            attrs: AttributeStore::new(state.clone(), name),
            tombstones: Tombstones::new(state.clone(), name),
            intents: Intents::new(state, name),
            protection,
            loaded: watch::Sender::new(false),
            status: Mutex::new(Status::default()),
            sync_lock: tokio::sync::Mutex::new(()),
            fetch_options: options,
            pending_removals: Mutex::new(None),
            resync: ResyncTracker::default(),
            events: None,
            console: None,
        }
    }

    /// The instance, admitting members of `group` to the web console (checked with a client
    /// made from `config`, see [`crate::console_account`]).
    #[must_use]
    pub fn with_console_group(mut self, group: String, config: secret_server_client::ClientConfig) -> Self {
        self.console = Some((group, config));
        self
    }

    /// The console group and the client configuration of console sign-in, when it is on.
    pub fn console(&self) -> Option<(&str, &secret_server_client::ClientConfig)> {
        self.console.as_ref().map(|(group, config)| (group.as_str(), config))
    }

    /// The instance, putting the removals its resyncs hold back on record on `events`.
    #[must_use]
    pub fn with_events(mut self, events: Arc<dyn EventBus>) -> Self {
        self.events = Some(events);
        self
    }

    /// Starts a resync in the background unless one runs; the state to answer, with
    /// `already_running` when one did.
    pub fn start_resync(self: &Arc<Self>) -> adapter_api::admin::ResyncState {
        if !self.resync.request() {
            return adapter_api::admin::ResyncState { already_running: true, ..self.resync.state(&self.name) };
        }
        let state = self.resync.state(&self.name);
        let instance = self.clone();
        tokio::spawn(async move {
            if let Err(e) = instance.sync_as(true).await {
                tracing::error!(instance = %instance.name, error = format!("{e:#}"), "resync asked for by an administrator failed");
            }
        });
        state
    }

    /// Whether the first load has finished.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Tells when the first load (or a restore) has finished.
    pub fn loaded(&self) -> watch::Receiver<bool> {
        self.loaded.subscribe()
    }

    /// Waits until the first load has finished; false when `timeout` passed first.
    pub async fn wait_loaded(&self, timeout: Duration) -> bool {
        let mut rx = self.loaded.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|loaded| *loaded)).await.is_ok_and(|r| r.is_ok())
    }

    /// Where the first load stands: done, under way, or failed (and tried again) with this error.
    pub fn first_load(&self) -> FirstLoad {
        match (self.is_loaded(), self.last_error()) {
            (true, _) => FirstLoad::Done,
            (false, None) => FirstLoad::UnderWay,
            (false, Some(error)) => FirstLoad::Failed(error),
        }
    }

    /// Waits until the first load has finished or failed, at most `timeout`; whether it is loaded.
    pub async fn wait_first_load(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut loaded = self.loaded.subscribe();
        while self.first_load() == FirstLoad::UnderWay && tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = loaded.wait_for(|l| *l) => {}
                () = tokio::time::sleep(Duration::from_millis(200).min(deadline.saturating_duration_since(tokio::time::Instant::now()))) => {}
            }
        }
        self.is_loaded()
    }

    /// The last failure of a load or resync, if the last attempt failed.
    pub fn last_error(&self) -> Option<String> {
        self.status.lock().last_error.clone()
    }

    /// Whether a load or resync that began after `at` read Secret Server whole, and succeeded.
    pub fn synced_since(&self, at: Instant) -> bool {
        self.status.lock().last_success_began.is_some_and(|began| began > at)
    }

    /// Time since the last successful load or resync.
    pub fn age(&self) -> Option<Duration> {
        self.status.lock().last_success.map(|at| at.elapsed())
    }

    /// Records held, memberships included.
    pub fn record_count(&self) -> u64 {
        self.model.read(|s| s.counts().iter().map(|(_, n)| *n as u64).sum::<u64>() + s.membership_count() as u64)
    }

    /// The first load, or a resync once loaded.
    ///
    /// # Errors
    /// When Secret Server or the state store fails; the read model is left as it was.
    pub async fn sync(&self) -> anyhow::Result<SyncReport> {
        self.sync_as(false).await
    }

    /// A sync; `asked` when it is the one an administrator asked for ([`Instance::start_resync`]).
    async fn sync_as(&self, asked: bool) -> anyhow::Result<SyncReport> {
        let _one_at_a_time = self.sync_lock.lock().await;
        self.resync.begin(asked);
        let began = Instant::now();
        let result = self.sync_inner().await;
        self.resync.finish(result.as_ref().map(|r| (r.added, r.changed, r.removed)));
        let mut status = self.status.lock();
        match &result {
            Ok(_) => {
                status.last_success = Some(Instant::now());
                status.last_success_began = Some(began);
                status.last_error = None;
            }
            Err(e) => status.last_error = Some(format!("{e:#}")),
        }
        result
    }

    async fn sync_inner(&self) -> anyhow::Result<SyncReport> {
        let first_load = !self.is_loaded();
        let began = Instant::now();
        let began_millis = now_millis();
        let (fetched, stored) = if first_load {
            let (fetched, stored) = tokio::join!(fetch_all(&self.client, &self.fetch_options), self.load_stored());
            let fetched = fetched.context("reading Secret Server")?;
            self.resync.read(&fetched);
            (fetched, stored.context("reading the state store")?)
        } else {
            let mut fetched = fetch_all(&self.client, &self.fetch_options).await.context("reading Secret Server")?;
            self.resync.read(&fetched);
            self.resync.phase("confirming records missing from the read");
            self.confirm_removals(&mut fetched, began).await?;
            self.resync.phase("reading the state store");
            let new_ids = self.model.new_ids(&fetched);
            let stored = if new_ids.len() > BULK_STORED_READ {
                self.load_stored().await
            } else {
                self.load_stored_for(&new_ids).await
            }
            .context("reading the state store")?;
            (fetched, stored)
        };
        let records = fetched.record_count();
        self.resync.phase("applying the difference");
        let mut stored = stored;
        let mut fetched = fetched;
        tombstones_win(&mut fetched, &stored, Some(began_millis));
        let mut applied = self.model.apply(fetched, &mut stored, now_millis(), began);
        drop(stored);
        self.meta.put_many(std::mem::take(&mut applied.meta_changes)).await.context("persisting meta")?;
        for (kind, id) in &applied.removed {
            self.meta.delete(*kind, *id).await.context("forgetting meta")?;
            self.attrs.put(*kind, *id, None).await.context("forgetting attributes")?;
        }
        for id in &applied.tombstones_cleared {
            self.tombstones.remove(*id).await.context("clearing a tombstone")?;
        }
        self.publish_metrics();
        if first_load {
            // The API account is protected by its name at every change; say at load which users that is.
            let api_account = self.model.read(|s| self.protection.api_account_ids(s));
            if api_account.is_empty() {
                tracing::warn!(instance = %self.name, "the API account is not among the users read; it stays protected by name");
            } else {
                tracing::info!(instance = %self.name, user_ids = ?api_account, "the API account is a protected principal");
            }
            self.loaded.send_replace(true);
        }
        let report = SyncReport {
            first_load,
            records,
            added: applied.added,
            changed: applied.changed,
            removed: applied.removed.len(),
            elapsed: began.elapsed(),
        };
        tracing::info!(
            instance = %self.name,
            first_load,
            records,
            added = report.added,
            changed = report.changed,
            removed = report.removed,
            seconds = format!("{:.2}", report.elapsed.as_secs_f64()),
            "read model in step with Secret Server"
        );
        Ok(report)
    }

    /// Fills the read model from a snapshot instead of a first load: the Secret Server side from
    /// `fetched`, the connector-held state (attributes, meta, tombstones) from the state store as
    /// a first load reads it, the store winning where the snapshot is older (see
    /// [`crate::snapshot`]). The instance is not ready yet: the caller replays the changes since
    /// the snapshot, then calls [`Instance::mark_loaded`]. Does nothing (and returns `None`) when
    /// the instance is already loaded.
    ///
    /// # Errors
    /// When the state store fails; the read model is left empty.
    pub async fn restore(&self, mut fetched: Fetched) -> anyhow::Result<Option<SyncReport>> {
        let _one_at_a_time = self.sync_lock.lock().await;
        if self.is_loaded() {
            return Ok(None);
        }
        let began = Instant::now();
        let mut stored = self.load_stored().await.context("reading the state store")?;
        // Deleted through SCIM since the snapshot: the tombstone says so, not the older `enabled`.
        tombstones_win(&mut fetched, &stored, None);
        let records = fetched.record_count();
        let applied = self.model.apply(fetched, &mut stored, now_millis(), began);
        // A version computed from older Secret Server data keeps the persisted meta: the resync
        // that follows bumps `lastModified` only if the resource did change.
        let mut first_sight = Vec::new();
        self.model.write(&[], |s| {
            for (kind, id, meta) in applied.meta_changes {
                match stored.meta(kind, id) {
                    Some(persisted) => s.set_meta(kind, id, persisted),
                    None => first_sight.push((kind, id, meta)),
                }
            }
        });
        drop(stored);
        self.meta.put_many(first_sight).await.context("persisting meta")?;
        self.publish_metrics();
        let report = SyncReport {
            first_load: true,
            records,
            added: applied.added,
            elapsed: began.elapsed(),
            ..SyncReport::default()
        };
        Ok(Some(report))
    }

    /// Declares the instance ready after a [`Instance::restore`], its read model `age` old.
    pub fn mark_loaded(&self, age: Duration) {
        {
            let mut status = self.status.lock();
            status.last_success = Some(Instant::now().checked_sub(age).unwrap_or_else(Instant::now));
            status.last_error = None;
        }
        self.loaded.send_replace(true);
    }

    /// The Secret Server side of the read model, for a snapshot; `None` before the first load.
    pub fn capture(&self) -> Option<Fetched> {
        self.is_loaded().then(|| self.model.read(crate::snapshot::capture))
    }

    /// Before a resync drops what a full read did not return: beyond the removal bound, keeps the
    /// read model (an error, so the resync fails and reports it) unless the previous resync found
    /// the same records missing (records written since the read `began` are not missing: the read
    /// may predate them); then reads each missing record by id and keeps those Secret
    /// Server still has (see [`crate::read_model::confirm`]).
    async fn confirm_removals(&self, fetched: &mut Fetched, began: Instant) -> anyhow::Result<()> {
        let missing = self.model.missing(fetched, began);
        let held = self.model.read(|s| {
            s.users.len()
                + s.groups.len()
                + s.folders.len()
                + s.folder_perms.len()
                + s.secrets.len()
                + s.secret_perms.len()
        });
        let bound = self.fetch_options.removal_bound;
        // An administrator's confirmation approves exactly the records of the report confirmed.
        let approved = self.resync.approved();
        let agreed = {
            let mut pending = self.pending_removals.lock();
            let agreed = !bound.exceeded(missing.len(), held)
                || pending.as_deref() == Some(&missing[..])
                || approved.is_some_and(|approved| missing.iter().all(|m| approved.contains(m)));
            *pending = if agreed { None } else { Some(missing.clone()) };
            agreed
        };
        metrics::resync_removals_held(&self.name, if agreed { 0 } else { missing.len() });
        if agreed {
            self.resync.clear_held();
        } else {
            let (report, new) = self.resync.hold(missing.clone(), held);
            tracing::warn!(
                instance = %self.name,
                missing = missing.len(),
                held,
                report = %report.report_id,
                "a full read misses more records than a resync may drop; the read model is kept until the next resync agrees or an administrator confirms the report"
            );
            if new {
                self.record_held(&report).await;
            }
            return Err(RemovalsHeld(format!(
                "the read of Secret Server misses {} of the {held} records held, beyond the bound ({} % or {}): \
                 the read model is kept until the next resync finds the same or an administrator confirms report {}",
                missing.len(),
                bound.max_percent,
                bound.max_count,
                report.report_id
            ))
            .into());
        }
        if missing.is_empty() {
            return Ok(());
        }
        let count = missing.len();
        let (gone, unreadable) =
            confirm::confirm_missing(&self.client, missing, fetched, self.fetch_options.concurrency)
                .await
                .context("reading by id the records a full read missed")?;
        // Still there, in a shape the read model cannot hold: kept as they were.
        self.model.read(|s| {
            for (kind, id) in &unreadable {
                match kind {
                    ResourceKind::ContainerPermission => {
                        fetched.folder_perms.extend(s.folder_perms.get(id).map(|p| p.ss))
                    }
                    ResourceKind::PrivilegedDataPermission => {
                        fetched.secret_perms.extend(s.secret_perms.get(id).map(|p| p.ss))
                    }
                    _ => {}
                }
            }
        });
        if gone < count {
            tracing::info!(
                instance = %self.name,
                missing = count,
                gone,
                "records a full read missed are still in Secret Server and kept"
            );
        }
        Ok(())
    }

    /// Puts held removals on record: an audit event (the administrator's confirmation is another,
    /// from the admin API). A failed publish is logged; the held report stays in the resync state.
    async fn record_held(&self, report: &Held) {
        let Some(events) = &self.events else { return };
        let sample: Vec<String> =
            report.ids.iter().take(10).map(|(kind, id)| format!("{}/{id}", kind.name())).collect();
        let event = audit_events::admin_action(
            "secret-server-adapter",
            "resync-removals-held",
            "",
            format!(
                "instance {}: a resync holds back the removal of {} of {} records (report {}; e.g. {}) until the \
                 next resync agrees or an administrator confirms",
                self.name,
                report.ids.len(),
                report.held_of,
                report.report_id,
                sample.join(", ")
            ),
        );
        if let Err(e) = audit_events::publish(events.as_ref(), &event).await {
            tracing::error!(instance = %self.name, error = %e, "the held removals could not be put on record");
        }
    }

    /// Everything persisted for this instance (first load).
    async fn load_stored(&self) -> Result<Stored, state_store::StoreError> {
        let mut stored = Stored::default();
        for kind in ResourceKind::ALL {
            if kind != ResourceKind::PrivilegedData {
                stored.attrs.insert(kind, self.attrs.load_all(kind).await?);
            }
            stored.meta.insert(kind, self.meta.load_all(kind).await?);
        }
        stored.tombstones = self.tombstones.load_all().await?;
        Ok(stored)
    }

    /// What is persisted for a few records new to the read model (created directly in Secret
    /// Server, or by another adapter replica).
    async fn load_stored_for(&self, ids: &[(ResourceKind, i64)]) -> Result<Stored, state_store::StoreError> {
        let mut stored = Stored::default();
        for (kind, id) in ids {
            if let Some(attrs) = self.attrs.get(*kind, *id).await? {
                stored.attrs.entry(*kind).or_default().insert(*id, attrs);
            }
            if let Some(meta) = self.meta.get(*kind, *id).await? {
                stored.meta.entry(*kind).or_default().insert(*id, meta);
            }
            if *kind == ResourceKind::User
                && let Some(t) = self.tombstones.get(*id).await?
            {
                stored.tombstones.insert(*id, t);
            }
        }
        Ok(stored)
    }

    /// Write-through: runs `f` on the state, then recomputes the versions of `touched` records and
    /// persists the metas that changed. Returns them.
    ///
    /// # Errors
    /// When persisting the meta fails (the read model already holds the change).
    pub async fn write_through(
        &self,
        touched: &[(ResourceKind, i64)],
        f: impl FnOnce(&mut State),
    ) -> Result<Vec<(ResourceKind, i64, Meta)>, state_store::StoreError> {
        self.write_with(touched, touched, &HashMap::new(), f).await
    }

    /// Like [`Instance::write_through`], but of `touched` only `changed` count as written from
    /// this job's reading: the others (a group's members, whose versions follow its member list)
    /// keep what the follower reads of them, such as a user enabled through another replica.
    ///
    /// # Errors
    /// When persisting the meta fails (the read model already holds the change).
    pub async fn write_through_changing(
        &self,
        touched: &[(ResourceKind, i64)],
        changed: &[(ResourceKind, i64)],
        f: impl FnOnce(&mut State),
    ) -> Result<Vec<(ResourceKind, i64, Meta)>, state_store::StoreError> {
        self.write_with(touched, changed, &HashMap::new(), f).await
    }

    /// Like [`Instance::write_through`], but the metas that changed are returned as writes for the
    /// caller to persist in a batch with its other writes (a job's, with its done marker) rather
    /// than persisted here: one round trip to the state store fewer.
    ///
    /// # Errors
    /// When a meta cannot be encoded.
    pub fn write_through_deferred(
        &self,
        touched: &[(ResourceKind, i64)],
        f: impl FnOnce(&mut State),
    ) -> Result<Vec<state_store::Write>, state_store::StoreError> {
        let changes = self.write_model(touched, touched, &HashMap::new(), f);
        self.publish_metrics();
        self.meta.writes(&changes)
    }

    /// The metas the shared store records for `touched`.
    async fn persisted_metas(
        &self,
        touched: &[(ResourceKind, i64)],
    ) -> Result<HashMap<(ResourceKind, i64), Meta>, state_store::StoreError> {
        let mut persisted = HashMap::new();
        for (kind, id) in touched {
            if let Some(meta) = self.meta.get(*kind, *id).await? {
                persisted.insert((*kind, *id), meta);
            }
        }
        Ok(persisted)
    }

    /// Applies a change another adapter replica made: like [`Instance::write_through`], but a
    /// record whose new version is the one that replica persisted takes the persisted meta, so that
    /// every replica shows the same `meta.lastModified`. With `read_at`, when the reading it
    /// carries began, nothing is written when the first of `touched` (the changed resource) was
    /// written since: a job of this replica changed it meanwhile, from a newer reading (the
    /// follower applying this replica's own previous change must not put back what the next job
    /// replaced). Lists of permissions, whose records jobs change one by one, are written as read.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn write_remote(
        &self,
        read_at: Option<Instant>,
        touched: &[(ResourceKind, i64)],
        f: impl FnOnce(&mut State),
    ) -> Result<(), state_store::StoreError> {
        let persisted = self.persisted_metas(touched).await?;
        let Some(&first) = touched.first() else { return Ok(()) };
        let now = now_millis();
        let write = |state: &mut State| with_metas(state, touched, &persisted, f, now);
        let changes = match read_at {
            Some(read_at) => self.model.write_unless_newer(touched, first, read_at, write),
            None => Some(self.model.write(touched, write)),
        };
        match changes {
            Some(changes) => {
                self.meta.put_many(changes).await?;
                self.publish_metrics();
            }
            None => tracing::debug!(instance = %self.name, kind = first.0.name(), id = first.1,
                "another replica's change is older than what a job of this replica wrote since; left alone"),
        }
        Ok(())
    }

    /// Writes a list read whole from Secret Server in a reading that began at `read_at` (a folder's
    /// or a secret's permissions): `f` is told which records were written since, to leave them as
    /// they are (a grant a job made or revoked after the list was read). `remote`: the reading
    /// follows another replica's change (metas as for [`Instance::write_remote`]).
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn write_list(
        &self,
        read_at: Instant,
        touched: &[(ResourceKind, i64)],
        remote: bool,
        f: impl FnOnce(&mut State, &dyn Fn(ResourceKind, i64) -> bool),
    ) -> Result<(), state_store::StoreError> {
        let persisted = if remote { self.persisted_metas(touched).await? } else { HashMap::new() };
        let now = now_millis();
        let changes = self
            .model
            .write_list(touched, read_at, |state, newer| with_metas(state, touched, &persisted, |s| f(s, newer), now));
        self.meta.put_many(changes).await?;
        self.publish_metrics();
        Ok(())
    }

    /// Writes records this replica learnt of without changing them (a principal another replica
    /// created a moment ago, read for a job that names it, in a reading that began at `read_at`):
    /// like [`Instance::write_remote`], a
    /// record whose version is the one the shared store records takes its meta, but nothing is
    /// persisted: the store's meta stays as the replica that made the change wrote it (this
    /// replica's reading may lack what only its follower brings, such as a group's members).
    ///
    /// # Errors
    /// When the state store cannot be read.
    pub async fn learn(
        &self,
        touched: &[(ResourceKind, i64)],
        read_at: Instant,
        f: impl FnOnce(&mut State),
    ) -> Result<(), state_store::StoreError> {
        let persisted = self.persisted_metas(touched).await?;
        let now = now_millis();
        // Counted as written from the reading, not now: a resync that began before it leaves the
        // record alone, and the follower's reading that began after it is not dropped.
        self.model.write_as_of(touched, read_at, |state| with_metas(state, touched, &persisted, f, now));
        self.publish_metrics();
        Ok(())
    }

    /// User `id` read whole, as the read model holds a user: Secret Server's fields and direct
    /// roles, the shared store's attributes and tombstone (a meta yet to be given). `None` when
    /// Secret Server does not have it (one deleted between the reads of it is as gone as if the
    /// first had not found it).
    ///
    /// # Errors
    /// Secret Server or the state store failing.
    pub async fn read_user(&self, id: i64) -> Result<Option<crate::read_model::records::UserRec>, ReadError> {
        let user = match self.client.get_user(id).await {
            Ok(user) => user,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut ss = crate::read_model::fetch::user_ss_from_user(user);
        ss.roles = match crate::read_model::fetch::direct_roles(&self.client, id).await {
            Ok(roles) => roles,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let attrs = self.attrs.get(ResourceKind::User, id).await?;
        let deleted = !ss.enabled && self.tombstones.get(id).await?.is_some();
        Ok(Some(crate::read_model::records::UserRec { ss, attrs, deleted, meta: Meta::default() }))
    }

    /// Whether the read model holds resource `id` of `kind` at the version the shared store
    /// records; when it does not, waits for it while `follower` (this replica's follower catching
    /// up with the events stream) has not finished: only the follower can bring another replica's
    /// change. A follower with nothing left to handle ends the wait at once (the versions then
    /// differ for another reason, such as a change made in Secret Server that only another
    /// replica's resync has seen). One Redis read when the model is current.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn caught_up_with(
        &self,
        kind: ResourceKind,
        id: i64,
        follower: impl std::future::Future<Output = bool>,
    ) -> Result<bool, state_store::StoreError> {
        let Some(stored) = self.meta.get(kind, id).await? else { return Ok(true) };
        let current = || self.model.read(|s| s.meta(kind, id).map(|m| m.version)) == Some(stored.version);
        tokio::pin!(follower);
        let mut follower_done = false;
        while !current() && !follower_done {
            tokio::select! {
                _ = &mut follower => follower_done = true,
                () = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
            }
        }
        Ok(current())
    }

    async fn write_with(
        &self,
        touched: &[(ResourceKind, i64)],
        changed: &[(ResourceKind, i64)],
        persisted: &HashMap<(ResourceKind, i64), Meta>,
        f: impl FnOnce(&mut State),
    ) -> Result<Vec<(ResourceKind, i64, Meta)>, state_store::StoreError> {
        let changes = self.write_model(touched, changed, persisted, f);
        self.meta.put_many(changes.clone()).await?;
        self.publish_metrics();
        Ok(changes)
    }

    /// Runs `f` on the read model and recomputes the metas of `touched` (see
    /// [`Instance::write_remote`] for `persisted`), recording `changed` as written now; returns the
    /// metas that changed, not yet persisted.
    fn write_model(
        &self,
        touched: &[(ResourceKind, i64)],
        changed: &[(ResourceKind, i64)],
        persisted: &HashMap<(ResourceKind, i64), Meta>,
        f: impl FnOnce(&mut State),
    ) -> Vec<(ResourceKind, i64, Meta)> {
        let now = now_millis();
        self.model.write(changed, |state| with_metas(state, touched, persisted, f, now))
    }

    /// Sets the read-model size gauges.
    pub fn publish_metrics(&self) {
        let counts = self.model.read(State::counts);
        for (kind, n) in counts {
            metrics::read_model_records(&self.name, kind.name(), n);
        }
        let memberships = self.model.read(State::membership_count);
        metrics::read_model_records(&self.name, "Membership", memberships);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::records::UserSs;
    use crate::tombstones::Tombstone;

    fn read_enabled(id: i64) -> Fetched {
        let user = UserSs { display_name: "D".into(), ..UserSs::local(id, "deleted.meanwhile") };
        Fetched { users: vec![user], ..Fetched::default() }
    }

    fn tombstone_at(at: i64) -> Stored {
        let mut stored = Stored::default();
        stored.tombstones.insert(7, Tombstone { user_name: "deleted.meanwhile".into(), job_id: "j".into(), at });
        stored
    }

    #[test]
    fn a_deletion_made_after_the_read_began_wins_over_the_enabled_user_it_read() {
        let mut fetched = read_enabled(7);
        tombstones_win(&mut fetched, &tombstone_at(2_000), Some(1_000));
        assert!(!fetched.users[0].enabled, "deleted after the read: not re-enabled in Secret Server");
    }

    #[test]
    fn a_user_enabled_again_after_an_older_deletion_stays_enabled() {
        let mut fetched = read_enabled(7);
        tombstones_win(&mut fetched, &tombstone_at(500), Some(1_000));
        assert!(fetched.users[0].enabled, "enabled directly in Secret Server after the deletion");
    }
}
