//! The producer: per-partition batching (`batch.size`, `linger.ms`), the default partitioner,
//! idempotence, transactions, and `acks` 0 / 1 / all.
//!
//! `send` only adds the record to the open batch of its partition and returns a
//! [`SendFuture`]; one sender thread per producer seals batches that are full or older than
//! `linger.ms`, encodes them (RecordBatch v2, `compression.type`), appends them to the partition
//! logs in order, waits for the fsync under `acks=all` (shared with other producers through the
//! log's group commit), and completes the futures. Sequence numbers are assigned by the sender
//! at encode time, so a batch that fails leaves no gap.
//!
//! Whoever writes batches holds the writer lock of their partitions (`Inner::writers`: one of
//! `WRITER_SHARDS`, picked by `shard_of` the partition, each with the sequence numbers of
//! its partitions), takes the oldest sealed batches under that lock and writes them, so batches
//! of a partition reach the log in the order they were sealed whichever thread writes them,
//! and partitions under different locks are written at the same time. Normally the sender
//! thread writes, overlapping writing with the callers' encoding on another core. When the
//! engine has at least as many busy cores as CPUs (`TopicsShared::inline_write_from`) and
//! `acks` is 0 or 1, the thread whose `send` seals a full batch writes its partition's queued
//! batches itself, after waiting for the writer lock if another thread (the sender, or another
//! caller) is writing under it: with every core already running a caller, a hand-off to a
//! sender thread only adds a thread switch and lets the callers run ahead into fresh batch
//! buffers, while the caller writing its own batch reuses one cache-warm buffer. Busy cores
//! are the engine's busy producers plus, for this producer, the threads that filled batches
//! under different writer locks in the last `CALLER_WINDOW` beyond the first (four threads
//! sharing a producer, each on its own partition, are four busy cores, as four producers
//! are). Batches sealed by `linger.ms`, `flush` and `close` still go through the sender thread,
//! which writes every queued batch, one writer lock after another. `flush` waits until every
//! batch sealed before it is written (rounds under different locks end in any order:
//! `Accum::written_floor`).
//!
//! Fewer, larger writes (`acks` 0 or 1): a batch sealed because it is full waits in the queue
//! until `WRITE_BATCHES` batches or `WRITE_BYTES` bytes are queued (of its writer lock,
//! when its `send` writes inline), and at most `FULL_BATCH_WAIT` (never longer than
//! `linger.ms`) after it was sealed; then whoever writes takes the queued batches into one
//! vectored write per partition. A write that starts at a
//! position not a multiple of 64 KiB costs the kernel's page cache 1.5-1.8 times a 64 KiB-aligned
//! one when it carries one ~64 KB batch, and about the same when it carries four to eight
//! (docs/benchmarks.md, Topics). The filling `send` writes inline only once that many are
//! queued; the sender thread sleeps until then or until the oldest queued batch's bound (it is
//! woken by `send` only when that count is reached, or when it sleeps past the bound). As in
//! Kafka, whose sender drains every ready batch of a broker into one request on its next pass, a
//! full batch may so wait briefly for the next write; a batch sealed by `linger.ms`, `flush`,
//! `close` or a `send` waiting for `buffer.memory` is written at once with everything queued.
//! Under `acks=all` the sender writes as soon as anything is queued (its round is the group
//! commit).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::batch::{self, BatchBuilder, BatchSpec, Compression, Header};
use super::partitioner;
use super::txn::TxnOffset;
use super::{Topic, TopicPartition, TopicsShared};
use crate::error::{Error, ErrorCode, Result};

/// `acks`: how durable a record is when its future completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: the future completes once the record is in the log's buffers.
    None,
    /// `acks=1`: written to the operating system (survives a process crash).
    Leader,
    /// `acks=all` (`-1`): fsynced (survives a power loss).
    #[default]
    All,
}

/// Producer settings, by Kafka's names through [`ProducerConfig::set`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerConfig {
    /// `acks` (default all).
    pub acks: Acks,
    /// `batch.size` in bytes (default 16384).
    pub batch_size: usize,
    /// `linger.ms` (default 5, as Kafka 4.0).
    pub linger_ms: u64,
    /// `compression.type` (default none).
    pub compression: Compression,
    /// `max.request.size` (default 1048576): largest record accepted by `send`.
    pub max_request_size: usize,
    /// `enable.idempotence` (default true unless `acks` is not all).
    pub enable_idempotence: bool,
    /// `transactional.id`.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms` (default 60000).
    pub transaction_timeout_ms: i64,
    /// `partitioner.ignore.keys` (default false).
    pub partitioner_ignore_keys: bool,
    /// `buffer.memory` (default 32 MiB): the most bytes of batch buffers (open, queued and
    /// being written, plus free pooled ones) the producer holds; `send` blocks for a new batch
    /// buffer while they are all in use.
    pub buffer_memory: usize,
    /// `max.block.ms` (default 60000): how long `send` waits for `buffer.memory` before it fails
    /// with [`ErrorCode::Timeout`].
    pub max_block_ms: u64,
    /// `client.id`.
    pub client_id: String,
    idempotence_set: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            batch_size: 16384,
            linger_ms: 5,
            compression: Compression::None,
            max_request_size: 1_048_576,
            enable_idempotence: true,
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            partitioner_ignore_keys: false,
            buffer_memory: 32 << 20,
            max_block_ms: 60_000,
            client_id: String::new(),
            idempotence_set: false,
        }
    }
}

fn cfg_err(key: &str, value: &str, rule: &str) -> Error {
    Error::new(ErrorCode::InvalidConfig, format!("invalid value {value:?} for producer config {key}: {rule}"))
}

impl ProducerConfig {
    /// Set one config by Kafka's name (`acks`, `batch.size`, `linger.ms`, `compression.type`,
    /// `max.request.size`, `enable.idempotence`, `transactional.id`, `transaction.timeout.ms`,
    /// `partitioner.ignore.keys`, `buffer.memory`, `max.block.ms`, `client.id`).
    pub fn set(mut self, key: &str, value: &str) -> Result<ProducerConfig> {
        let num = |min: u64| -> Result<u64> {
            let v: u64 = value.trim().parse().map_err(|_| cfg_err(key, value, "expected a non-negative integer"))?;
            if v < min {
                return Err(cfg_err(key, value, &format!("must be at least {min}")));
            }
            Ok(v)
        };
        let boolean = || -> Result<bool> {
            match value {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(cfg_err(key, value, "expected true or false")),
            }
        };
        match key {
            "acks" => {
                self.acks = match value {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return Err(cfg_err(key, value, "expected 0, 1, all or -1")),
                }
            }
            "batch.size" => self.batch_size = num(0)? as usize,
            "linger.ms" => self.linger_ms = num(0)?,
            "compression.type" => self.compression = Compression::parse(value).map_err(|_| cfg_err(key, value, "expected none, gzip, snappy, lz4 or zstd"))?,
            "max.request.size" => self.max_request_size = num(1)? as usize,
            "enable.idempotence" => {
                self.enable_idempotence = boolean()?;
                self.idempotence_set = true;
            }
            "transactional.id" => self.transactional_id = Some(value.to_string()),
            "transaction.timeout.ms" => self.transaction_timeout_ms = num(1)? as i64,
            "partitioner.ignore.keys" => self.partitioner_ignore_keys = boolean()?,
            "buffer.memory" => self.buffer_memory = num(1)? as usize,
            "max.block.ms" => self.max_block_ms = num(0)?,
            "client.id" => self.client_id = value.to_string(),
            _ => return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown producer config {key:?}"))),
        }
        Ok(self)
    }

    /// Apply the rules between settings, as Kafka's `ProducerConfig` does.
    fn resolve(mut self) -> Result<ProducerConfig> {
        if self.acks != Acks::All && self.enable_idempotence {
            if self.idempotence_set {
                return Err(Error::new(ErrorCode::InvalidConfig, "enable.idempotence=true requires acks=all"));
            }
            self.enable_idempotence = false;
        }
        if self.transactional_id.is_some() {
            if !self.enable_idempotence {
                return Err(Error::new(ErrorCode::InvalidConfig, "transactional.id requires enable.idempotence=true and acks=all"));
            }
            if self.transactional_id.as_deref() == Some("") {
                return Err(Error::new(ErrorCode::InvalidConfig, "transactional.id must not be empty"));
            }
        }
        Ok(self)
    }
}

/// A record to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Topic (created on first use with the engine's `num_partitions` if missing).
    pub topic: String,
    /// Explicit partition; `None` lets the partitioner choose.
    pub partition: Option<u32>,
    /// Key; `None` is null.
    pub key: Option<Vec<u8>>,
    /// Value; `None` is null (a tombstone).
    pub value: Option<Vec<u8>>,
    /// CreateTime timestamp; `None` = now.
    pub timestamp: Option<i64>,
    /// Headers.
    pub headers: Vec<Header>,
}

impl ProducerRecord {
    /// A record with a value and no key.
    pub fn new(topic: impl Into<String>, value: impl Into<Vec<u8>>) -> ProducerRecord {
        ProducerRecord { topic: topic.into(), partition: None, key: None, value: Some(value.into()), timestamp: None, headers: Vec::new() }
    }
    /// A tombstone (null value) for `key`.
    pub fn tombstone(topic: impl Into<String>, key: impl Into<Vec<u8>>) -> ProducerRecord {
        ProducerRecord { topic: topic.into(), partition: None, key: Some(key.into()), value: None, timestamp: None, headers: Vec::new() }
    }
    /// Set the key.
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Choose the partition.
    pub fn partition(mut self, p: u32) -> Self {
        self.partition = Some(p);
        self
    }
    /// Set the timestamp.
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }
    /// Add a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }
}

impl ProducerRecord {
    /// Borrow the record (for [`Producer::send_ref`]).
    pub fn as_record_ref(&self) -> ProducerRecordRef<'_> {
        ProducerRecordRef {
            topic: &self.topic,
            partition: self.partition,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            timestamp: self.timestamp,
            headers: &self.headers,
        }
    }
}

/// A record to send, borrowed from the caller (see [`Producer::send_ref`]); the same fields as
/// [`ProducerRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerRecordRef<'a> {
    /// Topic (created on first use with the engine's `num_partitions` if missing).
    pub topic: &'a str,
    /// Explicit partition; `None` lets the partitioner choose.
    pub partition: Option<u32>,
    /// Key; `None` is null.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is null (a tombstone).
    pub value: Option<&'a [u8]>,
    /// CreateTime timestamp; `None` = now.
    pub timestamp: Option<i64>,
    /// Headers.
    pub headers: &'a [Header],
}

