//! The file and its grants kept in this instance for the hot reads
//! (download, file read, content), as fresh as a read of the database:
//! docs/decisions.md, "A file cache as fresh as a read: the notification
//! fence".
//!
//! Triggers on `files` and `grants` notify `coffer_file_changed` with the
//! tenant id of every committed change (migration `2026-12-13-000001`), and
//! a listener drops that tenant's entries. Before an entry is served, the
//! listener sends a fence — a notification on a channel only this instance
//! hears — and the read waits until it comes back: PostgreSQL delivers
//! notifications in commit order, so by then every change committed before
//! the read began has been delivered and applied. The reads waiting at once
//! share one fence. Without a listener caught up, or when the fence does not
//! come back in time, the read goes to the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::{FileId, FileStatus, TenantId};
use coffer_ports::{FileCatalog, FileCatalogLayer, MetadataError, StoredFile, TenantScope};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection as _};
use futures::StreamExt as _;
use moka::sync::Cache;
use tokio::sync::{Notify, watch};

use crate::changes::{HEARTBEAT, MAX_BACKOFF, connect};
use crate::store::PgMetadataStore;

/// The channel the triggers notify, its payload the tenant id.
pub const CHANNEL: &str = "coffer_file_changed";

/// Files kept at once. An entry is a file row and its grants (about a
/// kilobyte), so this bounds the cache near 16 MiB; the benchmarks' widest
/// spread (10,000 tenants, a file each) fits.
const MAX_FILES: u64 = 16_384;

/// How long an entry is kept unread (it is never stale: changes drop it).
const IDLE: Duration = Duration::from_secs(300);

/// How long a read waits for its fence before it reads the database.
const FENCE_TIMEOUT: Duration = Duration::from_millis(500);

/// A [`FileCatalog`] whose `get_file` answers from the cache; every other
/// method goes to the store.
pub(crate) struct CachedFiles {
    store: PgMetadataStore,
    cache: Arc<FileCache>,
}

impl CachedFiles {
    pub(crate) fn new(store: PgMetadataStore) -> Self {
        Self {
            store,
            cache: Arc::new(FileCache::new()),
        }
    }
}

impl std::fmt::Debug for CachedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedFiles")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FileCatalogLayer for CachedFiles {
    fn inner(&self) -> &dyn FileCatalog {
        &self.store
    }

    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        let tenant = scope.tenant_id();
        self.cache.ensure_listener(&self.store);
        if self.cache.holds(tenant, id)
            && self.cache.fenced().await
            && let Some(file) = self.cache.valid(tenant, id)
        {
            return Ok(file);
        }
        let seen = self.cache.drops.load(Ordering::SeqCst);
        let file = self.store.get_file(scope, id).await?;
        if self.cache.live.load(Ordering::SeqCst) && cacheable(&file) {
            self.cache.entries.insert(
                (tenant, id),
                Entry {
                    file: file.clone(),
                    seen,
                },
            );
        }
        Ok(file)
    }
}

/// Only files read as `available` are kept: what changes a pending or
/// scanning file (its completion, its verdict) is not a hot read's concern,
/// and an insert needs no notification.
fn cacheable(file: &StoredFile) -> bool {
    file.file.status == FileStatus::Available
}

#[derive(Clone)]
struct Entry {
    file: StoredFile,
    /// The drop count when its read began: it is valid only if its tenant
    /// (or everything) was not dropped since.
    seen: u64,
}

struct FileCache {
    entries: Cache<(TenantId, FileId), Entry>,
    /// Drops so far, of a tenant or of everything.
    drops: AtomicU64,
    /// The drop count at each tenant's last drop.
    dropped: Mutex<HashMap<TenantId, u64>>,
    /// The drop count at the last drop of everything.
    all_dropped: AtomicU64,
    /// The listener is connected, listening and has dropped what it missed.
    live: AtomicBool,
    /// The listener task runs (it clears this when it ends).
    running: AtomicBool,
    fences: Mutex<Fences>,
    /// Wakes the listener to send the queued fence.
    wake: Notify,
    /// The highest fence received back.
    fenced: watch::Sender<u64>,
    /// This instance's fence channel.
    fence_channel: String,
}

#[derive(Default)]
struct Fences {
    last: u64,
    /// A fence not sent yet: reads arriving now wait for it.
    queued: Option<u64>,
}

impl FileCache {
    fn new() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(MAX_FILES)
                .time_to_idle(IDLE)
                .build(),
            drops: AtomicU64::new(0),
            dropped: Mutex::new(HashMap::new()),
            all_dropped: AtomicU64::new(0),
            live: AtomicBool::new(false),
            running: AtomicBool::new(false),
            fences: Mutex::new(Fences::default()),
            wake: Notify::new(),
            fenced: watch::channel(0).0,
            fence_channel: format!("coffer_fence_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Starts the listener unless it runs (the first read, or after its
    /// runtime went away).
    fn ensure_listener(self: &Arc<Self>, store: &PgMetadataStore) {
        if self
            .running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            tokio::spawn(listen(store.app_url.clone(), Arc::downgrade(self)));
        }
    }

    fn holds(&self, tenant: TenantId, id: FileId) -> bool {
        self.live.load(Ordering::SeqCst) && self.entries.contains_key(&(tenant, id))
    }

