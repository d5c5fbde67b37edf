//! Broker-side producer state of one partition: idempotence checks, the de-duplication window,
//! open transactions (for the last stable offset) and the `.snapshot` files.
//!
//! Rules from Kafka `storage/.../log/ProducerAppendInfo.java` and `ProducerStateEntry.java`
//! (`/work/shared/facts/kafka.md` §4).
//!
//! Snapshot file `<20-digit offset>.snapshot` (Kafka's `ProducerStateManager` schema v1), the
//! state of every producer before `offset`:
//!
//! ```text
//! version int16 (1) | crc uint32 (CRC-32C of everything after this field) |
//! count int32 | count × { producerId int64 | epoch int16 | lastSequence int32 |
//!   lastOffset int64 | offsetDelta int32 | timestamp int64 | coordinatorEpoch int32 |
//!   currentTxnFirstOffset int64 (-1 if none) }
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use super::batch::{increment_sequence, BatchHeader, ControlType};
use super::index::AbortedTxn;
use crate::error::{Error, ErrorCode, Result};

/// Batches of metadata kept per producer for de-duplication (`NUM_BATCHES_TO_RETAIN`).
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// Metadata of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// First sequence.
    pub first_seq: i32,
    /// Last sequence.
    pub last_seq: i32,
    /// Last offset.
    pub last_offset: i64,
    /// last offset - first offset.
    pub offset_delta: i32,
    /// Max timestamp.
    pub timestamp: i64,
}

impl BatchMeta {
    fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// State of one producer in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Current epoch.
    pub epoch: i16,
    /// The last [`NUM_BATCHES_TO_RETAIN`] batches.
    pub batches: VecDeque<BatchMeta>,
    /// Coordinator epoch of the last marker.
    pub coordinator_epoch: i32,
    /// First offset of the open transaction.
    pub current_txn_first_offset: Option<i64>,
    /// Timestamp of the last write.
    pub last_timestamp: i64,
}

impl ProducerEntry {
    fn new(epoch: i16) -> Self {
        ProducerEntry { epoch, batches: VecDeque::new(), coordinator_epoch: -1, current_txn_first_offset: None, last_timestamp: -1 }
    }
    fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }
}

/// What the check of an incoming batch decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendCheck {
    /// Append it.
    Append,
    /// A retry of a batch still in the window: answer with its original first and last offset.
    Duplicate {
        /// Original first offset.
        first_offset: i64,
        /// Original last offset.
        last_offset: i64,
    },
}

/// A transaction completed by a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    /// Producer id.
    pub producer_id: i64,
    /// First offset of the transaction (the marker's offset if it wrote no data here).
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    /// Whether it was aborted.
    pub aborted: bool,
}

/// One producer's state as it was before appends that may be taken back
/// ([`ProducerStateManager::save`], [`ProducerStateManager::restore`]).
#[derive(Debug, Clone)]
pub struct SavedProducer {
    producer_id: i64,
    entry: Option<ProducerEntry>,
}

impl SavedProducer {
    /// The producer saved.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }
}

/// The producer state of one partition.
#[derive(Debug, Default, Clone)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
}

/// `seq - delta` wrapping below 0 to `i32::MAX` (Kafka's `DefaultRecordBatch.decrementSequence`).
fn decrement_sequence(seq: i32, delta: i32) -> i32 {
    if seq < delta {
        i32::MAX - (delta - seq) + 1
    } else {
        seq - delta
    }
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) || (last == i32::MAX && next == 0)
}