impl<'a> ProducerRecordRef<'a> {
    /// A record with a value and no key.
    pub fn new(topic: &'a str, value: &'a [u8]) -> ProducerRecordRef<'a> {
        ProducerRecordRef { topic, partition: None, key: None, value: Some(value), timestamp: None, headers: &[] }
    }
    /// Set the key.
    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }
    /// Choose the partition.
    pub fn partition(mut self, p: u32) -> Self {
        self.partition = Some(p);
        self
    }
    /// Set the timestamp.
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }
    /// Set the headers.
    pub fn headers(mut self, headers: &'a [Header]) -> Self {
        self.headers = headers;
        self
    }
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// The record's timestamp (the append time under LogAppendTime).
    pub timestamp: i64,
    /// Key bytes (-1 when null).
    pub serialized_key_size: i32,
    /// Value bytes (-1 when null).
    pub serialized_value_size: i32,
}

/// `(base offset, log append time)` or `(code, message)` of a finished batch.
type BatchResult = std::result::Result<(i64, i64), (ErrorCode, String)>;

/// Completion of one batch, shared by the futures of its records (which so take one reference
/// each, and no reference to the topic's name).
struct BatchDone {
    result: Mutex<Option<BatchResult>>,
    cond: Condvar,
    /// Set once `result` is in: [`SendFuture::is_done`] reads it without the lock.
    finished: AtomicBool,
    topic: Arc<str>,
    partition: u32,
}

impl BatchDone {
    fn new(topic: Arc<str>, partition: u32) -> Arc<BatchDone> {
        Arc::new(BatchDone { result: Mutex::new(None), cond: Condvar::new(), finished: AtomicBool::new(false), topic, partition })
    }
    fn complete(&self, r: BatchResult) {
        *self.result.lock() = Some(r);
        self.finished.store(true, Ordering::Release);
        self.cond.notify_all();
    }
}

/// The pending result of [`Producer::send`].
pub struct SendFuture {
    done: Arc<BatchDone>,
    index: u32,
    timestamp: i64,
    key_size: i32,
    value_size: i32,
}

impl std::fmt::Debug for SendFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture").field("topic", &self.done.topic).field("partition", &self.done.partition).finish()
    }
}

impl SendFuture {
    /// Wait for the result.
    pub fn get(&self) -> Result<RecordMetadata> {
        let mut g = self.done.result.lock();
        while g.is_none() {
            self.done.cond.wait(&mut g);
        }
        self.meta(g.as_ref())
    }

    /// Wait at most `timeout`; [`ErrorCode::Timeout`] if not done by then.
    pub fn get_timeout(&self, timeout: Duration) -> Result<RecordMetadata> {
        let deadline = crate::util::deadline(timeout);
        let mut g = self.done.result.lock();
        while g.is_none() {
            if self.done.cond.wait_until(&mut g, deadline).timed_out() && g.is_none() {
                return Err(Error::new(ErrorCode::Timeout, "record not acknowledged in time"));
            }
        }
        self.meta(g.as_ref())
    }

    /// Whether the result is in (then [`SendFuture::get`] returns at once).
    pub fn is_done(&self) -> bool {
        self.done.finished.load(Ordering::Acquire)
    }

    fn meta(&self, r: Option<&BatchResult>) -> Result<RecordMetadata> {
        match r {
            Some(Ok((base, append_time))) => Ok(RecordMetadata {
                topic: self.done.topic.to_string(),
                partition: self.done.partition,
                offset: base + i64::from(self.index),
                timestamp: if *append_time >= 0 { *append_time } else { self.timestamp },
                serialized_key_size: self.key_size,
                serialized_value_size: self.value_size,
            }),
            Some(Err((code, msg))) => Err(Error::new(*code, msg.clone())),
            None => Err(Error::internal("send future read before completion")),
        }
    }
}

type TpKey = (Arc<str>, u32);

/// The longest a full batch (`acks` 0 or 1) waits in the queue for more batches to be written
/// with it, after it was sealed; a producer's own bound is the smaller of this and `linger.ms`.
pub(crate) const FULL_BATCH_WAIT: Duration = Duration::from_millis(1);
/// Queued batches that are written at once, without waiting for [`FULL_BATCH_WAIT`].
const WRITE_BATCHES: usize = 8;
/// Queued bytes that are written at once, without waiting for [`FULL_BATCH_WAIT`].
const WRITE_BYTES: usize = 256 << 10;

/// Writer locks of a producer ([`Inner::writers`]): a partition's batches are always written
/// under the same one, so partitions under different locks are written at the same time.
const WRITER_SHARDS: usize = 16;

/// The writer lock of an open batch's partition: consecutive partitions of a topic get
/// different locks.
fn shard_of(key: OpenKey) -> usize {
    ((key >> 32).wrapping_mul(7).wrapping_add(key & 0xffff_ffff) % WRITER_SHARDS as u64) as usize
}

/// How long a thread that sealed a full batch counts as one of a producer's active callers
/// ([`Accum::parallel_callers`]).
const CALLER_WINDOW: Duration = Duration::from_millis(10);

/// Entries of [`Accum::recent_sealers`].
const RECENT_SEALERS: usize = 8;

static NEXT_CALLER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// A number for the calling thread, for [`Accum::recent_sealers`].
    static CALLER: u64 = NEXT_CALLER.fetch_add(1, Ordering::Relaxed);
}

/// FxHash (the multiply-rotate hash rustc uses for its own tables): a few instructions per
/// word instead of SipHash's rounds. The producer's maps are keyed by topic names the
/// application itself sends to, so there is no untrusted input to defend against.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let mut last = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            last |= u64::from(b) << (8 * i);
        }
        self.add(last);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// A batch being filled: records are encoded into its final buffer as they are sent.
struct OpenBatch {
    key: TpKey,
    builder: BatchBuilder,
    /// Bytes of `buffer.memory` this batch holds until its buffer comes back.
    reserved: usize,
    bytes: usize,
    created: Instant,
    done: Arc<BatchDone>,
    transactional: bool,
}

struct Sealed {
    key: TpKey,
    /// Its partition's writer lock ([`shard_of`]).
    shard: usize,
    /// Its place among the producer's sealed batches (0, 1, ...): `flush` waits for every
    /// batch below a number ([`Accum::written_floor`]).
    seq: u64,
    builder: BatchBuilder,
    reserved: usize,
    bytes: usize,
    /// When it was sealed: it is written by `sealed_at + Inner::hold` at the latest.
    sealed_at: Instant,
    done: Arc<BatchDone>,
    transactional: bool,
}

/// A topic `send` has sent to: its name (shared by its batches), the topic, and the number that
/// stands for the name in [`Accum::open`]'s keys (given once per name, never reused).
struct TopicSlot {
    name: Arc<str>,
    topic: Arc<Topic>,
    id: u32,
}

/// The key of a partition's open batch: its topic's [`TopicSlot::id`] (high 32 bits) and the
/// partition (a number that hashes and compares in a few instructions, unlike the name).
type OpenKey = u64;

fn open_key(topic_id: u32, partition: u32) -> OpenKey {
    (u64::from(topic_id) << 32) | u64::from(partition)
}

#[derive(Default)]
struct Accum {
    open: FxMap<OpenKey, OpenBatch>,
    ready: VecDeque<Sealed>,
    /// Sum of `bytes` over `ready`.
    ready_bytes: usize,
    /// Batches sealed so far (the next one's [`Sealed::seq`]).
    sealed: u64,
    /// `flush` waits until [`Accum::written_floor`] reaches this: the sender writes everything
    /// queued at once until then.
    flush_to: u64,
    /// The lowest [`Sealed::seq`] of each round being written (rounds under different writer
    /// locks are written at once and may end in any order).
    in_flight: Vec<u64>,
    /// Queued batches and bytes per writer lock.
    shard_ready: [(usize, usize); WRITER_SHARDS],
    /// The threads that last sealed full batches in `send`: (caller, writer lock, when).
    recent_sealers: [(u64, usize, Option<Instant>); RECENT_SEALERS],
    stop: bool,
    topics: FxMap<String, TopicSlot>,
    pool: BufferPool,
    /// Threads of `send` waiting for `buffer.memory`: the sender then seals open batches
    /// without waiting for `linger.ms`, as Kafka's sender drains when the pool is exhausted.
    waiters: usize,
    sticky: FxMap<String, (u32, usize)>,
    /// Counted in the engine's `busy_producers`: set when a batch opens, cleared when the
    /// sender finds nothing open or queued.
    busy: bool,
    /// The sender waits with no batch open (so a new batch must wake it for `linger.ms`).
    sender_parked: bool,
    /// While the sender sleeps: when it wakes up by itself.
    sender_wakes_at: Option<Instant>,
    /// Rounds written by a `send` itself rather than the sender thread.
    inline_rounds: u64,
    /// The CRC combine factor of the last sealed batch's records length (full batches of
    /// records of one size have one length), for `BatchBuilder::fold_crc`.
    crc_shift: Option<(usize, u32)>,
}

impl Accum {
    /// Every batch sealed below this number is written (or failed) and its buffer returned.
    fn written_floor(&self) -> u64 {
        let mut floor = self.sealed;
        if let Some(s) = self.ready.front() {
            floor = floor.min(s.seq);
        }
        for &m in &self.in_flight {
            floor = floor.min(m);
        }
        floor
    }

    /// Note that the calling thread sealed a full batch of writer lock `shard` at `now`.
    fn note_sealer(&mut self, shard: usize, now: Instant) {
        let me = CALLER.with(|c| *c);
        let slot = self.recent_sealers.iter().position(|(c, s, _)| *c == me && *s == shard).unwrap_or_else(|| {
            // else the oldest entry (an empty one first)
            (0..RECENT_SEALERS).min_by_key(|&i| self.recent_sealers[i].2).unwrap_or(0)
        });
        self.recent_sealers[slot] = (me, shard, Some(now));
    }

    /// How many threads filled batches of different writer locks in the last
    /// [`CALLER_WINDOW`]: the least of the distinct callers and the distinct locks.
    fn parallel_callers(&self, now: Instant) -> usize {
        let r = &self.recent_sealers;
        let live = |i: usize| r[i].2.is_some_and(|t| now.saturating_duration_since(t) < CALLER_WINDOW);
        // entries that are the first live one of their caller, and of their writer lock
        let (mut callers, mut shards) = (0, 0);
        for i in (0..RECENT_SEALERS).filter(|&i| live(i)) {
            callers += usize::from(!(0..i).any(|j| live(j) && r[j].0 == r[i].0));
            shards += usize::from(!(0..i).any(|j| live(j) && r[j].1 == r[i].1));
        }
        callers.min(shards).max(1)
    }
}

