//! The engine: one data directory holding tables and topics, one handle for both.
//!
//! Layout of a data directory:
//!
//! ```text
//! <dir>/
//!   kabase.lock        exclusive lock; holds the pid of the process that owns the directory
//!   kabase.meta        format version of the directory (JSON, `{"format": 1}`)
//!   tables/            the LSM (fjall): table cells, table and namespace metadata, outboxes
//!   log/<topic>-<p>/   Kafka segment files for each topic partition, including the internal
//!                      compacted `__consumer_offsets` topic of committed offsets
//! ```
//!
//! An [`Engine`] is a cheap, thread-safe, cloneable handle. Opening a directory that this process
//! already has open returns a handle to the same engine; another process gets
//! [`ErrorCode::EngineLocked`] naming the holder's pid.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::{Error, ErrorCode, Result};

/// The on-disk format version of a data directory as a whole.
pub const DIR_FORMAT_VERSION: u32 = 1;

/// Options for [`Engine::open_with`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Keep everything in memory (a private temporary directory on tmpfs where the OS has one,
    /// removed on close). Nothing survives the process.
    pub in_memory: bool,
    /// Partitions of a topic created on first use (Kafka's `num.partitions`). Default 1.
    pub num_partitions: u32,
    /// Block cache size of the LSM in bytes. Default 64 MiB.
    pub cache_size_bytes: u64,
    /// Number of LSM background worker threads; `None` lets the LSM choose.
    pub worker_threads: Option<usize>,
    /// Partitions of the internal `__consumer_offsets` topic when it is created (Kafka's
    /// `offsets.topic.num.partitions`). Default 50. An existing topic keeps its count.
    pub offsets_topic_num_partitions: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            in_memory: false,
            num_partitions: 1,
            cache_size_bytes: 64 << 20,
            worker_threads: None,
            offsets_topic_num_partitions: crate::group::offsets_topic::DEFAULT_OFFSETS_TOPIC_PARTITIONS,
        }
    }
}

/// A handle to an open engine. Clone it freely; all clones share one engine.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let engine = kabase::Engine::open(dir.path()).unwrap();
/// let again = kabase::Engine::open(dir.path()).unwrap(); // same process: same engine
/// assert!(engine.same_as(&again));
/// engine.close().unwrap();
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("dir", &self.inner.dir).field("in_memory", &self.inner.options.in_memory).finish()
    }
}

