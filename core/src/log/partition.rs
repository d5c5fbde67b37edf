//! The log of one topic partition: a sequence of segments, offsets, producer state, recovery.
//!
//! Directory `<data dir>/log/<topic>-<partition>/`:
//!
//! ```text
//! 00000000000000000000.log / .index / .timeindex / .txnindex    segments (see segment.rs)
//! 00000000000000001234.snapshot     producer state before offset 1234 (producer_state.rs)
//! leader-epoch-checkpoint           text: "0\n<count>\n<epoch> <start offset>\n..."
//! partition.metadata                text: "version: 0\ntopic_id: <base64 uuid>\n"
//! ```
//!
//! Appends take the partition lock; acks=all durability uses group commit: a caller that needs
//! offset N on disk takes the flush lock, and if nobody has synced past N yet it fsyncs the
//! segment files once for everything appended so far, so concurrent producers share fsyncs.
//!
//! A roll does not fsync the old segment on the appending thread: as Kafka's `UnifiedLog.roll`
//! schedules `flushUptoOffsetExclusive(newSegment.baseOffset)`, it records the new base offset
//! and the engine's background thread (`PartitionLog::flush_rolled`) fsyncs the older
//! segments without the partition lock, then moves the recovery point. Until then the recovery
//! point stays behind, so a crash in between rescans from the old one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use super::batch::{self, BatchHeader, ControlType, TimestampType};
use super::config::TopicConfig;
use super::index::AbortedTxn;
use super::producer_state::{self, AppendCheck, ProducerStateManager};
use super::segment::{file_name, Segment};
use crate::error::{Error, ErrorCode, Result};

/// `isolation.level` of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Read up to the high watermark, aborted data included.
    #[default]
    ReadUncommitted,
    /// Read up to the last stable offset, skipping aborted transactions.
    ReadCommitted,
}

impl IsolationLevel {
    /// Parse Kafka's names `read_uncommitted` / `read_committed`.
    pub fn parse(s: &str) -> Result<IsolationLevel> {
        match s {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err(Error::new(ErrorCode::InvalidConfig, format!("isolation.level {s:?} must be read_uncommitted or read_committed"))),
        }
    }
}

/// Wakes long-polling readers when any partition gets data.
#[derive(Default)]
pub(crate) struct DataSignal {
    seq: Mutex<u64>,
    cond: Condvar,
}