    /// The entry, if nothing dropped it since its read began.
    fn valid(&self, tenant: TenantId, id: FileId) -> Option<StoredFile> {
        if !self.live.load(Ordering::SeqCst) {
            return None;
        }
        let entry = self.entries.get(&(tenant, id))?;
        let tenant_dropped = self
            .dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .copied()
            .unwrap_or(0);
        let last_drop = tenant_dropped.max(self.all_dropped.load(Ordering::SeqCst));
        (entry.seen >= last_drop).then_some(entry.file)
    }

    /// Waits for a fence sent after this call began; `false` when it did
    /// not come back in time.
    async fn fenced(&self) -> bool {
        let target = {
            let mut fences = self.fences.lock().unwrap_or_else(PoisonError::into_inner);
            match fences.queued {
                Some(queued) => queued,
                None => {
                    fences.last += 1;
                    fences.queued = Some(fences.last);
                    self.wake.notify_one();
                    fences.last
                }
            }
        };
        let mut received = self.fenced.subscribe();
        tokio::time::timeout(FENCE_TIMEOUT, received.wait_for(|seq| *seq >= target))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// The fence to send now, if any read waits for one.
    fn take_queued(&self) -> Option<u64> {
        self.fences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queued
            .take()
    }

    fn drop_tenant(&self, tenant: TenantId) {
        let at = self.drops.fetch_add(1, Ordering::SeqCst) + 1;
        self.dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant, at);
    }

    fn drop_all(&self) {
        let at = self.drops.fetch_add(1, Ordering::SeqCst) + 1;
        self.all_dropped.store(at, Ordering::SeqCst);
        self.dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.entries.invalidate_all();
    }
}

/// Clears `live` and `running` when the listener ends, however it ends.
struct Running(Weak<FileCache>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(cache) = self.0.upgrade() {
            cache.live.store(false, Ordering::SeqCst);
            cache.running.store(false, Ordering::SeqCst);
        }
    }
}

/// Keeps the listener up, reconnecting, until the cache goes away.
async fn listen(url: Arc<str>, cache: Weak<FileCache>) {
    let _running = Running(cache.clone());
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(channel) = cache.upgrade().map(|c| c.fence_channel.clone()) else {
            return;
        };
        // The fence's commit need not wait for its WAL flush: it changes
        // nothing, and its notification is queued in commit order either way.
        let listen = format!("SET synchronous_commit TO off; LISTEN {CHANNEL}; LISTEN {channel}");
        match connect(&url, &listen).await {
            Ok(mut conn) => {
                backoff = Duration::from_millis(100);
                let Some(live) = cache.upgrade() else { return };
                // Whatever changed while not listening is unknown.
                live.drop_all();
                live.live.store(true, Ordering::SeqCst);
                drop(live);
                let lost = follow(&mut conn, &cache, &channel).await;
                if let Some(live) = cache.upgrade() {
                    live.live.store(false, Ordering::SeqCst);
                }
                match lost {
                    None => return,
                    Some(why) => {
                        tracing::warn!(error = %why, "file cache listener lost its connection; reconnecting");
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "file cache listener cannot connect; retrying")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Applies notifications and sends fences until the connection fails
/// (`Some(why)`) or the cache is gone (`None`).
async fn follow(
    conn: &mut AsyncPgConnection,
    cache: &Weak<FileCache>,
    channel: &str,
) -> Option<String> {
    loop {
        enum Next {
            Notification(Option<diesel::QueryResult<diesel::pg::PgNotification>>),
            Fence,
            Idle,
        }
        let next = {
            let live = cache.upgrade()?;
            let mut stream = std::pin::pin!(conn.notifications_stream());
            tokio::select! {
                next = stream.next() => Next::Notification(next),
                () = live.wake.notified() => Next::Fence,
                () = tokio::time::sleep(HEARTBEAT) => Next::Idle,
            }
        };
        match next {
            Next::Notification(Some(Ok(notification))) => {
                let live = cache.upgrade()?;
                if notification.channel == channel {
                    if let Ok(seq) = notification.payload.parse::<u64>() {
                        live.fenced.send_if_modified(|at| {
                            let newer = seq > *at;
                            if newer {
                                *at = seq;
                            }
                            newer
                        });
                    }
                } else {
                    match uuid::Uuid::parse_str(&notification.payload) {
                        Ok(id) => live.drop_tenant(TenantId::from_uuid(id)),
                        Err(_) => live.drop_all(),
                    }
                }
            }
            Next::Notification(Some(Err(err))) => return Some(err.to_string()),
            Next::Notification(None) => return Some("the connection closed".to_owned()),
            Next::Fence => {
                let Some(seq) = cache.upgrade()?.take_queued() else {
                    continue;
                };
                // On the listener's own connection: its notification comes
                // back behind every change committed before it, and no
                // pooled connection is waited for.
                if let Err(err) = conn
                    .batch_execute(&format!("NOTIFY {channel}, '{seq}'"))
                    .await
                {
                    return Some(err.to_string());
                }
            }
            Next::Idle => {
                cache.upgrade()?;
                let ping = tokio::time::timeout(HEARTBEAT, conn.batch_execute("SELECT 1")).await;
                match ping {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => return Some(err.to_string()),
                    Err(_) => return Some("the heartbeat timed out".to_owned()),
                }
            }
        }
    }
}