/// What only the thread writing batches touches: held while a round is written.
#[derive(Default)]
struct Writer {
    sequences: HashMap<TpKey, i32>,
    last_ident: (i64, i16),
}

/// The batch buffers of one producer, as Kafka's `BufferPool`: `total` (`buffer.memory`)
/// bounds the bytes held by live batches plus the free list; free buffers of the standard
/// batch size are kept and handed out again, most recently returned first (the buffer the
/// sender has just written is the warmest in the cache); a batch of another size (a record
/// larger than `batch.size`) gets a buffer of its own, dropped when the batch is written.
#[derive(Default)]
struct BufferPool {
    total: usize,
    /// Reservation of a standard batch (`batch_capacity(batch.size, 0)`).
    standard: usize,
    /// Bytes reserved by live batches plus `standard` per free buffer.
    used: usize,
    free: Vec<Vec<u8>>,
}

impl BufferPool {
    fn new(total: usize, batch_size: usize) -> BufferPool {
        BufferPool { total, standard: batch_capacity(batch_size, 0), used: 0, free: Vec::new() }
    }

    /// The reservation for a batch whose first record is `first_record` bytes (never more
    /// than the whole pool, so one record no larger than `buffer.memory` always fits).
    fn reservation(&self, first_record: usize) -> usize {
        batch_capacity_from(self.standard, first_record).min(self.total)
    }

    /// A buffer for a batch reserving `reserved` bytes, or `None` while the memory is in use.
    fn try_allocate(&mut self, reserved: usize) -> Option<Vec<u8>> {
        if reserved == self.standard {
            if let Some(b) = self.free.pop() {
                return Some(b);
            }
        }
        // Free buffers are memory too: drop them (oldest first) to make room for a new size.
        while self.used + reserved > self.total && !self.free.is_empty() {
            self.free.remove(0);
            self.used -= self.standard;
        }
        if self.used + reserved > self.total {
            return None;
        }
        self.used += reserved;
        Some(Vec::new())
    }

    /// A written batch gives its reservation back: a standard buffer goes to the free list.
    fn release(&mut self, reserved: usize, buf: Option<Vec<u8>>) {
        match buf {
            Some(b) if reserved == self.standard && b.capacity() >= batch::HEADER_SIZE + reserved && b.capacity() <= 2 * (batch::HEADER_SIZE + reserved) => {
                self.free.push(b)
            }
            _ => self.used -= reserved,
        }
    }
}

#[derive(Default)]
struct ClientTxn {
    initialized: bool,
    in_txn: bool,
    partitions: HashSet<TopicPartition>,
    error: Option<(ErrorCode, String)>,
}

struct Inner {
    shared: Arc<TopicsShared>,
    config: ProducerConfig,
    ident: Mutex<(i64, i16)>,
    accum: Mutex<Accum>,
    /// Taken before `accum` (or tried while holding it) by the thread that writes a round of a
    /// partition's batches: [`shard_of`] its key picks one of [`WRITER_SHARDS`].
    writers: Box<[Mutex<Writer>]>,
    cv_sender: Condvar,
    cv_done: Condvar,
    /// How long a full batch may wait in the queue (zero under `acks=all` or `linger.ms=0`).
    hold: Duration,
    txn: Mutex<ClientTxn>,
    fatal: Fatal,
}

/// The error that ends a producer (it was fenced), checked by every `send`: a flag read
/// without a lock, the error itself behind one.
#[derive(Default)]
struct Fatal {
    set: AtomicBool,
    error: Mutex<Option<(ErrorCode, String)>>,
}

impl Fatal {
    fn set(&self, code: ErrorCode, msg: String) {
        *self.error.lock() = Some((code, msg));
        self.set.store(true, Ordering::Release);
    }
    fn get(&self) -> Option<(ErrorCode, String)> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        self.error.lock().clone()
    }
}

/// A producer. Thread-safe: share it (`Arc`) between threads.
///
/// ```
/// use kabase::log::{ProducerConfig, ProducerRecord};
/// let engine = kabase::Engine::open_in_memory().unwrap();
/// let producer = engine.producer(ProducerConfig::default().set("linger.ms", "0").unwrap()).unwrap();
/// let f = producer.send(ProducerRecord::new("t", "v").key("k").header("h", "x")).unwrap();
/// let meta = f.get().unwrap();
/// assert_eq!((meta.topic.as_str(), meta.offset), ("t", 0));
/// producer.close().unwrap();
/// ```
pub struct Producer {
    inner: Arc<Inner>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("producer_id", &self.inner.ident.lock().0).finish()
    }
}

/// Initial buffer of a new batch: room for `batch.size` (capped at 1 MiB) or the first record.
fn batch_capacity(batch_size: usize, first_record: usize) -> usize {
    batch_size.min(1 << 20).max(first_record) + 16
}

/// [`batch_capacity`] from the standard capacity.
fn batch_capacity_from(standard: usize, first_record: usize) -> usize {
    standard.max(first_record + 16)
}

/// Bytes a record adds to a batch (upper estimate of its encoding).
fn record_size(r: &ProducerRecordRef<'_>) -> usize {
    21 + r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len) + r.headers.iter().map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, Vec::len)).sum::<usize>()
}

impl crate::Engine {
    /// Create a producer.
    pub fn producer(&self, config: ProducerConfig) -> Result<Producer> {
        let shared = Arc::clone(self.topics()?);
        let config = config.resolve()?;
        let ident = if config.transactional_id.is_some() {
            (-1, -1)
        } else if config.enable_idempotence {
            (shared.allocate_producer_id()?, 0)
        } else {
            (-1, -1)
        };
        let pool = BufferPool::new(config.buffer_memory, config.batch_size);
        let hold = if config.acks == Acks::All {
            Duration::ZERO
        } else {
            Duration::from_micros(shared.full_batch_wait_us.load(Ordering::Relaxed)).min(Duration::from_millis(config.linger_ms))
        };
        let inner = Arc::new(Inner {
            shared,
            config,
            ident: Mutex::new(ident),
            accum: Mutex::new(Accum { pool, ..Accum::default() }),
            writers: (0..WRITER_SHARDS).map(|_| Mutex::new(Writer { sequences: HashMap::new(), last_ident: ident })).collect(),
            cv_sender: Condvar::new(),
            cv_done: Condvar::new(),
            hold,
            txn: Mutex::new(ClientTxn::default()),
            fatal: Fatal::default(),
        });
        let i2 = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("kabase-producer".into())
            .spawn(move || sender_loop(&i2))
            .map_err(|e| Error::io("spawn producer sender", e))?;
        Ok(Producer { inner, thread: Mutex::new(Some(thread)), closed: AtomicBool::new(false) })
    }
}

impl Producer {
    /// Producer id (-1 when not idempotent or before `init_transactions`).
    pub fn producer_id(&self) -> i64 {
        self.inner.ident.lock().0
    }

    /// Producer epoch.
    pub fn producer_epoch(&self) -> i16 {
        self.inner.ident.lock().1
    }

    /// Number of partitions of a topic (creating it on first use).
    pub fn partitions_for(&self, topic: &str) -> Result<u32> {
        Ok(self.inner.shared.topic_or_create(topic)?.num_partitions())
    }