impl DataSignal {
    pub(crate) fn current(&self) -> u64 {
        *self.seq.lock()
    }
    pub(crate) fn notify(&self) {
        let mut s = self.seq.lock();
        *s = s.wrapping_add(1);
        self.cond.notify_all();
    }
    /// Wait until the sequence moves past `seen` or the deadline passes.
    pub(crate) fn wait(&self, seen: u64, deadline: std::time::Instant) {
        let mut s = self.seq.lock();
        while *s == seen {
            if self.cond.wait_until(&mut s, deadline).timed_out() {
                return;
            }
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record.
    pub first_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The broker's timestamp under LogAppendTime, else -1.
    pub log_append_time: i64,
    /// The batch was a retry already in the log (offsets are the original ones).
    pub duplicate: bool,
}

/// The result of a read.
#[derive(Debug, Clone, Default)]
pub struct FetchData {
    /// Whole record batches (Kafka bytes), starting with the one holding the fetch offset.
    pub bytes: Vec<u8>,
    /// High watermark (= log end offset with one replica).
    pub high_watermark: i64,
    /// Last stable offset.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
    /// Aborted transactions overlapping the read (read_committed only).
    pub aborted: Vec<AbortedTxn>,
}

/// Per-segment facts for describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Base offset.
    pub base_offset: i64,
    /// Offset after the segment's last batch.
    pub next_offset: i64,
    /// Bytes of the `.log` file.
    pub size_bytes: u64,
    /// Largest timestamp (-1 when empty).
    pub max_timestamp: i64,
}

pub(crate) struct LogState {
    pub(super) segments: BTreeMap<i64, Segment>,
    log_start: i64,
    leo: i64,
    /// Everything below is flushed with its indexes (checkpointed).
    recovery_point: i64,
    /// A roll started a segment at this offset; the segments below it wait for the background
    /// flush ([`PartitionLog::flush_rolled`]) before the recovery point moves there.
    roll_flush_upto: Option<i64>,
    producers: ProducerStateManager,
    unflushed_messages: i64,
    first_unflushed_ms: Option<i64>,
    closed: bool,
}

/// A batch that passed [`PartitionLog::check_batch`].
struct CheckedBatch {
    bytes: Vec<u8>,
    h: BatchHeader,
    control: Option<(ControlType, i32)>,
}

/// What [`PartitionLog::place`] did with a batch.
enum Placed {
    /// Waiting in the run to be written.
    Pending,
    /// A retry already in the log: its original offsets, and the buffer.
    Duplicate(AppendInfo, Vec<u8>),
}

/// A placed batch waiting for the run's write.
struct PendingBatch {
    slot: usize,
    h: BatchHeader,
    bytes: Vec<u8>,
    info: AppendInfo,
    completed: Option<producer_state::CompletedTxn>,
}

/// Batches placed under one hold of the partition lock and not yet written, with what a
/// failed write must restore; and the results of every batch of the call by slot.
#[derive(Default)]
struct Run {
    pending: Vec<PendingBatch>,
    /// Bytes and records of `pending`.
    bytes: u64,
    records: i32,
    /// The producers' state before the first pending batch of each.
    saved: Vec<producer_state::SavedProducer>,
    results: Vec<Option<(Result<AppendInfo>, Option<Vec<u8>>)>>,
    /// Records written by this call so far, and whether anything was.
    written_records: i32,
    wrote: bool,
}

/// The log of one partition.
pub(crate) struct PartitionLog {
    pub(crate) topic: String,
    pub(crate) partition: u32,
    pub(crate) dir: PathBuf,
    pub(super) state: Mutex<LogState>,
    config: RwLock<Arc<TopicConfig>>,
    /// One compaction at a time per partition.
    pub(super) clean_lock: Mutex<()>,
    flush_lock: Mutex<()>,
    /// Offsets below this are fsynced.
    pub(super) durable: AtomicI64,
    signal: Arc<DataSignal>,
}

fn io(ctx: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::io(ctx, e)
}

/// Write the leader-epoch-checkpoint file (Kafka's text format, version 0): leader epoch 0,
/// the only one a single engine has, starting at `start`.
fn write_epoch_checkpoint(dir: &Path, start: i64) -> Result<()> {
    crate::util::write_atomic(&dir.join("leader-epoch-checkpoint"), format!("0\n1\n0 {start}\n").as_bytes())
}

/// Whether a leader-epoch-checkpoint's text lists at least one epoch (its second line is the
/// entry count).
fn epoch_checkpoint_has_entry(text: &str) -> bool {
    text.lines().nth(1).and_then(|n| n.trim().parse::<u32>().ok()).is_some_and(|n| n > 0)
}

impl PartitionLog {
    /// Open (and if needed recover) the partition in `dir`, creating it when missing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        dir: PathBuf,
        topic: &str,
        partition: u32,
        topic_id: &str,
        config: Arc<TopicConfig>,
        clean_shutdown: bool,
        recovery_point: i64,
        log_start_checkpoint: i64,
        signal: Arc<DataSignal>,
    ) -> Result<PartitionLog> {
        let created = !dir.exists();
        std::fs::create_dir_all(&dir).map_err(|e| io(format_args!("create {}", dir.display()), e))?;
        if created {
            std::fs::write(dir.join("partition.metadata"), format!("version: 0\ntopic_id: {topic_id}\n"))
                .map_err(|e| io("write partition.metadata", e))?;
        }
        let mut logs = Vec::new();
        let mut snapshots = Vec::new();
        let mut others: Vec<(PathBuf, i64)> = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io(format_args!("list {}", dir.display()), e))? {
            let entry = entry.map_err(|e| io("list partition dir", e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let path = entry.path();
            if name.ends_with(".deleted") || name.ends_with(".cleaned") || name.ends_with(".swap") || name.ends_with(".tmp") {
                std::fs::remove_file(&path).map_err(|e| io(format_args!("remove {}", path.display()), e))?;
                continue;
            }
            let Some((stem, ext)) = name.split_once('.') else { continue };
            if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(off) = stem.parse::<i64>() else { continue };
            match ext {
                "log" => logs.push(off),
                "snapshot" => snapshots.push(off),
                "index" | "timeindex" | "txnindex" => others.push((path, off)),
                _ => {}
            }
        }
        logs.sort_unstable();
        snapshots.sort_unstable();
        for (p, off) in others {
            if logs.binary_search(&off).is_err() {
                std::fs::remove_file(&p).map_err(|e| io(format_args!("remove orphan {}", p.display()), e))?;
            }
        }
        let interval = config.index_interval_bytes;
        // 1. open segments; those needing recovery are opened with fresh indexes.
        let mut segments = BTreeMap::new();
        let mut needs = Vec::new();
        // Unclean: recover the segment holding the recovery point and every later one.
        let floor = logs.iter().copied().filter(|&b| b <= recovery_point).max().unwrap_or(i64::MIN);
        for &base in &logs {
            let must = !clean_shutdown && base >= floor;
            let seg = if must {
                None
            } else {
                Segment::open(&dir, base, true).ok()
            };
            let mut seg = match seg {
                Some(s) => s,
                None => {
                    needs.push(base);
                    Segment::open(&dir, base, false)?
                }
            };
            seg.set_max_index_bytes(config.segment_index_bytes);
            segments.insert(base, seg);
        }
        // Kafka also recovers every segment after the first one that needs it.
        let first_recover = needs.first().copied();
        // 2. producer state: latest valid snapshot at or below where replay must start.
        let loaded_end = segments.values().last().map_or(0, Segment::next_offset);
        let limit = first_recover.unwrap_or(loaded_end);
        let mut producers = ProducerStateManager::new();
        let mut replay_from = logs.first().copied().unwrap_or(0);
        for &s in snapshots.iter().rev() {
            if s > limit {
                continue;
            }
            let p = dir.join(producer_state::snapshot_name(s));
            match std::fs::read(&p).map_err(|e| io("read snapshot", e)).and_then(|b| ProducerStateManager::from_snapshot(&b, &p)) {
                Ok(m) => {
                    producers = m;
                    replay_from = s;
                    break;
                }
                Err(_) => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        // 3. replay trusted segments from the snapshot to the first recovered one.
        for (&base, seg) in segments.iter() {
            if first_recover.is_some_and(|f| base >= f) {
                break;
            }
            if seg.next_offset() <= replay_from {
                continue;
            }
            let end = seg.scan(0, |_, h, bytes| {
                if h.base_offset >= replay_from {
                    apply_batch(&mut producers, h, bytes)?;
                }
                Ok(())
            })?;
            if let Some(e) = end.error {
                return Err(Error::new(ErrorCode::CorruptRecord, format!("flushed segment {} of {}: {}", base, dir.display(), e.message())));
            }
        }
        // 4. recover the rest in order; a torn tail drops every later segment.
        if let Some(first) = first_recover {
            let bases: Vec<i64> = segments.range(first..).map(|(&b, _)| b).collect();
            let mut truncated = false;
            for base in bases {
                if truncated {
                    if let Some(s) = segments.remove(&base) {
                        s.delete_files()?;
                    }
                    continue;
                }
                let Some(seg) = segments.get_mut(&base) else { continue };
                let replay = base >= replay_from;
                let cut = seg.recover(interval, |h, bytes| {
                    if !replay && h.base_offset < replay_from {
                        return Ok(None);
                    }
                    let done = apply_batch(&mut producers, h, bytes)?;
                    Ok(done.filter(|c| c.aborted).map(|c| producers.aborted_entry(&c)))
                })?;
                if cut > 0 {
                    truncated = true;
                }
            }
        }
        let leo = segments.values().last().map_or(log_start_checkpoint.max(0), Segment::next_offset);
        if segments.is_empty() {
            let base = log_start_checkpoint.max(0);
            let mut seg = Segment::create(&dir, base)?;
            seg.set_max_index_bytes(config.segment_index_bytes);
            segments.insert(base, seg);
        }
        // Drop snapshots past the end (they describe data that is gone).
        for &s in &snapshots {
            if s > leo {
                let _ = std::fs::remove_file(dir.join(producer_state::snapshot_name(s)));
            }
        }
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let log_start = log_start_checkpoint.max(first_base).min(leo);
        // Epoch 0 gets its start offset here, as Kafka's `Partition.makeLeader` assigns a new
        // leader epoch the log end offset when the partition gets its leader, so no append
        // writes (and fsyncs) the file under the partition lock. A checkpoint without an entry
        // (a crash before it was written, or an older kabase, which wrote it on the first
        // append) gets one: the log start of a non-empty log, else the offset the first
        // append will take.
        let epoch_path = dir.join("leader-epoch-checkpoint");
        let nonempty = segments.values().any(|s| s.size() > 0);
        let has_entry = !created && std::fs::read_to_string(&epoch_path).is_ok_and(|t| epoch_checkpoint_has_entry(&t));
        if !has_entry {
            write_epoch_checkpoint(&dir, if nonempty { log_start } else { leo })?;
        }
        let durable = leo;
        Ok(PartitionLog {
            topic: topic.to_string(),
            partition,
            dir,
            state: Mutex::new(LogState {
                segments,
                log_start,
                leo,
                recovery_point: recovery_point.min(leo),
                roll_flush_upto: None,
                producers,
                unflushed_messages: 0,
                first_unflushed_ms: None,
                closed: false,
            }),
            config: RwLock::new(config),
            clean_lock: Mutex::new(()),
            flush_lock: Mutex::new(()),
            durable: AtomicI64::new(durable),
            signal,
        })
    }

    pub(crate) fn config(&self) -> Arc<TopicConfig> {
        Arc::clone(&self.config.read())
    }

    pub(crate) fn set_config(&self, c: Arc<TopicConfig>) {
        *self.config.write() = c;
    }

    fn closed_err(&self) -> Error {
        Error::closed(&format!("partition {}-{}", self.topic, self.partition))
    }

    /// Append one batch encoded in this process (offsets are assigned here): the internal
    /// offsets topic and the change-stream relay write this way.
    pub(crate) fn append(&self, bytes: Vec<u8>) -> Result<AppendInfo> {
        self.append_inner(bytes, false).map(|(info, _)| info)
    }

    /// Append client batches of one producer in order under one hold of the partition lock,
    /// the batches placed one after another written with one vectored write (a run of batches
    /// costs the kernel less than a write each: see [`Segment::append_batches`]). Before a
    /// batch is checked, `restamp(batch, records)` gets it with the number of records this call
    /// has accepted so far, so a producer numbering its batches renumbers one when an earlier
    /// batch was refused, as Kafka's producer adjusts the sequences of in-flight batches after
    /// a failed one. Returns each batch's result with its buffer for reuse, and the records
    /// accepted (written, or answered as duplicates). A batch refused by its checks fails
    /// alone; an I/O error fails the batches not yet written and every later one. The batches
    /// come from this process's producer, which computed their CRCs over these very bytes a
    /// moment ago, so only their headers are checked here (one CRC pass per batch).
    pub(crate) fn append_batches(&self, batches: Vec<Vec<u8>>, mut restamp: impl FnMut(&mut Vec<u8>, i32) -> Result<()>) -> (Vec<(Result<AppendInfo>, Option<Vec<u8>>)>, i32) {
        let config = self.config();
        let count = batches.len();
        let mut it = batches.into_iter();
        self.append_run(&config, false, count, |accepted| {
            let mut b = it.next().ok_or_else(|| Error::internal("append_batches ran out of batches"))?;
            restamp(&mut b, accepted)?;
            self.check_batch(&config, b, false)
        })
    }

    /// Append a transaction marker (COMMIT or ABORT) for a producer.
    pub(crate) fn append_marker(&self, producer_id: i64, epoch: i16, kind: ControlType, coordinator_epoch: i32) -> Result<AppendInfo> {
        let b = batch::encode_control_batch(0, producer_id, epoch, kind, coordinator_epoch, crate::util::now_ms())?;
        self.append_inner(b, true).map(|(info, _)| info)
    }

    /// Both callers pass batches encoded in this process (CRC freshly computed).
    fn append_inner(&self, bytes: Vec<u8>, coordinator: bool) -> Result<(AppendInfo, Vec<u8>)> {
        let config = self.config();
        // The checks that need no lock run before it is taken.
        let mut checked = Some(self.check_batch(&config, bytes, coordinator)?);
        let (mut results, _) = self.append_run(&config, coordinator, 1, |_| checked.take().ok_or_else(|| Error::internal("one batch appended twice")));
        match results.pop() {
            Some((Ok(info), Some(bytes))) => Ok((info, bytes)),
            Some((Err(e), _)) => Err(e),
            _ => Err(Error::internal("append lost its batch")),
        }
    }

    /// The checks of a batch that need no lock: one whole batch, its record count, the size
    /// limit, the topic's codec (recompressing when it differs), keys for a compacted topic,
    /// and the marker of a control batch.
    fn check_batch(&self, config: &TopicConfig, mut bytes: Vec<u8>, coordinator: bool) -> Result<CheckedBatch> {
        let mut h = batch::parse_header(&bytes)?;
        if bytes.len() != h.size() {
            return Err(Error::new(ErrorCode::CorruptRecord, "append takes exactly one record batch"));
        }
        if !coordinator {
            if h.is_control() {
                return Err(Error::invalid("clients may not write control batches"));
            }
            if h.records_count == 0 || h.last_offset_delta != h.records_count - 1 {
                return Err(Error::new(ErrorCode::CorruptRecord, format!("batch has {} records but lastOffsetDelta {}", h.records_count, h.last_offset_delta)));
            }
        }
        if bytes.len() > config.max_message_bytes {
            return Err(Error::new(
                ErrorCode::RecordTooLarge,
                format!("batch of {} bytes exceeds max.message.bytes {} of topic {}", bytes.len(), config.max_message_bytes, self.topic),
            ));
        }
        if let Some(c) = config.compression {
            if !h.is_control() && h.compression()? != c {
                bytes = recompress(&bytes, &h, c)?;
                h = batch::parse_header(&bytes)?;
            }
        }
        if config.cleanup_compact && !h.is_control() {
            let (_, recs) = batch::decode_records(&bytes)?;
            if recs.iter().any(|r| r.key.is_none()) {
                return Err(Error::invalid(format!("compacted topic {} cannot accept a record without a key", self.topic)));
            }
        }
        let control = if h.is_control() {
            let (_, recs) = batch::decode_records(&bytes)?;
            let r = recs.first().ok_or_else(|| Error::new(ErrorCode::CorruptRecord, "control batch without a record"))?;
            let kind = batch::parse_control_key(r.key.as_deref().unwrap_or(&[]))?;
            let ce = r.value.as_deref().filter(|v| v.len() >= 6).map_or(-1, |v| i32::from_be_bytes([v[2], v[3], v[4], v[5]]));
            Some((kind, ce))
        } else {
            None
        };
        Ok(CheckedBatch { bytes, h, control })
    }

    /// Append `count` checked batches taken from `next` (given the records accepted so far)
    /// under one hold of the partition lock. Each batch is placed (producer state checked and
    /// updated, offsets assigned) and waits in a run; the run is written with one vectored
    /// write before a roll and at the end, and only then indexed and counted. A failed write
    /// takes the run back (log end offset and the producers' state as before it).
    fn append_run(&self, config: &TopicConfig, coordinator: bool, count: usize, mut next: impl FnMut(i32) -> Result<CheckedBatch>) -> (Vec<(Result<AppendInfo>, Option<Vec<u8>>)>, i32) {
        let mut run = Run { results: (0..count).map(|_| None).collect(), ..Run::default() };
        let mut accepted = 0i32;
        let mut written_end = None;
        let mut flush_needed = false;
        {
            let mut st = self.state.lock();
            let mut failed: Option<Error> = None;
            for slot in 0..count {
                if st.closed {
                    failed = Some(self.closed_err());
                }
                if let Some(e) = &failed {
                    run.results[slot] = Some((Err(Error::new(e.code(), e.message().to_string())), None));
                    continue;
                }
                let c = match next(accepted + run.written_records + run.records) {
                    Ok(c) => c,
                    Err(e) => {
                        run.results[slot] = Some((Err(e), None));
                        continue;
                    }
                };
                let records = c.h.records_count;
                match self.place(&mut st, config, c, slot, &mut run) {
                    Ok(Placed::Pending) => {}
                    Ok(Placed::Duplicate(info, bytes)) => {
                        accepted += records;
                        run.results[slot] = Some((Ok(info), Some(bytes)));
                    }
                    Err((e, bytes, io)) => {
                        if io {
                            failed = Some(Error::new(e.code(), e.message().to_string()));
                        }
                        run.results[slot] = Some((Err(e), Some(bytes)));
                    }
                }
            }
            // A failed write is in the results of its batches.
            let _ = self.write_run(&mut st, config, &mut run);
            accepted += run.written_records;
            if run.wrote {
                written_end = Some(st.leo);
                flush_needed = st.unflushed_messages >= config.flush_messages;
            }
        }
        if let Some(end) = written_end {
            self.signal.notify();
            if flush_needed || coordinator {
                if let Err(e) = self.flush_to(end) {
                    for (r, _) in run.results.iter_mut().flatten() {
                        if r.as_ref().is_ok_and(|i| !i.duplicate) {
                            *r = Err(Error::new(e.code(), e.message().to_string()));
                        }
                    }
                }
            }
        }
        let results = run.results.into_iter().map(|r| r.unwrap_or_else(|| (Err(Error::internal("batch not appended")), None))).collect();
        (results, accepted)
    }

    /// Place one checked batch at the log end: de-duplicate, assign its offsets, roll first
    /// when the segment is due (writing the run so far), update the producer state, and add
    /// it to the run. An error says whether it was I/O (`true`: nothing later may follow).
    fn place(&self, st: &mut LogState, config: &TopicConfig, c: CheckedBatch, slot: usize, run: &mut Run) -> std::result::Result<Placed, (Error, Vec<u8>, bool)> {
        let CheckedBatch { mut bytes, h, control } = c;
        match st.producers.check(&h) {
            Ok(AppendCheck::Duplicate { first_offset, last_offset }) => {
                return Ok(Placed::Duplicate(AppendInfo { first_offset, last_offset, log_append_time: -1, duplicate: true }, bytes));
            }
            Ok(AppendCheck::Append) => {}
            Err(e) => return Err((e, bytes, false)),
        }
        let base = st.leo;
        batch::set_base_offset(&mut bytes, base);
        let mut log_append_time = -1;
        if config.timestamp_type == TimestampType::LogAppendTime && !h.is_control() {
            log_append_time = crate::util::now_ms();
            batch::set_log_append_time(&mut bytes, log_append_time);
        }
        let h = match batch::parse_header(&bytes) {
            Ok(h) => h,
            Err(e) => return Err((e, bytes, false)),
        };
        if self.needs_roll(st, &h, config, run.bytes, run.pending.len()) {
            if let Err(e) = self.write_run(st, config, run) {
                return Err((e, bytes, true));
            }
            if let Err(e) = self.roll(st) {
                return Err((e, bytes, true));
            }
        }
        if h.has_producer_id() && !run.saved.iter().any(|s| s.producer_id() == h.producer_id) {
            run.saved.push(st.producers.save(h.producer_id));
        }
        let completed = st.producers.update(&h, control);
        st.leo = h.next_offset();
        run.bytes += bytes.len() as u64;
        run.records += h.records_count;
        let info = AppendInfo { first_offset: base, last_offset: h.last_offset(), log_append_time, duplicate: false };
        run.pending.push(PendingBatch { slot, h, bytes, info, completed });
        Ok(Placed::Pending)
    }

    /// Write the run's batches with one vectored write, then index and count them and fill
    /// their results. On a write error every batch of the run fails and the log end offset and
    /// the producers' state go back to before the run.
    fn write_run(&self, st: &mut LogState, config: &TopicConfig, run: &mut Run) -> Result<()> {
        if run.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut run.pending);
        let records = std::mem::take(&mut run.records);
        run.bytes = 0;
        let saved = std::mem::take(&mut run.saved);
        let from = pending[0].info.first_offset;
        let written = match st.segments.values_mut().next_back() {
            None => Err(Error::internal("partition has no segment")),
            Some(active) => {
                let list: Vec<(BatchHeader, &[u8])> = pending.iter().map(|p| (p.h, &p.bytes[..])).collect();
                active.append_batches(&list, config.index_interval_bytes)
            }
        };
        if let Err(e) = written {
            st.leo = from;
            for s in saved {
                st.producers.restore(s, from);
            }
            for p in pending {
                run.results[p.slot] = Some((Err(Error::new(e.code(), e.message().to_string())), Some(p.bytes)));
            }
            return Err(e);
        }
        run.wrote = true;
        run.written_records += records;
        let mut index_error = None;
        for p in pending {
            if let Some(done) = p.completed {
                if done.aborted {
                    let entry = st.producers.aborted_entry(&done);
                    if let Some(active) = st.segments.values_mut().next_back() {
                        if let Err(e) = active.append_aborted(entry) {
                            index_error = Some(Error::new(e.code(), e.message().to_string()));
                            run.results[p.slot] = Some((Err(e), Some(p.bytes)));
                            continue;
                        }
                    }
                }
            }
            st.unflushed_messages += i64::from(p.h.records_count);
            if st.first_unflushed_ms.is_none() {
                st.first_unflushed_ms = Some(crate::util::now_ms());
            }
            run.results[p.slot] = Some((Ok(p.info), Some(p.bytes)));
        }
        match index_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether `h` must go to a new segment, with `pending` batches of `pending_bytes` placed
    /// but not yet written (nor indexed).
    fn needs_roll(&self, st: &LogState, h: &BatchHeader, config: &TopicConfig, pending_bytes: u64, pending: usize) -> bool {
        let Some(active) = st.segments.values().next_back() else { return false };
        let size = active.size() + pending_bytes;
        if size == 0 {
            return false;
        }
        let too_big = size + h.size() as u64 > config.segment_bytes;
        let too_old = active.rolling_timestamp().is_some_and(|t| h.max_timestamp.saturating_sub(t) > config.segment_ms)
            || crate::util::now_ms().saturating_sub(active.created_ms) > config.segment_ms;
        let overflow = h.last_offset() - active.base_offset > i64::from(i32::MAX);
        too_big || too_old || overflow || active.indexes_full_after(pending)
    }

    /// Start a new segment at the log end offset: the old one gets its final time-index entry
    /// and a producer snapshot is taken at the new base offset. The old segment is fsynced
    /// later by [`PartitionLog::flush_rolled`], off the append path.
    fn roll(&self, st: &mut LogState) -> Result<()> {
        let leo = st.leo;
        if let Some(active) = st.segments.values_mut().next_back() {
            if active.base_offset == leo {
                return Ok(());
            }
            active.on_become_inactive()?;
        }
        let snap = self.dir.join(producer_state::snapshot_name(leo));
        crate::util::write_atomic(&snap, &st.producers.snapshot_bytes())?;
        let mut seg = Segment::create(&self.dir, leo)?;
        seg.set_max_index_bytes(self.config().segment_index_bytes);
        st.segments.insert(leo, seg);
        crate::util::sync_dir(&self.dir)?;
        st.roll_flush_upto = Some(st.roll_flush_upto.map_or(leo, |u| u.max(leo)));
        Ok(())
    }

    /// The background half of a roll (Kafka's "flush-log" task): fsync every segment below the
    /// rolled-to offset that is not yet flushed, with its indexes, holding no lock during the
    /// fsyncs; only then move the recovery point (and `durable`) to that offset. Does nothing
    /// when no roll is waiting. Called by the engine's background thread.
    pub(crate) fn flush_rolled(&self) -> Result<()> {
        let (upto, files) = {
            let mut st = self.state.lock();
            let Some(upto) = st.roll_flush_upto else { return Ok(()) };
            let rp = st.recovery_point;
            let mut files = Vec::new();
            for seg in st.segments.range_mut(..upto).map(|(_, s)| s) {
                if seg.next_offset() > rp || seg.size() > seg.flushed_size {
                    files.push(seg.sync_files()?);
                }
            }
            (upto, files)
        };
        for f in &files {
            f.sync()?;
        }
        let mut st = self.state.lock();
        for f in &files {
            if let Some(seg) = st.segments.get_mut(&f.base_offset) {
                seg.mark_synced(f);
            }
        }
        if st.roll_flush_upto == Some(upto) {
            st.roll_flush_upto = None;
        }
        st.recovery_point = st.recovery_point.max(upto);
        drop(st);
        self.durable.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// `.log` files that may hold data not yet fsynced: every segment past `durable` (a
    /// rolled segment whose background flush is pending included) and any written past its
    /// last full flush.
    pub(super) fn unsynced_logs(&self, st: &LogState) -> Vec<(i64, Arc<std::fs::File>)> {
        let durable = self.durable.load(Ordering::Acquire);
        st.segments.values().filter(|s| s.next_offset() > durable || s.size() > s.flushed_size).map(|s| (s.base_offset, s.log_file())).collect()
    }

    /// Make everything below `offset` durable, sharing one fsync with concurrent callers.
    pub(crate) fn flush_to(&self, offset: i64) -> Result<()> {
        if self.durable.load(Ordering::Acquire) >= offset {
            return Ok(());
        }
        let _g = self.flush_lock.lock();
        if self.durable.load(Ordering::Acquire) >= offset {
            return Ok(());
        }
        let (files, leo) = {
            let st = self.state.lock();
            (self.unsynced_logs(&st), st.leo)
        };
        for (_, f) in files {
            f.sync_data().map_err(|e| io(format_args!("sync {}", self.dir.display()), e))?;
        }
        self.durable.fetch_max(leo, Ordering::AcqRel);
        let mut st = self.state.lock();
        st.unflushed_messages = 0;
        st.first_unflushed_ms = None;
        Ok(())
    }

    /// fsync when `flush.ms` says so (called by the engine's background thread).
    pub(crate) fn maybe_flush_by_time(&self, now: i64) -> Result<()> {
        let flush_ms = self.config().flush_ms;
        let due = {
            let st = self.state.lock();
            st.first_unflushed_ms.is_some_and(|t| now.saturating_sub(t) >= flush_ms)
        };
        if due {
            self.flush_to(self.log_end_offset())?;
        }
        Ok(())
    }

    /// Flush every segment with its indexes and move the recovery point to the end.
    pub(crate) fn flush_all(&self) -> Result<i64> {
        let _g = self.flush_lock.lock();
        let mut st = self.state.lock();
        for s in st.segments.values_mut() {
            s.flush()?;
        }
        st.recovery_point = st.leo;
        st.roll_flush_upto = None;
        st.unflushed_messages = 0;
        st.first_unflushed_ms = None;
        self.durable.fetch_max(st.leo, Ordering::AcqRel);
        Ok(st.leo)
    }

    /// Clean close: flush, snapshot producer state at the end, refuse further appends.
    pub(crate) fn close(&self) -> Result<()> {
        self.flush_all()?;
        let mut st = self.state.lock();
        if st.closed {
            return Ok(());
        }
        // Clean close: every index file holds exactly its entries (Kafka trims on close), and no
        // `.log` keeps space allocated past its end.
        for s in st.segments.values_mut() {
            s.trim()?;
        }
        let snap = self.dir.join(producer_state::snapshot_name(st.leo));
        crate::util::write_atomic(&snap, &st.producers.snapshot_bytes())?;
        st.closed = true;
        Ok(())
    }

    pub(crate) fn log_end_offset(&self) -> i64 {
        self.state.lock().leo
    }

    pub(crate) fn log_start_offset(&self) -> i64 {
        self.state.lock().log_start
    }

    pub(crate) fn recovery_point(&self) -> i64 {
        self.state.lock().recovery_point
    }

    fn lso_of(st: &LogState) -> i64 {
        st.producers.first_unstable_offset().unwrap_or(st.leo).min(st.leo)
    }

    /// `(log start, LEO, high watermark, last stable offset)`.
    pub(crate) fn offsets(&self) -> (i64, i64, i64, i64) {
        let st = self.state.lock();
        (st.log_start, st.leo, st.leo, Self::lso_of(&st))
    }

    pub(crate) fn segment_infos(&self) -> Vec<SegmentInfo> {
        let st = self.state.lock();
        st.segments
            .values()
            .map(|s| SegmentInfo { base_offset: s.base_offset, next_offset: s.next_offset(), size_bytes: s.size(), max_timestamp: s.max_timestamp() })
            .collect()
    }

    /// Read whole batches from `offset`, at most `max_bytes` (at least one batch).
    pub(crate) fn read(&self, offset: i64, max_bytes: usize, isolation: IsolationLevel) -> Result<FetchData> {
        self.read_into(offset, max_bytes, isolation, Vec::new())
    }

    /// [`PartitionLog::read`] into `buf` (cleared first), so a reader can reuse one buffer.
    pub(crate) fn read_into(&self, offset: i64, max_bytes: usize, isolation: IsolationLevel, mut buf: Vec<u8>) -> Result<FetchData> {
        buf.clear();
        let st = self.state.lock();
        let lso = Self::lso_of(&st);
        let mut out = FetchData { bytes: buf, high_watermark: st.leo, last_stable_offset: lso, log_start_offset: st.log_start, aborted: Vec::new() };
        if offset < st.log_start || offset > st.leo {
            return Err(Error::new(
                ErrorCode::OffsetOutOfRange,
                format!("offset {offset} is outside [{}, {}] of {}-{}", st.log_start, st.leo, self.topic, self.partition),
            ));
        }
        let upper = if isolation == IsolationLevel::ReadCommitted { lso } else { st.leo };
        if offset >= upper {
            return Ok(out);
        }
        let mut at = offset;
        let start_key = st.segments.range(..=offset).next_back().map_or(offset, |(&k, _)| k);
        for (_, seg) in st.segments.range(start_key..) {
            if seg.base_offset >= upper || out.bytes.len() >= max_bytes {
                break;
            }
            let max_pos = if upper < seg.next_offset() {
                match seg.translate(upper)? {
                    Some((p, h)) if h.base_offset >= upper => p,
                    Some((p, h)) => p + h.size() as u64,
                    None => seg.size(),
                }
            } else {
                seg.size()
            };
            let start = out.bytes.len();
            let room = max_bytes.saturating_sub(start);
            if seg.read_into(at.max(seg.base_offset), if start == 0 { room } else { room.max(1) }, max_pos, &mut out.bytes)? {
                // `seg.read_into` checked every CRC; walk the headers only.
                if start > 0 && out.bytes.len() > max_bytes {
                    // keep whole batches only within the limit
                    let mut take = 0;
                    for r in batch::batches_unchecked(&out.bytes[start..]) {
                        let Ok((h, _)) = r else { break };
                        if start + take + h.size() > max_bytes {
                            break;
                        }
                        take += h.size();
                    }
                    out.bytes.truncate(start + take);
                    break;
                }
                let mut last_next = at;
                for (h, _) in batch::batches_unchecked(&out.bytes[start..]).flatten() {
                    last_next = h.next_offset();
                }
                if last_next < seg.next_offset() {
                    // The read stopped inside this segment (size limit or a bad batch next).
                    break;
                }
            }
            at = seg.next_offset();
        }
        if isolation == IsolationLevel::ReadCommitted {
            for seg in st.segments.values() {
                for t in seg.aborted() {
                    if t.last_offset >= offset && t.first_offset < upper {
                        out.aborted.push(*t);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Kafka's ListOffsets by timestamp: the first record with timestamp ≥ `ts` as
    /// `(timestamp, offset)`; -2 = earliest, -1 = latest.
    pub(crate) fn offset_for_time(&self, ts: i64) -> Result<Option<(i64, i64)>> {
        let st = self.state.lock();
        if ts == -2 {
            return Ok(Some((-1, st.log_start)));
        }
        if ts == -1 {
            return Ok(Some((-1, st.leo)));
        }
        for seg in st.segments.values() {
            if seg.next_offset() <= st.log_start || seg.max_timestamp() < ts {
                continue;
            }
            if let Some(r) = seg.find_offset_by_timestamp(ts, st.log_start)? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Move the log start offset to `offset` (Kafka's DeleteRecords) and delete segments that
    /// lie wholly below it. Returns the new log start offset.
    pub(crate) fn delete_records(&self, offset: i64) -> Result<i64> {
        let mut st = self.state.lock();
        let target = if offset == -1 { st.leo } else { offset };
        if target < 0 || target > st.leo {
            return Err(Error::new(ErrorCode::OffsetOutOfRange, format!("delete_records offset {offset} is beyond the high watermark {}", st.leo)));
        }
        if target > st.log_start {
            st.log_start = target;
        }
        self.delete_segments_below(&mut st)?;
        Ok(st.log_start)
    }

    fn delete_segments_below(&self, st: &mut LogState) -> Result<()> {
        loop {
            let mut it = st.segments.iter();
            let Some((&first, _)) = it.next() else { break };
            let Some((&second, _)) = it.next() else { break };
            if second > st.log_start {
                break;
            }
            if let Some(s) = st.segments.remove(&first) {
                s.delete_files()?;
            }
        }
        let first = st.segments.keys().next().copied().unwrap_or(st.leo);
        for e in std::fs::read_dir(&self.dir).map_err(|e| io("list partition", e))?.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if let Some(stem) = n.strip_suffix(".snapshot") {
                if stem.parse::<i64>().is_ok_and(|o| o < first) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Retention by time and size: delete whole non-active segments whose largest timestamp is
    /// older than `retention.ms`, and oldest segments while the log exceeds `retention.bytes`.
    /// Returns the number of segments deleted.
    pub(crate) fn apply_retention(&self, now: i64) -> Result<usize> {
        let config = self.config();
        if !config.cleanup_delete {
            return Ok(0);
        }
        let mut st = self.state.lock();
        let mut deleted = 0;
        let total: u64 = st.segments.values().map(Segment::size).sum();
        let mut excess = if config.retention_bytes >= 0 { total.saturating_sub(config.retention_bytes as u64) } else { 0 };
        loop {
            if st.segments.len() < 2 {
                break;
            }
            let Some((_, seg)) = st.segments.iter().next() else { break };
            let by_time = config.retention_ms >= 0 && seg.max_timestamp() >= 0 && now.saturating_sub(seg.max_timestamp()) > config.retention_ms;
            let by_size = excess > 0 && seg.size() <= excess;
            if !(by_time || by_size) {
                break;
            }
            excess = excess.saturating_sub(seg.size());
            let next = seg.next_offset();
            st.log_start = st.log_start.max(next);
            self.delete_segments_below(&mut st)?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Roll now (tests and admin).
    pub(crate) fn force_roll(&self) -> Result<()> {
        let mut st = self.state.lock();
        self.roll(&mut st)
    }

    /// Delete the partition directory (topic deletion).
    pub(crate) fn delete(&self) -> Result<()> {
        let mut st = self.state.lock();
        st.closed = true;
        st.segments.clear();
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(format_args!("delete {}", self.dir.display()), e)),
        }
    }
}

/// Producer-state bookkeeping for one batch during recovery.
fn apply_batch(p: &mut ProducerStateManager, h: &BatchHeader, bytes: &[u8]) -> Result<Option<producer_state::CompletedTxn>> {
    let control = if h.is_control() {
        let (_, recs) = batch::decode_records(bytes)?;
        match recs.first().and_then(|r| r.key.as_deref()).map(batch::parse_control_key) {
            Some(Ok(kind)) => {
                let ce = recs[0].value.as_deref().filter(|v| v.len() >= 6).map_or(-1, |v| i32::from_be_bytes([v[2], v[3], v[4], v[5]]));
                Some((kind, ce))
            }
            _ => None,
        }
    } else {
        None
    };
    if h.is_control() && control.is_none() {
        return Ok(None);
    }
    Ok(p.update(h, control))
}

/// Re-encode a batch with another codec, keeping every batch field (topic `compression.type`).
fn recompress(bytes: &[u8], h: &BatchHeader, codec: batch::Compression) -> Result<Vec<u8>> {
    let (_, recs) = batch::decode_records(bytes)?;
    let inputs: Vec<batch::RecordInput> = recs
        .into_iter()
        .map(|r| batch::RecordInput { offset_delta: (r.offset - h.base_offset) as i32, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })
        .collect();
    let spec = batch::BatchSpec {
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        compression: codec,
        timestamp_type: h.timestamp_type(),
        transactional: h.is_transactional(),
        control: h.is_control(),
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        last_offset_delta: Some(h.last_offset_delta),
        max_timestamp: Some(h.max_timestamp),
        base_timestamp: Some(h.base_timestamp),
        delete_horizon: h.has_delete_horizon(),
    };
    batch::encode_batch(&spec, &inputs)
}

/// The partition directory name `<topic>-<partition>`.
pub(crate) fn dir_name(topic: &str, partition: u32) -> String {
    format!("{topic}-{partition}")
}

/// Name of a segment's `.log` file (re-exported for tests and tools).
pub fn log_file_name(base_offset: i64) -> String {
    file_name(base_offset, ".log")
}