pub(crate) struct EngineInner {
    pub(crate) dir: PathBuf,
    pub(crate) options: EngineOptions,
    pub(crate) db: fjall::Database,
    pub(crate) closed: AtomicBool,
    /// Table state (owned by [`crate::table`]).
    pub(crate) tables: crate::table::TablesState,
    /// Topic state (owned by [`crate::log`]).
    pub(crate) topics: crate::log::TopicsState,
    /// Consumer-group state (owned by [`crate::group`]).
    pub(crate) groups: crate::group::GroupsState,
    /// Change-stream state (owned by [`crate::stream`]).
    pub(crate) streams: crate::stream::StreamsState,
    lock: Mutex<Option<DirLock>>,
    /// Directory to remove on close (in-memory engines).
    temp_dir: Option<PathBuf>,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<EngineInner>>> {
    static REG: OnceLock<Mutex<HashMap<PathBuf, Weak<EngineInner>>>> = OnceLock::new();
    REG.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Engine {
    /// Open (or create) a durable engine in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Engine> {
        Self::open_with(dir, EngineOptions::default())
    }

    /// Open an engine that keeps nothing once closed.
    pub fn open_in_memory() -> Result<Engine> {
        Self::open_in_memory_with(EngineOptions::default())
    }

    /// Open an engine that keeps nothing once closed, with `options` (`in_memory` is implied:
    /// the engine gets a fresh private directory, on tmpfs where the OS has one, removed once
    /// the engine is closed and its last handle dropped).
    ///
    /// ```
    /// use kabase::{Engine, EngineOptions};
    /// let engine = Engine::open_in_memory_with(EngineOptions { num_partitions: 3, ..EngineOptions::default() })?;
    /// assert!(engine.options().in_memory);
    /// assert_eq!(engine.options().num_partitions, 3);
    /// let other = Engine::open_in_memory_with(EngineOptions::default())?;
    /// assert!(!engine.same_as(&other)); // every in-memory engine is its own
    /// engine.close()?;
    /// other.close()?;
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn open_in_memory_with(options: EngineOptions) -> Result<Engine> {
        let dir = memory_dir()?;
        Self::open_with(dir, EngineOptions { in_memory: true, ..options })
    }

    /// The default data directory: `$KABASE_DATA_DIR` when it is set and not empty, else
    /// `./kabase-data` (relative to the working directory). Bindings open it when the user
    /// names no directory.
    ///
    /// ```
    /// std::env::set_var("KABASE_DATA_DIR", "/var/lib/app-data");
    /// assert_eq!(kabase::Engine::default_dir(), std::path::PathBuf::from("/var/lib/app-data"));
    /// std::env::remove_var("KABASE_DATA_DIR");
    /// assert_eq!(kabase::Engine::default_dir(), std::path::PathBuf::from("kabase-data"));
    /// ```
    pub fn default_dir() -> PathBuf {
        match std::env::var_os("KABASE_DATA_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from("kabase-data"),
        }
    }

    /// Open (or create) an engine in `dir` with `options`.
    pub fn open_with(dir: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let dir = dir.as_ref();
        if options.num_partitions == 0 {
            return Err(Error::new(ErrorCode::InvalidConfig, "num_partitions must be at least 1"));
        }
        if options.offsets_topic_num_partitions == 0 {
            return Err(Error::new(ErrorCode::InvalidConfig, "offsets_topic_num_partitions must be at least 1"));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format_args!("create data directory {}", dir.display()), e))?;
        let canon = dir.canonicalize().map_err(|e| Error::io(format_args!("resolve {}", dir.display()), e))?;

        let mut reg = registry().lock().map_err(|_| Error::internal("engine registry poisoned"))?;
        if let Some(existing) = reg.get(&canon).and_then(Weak::upgrade) {
            if !existing.closed.load(Ordering::Acquire) {
                return Ok(Engine { inner: existing });
            }
        }
        let lock = DirLock::acquire(&canon)?;
        check_dir_format(&canon)?;

        let tables_dir = canon.join("tables");
        let mut builder = fjall::Database::builder(&tables_dir).cache_size(options.cache_size_bytes);
        if let Some(n) = options.worker_threads {
            builder = builder.worker_threads(n);
        }
        // Table families with a TTL drop expired cells in the LSM's own compactions.
        let ttl = crate::table::TtlRegistry::default();
        builder = builder.with_compaction_filter_factories(ttl.assigner());
        let db = builder.open()?;
        let tables = crate::table::TablesState::open(&canon, &db, &options, ttl)?;
        let topics = crate::log::TopicsState::open(&canon, &options)?;
        let groups = crate::group::GroupsState::open(&canon, &options, &topics.shared)?;
        let streams = crate::stream::StreamsState::open(&db)?;

        let inner = Arc::new(EngineInner {
            dir: canon.clone(),
            temp_dir: if options.in_memory { Some(canon.clone()) } else { None },
            options,
            db,
            tables,
            topics,
            groups,
            streams,
            closed: AtomicBool::new(false),
            lock: Mutex::new(Some(lock)),
        });
        // Streams start once the engine exists (their threads hold weak handles to it).
        inner.streams.start(Arc::downgrade(&inner), &inner.tables)?;
        reg.insert(canon, Arc::downgrade(&inner));
        let engine = Engine { inner };
        // Transactional offsets go to the consumer-group offset store.
        crate::group::register_txn_offsets(&engine)?;
        Ok(engine)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the engine was opened with.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// Whether both handles refer to the same open engine.
    pub fn same_as(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether [`Engine::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Fail with [`ErrorCode::Closed`] once the engine is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::closed("engine"))
        } else {
            Ok(())
        }
    }

    /// Make everything written so far durable (fsync the LSM journal and every topic's active
    /// segment).
    pub fn sync(&self) -> Result<()> {
        self.check_open()?;
        self.inner.db.persist(fjall::PersistMode::SyncAll)?;
        self.inner.topics.sync()?;
        Ok(())
    }

    /// Stop background work, persist everything and release the directory. Every handle to this
    /// engine fails with [`ErrorCode::Closed`] afterwards. Closing twice is a no-op.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Stop background work in dependency order: streams use tables and topics; groups use
        // topics.
        let streams = self.inner.streams.close();
        let groups = self.inner.groups.close();
        let topics = self.inner.topics.close();
        let tables = self.inner.tables.close();
        let persisted = self.inner.db.persist(fjall::PersistMode::SyncAll);
        if let Ok(mut reg) = registry().lock() {
            if let Some(w) = reg.get(&self.inner.dir) {
                if std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.inner)) {
                    reg.remove(&self.inner.dir);
                }
            }
        }
        if let Ok(mut lock) = self.inner.lock.lock() {
            lock.take();
        }
        streams?;
        groups?;
        topics?;
        tables?;
        persisted?;
        Ok(())
    }
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        let _ = self.db.persist(fjall::PersistMode::SyncAll);
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn memory_dir() -> Result<PathBuf> {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    sweep_stale_memory_dirs(&base);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = base.join(format!("{MEMORY_DIR_PREFIX}{}-{}-{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed)));
    Ok(dir)
}

/// The name of an in-memory engine's directory: this, then the pid, a time and a counter.
const MEMORY_DIR_PREFIX: &str = "kabase-mem-";

/// How old a stale in-memory directory must be before [`sweep_stale_memory_dirs`] removes it.
const STALE_MEMORY_DIR_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Remove the directories in `base` that in-memory engines of processes that died without
/// closing them left behind (a killed test run, a crash). In `/dev/shm` they hold memory until
/// the machine restarts. A directory goes only when all of these hold, so that no live engine
/// loses its data: it is not this process's; its process is gone (`kill(pid, 0)` says so); it
/// is over a minute old (a live engine locks its directory right after making it); and its lock
/// file is not locked (which also covers a live engine whose pid is in another namespace).
/// Best effort: anything that fails is left for a later sweep.
fn sweep_stale_memory_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(MEMORY_DIR_PREFIX)).and_then(|rest| rest.split('-').next()?.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        let old = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_some_and(|age| age >= STALE_MEMORY_DIR_AGE);
        if !old {
            continue;
        }
        // Hold its lock while removing it, so that no engine can take it meanwhile.
        let lock = match File::open(path.join("kabase.lock")) {
            Ok(f) => match f.try_lock() {
                Ok(()) => Some(f),
                Err(_) => continue,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => continue,
        };
        let _ = std::fs::remove_dir_all(&path);
        drop(lock);
    }
}

/// Whether a process with this pid exists (in this pid namespace).
#[allow(unsafe_code)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn check_dir_format(dir: &Path) -> Result<()> {
    let meta = dir.join("kabase.meta");
    match std::fs::read_to_string(&meta) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::corrupt(format!("{} is not valid JSON: {e}", meta.display())))?;
            let format = v.get("format").and_then(|f| f.as_u64()).ok_or_else(|| {
                Error::corrupt(format!("{} has no \"format\" field", meta.display()))
            })?;
            if format != u64::from(DIR_FORMAT_VERSION) {
                return Err(Error::new(
                    ErrorCode::IncompatibleFormat,
                    format!("data directory {} has format {format}; this build reads format {DIR_FORMAT_VERSION}", dir.display()),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::util::write_atomic(&meta, format!("{{\"format\": {DIR_FORMAT_VERSION}}}\n").as_bytes())
        }
        Err(e) => Err(Error::io(format_args!("read {}", meta.display()), e)),
    }
}

/// An exclusive advisory lock on `<dir>/kabase.lock`, holding the owner's pid.
struct DirLock {
    _file: File,
}

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("kabase.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format_args!("open {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
                return Err(Error::new(
                    ErrorCode::EngineLocked,
                    format!("data directory {} is locked by {who}", dir.display()),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format_args!("lock {}", path.display()), e));
            }
        }
        file.set_len(0).map_err(|e| Error::io("truncate lock file", e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek lock file", e))?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(|e| Error::io("write lock file", e))?;
        file.sync_all().map_err(|e| Error::io("sync lock file", e))?;
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stale in-memory directories (a dead pid, over a minute old, unlocked) are swept; this
    /// process's, a fresh one, a locked one and other names stay.
    #[test]
    fn stale_memory_dirs_are_swept_and_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        let dead = 2_000_000_000u32; // over any pid_max
        assert!(!process_alive(dead));
        assert!(process_alive(std::process::id()));
        let make = |name: &str, age_secs: u64| -> PathBuf {
            let d = base.path().join(name);
            std::fs::create_dir_all(d.join("log")).unwrap();
            std::fs::write(d.join("log").join("data"), b"x").unwrap();
            std::fs::write(d.join("kabase.lock"), b"1\n").unwrap();
            let t = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
            File::open(&d).unwrap().set_modified(t).unwrap();
            d
        };
        let stale = make(&format!("{MEMORY_DIR_PREFIX}{dead}-1-0"), 3600);
        let fresh = make(&format!("{MEMORY_DIR_PREFIX}{dead}-2-0"), 0);
        let mine = make(&format!("{MEMORY_DIR_PREFIX}{}-3-0", std::process::id()), 3600);
        let locked = make(&format!("{MEMORY_DIR_PREFIX}{dead}-4-0"), 3600);
        let other = make("kabase-memory-notes", 3600);
        let held = File::open(locked.join("kabase.lock")).unwrap();
        held.try_lock().unwrap();
        File::open(&locked).unwrap().set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap();
        sweep_stale_memory_dirs(base.path());
        assert!(!stale.exists());
        for kept in [&fresh, &mine, &locked, &other] {
            assert!(kept.join("log").join("data").exists(), "{} was removed", kept.display());
        }
        drop(held);
        sweep_stale_memory_dirs(base.path());
        assert!(!locked.exists());
    }

    #[test]
    fn same_dir_same_engine() {
        let d = tempfile::tempdir().unwrap();
        let a = Engine::open(d.path()).unwrap();
        let b = Engine::open(d.path()).unwrap();
        assert!(a.same_as(&b));
        a.close().unwrap();
        assert!(b.is_closed());
        assert_eq!(b.sync().unwrap_err().code(), ErrorCode::Closed);
        // After close, and once the old handles are gone, the directory can be opened again.
        let old = Arc::downgrade(&a.inner);
        drop(a);
        drop(b);
        assert!(old.upgrade().is_none());
        let c = Engine::open(d.path()).unwrap();
                c.close().unwrap();
    }

    #[test]
    fn lock_file_names_pid() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open(d.path()).unwrap();
        let pid = std::fs::read_to_string(d.path().join("kabase.lock")).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        e.close().unwrap();
    }

    #[test]
    fn newer_format_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("kabase.meta"), "{\"format\": 99}").unwrap();
        let err = Engine::open(d.path()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::IncompatibleFormat);
    }

    #[test]
    fn in_memory_with_options() {
        let e = Engine::open_in_memory_with(EngineOptions { num_partitions: 4, in_memory: false, ..EngineOptions::default() }).unwrap();
        assert!(e.options().in_memory, "in_memory is implied");
        assert_eq!(e.options().num_partitions, 4);
        let dir = e.dir().to_path_buf();
        let f = Engine::open_in_memory_with(EngineOptions::default()).unwrap();
        assert!(!e.same_as(&f));
        assert_ne!(dir, f.dir());
        let bad = Engine::open_in_memory_with(EngineOptions { num_partitions: 0, ..EngineOptions::default() }).unwrap_err();
        assert_eq!(bad.code(), ErrorCode::InvalidConfig);
        e.close().unwrap();
        f.close().unwrap();
        drop(e);
        assert!(!dir.exists(), "an in-memory engine leaves nothing behind");
    }

    #[test]
    fn default_dir_reads_the_environment() {
        // The only test that touches KABASE_DATA_DIR (tests run on threads of one process).
        std::env::set_var("KABASE_DATA_DIR", "/tmp/kabase-default-dir-test");
        assert_eq!(Engine::default_dir(), PathBuf::from("/tmp/kabase-default-dir-test"));
        std::env::set_var("KABASE_DATA_DIR", "");
        assert_eq!(Engine::default_dir(), PathBuf::from("kabase-data"), "empty means unset");
        std::env::remove_var("KABASE_DATA_DIR");
        assert_eq!(Engine::default_dir(), PathBuf::from("kabase-data"));
    }

    #[test]
    fn reopen_after_close_once_handles_are_dropped() {
        // What the bindings rely on: close() then dropping every handle (tables included)
        // frees the directory, LSM lock and all, for an open in the same process.
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open(d.path()).unwrap();
        e.create_table(crate::TableDescriptor::new("t").family(crate::FamilyDescriptor::new("cf"))).unwrap();
        let t = e.table("t").unwrap();
        e.close().unwrap();
        drop(e);
        drop(t);
        let e = Engine::open(d.path()).unwrap();
        assert!(e.table_exists("t").unwrap());
        e.close().unwrap();
    }

    #[test]
    fn in_memory_leaves_nothing() {
        let e = Engine::open_in_memory().unwrap();
        let dir = e.dir().to_path_buf();
        assert!(dir.exists());
        e.close().unwrap();
        drop(e);
        assert!(!dir.exists());
    }
}
