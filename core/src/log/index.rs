//! The three per-segment indexes, in Kafka's byte formats.
//!
//! Source: Kafka `storage/.../log/OffsetIndex.java`, `TimeIndex.java`, `AbortedTxn.java`
//! (`/work/shared/facts/kafka.md` §1).
//!
//! ```text
//! .index      8-byte entries:  relativeOffset int32 | position int32         (big-endian)
//! .timeindex 12-byte entries:  timestamp int64 | relativeOffset int32
//! .txnindex  34-byte entries:  version int16 (0) | producerId int64 | firstOffset int64 |
//!                              lastOffset int64 | lastStableOffset int64
//! ```
//!
//! The offset and time indexes carry no checksum (as in Kafka): they are sanity-checked on load
//! and rebuilt from the `.log` whenever the segment is recovered. kabase keeps each index in
//! memory (binary search there) and buffers new entries, writing them to the file in one
//! `pwrite` per [`ENTRY_BUFFER`] bytes and whenever the index is synced (segment flush, roll,
//! clean close) or dropped, instead of one write syscall per entry (the `.txnindex`, one entry
//! per aborted transaction, is written through). Kafka gets the same effect by
//! preallocating `segment.index.bytes` and appending through an mmap, trimming the file on roll
//! and close; either way the file holds exactly its entries once the segment is flushed. An
//! index is only trusted after a clean shutdown or below the recovery point, i.e. after such a
//! flush; after a crash the entries still in the buffer are rebuilt from the `.log` like the
//! rest of the index.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(format_args!("open {}", path.display()), e))
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(format_args!("read {}", path.display()), e)),
    }
}

/// Entry bytes buffered before they are written to an index file.
pub const ENTRY_BUFFER: usize = 4096;

/// An append-only file of fixed-size entries mirrored in memory; appends are buffered.
struct EntryFile {
    path: PathBuf,
    file: File,
    /// Bytes in the file.
    written: u64,
    /// Appended entries not yet in the file (they follow `written`).
    pending: Vec<u8>,
}

impl EntryFile {
    fn open(path: &Path) -> Result<EntryFile> {
        let file = open_rw(path)?;
        let written = file.metadata().map_err(|e| Error::io(format_args!("stat {}", path.display()), e))?.len();
        Ok(EntryFile { path: path.to_path_buf(), file, written, pending: Vec::new() })
    }
    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= ENTRY_BUFFER {
            self.write_pending()?;
        }
        Ok(())
    }
    /// Write the buffered entries to the file (no fsync).
    fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all_at(&self.pending, self.written).map_err(|e| Error::io(format_args!("write {}", self.path.display()), e))?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
    /// Keep the first `len` bytes of entries (file and buffer).
    fn truncate(&mut self, len: u64) -> Result<()> {
        if len >= self.written {
            self.pending.truncate((len - self.written) as usize);
            return Ok(());
        }
        self.pending.clear();
        self.file.set_len(len).map_err(|e| Error::io(format_args!("truncate {}", self.path.display()), e))?;
        self.written = len;
        Ok(())
    }
    /// Write the buffered entries and fsync.
    fn sync(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file.sync_data().map_err(|e| Error::io(format_args!("sync {}", self.path.display()), e))
    }
}

impl Drop for EntryFile {
    fn drop(&mut self) {
        // Best effort: an index missing its tail is rebuilt from the `.log` on recovery.
        let _ = self.write_pending();
    }
}

/// `.index`: sparse map from a batch's last offset to the batch's byte position.
pub struct OffsetIndex {
    base_offset: i64,
    entries: Vec<(i32, u32)>,
    file: EntryFile,
}

