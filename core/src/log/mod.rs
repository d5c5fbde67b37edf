//! Topics: Kafka's partition log in Kafka's own on-disk format.
//!
//! Layout under `<data dir>/log/` (the same files a Kafka broker keeps in a log dir):
//!
//! ```text
//! <topic>-<partition>/                 one partition (see [`partition`] and [`segment`])
//! recovery-point-offset-checkpoint     "0\n<n>\n<topic> <partition> <offset>\n..." (Kafka's)
//! log-start-offset-checkpoint          same format
//! .kafka_cleanshutdown                 {"version":0,"brokerEpoch":-1}, present only after a
//!                                      clean close; deleted once the logs are loaded
//! __kabase_topics.json                 {"version":1, "next_producer_id":N, "topics":[{"name",
//!                                      "topic_id", "partitions", "configs":{...}}]}
//! __kabase_txn_state.json              transaction coordinator state (see [`txn`])
//! ```
//!
//! The main entry points are methods on [`crate::Engine`]: [`crate::Engine::create_topic`],
//! [`crate::Engine::producer`], [`crate::Engine::consumer`], [`crate::Engine::describe_topic`].
//!
//! ```
//! use kabase::log::{ConsumerConfig, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};
//! use std::time::Duration;
//!
//! let engine = kabase::Engine::open_in_memory().unwrap();
//! engine.create_topic(NewTopic::new("events", 3).config("retention.ms", "3600000")).unwrap();
//! let producer = engine.producer(ProducerConfig::default()).unwrap();
//! let meta = producer.send(ProducerRecord::new("events", "hello").key("k1")).unwrap().get().unwrap();
//! let mut consumer = engine.consumer(ConsumerConfig::default()).unwrap();
//! consumer.assign(&[TopicPartition::new("events", meta.partition)]).unwrap();
//! consumer.seek_to_beginning(&[TopicPartition::new("events", meta.partition)]).unwrap();
//! let records = consumer.poll(Duration::from_secs(1)).unwrap();
//! assert_eq!(records[0].value.as_deref(), Some(&b"hello"[..]));
//! engine.close().unwrap();
//! ```

pub mod admin;
pub mod batch;
pub mod cleaner;
pub mod compression;
pub mod config;
pub mod consumer;
mod clock;
pub(crate) mod crc;
pub mod index;
pub mod partition;
pub mod partitioner;
pub mod producer;
pub mod producer_state;
pub mod segment;
pub mod subscription;
pub mod txn;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub use admin::{ConfigEntry, NewTopic, PartitionDescription, TopicDescription};
pub use cleaner::CleanStats;
pub use batch::{Compression, Header, Record, TimestampType};
pub use config::TopicConfig;
pub use consumer::{CommittedOffsets, Consumer, ConsumerConfig, ConsumerRecord, OffsetAndTimestamp, OffsetReset, RecordView};
pub use partition::{IsolationLevel, SegmentInfo};
pub use subscription::ConsumerRebalanceListener;
pub use producer::{Acks, Producer, ProducerConfig, ProducerRecord, ProducerRecordRef, RecordMetadata, SendFuture};
pub use txn::{TxnOffset, TxnOffsetCommitter};

use crate::error::{Error, ErrorCode, Result};
use partition::{DataSignal, PartitionLog};

/// A topic and a partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: u32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Kafka's internal topic of committed offsets (see [`crate::group`]).
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Whether `name` is an internal topic (hidden from [`crate::Engine::list_topics`], closed to
/// user writes, creation and deletion).
pub fn is_internal_topic(name: &str) -> bool {
    name == CONSUMER_OFFSETS_TOPIC
}

/// The error for a user operation on an internal topic.
pub(crate) fn internal_topic_error(name: &str, what: &str) -> Error {
    Error::invalid(format!("topic {name:?} is internal to the engine; users cannot {what} it"))
}

/// Check a topic name by Kafka's rules (`Topic.validate`): 1-249 characters from
/// `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<()> {
    let err = |why: &str| Err(Error::new(ErrorCode::InvalidName, format!("topic name {name:?} is illegal: {why}")));
    if name.is_empty() {
        return err("it is empty");
    }
    if name == "." || name == ".." {
        return err("it cannot be \".\" or \"..\"");
    }
    if name.len() > 249 {
        return err("it is longer than 249 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return err("it contains a character other than ASCII alphanumerics, '.', '_' and '-'");
    }
    Ok(())
}

/// One topic: partitions and configuration.
pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) partitions: RwLock<Vec<Arc<PartitionLog>>>,
    pub(crate) overrides: RwLock<BTreeMap<String, String>>,
    pub(crate) config: RwLock<Arc<TopicConfig>>,
    pub(crate) deleted: AtomicBool,
    /// The partition count (high 32 bits) and `max.message.bytes` (low 32 bits) as of the last
    /// change of either, stored after the change itself: what a producer checks every record
    /// against, read with one load instead of the two locks (`Topic::send_limits`).
    limits: AtomicU64,
}