    fn check_usable(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed("producer"));
        }
        self.inner.shared.check_open()?;
        if let Some((c, m)) = self.inner.fatal.get() {
            return Err(Error::new(c, m));
        }
        Ok(())
    }

    /// Queue a record; the future completes when the record is appended (and fsynced under
    /// `acks=all`). Errors known at once (size limits, unknown partition, a fenced producer,
    /// no open transaction) are returned here.
    pub fn send(&self, record: ProducerRecord) -> Result<SendFuture> {
        self.send_ref(record.as_record_ref())
    }

    /// [`Producer::send`] for a borrowed record: the key, value and headers are encoded into
    /// the open batch straight from the caller's buffers, so the caller allocates nothing per
    /// record.
    ///
    /// ```
    /// use kabase::log::{ProducerConfig, ProducerRecordRef};
    /// let engine = kabase::Engine::open_in_memory().unwrap();
    /// let producer = engine.producer(ProducerConfig::default().set("linger.ms", "0").unwrap()).unwrap();
    /// let value = [7u8; 100];
    /// let f = producer.send_ref(ProducerRecordRef::new("t", &value).key(b"k")).unwrap();
    /// assert_eq!(f.get().unwrap().serialized_value_size, 100);
    /// ```
    pub fn send_ref(&self, record: ProducerRecordRef<'_>) -> Result<SendFuture> {
        self.check_usable()?;
        let inner = &self.inner;
        let size = record_size(&record);
        if size + batch::HEADER_SIZE > inner.config.max_request_size {
            return Err(Error::new(
                ErrorCode::RecordTooLarge,
                format!("record of about {} bytes exceeds max.request.size {}", size + batch::HEADER_SIZE, inner.config.max_request_size),
            ));
        }
        let transactional = inner.config.transactional_id.is_some();
        if transactional {
            let t = inner.txn.lock();
            if !t.in_txn {
                return Err(Error::new(ErrorCode::InvalidTxnState, "a transactional producer must call begin_transaction before send"));
            }
        }
        let timestamp = record.timestamp.unwrap_or_else(super::clock::now_ms);
        // One hold of the accumulator lock from the topic lookup to the append.
        let mut a = inner.accum.lock();
        // The topic's message size limit and partition count, read each time (its config or
        // partitions may change) from one atomic the topic stores after each change.
        let (topic_id, (max_message, n)) = match a.topics.get(record.topic) {
            Some(s) if !s.topic.deleted.load(Ordering::Acquire) => (s.id, s.topic.send_limits()),
            _ => {
                drop(a);
                let t = inner.shared.topic_or_create(record.topic)?;
                a = inner.accum.lock();
                let limits = t.send_limits();
                // A name keeps its number when its topic is replaced (deleted and created
                // again), so its open batches stay the ones later records go to, in order.
                let id = match a.topics.get_mut(record.topic) {
                    Some(s) => {
                        s.topic = t;
                        s.id
                    }
                    None => {
                        let id = u32::try_from(a.topics.len()).map_err(|_| Error::invalid("a producer sends to at most 2^32 topics"))?;
                        a.topics.insert(record.topic.to_string(), TopicSlot { name: Arc::from(record.topic), topic: t, id });
                        id
                    }
                };
                (id, limits)
            }
        };
        if size + batch::HEADER_SIZE > max_message {
            return Err(Error::new(
                ErrorCode::RecordTooLarge,
                format!("record of about {} bytes exceeds max.message.bytes {} of topic {}", size + batch::HEADER_SIZE, max_message, record.topic),
            ));
        }
        let explicit_or_keyed = match (record.partition, record.key) {
            (Some(p), _) => {
                if p >= n {
                    return Err(Error::new(ErrorCode::UnknownPartition, format!("topic {} has {n} partitions; partition {p} does not exist", record.topic)));
                }
                Some(p)
            }
            (None, Some(k)) if !inner.config.partitioner_ignore_keys => Some(partitioner::partition_for_key(k, n)),
            _ => None,
        };
        let key_size = record.key.map_or(-1, |k| k.len() as i32);
        let value_size = record.value.map_or(-1, |v| v.len() as i32);
        let partition = match explicit_or_keyed {
            Some(p) => p,
            None => {
                // KIP-794: stay on one partition until batch.size bytes went to it, then move
                // to another one at random.
                let batch_size = inner.config.batch_size.max(1);
                let entry = a.sticky.get(record.topic).copied();
                let p = match entry {
                    Some((p, bytes)) if p < n && bytes < batch_size => p,
                    prev => {
                        let mut p = rand::random_range(0..n);
                        if n > 1 {
                            if let Some((old, _)) = prev {
                                while p == old {
                                    p = rand::random_range(0..n);
                                }
                            }
                        }
                        p
                    }
                };
                let bytes = match entry {
                    Some((q, b)) if q == p => b,
                    _ => 0,
                };
                match a.sticky.get_mut(record.topic) {
                    Some(e) => *e = (p, bytes + size),
                    None => {
                        a.sticky.insert(record.topic.to_string(), (p, bytes + size));
                    }
                }
                p
            }
        };
        if transactional {
            let tp = TopicPartition::new(record.topic, partition);
            let mut t = inner.txn.lock();
            if !t.partitions.contains(&tp) {
                let (pid, epoch) = *inner.ident.lock();
                let id = inner.config.transactional_id.as_deref().unwrap_or_default();
                if let Err(e) = inner.shared.txn.add_partitions(id, pid, epoch, std::slice::from_ref(&tp)) {
                    if e.code() == ErrorCode::ProducerFenced {
                        inner.fatal.set(e.code(), e.message().to_string());
                    }
                    return Err(e);
                }
                t.partitions.insert(tp);
            }
        }
        let key = open_key(topic_id, partition);
        let batch_size = inner.config.batch_size;
        // The common case, one lookup: the partition's open batch has room for the record.
        let mut full = false;
        let mut pushed = match a.open.get_mut(&key) {
            Some(b) if b.builder.records() > 0 && b.bytes + size > batch_size => {
                full = true;
                None
            }
            Some(b) => Some(append_record(b, timestamp, &record, size, batch_size)),
            None => None,
        };
        let mut new_batch = false;
        if pushed.is_none() {
            if full {
                seal(&mut a, key);
            }
            // The name the new batch and its futures share (looked up before a buffer is taken,
            // so that no error below leaves memory reserved).
            let name = a.topics.get(record.topic).map(|s| Arc::clone(&s.name)).ok_or_else(|| Error::internal("a producer's topic left its map"))?;
            // A new batch needs a buffer from the pool; wait up to max.block.ms while
            // buffer.memory is held by other batches (Kafka's `BufferPool.allocate`).
            if size + 16 > inner.config.buffer_memory {
                return Err(Error::new(
                    ErrorCode::RecordTooLarge,
                    format!("record of about {size} bytes is larger than buffer.memory {}", inner.config.buffer_memory),
                ));
            }
            let reserved = a.pool.reservation(size);
            let mut deadline = None;
            let buf = loop {
                if let Some(buf) = a.pool.try_allocate(reserved) {
                    break buf;
                }
                if a.stop {
                    return Err(Error::closed("producer"));
                }
                let d = *deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(inner.config.max_block_ms));
                a.waiters += 1;
                inner.cv_sender.notify_one();
                let timed_out = inner.cv_done.wait_until(&mut a, d).timed_out();
                a.waiters -= 1;
                if timed_out {
                    if let Some(buf) = a.pool.try_allocate(reserved) {
                        break buf;
                    }
                    return Err(Error::new(
                        ErrorCode::Timeout,
                        format!("no room in buffer.memory ({} bytes) for a new batch within max.block.ms ({} ms)", inner.config.buffer_memory, inner.config.max_block_ms),
                    ));
                }
            };
            // Another thread may have opened this partition's batch while this one waited.
            let other = a.open.get(&key).map(|b| b.builder.records() > 0 && b.bytes + size > batch_size);
            if other == Some(true) {
                seal(&mut a, key);
            }
            if other == Some(false) {
                a.pool.release(reserved, Some(buf));
                inner.cv_done.notify_all();
            } else {
                new_batch = true;
                if !a.busy {
                    a.busy = true;
                    inner.shared.busy_producers.fetch_add(1, Ordering::Relaxed);
                }
                // Uncompressed batches are checksummed here, as records are appended, so the
                // sender thread only writes them.
                let capacity = reserved.max(size + 16);
                let builder = if inner.config.compression == Compression::None { BatchBuilder::checksumming(buf, capacity) } else { BatchBuilder::with_buffer(buf, capacity) };
                let done = BatchDone::new(Arc::clone(&name), partition);
                a.open.insert(key, OpenBatch { key: (name, partition), builder, reserved, bytes: 0, created: Instant::now(), done, transactional });
            }
            pushed = a.open.get_mut(&key).map(|b| append_record(b, timestamp, &record, size, batch_size));
        }
        let Some((index, done, now_full)) = pushed else {
            return Err(Error::internal("the partition's batch is not open"));
        };
        if now_full {
            seal(&mut a, key);
        }
        let mut wake = new_batch && a.sender_parked;
        if now_full || full {
            // Enough queued for one large write (or no wait allowed): write now, inline or by
            // the sender; otherwise the batch waits for more, up to `hold`.
            let shard = shard_of(key);
            let now = Instant::now();
            a.note_sealer(shard, now);
            let (queued, queued_bytes) = a.shard_ready[shard];
            let write_now = inner.hold.is_zero() || a.ready.len() >= WRITE_BATCHES || a.ready_bytes >= WRITE_BYTES;
            // Busy cores: the engine's busy producers, and this producer's threads filling
            // batches of different writer locks at once.
            let busy = inner.shared.busy_producers.load(Ordering::Relaxed) + a.parallel_callers(now) - 1;
            if inner.config.acks != Acks::All && busy >= inner.shared.inline_write_from.load(Ordering::Relaxed) {
                // Write this partition's sealed batches on this thread (see the module's
                // documentation) once enough of them are queued; until then they wait (the
                // sender writes them by the `hold` bound). While another thread writes under
                // the same writer lock, wait for it rather than run ahead into fresh buffers;
                // writer locks come before `accum`, so `accum` is let go while waiting.
                if inner.hold.is_zero() || queued >= WRITE_BATCHES || queued_bytes >= WRITE_BYTES {
                    let mut w = match inner.writers[shard].try_lock() {
                        Some(w) => w,
                        None => {
                            drop(a);
                            let w = inner.writers[shard].lock();
                            a = inner.accum.lock();
                            w
                        }
                    };
                    if a.shard_ready[shard].0 > 0 {
                        a.inline_rounds += 1;
                        a = write_round(inner, a, &mut w, shard);
                    }
                    drop(w);
                    wake = new_batch && a.sender_parked;
                }
            } else if write_now {
                wake = true;
            }
        }
        // The oldest queued batch must be written within `hold` of its sealing: wake a sender
        // that would sleep past that (it sleeps until a linger.ms deadline, which may be later).
        if let (Some(s), Some(t)) = (a.ready.front(), a.sender_wakes_at) {
            wake |= t > s.sealed_at + inner.hold;
        }
        drop(a);
        if wake {
            inner.cv_sender.notify_one();
        }
        Ok(SendFuture { done, index, timestamp, key_size, value_size })
    }

    /// Send every queued record now and wait until all are acknowledged.
    pub fn flush(&self) -> Result<()> {
        self.check_usable()?;
        self.flush_inner();
        Ok(())
    }

    fn flush_inner(&self) {
        let inner = &self.inner;
        let mut a = inner.accum.lock();
        let keys: Vec<OpenKey> = a.open.keys().copied().collect();
        for k in keys {
            seal(&mut a, k);
        }
        let target = a.sealed;
        a.flush_to = a.flush_to.max(target);
        inner.cv_sender.notify_one();
        while a.written_floor() < target {
            inner.cv_done.wait(&mut a);
        }
    }

    /// Flush and stop the sender. Further calls fail with [`ErrorCode::Closed`].
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.flush_inner();
        self.inner.accum.lock().stop = true;
        self.inner.cv_sender.notify_all();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
        Ok(())
    }

    fn txn_id(&self) -> Result<&str> {
        self.inner.config.transactional_id.as_deref().ok_or_else(|| Error::new(ErrorCode::InvalidTxnState, "the producer has no transactional.id"))
    }

    fn fence_if(&self, e: Error) -> Error {
        if matches!(e.code(), ErrorCode::ProducerFenced) {
            self.inner.fatal.set(e.code(), e.message().to_string());
        }
        e
    }

    /// Register the transactional id with the coordinator: gets the producer id and a new
    /// epoch, fencing any older producer with the same id and aborting its open transaction.
    pub fn init_transactions(&self) -> Result<()> {
        self.check_usable()?;
        let id = self.txn_id()?.to_string();
        let (pid, epoch) = self.inner.shared.txn.init(&self.inner.shared, &id, self.inner.config.transaction_timeout_ms)?;
        *self.inner.ident.lock() = (pid, epoch);
        let mut t = self.inner.txn.lock();
        *t = ClientTxn { initialized: true, ..ClientTxn::default() };
        Ok(())
    }

    /// Start a transaction.
    pub fn begin_transaction(&self) -> Result<()> {
        self.check_usable()?;
        self.txn_id()?;
        let mut t = self.inner.txn.lock();
        if !t.initialized {
            return Err(Error::new(ErrorCode::InvalidTxnState, "call init_transactions before begin_transaction"));
        }
        if t.in_txn {
            return Err(Error::new(ErrorCode::InvalidTxnState, "a transaction is already open"));
        }
        t.in_txn = true;
        t.partitions.clear();
        t.error = None;
        Ok(())
    }

    /// Commit consumed offsets of `group_id` atomically with the transaction.
    pub fn send_offsets_to_transaction(&self, offsets: &[(TopicPartition, i64)], group_id: &str) -> Result<()> {
        self.check_usable()?;
        let id = self.txn_id()?.to_string();
        if !self.inner.txn.lock().in_txn {
            return Err(Error::new(ErrorCode::InvalidTxnState, "send_offsets_to_transaction needs an open transaction"));
        }
        let (pid, epoch) = *self.inner.ident.lock();
        let list: Vec<TxnOffset> = offsets.iter().map(|(tp, o)| TxnOffset { topic: tp.topic.clone(), partition: tp.partition, offset: *o, metadata: None }).collect();
        self.inner.shared.txn.add_offsets(&id, pid, epoch, group_id, &list).map_err(|e| self.fence_if(e))
    }

    /// Flush and commit: COMMIT markers go to every partition written in the transaction.
    pub fn commit_transaction(&self) -> Result<()> {
        self.check_usable()?;
        let id = self.txn_id()?.to_string();
        if !self.inner.txn.lock().in_txn {
            return Err(Error::new(ErrorCode::InvalidTxnState, "no open transaction to commit"));
        }
        self.flush_inner();
        if let Some((c, m)) = self.inner.fatal.get() {
            return Err(Error::new(c, m));
        }
        if let Some((c, m)) = self.inner.txn.lock().error.clone() {
            return Err(Error::new(c, format!("a send in the transaction failed, abort it: {m}")));
        }
        let (pid, epoch) = *self.inner.ident.lock();
        self.inner.shared.txn.end(&self.inner.shared, &id, pid, epoch, true).map_err(|e| self.fence_if(e))?;
        let mut t = self.inner.txn.lock();
        t.in_txn = false;
        t.partitions.clear();
        Ok(())
    }

    /// Abort: records not yet sent fail with [`ErrorCode::TransactionAborted`]; ABORT markers
    /// go to every partition written in the transaction.
    pub fn abort_transaction(&self) -> Result<()> {
        self.check_usable()?;
        let id = self.txn_id()?.to_string();
        if !self.inner.txn.lock().in_txn {
            return Err(Error::new(ErrorCode::InvalidTxnState, "no open transaction to abort"));
        }
        {
            let mut a = self.inner.accum.lock();
            let open: Vec<OpenBatch> = a.open.drain().map(|(_, b)| b).collect();
            for b in open {
                a.pool.release(b.reserved, None);
                b.done.complete(Err((ErrorCode::TransactionAborted, "the transaction was aborted before the record was sent".into())));
            }
            self.inner.cv_done.notify_all();
        }
        self.flush_inner();
        let (pid, epoch) = *self.inner.ident.lock();
        self.inner.shared.txn.end(&self.inner.shared, &id, pid, epoch, false).map_err(|e| self.fence_if(e))?;
        let mut t = self.inner.txn.lock();
        t.in_txn = false;
        t.partitions.clear();
        t.error = None;
        Ok(())
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Append a record to an open batch: its index in the batch, the batch's completion, and
/// whether the batch is now full.
#[inline(always)]
fn append_record(b: &mut OpenBatch, timestamp: i64, record: &ProducerRecordRef<'_>, size: usize, batch_size: usize) -> (u32, Arc<BatchDone>, bool) {
    // The future's reference is taken before the record's bytes are copied: an atomic
    // operation waits for the stores before it to reach the cache, and the copy's are many.
    let done = Arc::clone(&b.done);
    let index = b.builder.push(timestamp, record.key, record.value, record.headers) as u32;
    b.bytes += size;
    (index, done, b.bytes >= batch_size)
}

fn seal(a: &mut Accum, key: OpenKey) {
    if let Some(mut b) = a.open.remove(&key) {
        if b.builder.records() == 0 {
            a.pool.release(b.reserved, None);
            return;
        }
        // The last records' checksum and the factor joining it to the header's, here (most
        // often on the thread that appended them) rather than on the thread writing the batch.
        b.builder.fold_crc(&mut a.crc_shift);
        let (shard, seq) = (shard_of(key), a.sealed);
        a.sealed += 1;
        a.ready_bytes += b.bytes;
        a.shard_ready[shard].0 += 1;
        a.shard_ready[shard].1 += b.bytes;
        a.ready.push_back(Sealed {
            key: b.key,
            shard,
            seq,
            builder: b.builder,
            reserved: b.reserved,
            bytes: b.bytes,
            sealed_at: Instant::now(),
            done: b.done,
            transactional: b.transactional,
        });
    }
}

fn sender_loop(inner: &Inner) {
    let linger = Duration::from_millis(inner.config.linger_ms);
    let mut a = inner.accum.lock();
    loop {
        let now = Instant::now();
        // Seal the batches whose linger.ms is up; every open one when closing or when a `send`
        // waits for buffer.memory (as Kafka's sender drains an exhausted pool).
        let drain = a.stop || a.waiters > 0;
        let expired: Vec<OpenKey> = a.open.iter().filter(|(_, b)| drain || b.created + linger <= now).map(|(k, _)| *k).collect();
        let lingered = !expired.is_empty();
        for k in expired {
            seal(&mut a, k);
        }
        if let Some(oldest) = a.ready.front() {
            let due = oldest.sealed_at + inner.hold <= now || a.ready.len() >= WRITE_BATCHES || a.ready_bytes >= WRITE_BYTES;
            if due || lingered || drain || a.flush_to > a.written_floor() {
                // Everything queued now, one writer lock after another (in the order of their
                // oldest batches). A writer lock comes first: a `send` writing inline holds it
                // and takes `accum`.
                let mut shards: Vec<usize> = Vec::new();
                for s in &a.ready {
                    if !shards.contains(&s.shard) {
                        shards.push(s.shard);
                    }
                }
                for shard in shards {
                    drop(a);
                    let mut w = inner.writers[shard].lock();
                    a = inner.accum.lock();
                    a = write_round(inner, a, &mut w, shard);
                }
                continue;
            }
        }
        // Sleep until the next linger.ms deadline or the oldest queued batch's bound, or until
        // a `send` (enough batches queued, a first batch opened) or `flush` wakes it.
        let next_linger = a.open.values().map(|b| b.created + linger).min();
        let next_due = a.ready.front().map(|s| s.sealed_at + inner.hold);
        match next_linger.into_iter().chain(next_due).min() {
            None => {
                if a.busy {
                    a.busy = false;
                    inner.shared.busy_producers.fetch_sub(1, Ordering::Relaxed);
                }
                if a.stop {
                    break;
                }
                a.sender_parked = true;
                a.sender_wakes_at = Some(now + Duration::from_millis(200));
                inner.cv_sender.wait_for(&mut a, Duration::from_millis(200));
                a.sender_parked = false;
            }
            Some(d) => {
                a.sender_wakes_at = Some(d);
                inner.cv_sender.wait_until(&mut a, d);
            }
        }
        a.sender_wakes_at = None;
    }
}

/// Write one round of the oldest sealed batches of writer lock `shard` (none if it has none
/// queued), holding that lock `w`; `accum` is released while the batches are written and taken
/// again to give their buffers back and count them as written.
fn write_round<'a>(inner: &'a Inner, mut a: parking_lot::MutexGuard<'a, Accum>, w: &mut Writer, shard: usize) -> parking_lot::MutexGuard<'a, Accum> {
    if a.shard_ready[shard].0 == 0 {
        return a;
    }
    // Take a bounded round (a quarter of buffer.memory, at least 1 MiB) so `send` keeps
    // filling batches while this round is written: producing and writing overlap instead
    // of alternating. Under acks=all the round is also the group-commit unit.
    let cap = (inner.config.buffer_memory / 4).max(1 << 20);
    let mut round_bytes = 0;
    let batch: Vec<Sealed> = if a.shard_ready[shard].0 == a.ready.len() {
        // Only this lock's batches are queued.
        let mut take = 0;
        for s in &a.ready {
            take += 1;
            round_bytes += s.bytes;
            if round_bytes >= cap {
                break;
            }
        }
        a.ready.drain(..take).collect()
    } else {
        // This lock's batches, in order; the others keep theirs.
        let mut taken = Vec::new();
        let mut rest = VecDeque::with_capacity(a.ready.len());
        for s in std::mem::take(&mut a.ready) {
            if s.shard == shard && round_bytes < cap {
                round_bytes += s.bytes;
                taken.push(s);
            } else {
                rest.push_back(s);
            }
        }
        a.ready = rest;
        taken
    };
    a.ready_bytes -= round_bytes;
    a.shard_ready[shard].0 -= batch.len();
    a.shard_ready[shard].1 -= round_bytes;
    let first = batch.first().map_or(a.sealed, |s| s.seq);
    a.in_flight.push(first);
    drop(a);
    let ident = *inner.ident.lock();
    if ident != w.last_ident {
        w.sequences.clear();
        w.last_ident = ident;
    }
    let spent = process(inner, batch, &mut w.sequences, ident);
    let mut a = inner.accum.lock();
    // Returned in write order to a free list taken from its end: the next batch gets the
    // buffer written last (the warmest in the cache).
    for (reserved, buf) in spent {
        a.pool.release(reserved, buf);
    }
    if let Some(i) = a.in_flight.iter().position(|&m| m == first) {
        a.in_flight.swap_remove(i);
    }
    inner.cv_done.notify_all();
    a
}

/// Encode, append and complete `batch`; returns each batch's reservation and written buffer,
/// for the pool. A buffer is only returned once the OS has its bytes (`write` copied them).
///
/// The round's batches are grouped by partition (keeping their order) and each group is
/// appended with one [`PartitionLog::append_batches`](super::partition::PartitionLog): one
/// hold of the partition lock and one vectored write for all of them. Each batch is sealed
/// with the sequence it gets if every batch before it is accepted; the partition has one
/// renumbered (header and CRC) only when an earlier one was refused.
fn process(inner: &Inner, batch: Vec<Sealed>, sequences: &mut HashMap<TpKey, i32>, ident: (i64, i16)) -> Vec<(usize, Option<Vec<u8>>)> {
    let mut spent = Vec::with_capacity(batch.len());
    let (pid, epoch) = ident;
    let idempotent = inner.config.enable_idempotence && pid >= 0;
    let mut to_sync: HashMap<TpKey, (Arc<super::partition::PartitionLog>, i64)> = HashMap::new();
    let mut results: Vec<(Arc<BatchDone>, BatchResult, Option<TpKey>)> = Vec::with_capacity(batch.len());
    let mut groups: Vec<(TpKey, Vec<Sealed>)> = Vec::new();
    let mut group_of: FxMap<TpKey, usize> = FxMap::default();
    for s in batch {
        match group_of.get(&s.key) {
            Some(&g) => groups[g].1.push(s),
            None => {
                group_of.insert(s.key.clone(), groups.len());
                groups.push((s.key.clone(), vec![s]));
            }
        }
    }
    for (key, group) in groups {
        let start = if idempotent { *sequences.get(&key).unwrap_or(&0) } else { -1 };
        // (reservation, future, transactional, records before it when all are accepted)
        let mut metas = Vec::with_capacity(group.len());
        let mut encoded = Vec::with_capacity(group.len());
        let mut planned = 0i32;
        for s in group {
            let n = s.builder.records();
            let spec = BatchSpec {
                compression: inner.config.compression,
                producer_id: if idempotent { pid } else { -1 },
                producer_epoch: if idempotent { epoch } else { -1 },
                base_sequence: if idempotent { batch::increment_sequence(start, planned) } else { -1 },
                transactional: s.transactional,
                ..BatchSpec::default()
            };
            match s.builder.finish(&spec) {
                Ok(bytes) => {
                    encoded.push(bytes);
                    metas.push((s.reserved, s.done, s.transactional, planned));
                    planned += n;
                }
                Err(e) => {
                    spent.push((s.reserved, None));
                    results.push((s.done, Err(failure(inner, s.transactional, &e)), None));
                }
            }
        }
        if encoded.is_empty() {
            continue;
        }
        let part = inner.shared.topic(&key.0).and_then(|t| t.partition(key.1));
        let part = match part {
            Ok(p) => p,
            Err(e) => {
                for (reserved, done, transactional, _) in metas {
                    spent.push((reserved, None));
                    results.push((done, Err(failure(inner, transactional, &e)), None));
                }
                continue;
            }
        };
        let mut next = 0;
        let (outcomes, accepted) = part.append_batches(encoded, |bytes, accepted| {
            let planned = metas[next].3;
            next += 1;
            if idempotent && planned != accepted {
                batch::set_base_sequence(bytes, batch::increment_sequence(start, accepted));
            }
            Ok(())
        });
        if idempotent {
            sequences.insert(key.clone(), batch::increment_sequence(start, accepted));
        }
        for ((reserved, done, transactional, _), (r, buf)) in metas.into_iter().zip(outcomes) {
            spent.push((reserved, buf));
            match r {
                Ok(info) => {
                    let e = to_sync.entry(key.clone()).or_insert((Arc::clone(&part), 0));
                    e.1 = e.1.max(info.last_offset + 1);
                    results.push((done, Ok((info.first_offset, info.log_append_time)), Some(key.clone())));
                }
                Err(e) => results.push((done, Err(failure(inner, transactional, &e)), None)),
            }
        }
    }
    let mut failed_sync: HashMap<TpKey, (ErrorCode, String)> = HashMap::new();
    if inner.config.acks == Acks::All {
        for (k, (part, end)) in to_sync {
            if let Err(e) = part.flush_to(end) {
                failed_sync.insert(k, (e.code(), e.message().to_string()));
            }
        }
    }
    for (done, r, key) in results {
        let r = match (r, key.and_then(|k| failed_sync.get(&k).cloned())) {
            (Ok(_), Some(err)) => Err(err),
            (r, _) => r,
        };
        done.complete(r);
    }
    spent
}

/// The error a batch's future gets, recording a fencing as fatal and a transactional batch's
/// failure for the commit.
fn failure(inner: &Inner, transactional: bool, e: &Error) -> (ErrorCode, String) {
    let mut code = e.code();
    if transactional && code == ErrorCode::InvalidProducerEpoch {
        code = ErrorCode::ProducerFenced;
    }
    let msg = e.message().to_string();
    if code == ErrorCode::ProducerFenced {
        inner.fatal.set(code, msg.clone());
    }
    if transactional {
        inner.txn.lock().error = Some((code, msg.clone()));
    }
    (code, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{ConsumerConfig, NewTopic, TopicPartition};

    /// The payload of record `i` of thread `t`: its own length and bytes, some larger than
    /// `batch.size` (a one-off buffer), so a reused buffer shows as a wrong byte.
    fn payload(t: u32, i: u32) -> Vec<u8> {
        let len = if i % 97 == 5 { 3000 } else { 1 + ((i * 37 + t * 11) % 600) as usize };
        (0..len).map(|j| (t as usize * 131 + i as usize * 7 + j) as u8).collect()
    }

    #[test]
    fn send_sees_every_change_of_a_topics_partitions_and_message_size() {
        let dir = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(dir.path()).unwrap();
        e.create_topic(NewTopic::new("lim", 1)).unwrap();
        let limits = |e: &crate::Engine| {
            let t = e.topics().unwrap().topic("lim").unwrap();
            let locked = (t.config.read().max_message_bytes, t.num_partitions());
            assert_eq!(t.send_limits(), locked);
            locked
        };
        assert_eq!(limits(&e), (1_048_588, 1));
        let p = e.producer(ProducerConfig::default().set("acks", "1").unwrap().set("linger.ms", "0").unwrap()).unwrap();
        let big = vec![3u8; 500];
        assert_eq!(p.send_ref(ProducerRecordRef::new("lim", b"a").partition(1)).unwrap_err().code(), ErrorCode::UnknownPartition);
        e.create_partitions("lim", 3).unwrap();
        assert_eq!(limits(&e), (1_048_588, 3));
        let m = p.send_ref(ProducerRecordRef::new("lim", b"a").partition(2)).unwrap().get().unwrap();
        assert_eq!((m.topic.as_str(), m.partition, m.offset), ("lim", 2, 0));
        e.alter_configs("lim", &[("max.message.bytes", Some("300"))]).unwrap();
        assert_eq!(limits(&e), (300, 3));
        let err = p.send_ref(ProducerRecordRef::new("lim", &big).partition(0)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RecordTooLarge);
        assert!(err.message().contains("max.message.bytes 300"), "{}", err.message());
        e.alter_configs("lim", &[("max.message.bytes", None)]).unwrap();
        let m = p.send_ref(ProducerRecordRef::new("lim", &big).partition(0)).unwrap().get().unwrap();
        assert_eq!((m.topic.as_str(), m.partition, m.offset, m.serialized_value_size), ("lim", 0, 0, 500));
        // A second topic gets a batch of its own, and each future answers for its own record.
        let f1 = p.send_ref(ProducerRecordRef::new("other", b"x").partition(0)).unwrap();
        let f2 = p.send_ref(ProducerRecordRef::new("lim", b"y").partition(2)).unwrap();
        assert_eq!(format!("{f1:?}"), r#"SendFuture { topic: "other", partition: 0 }"#);
        let (m1, m2) = (f1.get().unwrap(), f2.get().unwrap());
        assert_eq!((m1.topic.as_str(), m1.partition, m1.offset), ("other", 0, 0));
        assert_eq!((m2.topic.as_str(), m2.partition, m2.offset), ("lim", 2, 1));
        p.close().unwrap();
        drop(p);
        e.close().unwrap();
        drop(e);
        // Limits of topics loaded at open.
        let e = crate::Engine::open(dir.path()).unwrap();
        assert_eq!(limits(&e), (1_048_588, 3));
        e.close().unwrap();
    }

    #[test]
    fn a_topic_deleted_and_created_again_keeps_one_threads_send_order() {
        let dir = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(dir.path()).unwrap();
        e.create_topic(NewTopic::new("re", 1)).unwrap();
        // linger.ms far away: the first record waits in its open batch across the deletion.
        let p = e.producer(ProducerConfig::default().set("acks", "1").unwrap().set("linger.ms", "60000").unwrap()).unwrap();
        let a = p.send_ref(ProducerRecordRef::new("re", b"a").partition(0)).unwrap();
        e.delete_topic("re").unwrap();
        e.create_topic(NewTopic::new("re", 1)).unwrap();
        let b = p.send_ref(ProducerRecordRef::new("re", b"b").partition(0)).unwrap();
        p.flush().unwrap();
        // Both records went to the partition's one open batch, in the order they were sent.
        let (ma, mb) = (a.get().unwrap(), b.get().unwrap());
        assert_eq!((ma.offset, mb.offset), (0, 1));
        let a_opened = p.inner.accum.lock().topics.len();
        assert_eq!(a_opened, 1);
        p.close().unwrap();
        e.close().unwrap();
    }

    #[test]
    fn pooled_buffers_are_not_reused_while_their_batch_is_in_flight() {
        four_threads_send_and_read_back(false, usize::MAX, "0");
        // full batches queued for a multi-batch write by the sender thread
        four_threads_send_and_read_back(false, usize::MAX, "5");
        four_threads_send_and_read_back(true, usize::MAX, "5");
    }

    #[test]
    fn inline_writes_keep_each_partitions_order_and_every_buffer() {
        // Every full batch written by the thread that filled it when the writer lock is free:
        // four threads on one producer (they and the sender contend for the lock), then four
        // producers of their own, each thread on its own partition.
        four_threads_send_and_read_back(false, 1, "0");
        four_threads_send_and_read_back(true, 1, "0");
        // With linger.ms above zero full batches wait in the queue for a multi-batch write,
        // by the filling send or (after the bound) by the sender thread.
        four_threads_send_and_read_back(false, 1, "5");
        four_threads_send_and_read_back(true, 1, "5");
    }

    /// Four threads send 3,000 records each to their own partition, through one shared producer
    /// or a producer each, into 1 KiB batches under an 8 KiB `buffer.memory`, the engine
    /// writing inline from `inline_from` busy producers on; every record is read back byte for
    /// byte in order, offsets as acknowledged, and every reservation returned.
    fn four_threads_send_and_read_back(own_producers: bool, inline_from: usize, linger_ms: &str) {
        let dir = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(dir.path()).unwrap();
        e.create_topic(NewTopic::new("pool", 4)).unwrap();
        e.topics().unwrap().inline_write_from.store(inline_from, Ordering::Relaxed);
        let cfg = ProducerConfig::default()
            .set("acks", "1")
            .unwrap()
            .set("batch.size", "1024")
            .unwrap()
            .set("buffer.memory", "8192")
            .unwrap()
            .set("linger.ms", linger_ms)
            .unwrap();
        let producers: Vec<Arc<Producer>> = if own_producers {
            (0..4).map(|_| Arc::new(e.producer(cfg.clone()).unwrap())).collect()
        } else {
            let p = Arc::new(e.producer(cfg).unwrap());
            (0..4).map(|_| Arc::clone(&p)).collect()
        };
        let per_thread = 3000u32;
        let hs: Vec<_> = (0..4u32)
            .map(|t| {
                let p = Arc::clone(&producers[t as usize]);
                std::thread::spawn(move || {
                    let fs: Vec<_> = (0..per_thread).map(|i| p.send_ref(ProducerRecordRef::new("pool", &payload(t, i)).partition(t).key(&i.to_be_bytes())).unwrap()).collect();
                    for (i, f) in fs.iter().enumerate() {
                        assert_eq!(f.get().unwrap().offset, i as i64);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        for p in &producers {
            // A batch's future completes before its writer hands its buffer back to the pool;
            // flush returns once every batch is finished with, buffers included.
            p.flush().unwrap();
            let a = p.inner.accum.lock();
            // every reservation came back: what is held is the free list only
            assert!(a.open.is_empty() && a.ready.is_empty());
            assert_eq!(a.pool.used, a.pool.free.len() * a.pool.standard);
            assert!(a.pool.used <= 8192 && !a.pool.free.is_empty());
        }
        for p in &producers {
            p.close().unwrap();
        }
        // closed producers are no longer counted as busy
        assert_eq!(e.topics().unwrap().busy_producers.load(Ordering::Relaxed), 0);
        let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
        for t in 0..4u32 {
            c.assign(&[TopicPartition::new("pool", t)]).unwrap();
            let mut got = Vec::new();
            loop {
                let rs = c.poll(Duration::from_millis(20)).unwrap();
                if rs.is_empty() {
                    break;
                }
                got.extend(rs);
            }
            assert_eq!(got.len(), per_thread as usize, "partition {t}");
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.key.as_deref(), Some(&(i as u32).to_be_bytes()[..]), "partition {t} record {i}");
                assert!(r.value.as_deref() == Some(&payload(t, i as u32)[..]), "partition {t} record {i}: bytes differ");
            }
        }
    }

    #[test]
    fn a_send_that_fills_a_batch_writes_it_when_the_writer_is_free() {
        let e = crate::Engine::open_in_memory().unwrap();
        let cfg = |acks: &str| ProducerConfig::default().set("acks", acks).unwrap().set("batch.size", "1024").unwrap().set("linger.ms", "20000").unwrap();
        let shared = Arc::clone(e.topics().unwrap());
        shared.inline_write_from.store(1, Ordering::Relaxed);
        // no wait for more batches (as with linger.ms=0): every full batch is written at once
        shared.full_batch_wait_us.store(0, Ordering::Relaxed);
        let p = e.producer(cfg("1")).unwrap();
        let f0 = p.send(ProducerRecord::new("i", vec![1u8; 600]).partition(0)).unwrap();
        assert_eq!(shared.busy_producers.load(Ordering::Relaxed), 1);
        assert!(!f0.is_done());
        // the second record does not fit: its send seals the first batch and writes it
        let f1 = p.send(ProducerRecord::new("i", vec![2u8; 600]).partition(0)).unwrap();
        assert!(f0.is_done(), "the filling send wrote its batch");
        assert_eq!(f0.get().unwrap().offset, 0);
        assert!(!f1.is_done());
        // the partition's writer lock held elsewhere (as by the sender writing a round): the filling send
        // waits for it, then writes the batch itself, in order
        let p = Arc::new(p);
        let w = p.inner.writers[shard_of(open_key(0, 0))].lock();
        let (p2, returned) = (Arc::clone(&p), Arc::new(AtomicBool::new(false)));
        let r2 = Arc::clone(&returned);
        let h = std::thread::spawn(move || {
            let f = p2.send(ProducerRecord::new("i", vec![3u8; 600]).partition(0)).unwrap();
            r2.store(true, Ordering::SeqCst);
            f
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!returned.load(Ordering::SeqCst) && !f1.is_done());
        drop(w);
        let f2 = h.join().unwrap();
        assert!(f1.is_done(), "the filling send wrote its batch once the lock was free");
        assert_eq!(f1.get().unwrap().offset, 1);
        p.flush().unwrap();
        assert_eq!(f2.get().unwrap().offset, 2);
        assert_eq!(p.inner.accum.lock().inline_rounds, 2);
        p.close().unwrap();
        assert_eq!(shared.busy_producers.load(Ordering::Relaxed), 0);
        // fewer busy producers than the threshold: the sender thread writes every batch ...
        shared.inline_write_from.store(2, Ordering::Relaxed);
        let p = e.producer(cfg("1")).unwrap();
        let fs: Vec<_> = (0..5u8).map(|i| p.send(ProducerRecord::new("j", vec![i; 600])).unwrap()).collect();
        p.flush().unwrap();
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(f.get_timeout(Duration::from_secs(10)).unwrap().offset, i as i64);
        }
        assert_eq!(p.inner.accum.lock().inline_rounds, 0);
        // ... and so it does under acks=all, whatever the count (it waits for the disk, not a
        // core)
        shared.inline_write_from.store(1, Ordering::Relaxed);
        let q = e.producer(cfg("all")).unwrap();
        let fs: Vec<_> = (0..5u8).map(|i| q.send(ProducerRecord::new("k", vec![i; 600])).unwrap()).collect();
        q.flush().unwrap();
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(f.get_timeout(Duration::from_secs(10)).unwrap().offset, i as i64);
        }
        assert_eq!(q.inner.accum.lock().inline_rounds, 0);
        p.close().unwrap();
        q.close().unwrap();
    }

    /// Parallel callers are the least of the distinct threads and the distinct writer locks
    /// among the sealers of the last [`CALLER_WINDOW`]: one thread on many partitions, or many
    /// threads on one partition, is one.
    #[test]
    fn parallel_callers_count_threads_on_different_writer_locks() {
        let now = Instant::now();
        let old = now.checked_sub(CALLER_WINDOW * 2);
        let count = |entries: &[(u64, usize, Option<Instant>)]| {
            let mut a = Accum::default();
            a.recent_sealers[..entries.len()].copy_from_slice(entries);
            a.parallel_callers(now)
        };
        assert_eq!(count(&[]), 1);
        assert_eq!(count(&[(1, 0, Some(now)), (1, 1, Some(now)), (1, 2, Some(now))]), 1);
        assert_eq!(count(&[(1, 3, Some(now)), (2, 3, Some(now)), (3, 3, Some(now))]), 1);
        assert_eq!(count(&[(1, 0, Some(now)), (2, 1, Some(now)), (3, 2, Some(now)), (4, 3, Some(now))]), 4);
        assert_eq!(count(&[(1, 0, Some(now)), (2, 1, Some(now)), (2, 0, Some(now))]), 2);
        // sealers older than the window do not count
        assert_eq!(count(&[(1, 0, Some(now)), (2, 1, old), (3, 2, old)]), 1);
        // a thread's note replaces its own entry for the lock, else the oldest
        let mut a = Accum::default();
        for shard in 0..RECENT_SEALERS + 2 {
            a.note_sealer(shard % 3, now);
        }
        assert_eq!(a.recent_sealers.iter().filter(|e| e.2.is_some()).count(), 3);
    }

    /// An in-memory engine with a two-partition `topic` that writes inline from `inline_from`
    /// busy cores on, and a producer on it (acks=1, `batch.size` 1024, `linger.ms` 20 s) whose
    /// full batches are written at once.
    fn two_partition_producer(topic: &str, inline_from: usize) -> (crate::Engine, Arc<Producer>) {
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new(topic, 2)).unwrap();
        let shared = Arc::clone(e.topics().unwrap());
        shared.inline_write_from.store(inline_from, Ordering::Relaxed);
        shared.full_batch_wait_us.store(0, Ordering::Relaxed);
        let cfg = ProducerConfig::default().set("acks", "1").unwrap().set("batch.size", "1024").unwrap().set("linger.ms", "20000").unwrap();
        let p = Arc::new(e.producer(cfg).unwrap());
        (e, p)
    }

    /// Partitions under different writer locks are written at the same time: with partition
    /// 0's lock held (as by a thread writing its round), a send filling partition 1's batch
    /// writes it; `flush` still waits for partition 0's older batch, and everything ends in
    /// order.
    #[test]
    fn partitions_under_different_writer_locks_are_written_at_once() {
        let (_e, p) = two_partition_producer("w", 1);
        let (k0, k1) = (open_key(0, 0), open_key(0, 1));
        assert_ne!(shard_of(k0), shard_of(k1));
        let held = p.inner.writers[shard_of(k0)].lock();
        // partition 0: the filling send waits for its lock (on another thread)
        let a0 = p.send(ProducerRecord::new("w", vec![1u8; 600]).partition(0)).unwrap();
        let p2 = Arc::clone(&p);
        let h0 = std::thread::spawn(move || p2.send(ProducerRecord::new("w", vec![2u8; 600]).partition(0)).unwrap());
        // partition 1: written by its filling send while partition 0's lock is held
        let b0 = p.send(ProducerRecord::new("w", vec![3u8; 600]).partition(1)).unwrap();
        let b1 = p.send(ProducerRecord::new("w", vec![4u8; 600]).partition(1)).unwrap();
        assert_eq!(b0.get_timeout(Duration::from_secs(10)).unwrap().offset, 0);
        std::thread::sleep(Duration::from_millis(100));
        assert!(!a0.is_done(), "partition 0 waits for its writer lock");
        // flush waits for the older batch of partition 0, though a later one is written
        let (p3, flushed) = (Arc::clone(&p), Arc::new(AtomicBool::new(false)));
        let f2 = Arc::clone(&flushed);
        let hf = std::thread::spawn(move || {
            p3.flush().unwrap();
            f2.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!flushed.load(Ordering::SeqCst), "flush returned before partition 0's batch was written");
        drop(held);
        hf.join().unwrap();
        let a1 = h0.join().unwrap();
        assert_eq!(a0.get().unwrap().offset, 0);
        assert_eq!(a1.get().unwrap().offset, 1);
        assert_eq!(b1.get().unwrap().offset, 1);
        let a = p.inner.accum.lock();
        assert!(a.ready.is_empty() && a.in_flight.is_empty() && a.shard_ready.iter().all(|&(n, b)| n == 0 && b == 0));
        drop(a);
        p.close().unwrap();
    }

    /// Threads sharing one producer and filling batches of partitions under different writer
    /// locks count as busy cores: they write their batches themselves (below the engine's
    /// busy-producer threshold), while one thread alone hands its batches to the sender.
    #[test]
    fn threads_sharing_a_producer_on_different_partitions_write_inline() {
        for threads in [1u32, 2] {
            let (_e, p) = two_partition_producer("s", 2);
            let barrier = Arc::new(std::sync::Barrier::new(threads as usize));
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let (p, barrier) = (Arc::clone(&p), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        // full batches of one record, sent in lockstep so both threads are
                        // recent sealers of their own partition
                        let fs: Vec<_> = (0..200u8)
                            .map(|i| {
                                if i % 20 == 0 {
                                    barrier.wait();
                                }
                                p.send(ProducerRecord::new("s", vec![i; 600]).partition(t)).unwrap()
                            })
                            .collect();
                        fs
                    })
                })
                .collect();
            let fs: Vec<Vec<SendFuture>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            p.flush().unwrap();
            for part in &fs {
                for (i, f) in part.iter().enumerate() {
                    assert_eq!(f.get().unwrap().offset, i as i64);
                }
            }
            let inline = p.inner.accum.lock().inline_rounds;
            if threads == 1 {
                assert_eq!(inline, 0, "one thread: the sender writes");
            } else {
                assert!(inline > 0, "two threads on two partitions write inline");
            }
            p.close().unwrap();
        }
    }

    /// A producer (acks=1, `batch.size` 1024, `linger.ms` 20 s) writing inline from one busy
    /// producer on, or only through its sender thread.
    fn bounded_producer(e: &crate::Engine, inline: bool, batch_size: &str) -> Producer {
        e.topics().unwrap().inline_write_from.store(if inline { 1 } else { usize::MAX }, Ordering::Relaxed);
        let cfg = ProducerConfig::default().set("acks", "1").unwrap().set("batch.size", batch_size).unwrap().set("linger.ms", "20000").unwrap();
        e.producer(cfg).unwrap()
    }

    #[test]
    fn a_full_batch_is_written_within_the_bound_when_nothing_else_is_sent() {
        for inline in [true, false] {
            let e = crate::Engine::open_in_memory().unwrap();
            // the default bound (FULL_BATCH_WAIT, far below linger.ms): acknowledged at once
            let p = bounded_producer(&e, inline, "1024");
            let f0 = p.send(ProducerRecord::new("b", vec![1u8; 600])).unwrap();
            // the sender, woken by the first batch, is back asleep until its linger.ms
            std::thread::sleep(Duration::from_millis(100));
            let t0 = Instant::now();
            p.send(ProducerRecord::new("b", vec![2u8; 600])).unwrap();
            assert_eq!(f0.get_timeout(Duration::from_secs(10)).unwrap().offset, 0);
            assert!(t0.elapsed() < Duration::from_secs(10));
            p.close().unwrap();
            // a bound of 1 s: not written before it, written soon after, long before linger.ms
            e.topics().unwrap().full_batch_wait_us.store(1_000_000, Ordering::Relaxed);
            let p = bounded_producer(&e, inline, "1024");
            let f0 = p.send(ProducerRecord::new("c", vec![1u8; 600])).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let t0 = Instant::now();
            let f1 = p.send(ProducerRecord::new("c", vec![2u8; 600])).unwrap();
            assert!(!f0.is_done(), "inline {inline}: a lone full batch waits for more");
            assert_eq!(f0.get_timeout(Duration::from_secs(10)).unwrap().offset, 0);
            let waited = t0.elapsed();
            assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(10), "inline {inline}: {waited:?}");
            assert!(!f1.is_done(), "the open batch keeps its linger.ms");
            assert_eq!(p.inner.accum.lock().inline_rounds, 0);
            p.close().unwrap();
            assert_eq!(f1.get().unwrap().offset, 1);
        }
    }

    /// The futures were acknowledged at offsets 0, 1, ... in order; on the inline path the
    /// filling `send` had already written them all when it returned.
    fn assert_written_in_order(fs: &[SendFuture], inline: bool) {
        for (i, f) in fs.iter().enumerate() {
            if inline {
                assert!(f.is_done(), "the filling send wrote every queued batch");
            }
            assert_eq!(f.get_timeout(Duration::from_secs(10)).unwrap().offset, i as i64);
        }
    }

    #[test]
    fn enough_queued_batches_are_written_at_once() {
        for inline in [true, false] {
            let e = crate::Engine::open_in_memory().unwrap();
            // the bound is linger.ms (20 s): only the count or the bytes can start a write
            e.topics().unwrap().full_batch_wait_us.store(60_000_000, Ordering::Relaxed);
            // WRITE_BATCHES batches of one record each
            let p = bounded_producer(&e, inline, "1024");
            let mut fs: Vec<SendFuture> = (0..WRITE_BATCHES).map(|i| p.send(ProducerRecord::new("n", vec![i as u8; 600])).unwrap()).collect();
            std::thread::sleep(Duration::from_millis(100));
            assert!(fs.iter().all(|f| !f.is_done()), "inline {inline}: {} sealed batches wait", WRITE_BATCHES - 1);
            // the next send seals one more: all of them go in one write
            fs.push(p.send(ProducerRecord::new("n", vec![9u8; 600])).unwrap());
            assert_written_in_order(&fs[..WRITE_BATCHES], inline);
            assert!(!fs[WRITE_BATCHES].is_done());
            assert_eq!(p.inner.accum.lock().inline_rounds, u64::from(inline));
            p.close().unwrap();
            // WRITE_BYTES in fewer batches: records larger than batch.size, each sealed in a
            // batch of its own by its send
            let p = bounded_producer(&e, inline, "65536");
            let big = 70_000;
            let n = WRITE_BYTES.div_ceil(big);
            assert!(n < WRITE_BATCHES);
            let mut fs: Vec<SendFuture> = (0..n - 1).map(|i| p.send(ProducerRecord::new("m", vec![i as u8; big])).unwrap()).collect();
            std::thread::sleep(Duration::from_millis(100));
            assert!(fs.iter().all(|f| !f.is_done()), "inline {inline}: {} batches, under WRITE_BYTES, wait", n - 1);
            fs.push(p.send(ProducerRecord::new("m", vec![0u8; big])).unwrap());
            assert_written_in_order(&fs, inline);
            p.close().unwrap();
        }
    }

    #[test]
    fn flush_writes_a_single_queued_batch_at_once() {
        for inline in [true, false] {
            let e = crate::Engine::open_in_memory().unwrap();
            e.topics().unwrap().full_batch_wait_us.store(60_000_000, Ordering::Relaxed);
            let p = bounded_producer(&e, inline, "1024");
            let f0 = p.send(ProducerRecord::new("f", vec![1u8; 600])).unwrap();
            let f1 = p.send(ProducerRecord::new("f", vec![2u8; 600])).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            assert!(!f0.is_done(), "the full batch waits (bound 20 s)");
            let t0 = Instant::now();
            p.flush().unwrap();
            assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
            assert!(f0.is_done() && f1.is_done());
            assert_eq!((f0.get().unwrap().offset, f1.get().unwrap().offset), (0, 1));
            // the flushed producer keeps batching afterwards
            let f2 = p.send(ProducerRecord::new("f", vec![3u8; 600])).unwrap();
            p.send(ProducerRecord::new("f", vec![4u8; 600])).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            assert!(!f2.is_done());
            p.close().unwrap();
            assert_eq!(f2.get().unwrap().offset, 2);
        }
    }

    #[test]
    fn a_waiting_send_makes_the_sender_seal_lingering_batches() {
        // Two open batches hold all of buffer.memory and linger.ms is long: the third
        // partition's send must not wait for linger.ms (nor time out) but have the sender
        // write the open batches now, as Kafka's sender drains an exhausted pool.
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("w", 3)).unwrap();
        let cfg = ProducerConfig::default()
            .set("batch.size", "1024")
            .unwrap()
            .set("buffer.memory", &(2 * batch_capacity(1024, 0)).to_string())
            .unwrap()
            .set("linger.ms", "20000")
            .unwrap()
            .set("max.block.ms", "5000")
            .unwrap();
        let p = e.producer(cfg).unwrap();
        let f0 = p.send(ProducerRecord::new("w", "a").partition(0)).unwrap();
        let f1 = p.send(ProducerRecord::new("w", "b").partition(1)).unwrap();
        assert!(!f0.is_done() && !f1.is_done());
        let t0 = Instant::now();
        let f2 = p.send(ProducerRecord::new("w", "c").partition(2)).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
        assert_eq!((f0.get().unwrap().offset, f1.get().unwrap().offset), (0, 0));
        p.flush().unwrap();
        assert_eq!(f2.get().unwrap().partition, 2);
    }

    #[test]
    fn send_blocks_up_to_max_block_ms_while_buffer_memory_is_held() {
        let e = crate::Engine::open_in_memory().unwrap();
        let cfg = |block: &str| {
            ProducerConfig::default().set("batch.size", "1024").unwrap().set("buffer.memory", "4096").unwrap().set("max.block.ms", block).unwrap().set("linger.ms", "0").unwrap()
        };
        assert_eq!(cfg("7").max_block_ms, 7);
        assert!(ProducerConfig::default().set("max.block.ms", "-1").is_err());
        // larger than the whole of buffer.memory: refused at once, as Kafka
        let p = e.producer(cfg("100")).unwrap();
        let err = p.send(ProducerRecord::new("m", vec![0u8; 5000])).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RecordTooLarge);
        // the memory is held (as by batches being written): send waits max.block.ms, then fails
        p.inner.accum.lock().pool.used = 4096;
        let t0 = Instant::now();
        let err = p.send(ProducerRecord::new("m", "a")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Timeout);
        assert!(t0.elapsed() >= Duration::from_millis(100), "{:?}", t0.elapsed());
        p.inner.accum.lock().pool.used = 0;
        p.send(ProducerRecord::new("m", "b")).unwrap().get().unwrap();
        p.close().unwrap();
        // memory given back while send waits wakes it
        let p = Arc::new(e.producer(cfg("10000")).unwrap());
        p.inner.accum.lock().pool.used = 4096;
        let p2 = Arc::clone(&p);
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut a = p2.inner.accum.lock();
            a.pool.used = 0;
            p2.inner.cv_done.notify_all();
        });
        let t0 = Instant::now();
        let meta = p.send(ProducerRecord::new("m", "c")).unwrap().get().unwrap();
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(9), "{waited:?}");
        assert_eq!(meta.offset, 1);
        h.join().unwrap();
        // a batch buffer of its own (record above batch.size) is given back whole; standard
        // ones stay in the free list
        let f = p.send(ProducerRecord::new("m", vec![1u8; 3000])).unwrap();
        f.get().unwrap();
        p.flush().unwrap();
        let a = p.inner.accum.lock();
        assert_eq!(a.pool.used, a.pool.free.len() * a.pool.standard);
    }
}