impl OffsetIndex {
    /// Open (or create) the index; `load` reads and sanity-checks the existing entries.
    pub fn open(path: &Path, base_offset: i64, load: bool) -> Result<OffsetIndex> {
        let mut file = EntryFile::open(path)?;
        let mut entries = Vec::new();
        if load {
            let bytes = read_all(path)?;
            if bytes.len() % 8 != 0 {
                return Err(Error::corrupt(format!("{} has {} bytes, not a multiple of 8", path.display(), bytes.len())));
            }
            let mut last = -1i64;
            for e in bytes.chunks_exact(8) {
                let rel = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                if i64::from(rel) <= last {
                    return Err(Error::corrupt(format!("{} entries are not increasing", path.display())));
                }
                last = i64::from(rel);
                entries.push((rel, pos));
            }
        } else {
            file.truncate(0)?;
        }
        Ok(OffsetIndex { base_offset, entries, file })
    }
    /// Add an entry for a batch whose last offset is `offset`, starting at `position`.
    pub fn append(&mut self, offset: i64, position: u32) -> Result<()> {
        let rel = (offset - self.base_offset) as i32;
        if self.entries.last().is_some_and(|&(r, _)| r >= rel) {
            return Ok(());
        }
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&rel.to_be_bytes());
        b[4..].copy_from_slice(&position.to_be_bytes());
        self.file.append(&b)?;
        self.entries.push((rel, position));
        Ok(())
    }
    /// The greatest entry with offset ≤ `target` as `(offset, position)`, or `(base, 0)`.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let rel = target - self.base_offset;
        let i = self.entries.partition_point(|&(r, _)| i64::from(r) <= rel);
        if i == 0 {
            (self.base_offset, 0)
        } else {
            let (r, p) = self.entries[i - 1];
            (self.base_offset + i64::from(r), p)
        }
    }
    /// Drop entries pointing at or after `position`.
    pub fn truncate_to_position(&mut self, position: u32) -> Result<()> {
        let keep = self.entries.partition_point(|&(_, p)| p < position);
        self.entries.truncate(keep);
        self.file.truncate(keep as u64 * 8)
    }
    /// Remove every entry.
    pub fn reset(&mut self) -> Result<()> {
        self.entries.clear();
        self.file.truncate(0)
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Last indexed offset, if any.
    pub fn last_offset(&self) -> Option<i64> {
        self.entries.last().map(|&(r, _)| self.base_offset + i64::from(r))
    }
    /// Write buffered entries and fsync.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()
    }
}

/// `.timeindex`: monotonic `(max timestamp so far, offset)` entries.
pub struct TimeIndex {
    base_offset: i64,
    entries: Vec<(i64, i32)>,
    file: EntryFile,
}

impl TimeIndex {
    /// Open (or create); `load` reads and sanity-checks the existing entries.
    pub fn open(path: &Path, base_offset: i64, load: bool) -> Result<TimeIndex> {
        let mut file = EntryFile::open(path)?;
        let mut entries = Vec::new();
        if load {
            let bytes = read_all(path)?;
            if bytes.len() % 12 != 0 {
                return Err(Error::corrupt(format!("{} has {} bytes, not a multiple of 12", path.display(), bytes.len())));
            }
            for e in bytes.chunks_exact(12) {
                let ts = i64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
                let rel = i32::from_be_bytes([e[8], e[9], e[10], e[11]]);
                if entries.last().is_some_and(|&(t, r): &(i64, i32)| t > ts || r > rel) {
                    return Err(Error::corrupt(format!("{} entries are not monotonic", path.display())));
                }
                entries.push((ts, rel));
            }
        } else {
            file.truncate(0)?;
        }
        Ok(TimeIndex { base_offset, entries, file })
    }
    /// Append `(timestamp, offset)` if the timestamp is larger than the last entry's (Kafka's
    /// `maybeAppend`).
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> Result<()> {
        if self.entries.last().is_some_and(|&(t, _)| t >= timestamp) {
            return Ok(());
        }
        let rel = (offset - self.base_offset) as i32;
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&timestamp.to_be_bytes());
        b[8..].copy_from_slice(&rel.to_be_bytes());
        self.file.append(&b)?;
        self.entries.push((timestamp, rel));
        Ok(())
    }
    /// The offset of the greatest entry with timestamp < `target` (from which a scan for the
    /// first record with timestamp ≥ target starts), or the base offset.
    pub fn lookup(&self, target: i64) -> i64 {
        let i = self.entries.partition_point(|&(t, _)| t < target);
        if i == 0 {
            self.base_offset
        } else {
            self.base_offset + i64::from(self.entries[i - 1].1)
        }
    }
    /// The last entry as `(timestamp, offset)`.
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.entries.last().map(|&(t, r)| (t, self.base_offset + i64::from(r)))
    }
    /// Drop entries for offsets ≥ `offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) -> Result<()> {
        let keep = self.entries.partition_point(|&(_, r)| self.base_offset + i64::from(r) < offset);
        self.entries.truncate(keep);
        self.file.truncate(keep as u64 * 12)
    }
    /// Remove every entry.
    pub fn reset(&mut self) -> Result<()> {
        self.entries.clear();
        self.file.truncate(0)
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Write buffered entries and fsync.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()
    }
}