impl Topic {
    fn new(name: String, id: String, parts: Vec<Arc<PartitionLog>>, overrides: BTreeMap<String, String>, config: Arc<TopicConfig>) -> Topic {
        let limits = AtomicU64::new(pack_limits(parts.len(), config.max_message_bytes));
        Topic { name, id, partitions: RwLock::new(parts), overrides: RwLock::new(overrides), config: RwLock::new(config), deleted: AtomicBool::new(false), limits }
    }
    /// `(max.message.bytes, partition count)` without taking a lock.
    #[inline]
    pub(crate) fn send_limits(&self) -> (usize, u32) {
        let l = self.limits.load(Ordering::Acquire);
        ((l & 0xFFFF_FFFF) as usize, (l >> 32) as u32)
    }
    /// Store the limits after a change of the partitions or the config.
    fn publish_limits(&self, partitions: usize, config: &TopicConfig) {
        self.limits.store(pack_limits(partitions, config.max_message_bytes), Ordering::Release);
    }
    pub(crate) fn partition(&self, p: u32) -> Result<Arc<PartitionLog>> {
        if self.deleted.load(Ordering::Acquire) {
            return Err(Error::new(ErrorCode::TopicNotFound, format!("topic {} was deleted", self.name)));
        }
        self.partitions.read().get(p as usize).cloned().ok_or_else(|| {
            Error::new(ErrorCode::UnknownPartition, format!("topic {} has no partition {p} (it has {})", self.name, self.partitions.read().len()))
        })
    }
    pub(crate) fn num_partitions(&self) -> u32 {
        self.partitions.read().len() as u32
    }
}

/// [`Topic::limits`]: `max.message.bytes` is at most `i32::MAX` (`TopicConfig`), a partition
/// count at most `u32::MAX`.
fn pack_limits(partitions: usize, max_message_bytes: usize) -> u64 {
    ((partitions as u64) << 32) | (max_message_bytes.min(u32::MAX as usize) as u64)
}

/// The engine's topics state; one per open engine.
pub(crate) struct TopicsState {
    pub(crate) shared: Arc<TopicsShared>,
    bg: Mutex<Option<(crossbeam_channel::Sender<()>, std::thread::JoinHandle<()>)>>,
}

/// Everything the topic side shares between the engine, producers, consumers and threads.
pub(crate) struct TopicsShared {
    pub(crate) log_dir: PathBuf,
    pub(crate) num_partitions: u32,
    pub(crate) topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    admin_lock: Mutex<()>,
    meta_write: Mutex<()>,
    next_producer_id: Mutex<i64>,
    pub(crate) signal: Arc<DataSignal>,
    pub(crate) txn: txn::TxnCoordinator,
    pub(crate) closed: AtomicBool,
    pub(crate) retention_interval_ms: AtomicU64,
    last_checkpoint: Mutex<String>,
    /// Producers of this engine with batches open, queued or being written (see
    /// `producer::Accum::busy`).
    pub(crate) busy_producers: AtomicUsize,
    /// From this many busy producers on, a producer with `acks` 0 or 1 has the thread whose
    /// `send` fills a batch write it (no hand-off to its sender thread): the CPUs the engine may
    /// use (`available_parallelism`), since a sender thread only overlaps with its caller on a
    /// core of its own.
    pub(crate) inline_write_from: AtomicUsize,
    /// The longest a full batch of a producer with `acks` 0 or 1 waits in its queue for more
    /// batches to be written with it (`producer::FULL_BATCH_WAIT`, capped per producer at its
    /// `linger.ms`), in microseconds; read when a producer is created (tests change it).
    pub(crate) full_batch_wait_us: AtomicU64,
}