impl ProducerStateManager {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry of a producer.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Number of producers known.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is known.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// First offset of the earliest open transaction.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Check a client batch before it is appended (ProducerAppendInfo's rules).
    pub fn check(&self, h: &BatchHeader) -> Result<AppendCheck> {
        if !h.has_producer_id() {
            return Ok(AppendCheck::Append);
        }
        let pid = h.producer_id;
        let Some(e) = self.producers.get(&pid) else {
            // No state: accept any sequence (it expired or was deleted) — but a transactional
            // or idempotent batch is still checked for a sane sequence.
            return Ok(AppendCheck::Append);
        };
        if h.producer_epoch < e.epoch {
            return Err(Error::new(
                ErrorCode::InvalidProducerEpoch,
                format!("producer {pid} epoch {} is older than the current epoch {}", h.producer_epoch, e.epoch),
            ));
        }
        if h.is_control() {
            return Ok(AppendCheck::Append);
        }
        if !h.is_transactional() && e.current_txn_first_offset.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidTxnState,
                format!("producer {pid} wrote a non-transactional batch while its transaction is open"),
            ));
        }
        if h.base_sequence < 0 {
            return Ok(AppendCheck::Append);
        }
        let last_seq = h.last_sequence();
        if h.producer_epoch == e.epoch {
            if let Some(b) = e.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq) {
                return Ok(AppendCheck::Duplicate { first_offset: b.first_offset(), last_offset: b.last_offset });
            }
        }
        if h.producer_epoch != e.epoch {
            if h.base_sequence != 0 {
                return Err(Error::new(
                    ErrorCode::OutOfOrderSequence,
                    format!("producer {pid} started epoch {} at sequence {}; a new epoch must start at 0", h.producer_epoch, h.base_sequence),
                ));
            }
        } else {
            let current = e.last_seq();
            if current >= 0 && !in_sequence(current, h.base_sequence) {
                return Err(Error::new(
                    ErrorCode::OutOfOrderSequence,
                    format!("producer {pid} sent sequence {} after {current}; expected {}", h.base_sequence, increment_sequence(current, 1)),
                ));
            }
        }
        Ok(AppendCheck::Append)
    }

    /// Record an appended batch (also used while replaying the log on recovery).
    /// `control` is the marker type of a control batch. Returns the transaction it completed.
    pub fn update(&mut self, h: &BatchHeader, control: Option<(ControlType, i32)>) -> Option<CompletedTxn> {
        if !h.has_producer_id() {
            return None;
        }
        let pid = h.producer_id;
        let e = self.producers.entry(pid).or_insert_with(|| ProducerEntry::new(h.producer_epoch));
        if h.producer_epoch != e.epoch {
            if h.producer_epoch > e.epoch || e.epoch < 0 {
                e.batches.clear();
            }
            e.epoch = h.producer_epoch;
        }
        e.last_timestamp = h.max_timestamp;
        if let Some((kind, coordinator_epoch)) = control {
            e.coordinator_epoch = coordinator_epoch;
            let first = e.current_txn_first_offset.take();
            if let Some(f) = first {
                self.ongoing.remove(&f);
            }
            return Some(CompletedTxn {
                producer_id: pid,
                first_offset: first.unwrap_or(h.base_offset),
                last_offset: h.last_offset(),
                aborted: kind == ControlType::Abort,
            });
        }
        if h.is_transactional() && e.current_txn_first_offset.is_none() {
            e.current_txn_first_offset = Some(h.base_offset);
            self.ongoing.insert(h.base_offset, pid);
        }
        if h.base_sequence >= 0 {
            e.batches.push_back(BatchMeta {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                last_offset: h.last_offset(),
                offset_delta: h.last_offset_delta,
                timestamp: h.max_timestamp,
            });
            while e.batches.len() > NUM_BATCHES_TO_RETAIN {
                e.batches.pop_front();
            }
        }
        None
    }

    /// The aborted-transaction index entry for a completed abort, with the LSO right after it.
    pub fn aborted_entry(&self, c: &CompletedTxn) -> AbortedTxn {
        let lso = self.first_unstable_offset().unwrap_or(c.last_offset + 1);
        AbortedTxn { producer_id: c.producer_id, first_offset: c.first_offset, last_offset: c.last_offset, last_stable_offset: lso }
    }

    /// The state of `producer_id` now, to [`ProducerStateManager::restore`] if the batches
    /// updated after this are not written.
    pub fn save(&self, producer_id: i64) -> SavedProducer {
        SavedProducer { producer_id, entry: self.producers.get(&producer_id).cloned() }
    }

    /// Put a saved producer back as it was, and forget the transactions opened at or after
    /// `from_offset` (by batches that were not written).
    pub fn restore(&mut self, saved: SavedProducer, from_offset: i64) {
        self.ongoing.retain(|&f, _| f < from_offset);
        match saved.entry {
            Some(e) => {
                self.producers.insert(saved.producer_id, e);
            }
            None => {
                self.producers.remove(&saved.producer_id);
            }
        }
    }

    /// Forget everything at or after `offset` (after a truncation): drops batches and open
    /// transactions that start at or past it. Producers whose state came entirely from there
    /// are removed.
    pub fn truncate_to(&mut self, offset: i64) {
        self.ongoing.retain(|&f, _| f < offset);
        self.producers.retain(|_, e| {
            e.batches.retain(|b| b.last_offset < offset);
            if e.current_txn_first_offset.is_some_and(|f| f >= offset) {
                e.current_txn_first_offset = None;
            }
            !e.batches.is_empty() || e.current_txn_first_offset.is_some()
        });
    }

    /// Encode a snapshot.
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.producers.len() * 50);
        body.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        let mut pids: Vec<&i64> = self.producers.keys().collect();
        pids.sort();
        for pid in pids {
            let Some(e) = self.producers.get(pid) else { continue };
            let last = e.batches.back().copied().unwrap_or(BatchMeta { first_seq: -1, last_seq: -1, last_offset: -1, offset_delta: 0, timestamp: e.last_timestamp });
            body.extend_from_slice(&pid.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&last.last_seq.to_be_bytes());
            body.extend_from_slice(&last.last_offset.to_be_bytes());
            body.extend_from_slice(&last.offset_delta.to_be_bytes());
            body.extend_from_slice(&last.timestamp.to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        }
        let mut out = Vec::with_capacity(6 + body.len());
        out.extend_from_slice(&1i16.to_be_bytes());
        out.extend_from_slice(&crate::log::crc::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decode a snapshot, checking version and CRC.
    pub fn from_snapshot(bytes: &[u8], what: &Path) -> Result<ProducerStateManager> {
        let bad = |m: &str| Error::corrupt(format!("producer snapshot {}: {m}", what.display()));
        if bytes.len() < 10 {
            return Err(bad("too short"));
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != 1 {
            return Err(bad(&format!("version {version} is not 1")));
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        if crate::log::crc::crc32c(&bytes[6..]) != crc {
            return Err(bad("CRC mismatch"));
        }
        let n = i32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
        const ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
        if n < 0 || bytes.len() != 10 + n as usize * ENTRY {
            return Err(bad("entry count does not match the size"));
        }
        let mut m = ProducerStateManager::new();
        for e in bytes[10..].chunks_exact(ENTRY) {
            let l = |o: usize| i64::from_be_bytes([e[o], e[o + 1], e[o + 2], e[o + 3], e[o + 4], e[o + 5], e[o + 6], e[o + 7]]);
            let i = |o: usize| i32::from_be_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
            let pid = l(0);
            let epoch = i16::from_be_bytes([e[8], e[9]]);
            let last_seq = i(10);
            let last_offset = l(14);
            let offset_delta = i(22);
            let timestamp = l(26);
            let coordinator_epoch = i(34);
            let txn = l(38);
            let mut entry = ProducerEntry::new(epoch);
            entry.coordinator_epoch = coordinator_epoch;
            entry.last_timestamp = timestamp;
            if last_offset >= 0 {
                let first_seq = if last_seq < 0 { -1 } else { decrement_sequence(last_seq, offset_delta) };
                entry.batches.push_back(BatchMeta { first_seq, last_seq, last_offset, offset_delta, timestamp });
            }
            if txn >= 0 {
                entry.current_txn_first_offset = Some(txn);
                m.ongoing.insert(txn, pid);
            }
            m.producers.insert(pid, entry);
        }
        Ok(m)
    }
}

/// The snapshot file name for `offset`.
pub fn snapshot_name(offset: i64) -> String {
    format!("{offset:020}.snapshot")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_batch, parse_header, BatchSpec, RecordInput};

    fn hdr(base: i64, n: i32, pid: i64, epoch: i16, seq: i32, txn: bool) -> BatchHeader {
        let recs: Vec<RecordInput> = (0..n).map(|i| RecordInput { offset_delta: i, timestamp: 5, value: Some(vec![1]), ..RecordInput::default() }).collect();
        let spec = BatchSpec { base_offset: base, producer_id: pid, producer_epoch: epoch, base_sequence: seq, transactional: txn, ..BatchSpec::default() };
        parse_header(&encode_batch(&spec, &recs).unwrap()).unwrap()
    }

    #[test]
    fn sequences_epochs_and_duplicates() {
        let mut s = ProducerStateManager::new();
        let b0 = hdr(0, 3, 7, 0, 0, false);
        assert_eq!(s.check(&b0).unwrap(), AppendCheck::Append);
        s.update(&b0, None);
        // retry of the same batch at a different offset → the original offsets
        assert_eq!(s.check(&hdr(10, 3, 7, 0, 0, false)).unwrap(), AppendCheck::Duplicate { first_offset: 0, last_offset: 2 });
        // gap → OutOfOrderSequence
        assert_eq!(s.check(&hdr(3, 1, 7, 0, 5, false)).unwrap_err().code(), ErrorCode::OutOfOrderSequence);
        let b1 = hdr(3, 2, 7, 0, 3, false);
        assert_eq!(s.check(&b1).unwrap(), AppendCheck::Append);
        s.update(&b1, None);
        // new epoch must start at 0
        assert_eq!(s.check(&hdr(5, 1, 7, 1, 5, false)).unwrap_err().code(), ErrorCode::OutOfOrderSequence);
        let b2 = hdr(5, 1, 7, 1, 0, false);
        s.check(&b2).unwrap();
        s.update(&b2, None);
        assert_eq!(s.check(&hdr(6, 1, 7, 0, 5, false)).unwrap_err().code(), ErrorCode::InvalidProducerEpoch);
        // the window keeps only 5 batches
        for i in 0..6 {
            let b = hdr(6 + i64::from(i), 1, 7, 1, 1 + i, false);
            s.check(&b).unwrap();
            s.update(&b, None);
        }
        assert_eq!(s.entry(7).unwrap().batches.len(), NUM_BATCHES_TO_RETAIN);
        assert_eq!(s.check(&hdr(99, 1, 7, 1, 1, false)).unwrap_err().code(), ErrorCode::OutOfOrderSequence);
        assert!(matches!(s.check(&hdr(99, 1, 7, 1, 6, false)).unwrap(), AppendCheck::Duplicate { .. }));
        // unknown producer: any sequence
        assert_eq!(s.check(&hdr(0, 1, 8, 0, 42, false)).unwrap(), AppendCheck::Append);
    }

    #[test]
    fn transactions_and_lso() {
        let mut s = ProducerStateManager::new();
        let t = hdr(10, 2, 1, 0, 0, true);
        s.update(&t, None);
        assert_eq!(s.first_unstable_offset(), Some(10));
        assert_eq!(s.check(&hdr(12, 1, 1, 0, 2, false)).unwrap_err().code(), ErrorCode::InvalidTxnState);
        let t2 = hdr(12, 1, 2, 0, 0, true);
        s.update(&t2, None);
        let marker = hdr(13, 1, 1, 0, -1, true);
        let c = s.update(&marker, Some((ControlType::Abort, 3))).unwrap();
        assert_eq!(c, CompletedTxn { producer_id: 1, first_offset: 10, last_offset: 13, aborted: true });
        assert_eq!(s.aborted_entry(&c).last_stable_offset, 12);
        assert_eq!(s.first_unstable_offset(), Some(12));
    }

    #[test]
    fn snapshot_round_trip_and_crc() {
        let mut s = ProducerStateManager::new();
        s.update(&hdr(0, 3, 7, 2, 10, false), None);
        s.update(&hdr(3, 1, 9, 0, 0, true), None);
        let bytes = s.snapshot_bytes();
        assert_eq!(&bytes[..2], &[0, 1]);
        assert_eq!(bytes.len(), 10 + 2 * 46);
        let back = ProducerStateManager::from_snapshot(&bytes, Path::new("x")).unwrap();
        assert_eq!(back.entry(7).unwrap().batches.back().unwrap(), &BatchMeta { first_seq: 10, last_seq: 12, last_offset: 2, offset_delta: 2, timestamp: 5 });
        assert_eq!(back.first_unstable_offset(), Some(3));
        // the restored window still de-duplicates the last batch
        assert!(matches!(back.check(&hdr(50, 3, 7, 2, 10, false)).unwrap(), AppendCheck::Duplicate { first_offset: 0, last_offset: 2 }));
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(ProducerStateManager::from_snapshot(&bad, Path::new("x")).is_err());
        assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
        assert_eq!(increment_sequence(decrement_sequence(1, 3), 3), 1);
        assert_eq!(snapshot_name(42), "00000000000000000042.snapshot");
    }

    #[test]
    fn truncation_drops_later_state() {
        let mut s = ProducerStateManager::new();
        s.update(&hdr(0, 1, 7, 0, 0, false), None);
        s.update(&hdr(1, 1, 7, 0, 1, false), None);
        s.update(&hdr(2, 1, 8, 0, 0, true), None);
        s.truncate_to(1);
        assert_eq!(s.entry(7).unwrap().batches.len(), 1);
        assert!(s.entry(8).is_none());
        assert_eq!(s.first_unstable_offset(), None);
    }
}