/// One aborted transaction (Kafka's `AbortedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// Producer id of the aborted transaction.
    pub producer_id: i64,
    /// First offset of the transaction in this partition.
    pub first_offset: i64,
    /// Offset of the ABORT marker.
    pub last_offset: i64,
    /// The last stable offset right after the abort.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The 34-byte entry.
    pub fn to_bytes(&self) -> [u8; 34] {
        let mut b = [0u8; 34];
        b[0..2].copy_from_slice(&0i16.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }
    /// Parse a 34-byte entry.
    pub fn from_bytes(b: &[u8]) -> Result<AbortedTxn> {
        if b.len() != 34 {
            return Err(Error::corrupt(format!("aborted txn entry has {} bytes, expected 34", b.len())));
        }
        let v = i16::from_be_bytes([b[0], b[1]]);
        if v != 0 {
            return Err(Error::new(ErrorCode::Corrupt, format!("aborted txn entry version {v} is not 0")));
        }
        let l = |o: usize| i64::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5], b[o + 6], b[o + 7]]);
        Ok(AbortedTxn { producer_id: l(2), first_offset: l(10), last_offset: l(18), last_stable_offset: l(26) })
    }
}

/// `.txnindex`: the aborted transactions whose ABORT marker lies in the segment.
pub struct TxnIndex {
    entries: Vec<AbortedTxn>,
    file: EntryFile,
}