const TOPICS_FILE: &str = "__kabase_topics.json";
const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
const RECOVERY_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
const LOG_START_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// Kafka's `log.retention.check.interval.ms` default.
pub const DEFAULT_RETENTION_CHECK_INTERVAL_MS: u64 = 300_000;

fn read_offset_checkpoint(path: &Path) -> Result<BTreeMap<(String, u32), i64>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io(format_args!("read {}", path.display()), e)),
    };
    let bad = |why: &str| Error::corrupt(format!("{}: {why}", path.display()));
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err(bad("version is not 0"));
    }
    let n: usize = lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| bad("bad entry count"))?;
    let mut out = BTreeMap::new();
    for _ in 0..n {
        let line = lines.next().ok_or_else(|| bad("fewer entries than the count"))?;
        let mut parts = line.split(' ');
        let (Some(t), Some(p), Some(o), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad(&format!("malformed line {line:?}")));
        };
        let p: u32 = p.parse().map_err(|_| bad("bad partition"))?;
        let o: i64 = o.parse().map_err(|_| bad("bad offset"))?;
        out.insert((t.to_string(), p), o);
    }
    Ok(out)
}

fn offset_checkpoint_text(entries: &[(String, u32, i64)]) -> String {
    let mut s = format!("0\n{}\n", entries.len());
    for (t, p, o) in entries {
        s.push_str(&format!("{t} {p} {o}\n"));
    }
    s
}