impl TxnIndex {
    /// Open (or create); `load` reads and checks the entries.
    pub fn open(path: &Path, load: bool) -> Result<TxnIndex> {
        let mut file = EntryFile::open(path)?;
        let mut entries = Vec::new();
        if load {
            let bytes = read_all(path)?;
            if bytes.len() % 34 != 0 {
                return Err(Error::corrupt(format!("{} has {} bytes, not a multiple of 34", path.display(), bytes.len())));
            }
            for e in bytes.chunks_exact(34) {
                entries.push(AbortedTxn::from_bytes(e)?);
            }
        } else {
            file.truncate(0)?;
        }
        Ok(TxnIndex { entries, file })
    }
    /// Record an aborted transaction (written through at once: aborts are rare).
    pub fn append(&mut self, t: AbortedTxn) -> Result<()> {
        self.file.append(&t.to_bytes())?;
        self.file.write_pending()?;
        self.entries.push(t);
        Ok(())
    }
    /// All entries.
    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }
    /// Drop entries whose marker is at or after `offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) -> Result<()> {
        let keep = self.entries.iter().take_while(|t| t.last_offset < offset).count();
        self.entries.truncate(keep);
        self.file.truncate(keep as u64 * 34)
    }
    /// Remove every entry.
    pub fn reset(&mut self) -> Result<()> {
        self.entries.clear();
        self.file.truncate(0)
    }
    /// Write buffered entries and fsync.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_bytes_and_lookup() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("00000000000000000100.index");
        let mut ix = OffsetIndex::open(&p, 100, true).unwrap();
        assert_eq!(ix.lookup(150), (100, 0));
        ix.append(109, 0).unwrap();
        ix.append(120, 4200).unwrap();
        ix.append(131, 8400).unwrap();
        // buffered: nothing written yet, everything after a sync
        assert_eq!(std::fs::read(&p).unwrap().len(), 0);
        ix.sync().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), [0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0x10, 0x68, 0, 0, 0, 31, 0, 0, 0x20, 0xd0]);
        assert_eq!(ix.lookup(99), (100, 0));
        assert_eq!(ix.lookup(119), (109, 0));
        assert_eq!(ix.lookup(120), (120, 4200));
        assert_eq!(ix.lookup(1000), (131, 8400));
        drop(ix);
        let mut ix = OffsetIndex::open(&p, 100, true).unwrap();
        assert_eq!(ix.len(), 3);
        ix.truncate_to_position(4200).unwrap();
        assert_eq!(std::fs::read(&p).unwrap().len(), 8);
        std::fs::write(&p, [0u8; 7]).unwrap();
        assert!(OffsetIndex::open(&p, 100, true).is_err());
    }

    #[test]
    fn time_index_bytes_and_lookup() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.timeindex");
        let mut ix = TimeIndex::open(&p, 10, true).unwrap();
        ix.maybe_append(1000, 12).unwrap();
        ix.maybe_append(900, 13).unwrap(); // not larger: skipped
        ix.maybe_append(2000, 20).unwrap();
        ix.sync().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), [0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x07, 0xd0, 0, 0, 0, 10]);
        assert_eq!(ix.lookup(500), 10);
        assert_eq!(ix.lookup(1000), 10);
        assert_eq!(ix.lookup(1001), 12);
        assert_eq!(ix.lookup(5000), 20);
        assert_eq!(ix.last_entry(), Some((2000, 20)));
        drop(ix);
        assert_eq!(TimeIndex::open(&p, 10, true).unwrap().len(), 2);
    }

    #[test]
    fn txn_index_bytes() {
        let t = AbortedTxn { producer_id: 1, first_offset: 2, last_offset: 3, last_stable_offset: 4 };
        let b = t.to_bytes();
        assert_eq!(&b[..2], &[0, 0]);
        assert_eq!(b[9], 1);
        assert_eq!(b[17], 2);
        assert_eq!(b[25], 3);
        assert_eq!(b[33], 4);
        assert_eq!(AbortedTxn::from_bytes(&b).unwrap(), t);
        let mut bad = b;
        bad[1] = 1;
        assert!(AbortedTxn::from_bytes(&bad).is_err());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.txnindex");
        let mut ix = TxnIndex::open(&p, true).unwrap();
        ix.append(t).unwrap();
        ix.append(AbortedTxn { last_offset: 9, ..t }).unwrap();
        assert_eq!(TxnIndex::open(&p, true).unwrap().entries().len(), 2);
        ix.truncate_to_offset(5).unwrap();
        assert_eq!(std::fs::read(&p).unwrap().len(), 34);
    }

    #[test]
    fn buffered_entries_reach_the_file_in_few_writes_and_truncate_across_the_buffer() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("00000000000000000000.index");
        let mut ix = OffsetIndex::open(&p, 0, true).unwrap();
        let per_write = ENTRY_BUFFER / 8;
        for i in 0..per_write as i64 - 1 {
            ix.append(i, i as u32 * 10).unwrap();
        }
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0, "below one buffer: still in memory");
        assert_eq!(ix.lookup(100), (100, 1000), "lookups see buffered entries");
        ix.append(per_write as i64, 99_999).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), ENTRY_BUFFER as u64, "a full buffer is written in one go");
        for i in 0..10 {
            ix.append(per_write as i64 + 1 + i, 100_000 + i as u32).unwrap();
        }
        assert_eq!(ix.len(), per_write + 10);
        // truncate inside the buffer, then inside the written part
        ix.truncate_to_position(100_005).unwrap();
        assert_eq!(ix.len(), per_write + 5);
        ix.sync().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), (per_write as u64 + 5) * 8);
        ix.append(per_write as i64 + 20, 100_020).unwrap();
        ix.truncate_to_position(50).unwrap();
        assert_eq!(ix.len(), 5);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 40);
        ix.append(7, 70).unwrap();
        drop(ix); // drop writes the buffer
        let ix = OffsetIndex::open(&p, 0, true).unwrap();
        assert_eq!((ix.len(), ix.lookup(7)), (6, (7, 70)));
        // a crash loses the buffer, never the entries already written
        let mut ix = ix;
        ix.append(8, 80).unwrap();
        std::mem::forget(ix);
        assert_eq!(OffsetIndex::open(&p, 0, true).unwrap().len(), 6);
    }
}