/// A random 16-byte id printed as Kafka prints a `Uuid` (URL-safe base64, no padding).
pub(crate) fn new_topic_id() -> String {
    let bytes: [u8; 16] = rand::random();
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(A[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

impl TopicsState {
    /// Open or recover the topics of a data directory.
    pub(crate) fn open(dir: &Path, options: &crate::EngineOptions) -> Result<Self> {
        let log_dir = dir.join("log");
        std::fs::create_dir_all(&log_dir).map_err(|e| Error::io(format_args!("create {}", log_dir.display()), e))?;
        let clean = log_dir.join(CLEAN_SHUTDOWN_FILE).exists();
        let recovery = read_offset_checkpoint(&log_dir.join(RECOVERY_CHECKPOINT))?;
        let starts = read_offset_checkpoint(&log_dir.join(LOG_START_CHECKPOINT))?;
        let signal = Arc::new(DataSignal::default());
        let meta_path = log_dir.join(TOPICS_FILE);
        let mut topics = BTreeMap::new();
        let mut next_pid = 1000i64;
        match std::fs::read_to_string(&meta_path) {
            Ok(text) => {
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::corrupt(format!("{}: {e}", meta_path.display())))?;
                if v.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
                    return Err(Error::new(ErrorCode::IncompatibleFormat, format!("{} has an unknown version", meta_path.display())));
                }
                next_pid = v.get("next_producer_id").and_then(serde_json::Value::as_i64).unwrap_or(1000);
                for t in v.get("topics").and_then(serde_json::Value::as_array).cloned().unwrap_or_default() {
                    let name = t.get("name").and_then(serde_json::Value::as_str).ok_or_else(|| Error::corrupt("topic entry without a name"))?.to_string();
                    let id = t.get("topic_id").and_then(serde_json::Value::as_str).unwrap_or("").to_string();
                    let n = t.get("partitions").and_then(serde_json::Value::as_u64).ok_or_else(|| Error::corrupt("topic entry without partitions"))? as u32;
                    let mut overrides = BTreeMap::new();
                    if let Some(c) = t.get("configs").and_then(serde_json::Value::as_object) {
                        for (k, v) in c {
                            overrides.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                        }
                    }
                    let config = Arc::new(TopicConfig::from_overrides(&overrides)?);
                    let mut parts = Vec::new();
                    for p in 0..n {
                        let key = (name.clone(), p);
                        parts.push(Arc::new(PartitionLog::open(
                            log_dir.join(partition::dir_name(&name, p)),
                            &name,
                            p,
                            &id,
                            Arc::clone(&config),
                            clean,
                            recovery.get(&key).copied().unwrap_or(0),
                            starts.get(&key).copied().unwrap_or(0),
                            Arc::clone(&signal),
                        )?));
                    }
                    topics.insert(
                        name.clone(),
                        Arc::new(Topic::new(name, id, parts, overrides, config)),
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format_args!("read {}", meta_path.display()), e)),
        }
        // Leftovers of interrupted topic deletions.
        for e in std::fs::read_dir(&log_dir).map_err(|e| Error::io("list log dir", e))?.flatten() {
            if e.file_name().to_string_lossy().ends_with("-delete") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        if clean {
            std::fs::remove_file(log_dir.join(CLEAN_SHUTDOWN_FILE)).map_err(|e| Error::io("remove clean shutdown marker", e))?;
            crate::util::sync_dir(&log_dir)?;
        }
        let shared = Arc::new(TopicsShared {
            txn: txn::TxnCoordinator::load(&log_dir)?,
            log_dir,
            num_partitions: options.num_partitions,
            topics: RwLock::new(topics),
            admin_lock: Mutex::new(()),
            meta_write: Mutex::new(()),
            next_producer_id: Mutex::new(next_pid),
            signal,
            closed: AtomicBool::new(false),
            retention_interval_ms: AtomicU64::new(DEFAULT_RETENTION_CHECK_INTERVAL_MS),
            last_checkpoint: Mutex::new(String::new()),
            busy_producers: AtomicUsize::new(0),
            inline_write_from: AtomicUsize::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
            full_batch_wait_us: AtomicU64::new(producer::FULL_BATCH_WAIT.as_micros() as u64),
        });
        shared.txn.complete_in_flight(&shared)?;
        shared.write_checkpoints()?;
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let weak = Arc::downgrade(&shared);
        let handle = std::thread::Builder::new()
            .name("kabase-log-bg".into())
            .spawn(move || background(weak, rx))
            .map_err(|e| Error::io("spawn log background thread", e))?;
        Ok(TopicsState { shared, bg: Mutex::new(Some((tx, handle))) })
    }

    /// fsync every partition (log and indexes) and write the checkpoints.
    pub(crate) fn sync(&self) -> Result<()> {
        self.shared.check_open()?;
        for p in self.shared.all_partitions() {
            p.flush_all()?;
        }
        self.shared.write_checkpoints()
    }

    /// Stop background work and persist.
    pub(crate) fn close(&self) -> Result<()> {
        if let Some((tx, h)) = self.bg.lock().take() {
            drop(tx);
            let _ = h.join();
        }
        let s = &self.shared;
        if s.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut first_err = None;
        for t in s.topics.read().values() {
            for p in t.partitions.read().iter() {
                if let Err(e) = p.close() {
                    first_err.get_or_insert(e);
                }
            }
        }
        s.signal.notify();
        if let Some(e) = first_err {
            return Err(e);
        }
        s.write_checkpoints()?;
        s.write_meta()?;
        crate::util::write_atomic(&s.log_dir.join(CLEAN_SHUTDOWN_FILE), b"{\"version\":0,\"brokerEpoch\":-1}")
    }
}

/// The engine's background thread for topics: the flush a roll leaves behind, `flush.ms`,
/// checkpoints, retention.
fn background(shared: std::sync::Weak<TopicsShared>, stop: crossbeam_channel::Receiver<()>) {
    let mut last_retention = std::time::Instant::now();
    loop {
        match stop.recv_timeout(std::time::Duration::from_millis(100)) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(s) = shared.upgrade() else { return };
        if s.closed.load(Ordering::Acquire) {
            return;
        }
        let now = crate::util::now_ms();
        for p in s.all_partitions() {
            let _ = p.flush_rolled();
            let _ = p.maybe_flush_by_time(now);
        }
        let _ = s.write_checkpoints();
        let interval = s.retention_interval_ms.load(Ordering::Relaxed);
        if last_retention.elapsed().as_millis() as u64 >= interval {
            last_retention = std::time::Instant::now();
            let _ = s.run_retention();
            let now = crate::util::now_ms();
            for p in s.all_partitions() {
                let _ = p.compact(now);
            }
        }
        let _ = s.txn.abort_timed_out(&s);
    }
}

impl TopicsShared {
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::closed("engine"))
        } else {
            Ok(())
        }
    }

    pub(crate) fn all_partitions(&self) -> Vec<Arc<PartitionLog>> {
        self.topics.read().values().flat_map(|t| t.partitions.read().clone()).collect()
    }

    pub(crate) fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.topics.read().get(name).cloned().ok_or_else(|| Error::new(ErrorCode::TopicNotFound, format!("topic {name:?} does not exist")))
    }

    pub(crate) fn partition(&self, tp: &TopicPartition) -> Result<Arc<PartitionLog>> {
        self.topic(&tp.topic)?.partition(tp.partition)
    }

    /// The topic, created with the engine's `num_partitions` when missing (Kafka's
    /// `auto.create.topics.enable`).
    pub(crate) fn topic_or_create(&self, name: &str) -> Result<Arc<Topic>> {
        if is_internal_topic(name) {
            return Err(internal_topic_error(name, "produce to"));
        }
        if let Some(t) = self.topics.read().get(name) {
            return Ok(Arc::clone(t));
        }
        match self.create_topic(&NewTopic::new(name, self.num_partitions)) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::TopicExists => {}
            Err(e) => return Err(e),
        }
        self.topic(name)
    }

    pub(crate) fn allocate_producer_id(&self) -> Result<i64> {
        let mut n = self.next_producer_id.lock();
        let id = *n;
        *n += 1;
        drop(n);
        self.write_meta()?;
        Ok(id)
    }

    pub(crate) fn create_topic(&self, t: &NewTopic) -> Result<()> {
        self.check_open()?;
        validate_topic_name(&t.name)?;
        if t.partitions == 0 {
            return Err(Error::invalid(format!("topic {} needs at least one partition", t.name)));
        }
        let config = Arc::new(TopicConfig::from_overrides(&t.configs)?);
        let _g = self.admin_lock.lock();
        {
            let topics = self.topics.read();
            if topics.contains_key(&t.name) {
                return Err(Error::new(ErrorCode::TopicExists, format!("topic {:?} already exists", t.name)));
            }
            let norm = t.name.replace('.', "_");
            if let Some(other) = topics.keys().find(|k| k.replace('.', "_") == norm) {
                return Err(Error::invalid(format!("topic {:?} collides with existing topic {other:?} ('.' and '_' collide in metric names)", t.name)));
            }
        }
        let id = new_topic_id();
        let parts = self.open_new_partitions(&t.name, &id, 0..t.partitions, &config)?;
        let topic = Arc::new(Topic::new(t.name.clone(), id, parts, t.configs.clone(), config));
        self.topics.write().insert(t.name.clone(), topic);
        crate::util::sync_dir(&self.log_dir)?;
        self.write_meta()
    }

    pub(crate) fn delete_topic(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let _g = self.admin_lock.lock();
        let t = self.topics.write().remove(name).ok_or_else(|| Error::new(ErrorCode::TopicNotFound, format!("topic {name:?} does not exist")))?;
        t.deleted.store(true, Ordering::Release);
        self.write_meta()?;
        for p in t.partitions.read().iter() {
            // Rename first (as Kafka does) so a crash leaves a "-delete" dir that open removes.
            let tomb = self.log_dir.join(format!("{}.{}-delete", partition::dir_name(name, p.partition), new_topic_id()));
            let _ = std::fs::rename(&p.dir, &tomb);
            p.delete()?;
            let _ = std::fs::remove_dir_all(&tomb);
        }
        crate::util::sync_dir(&self.log_dir)?;
        self.write_checkpoints()
    }

    pub(crate) fn create_partitions(&self, name: &str, total: u32) -> Result<()> {
        self.check_open()?;
        let _g = self.admin_lock.lock();
        let t = self.topic(name)?;
        let have = t.num_partitions();
        if total <= have {
            return Err(Error::invalid(format!("topic {name} has {have} partitions; the new count {total} must be larger")));
        }
        let config = Arc::clone(&t.config.read());
        let new = self.open_new_partitions(name, &t.id, have..total, &config)?;
        let mut parts = t.partitions.write();
        parts.extend(new);
        t.publish_limits(parts.len(), &config);
        drop(parts);
        self.write_meta()
    }

    /// Open partitions `range` of topic `name` as new, empty partitions: all of them, or, at the
    /// first that fails (a full disk, too many open files for thousands of partitions), none:
    /// those already opened are closed and every directory this call made is removed, so a
    /// failed create leaves neither files nor open descriptors behind.
    fn open_new_partitions(&self, name: &str, id: &str, range: std::ops::Range<u32>, config: &Arc<TopicConfig>) -> Result<Vec<Arc<PartitionLog>>> {
        // No capacity up front: the count is the caller's and may be absurd.
        let mut parts: Vec<Arc<PartitionLog>> = Vec::new();
        for p in range {
            let dir = self.log_dir.join(partition::dir_name(name, p));
            let opened = if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format_args!("remove stale {}", dir.display()), e))
            } else {
                Ok(())
            }
            .and_then(|()| PartitionLog::open(dir.clone(), name, p, id, Arc::clone(config), true, 0, 0, Arc::clone(&self.signal)));
            match opened {
                Ok(log) => parts.push(Arc::new(log)),
                Err(e) => {
                    for log in parts.drain(..) {
                        let _ = log.delete();
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(e);
                }
            }
        }
        Ok(parts)
    }

    pub(crate) fn alter_configs(&self, name: &str, changes: &[(String, Option<String>)]) -> Result<()> {
        self.check_open()?;
        let _g = self.admin_lock.lock();
        let t = self.topic(name)?;
        let mut o = t.overrides.read().clone();
        for (k, v) in changes {
            match v {
                Some(v) => {
                    config::validate_entry(k, v)?;
                    o.insert(k.clone(), v.clone());
                }
                None => {
                    config::validate_entry(k, config::TOPIC_CONFIG_DEFAULTS.iter().find(|(d, _)| d == k).map_or("1", |(_, v)| v))?;
                    o.remove(k);
                }
            }
        }
        let c = Arc::new(TopicConfig::from_overrides(&o)?);
        *t.overrides.write() = o;
        *t.config.write() = Arc::clone(&c);
        let parts = t.partitions.read();
        t.publish_limits(parts.len(), &c);
        for p in parts.iter() {
            p.set_config(Arc::clone(&c));
        }
        drop(parts);
        self.write_meta()
    }

    pub(crate) fn run_retention(&self) -> Result<usize> {
        let now = crate::util::now_ms();
        let mut n = 0;
        for p in self.all_partitions() {
            n += p.apply_retention(now)?;
        }
        Ok(n)
    }

    fn write_meta(&self) -> Result<()> {
        let _g = self.meta_write.lock();
        let topics = self.topics.read();
        let list: Vec<serde_json::Value> = topics
            .values()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "topic_id": t.id,
                    "partitions": t.num_partitions(),
                    "configs": t.overrides.read().clone(),
                })
            })
            .collect();
        let v = serde_json::json!({"version": 1, "next_producer_id": *self.next_producer_id.lock(), "topics": list});
        drop(topics);
        let text = serde_json::to_string_pretty(&v).map_err(|e| Error::internal(format!("encode topics: {e}")))?;
        crate::util::write_atomic(&self.log_dir.join(TOPICS_FILE), text.as_bytes())
    }

    /// Write the recovery-point and log-start checkpoints when they changed.
    pub(crate) fn write_checkpoints(&self) -> Result<()> {
        let mut rp = Vec::new();
        let mut ls = Vec::new();
        for p in self.all_partitions() {
            rp.push((p.topic.clone(), p.partition, p.recovery_point()));
            ls.push((p.topic.clone(), p.partition, p.log_start_offset()));
        }
        let rp_text = offset_checkpoint_text(&rp);
        let ls_text = offset_checkpoint_text(&ls);
        let both = format!("{rp_text}|{ls_text}");
        let mut last = self.last_checkpoint.lock();
        if *last == both {
            return Ok(());
        }
        crate::util::write_atomic(&self.log_dir.join(RECOVERY_CHECKPOINT), rp_text.as_bytes())?;
        crate::util::write_atomic(&self.log_dir.join(LOG_START_CHECKPOINT), ls_text.as_bytes())?;
        *last = both;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
