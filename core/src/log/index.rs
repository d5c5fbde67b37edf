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
//! and rebuilt from the `.log` whenever the segment is recovered. As Kafka's `AbstractIndex`
//! does, an index that takes appends is preallocated to `segment.index.bytes` (10 MiB by
//! default, rounded down to whole entries) and memory-mapped; an append stores its entry
//! through the mapping (no system call), and the file is trimmed to its entries when the
//! segment stops being the active one (roll) and on clean close. kabase preallocates on the
//! first entry rather than at segment creation, so a segment that never gets an index entry
//! never maps anything. Lookups binary-search a copy of the entries kept in memory.
//!
//! A file that was not trimmed (the process was killed) is its entries followed by zero
//! bytes. Such a file is only found on segments at or past the recovery point, which are
//! rebuilt from the `.log` anyway; if one is ever loaded as trusted, the entries up to the
//! last non-zero one are used and the zero tail is ignored (no valid entry is all zeros: an
//! offset-index entry points past the first batch, so its position is never 0), and
//! anything that is not in order there makes the index corrupt, which sends the segment to
//! recovery. The `.txnindex` (one entry per aborted transaction) is written through with
//! `pwrite`, as Kafka's `TransactionIndex` writes through its file channel.

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

/// Kafka's default `segment.index.bytes`: the size an index is preallocated to.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 10 * 1024 * 1024;

/// The file of an offset or time index: preallocated and memory-mapped while it takes
/// appends, trimmed to `len` bytes of entries otherwise.
struct MappedEntries {
    path: PathBuf,
    file: File,
    entry: usize,
    /// Bytes of entries.
    len: usize,
    /// Preallocation target (`segment.index.bytes`).
    max_bytes: u64,
    /// The mapping of the whole (preallocated) file while appends go through it.
    map: Option<memmap2::MmapMut>,
    /// The file is longer than its entries (preallocated, or loaded with a zero tail).
    untrimmed: bool,
}

/// Map `file` (read-write, shared), advised as randomly accessed (`MADV_RANDOM`).
///
/// Appends touch the preallocated, still sparse file one page after another; with the default
/// advice every first touch of a page is a fault that reads ahead, and reading ahead in a hole
/// allocates and zeroes large page-cache folios far past the entries (on the benchmarks' VM,
/// Linux 6.18 on ext4: 10.7 ms of zero-filling in the four producer threads of a 205 MB run,
/// about a tenth of their CPU; docs/benchmarks.md, Topics, session 9). Lookups read the
/// in-memory copy, so nothing reads the mapping sequentially. The advice is a hint: a kernel
/// that refuses it leaves the mapping as it was, which is correct, only slower.
#[allow(unsafe_code)]
fn map_file(file: &File, path: &Path) -> Result<memmap2::MmapMut> {
    // SAFETY: the mapping is of a segment index file that only this partition's log opens and
    // changes, and it is dropped before the file is ever shortened (`trim`, `truncate` keep
    // the file at least as long as the mapping while it exists). Another process truncating
    // the file under us would fault, exactly as with Kafka's mapped indexes; the data
    // directory is owned by one engine at a time (its lock file).
    let map = unsafe { memmap2::MmapMut::map_mut(file) }.map_err(|e| Error::io(format_args!("map {}", path.display()), e))?;
    let _ = map.advise(memmap2::Advice::Random);
    Ok(map)
}

impl MappedEntries {
    /// Open (creating if missing). With `load`, returns the entry bytes to trust: the file up
    /// to its last non-zero entry (a preallocated tail of zeros is ignored); without, the file
    /// is emptied.
    fn open(path: &Path, entry: usize, load: bool) -> Result<(MappedEntries, Vec<u8>)> {
        let file = open_rw(path)?;
        let mut bytes = Vec::new();
        if load {
            bytes = read_all(path)?;
            if bytes.len() % entry != 0 {
                return Err(Error::corrupt(format!("{} has {} bytes, not a multiple of {entry}", path.display(), bytes.len())));
            }
            let valid = bytes.chunks_exact(entry).rposition(|e| e.iter().any(|&b| b != 0)).map_or(0, |i| (i + 1) * entry);
            bytes.truncate(valid);
        } else {
            file.set_len(0).map_err(|e| Error::io(format_args!("truncate {}", path.display()), e))?;
        }
        let len = bytes.len();
        let file_len = file.metadata().map_err(|e| Error::io(format_args!("stat {}", path.display()), e))?.len();
        let untrimmed = file_len > len as u64;
        Ok((MappedEntries { path: path.to_path_buf(), file, entry, len, max_bytes: DEFAULT_MAX_INDEX_BYTES, map: None, untrimmed }, bytes))
    }

    /// Bytes the file is preallocated to: `max_bytes` rounded down to whole entries, at least
    /// two entries and at least room for the entries already there plus one.
    fn capacity_for(&self, len: usize) -> usize {
        let max = (self.max_bytes.min(i32::MAX as u64) as usize) / self.entry * self.entry;
        max.max(2 * self.entry).max(len + self.entry)
    }

    /// Whether the index holds `segment.index.bytes / entry size` entries less `reserve`
    /// (Kafka's `isFull`; the time index keeps one slot for the final entry of a roll).
    fn is_full(&self, reserve: usize) -> bool {
        let max_entries = (self.max_bytes.min(i32::MAX as u64) as usize) / self.entry;
        self.len / self.entry + reserve >= max_entries
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len(), self.entry);
        let need = self.len + bytes.len();
        if self.map.as_ref().is_none_or(|m| m.len() < need) {
            // First entry since open/trim, or past the preallocation (a recovery rebuilding
            // an index larger than `segment.index.bytes`): (re)preallocate and map.
            self.map = None;
            let cap = self.capacity_for(self.len).max(need);
            self.file.set_len(cap as u64).map_err(|e| Error::io(format_args!("preallocate {}", self.path.display()), e))?;
            self.untrimmed = true;
            self.map = Some(map_file(&self.file, &self.path)?);
        }
        let Some(map) = self.map.as_mut() else { return Err(Error::internal("index mapping missing")) };
        map[self.len..need].copy_from_slice(bytes);
        self.len = need;
        Ok(())
    }

    /// Keep the first `len` bytes of entries. While mapped, the dropped entries are zeroed so
    /// that the file never shows stale entries after its valid ones.
    fn truncate(&mut self, len: u64) -> Result<()> {
        let len = len as usize;
        if len >= self.len {
            return Ok(());
        }
        match self.map.as_mut() {
            Some(map) => map[len..self.len].fill(0),
            None => {
                self.file.set_len(len as u64).map_err(|e| Error::io(format_args!("truncate {}", self.path.display()), e))?;
                self.untrimmed = false;
            }
        }
        self.len = len;
        Ok(())
    }

    /// Unmap and cut the file to its entries (Kafka's `trimToValidSize`).
    fn trim(&mut self) -> Result<()> {
        self.map = None;
        if self.untrimmed {
            self.file.set_len(self.len as u64).map_err(|e| Error::io(format_args!("trim {}", self.path.display()), e))?;
            self.untrimmed = false;
        }
        Ok(())
    }

    /// Write the entries to disk (the mapping's dirty pages belong to the file's page cache,
    /// so an fsync of the file covers them).
    fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(format_args!("sync {}", self.path.display()), e))
    }

    /// A second handle to the file, for an fsync without `&mut self` (a mapping's dirty pages
    /// are the file's page cache, so the fsync covers them too).
    fn sync_handle(&self) -> Result<(PathBuf, File)> {
        let f = self.file.try_clone().map_err(|e| Error::io(format_args!("duplicate {}", self.path.display()), e))?;
        Ok((self.path.clone(), f))
    }

    /// Bytes of the file (the preallocated size while mapped).
    #[cfg(test)]
    fn file_len(&self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }
}

impl Drop for MappedEntries {
    fn drop(&mut self) {
        // Best effort, as Kafka's index close: a file left preallocated is handled on load.
        let _ = self.trim();
    }
}

/// Entry bytes buffered before they are written to a write-through entry file.
const ENTRY_BUFFER: usize = 4096;

/// An append-only file of fixed-size entries mirrored in memory (the `.txnindex`).
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
    /// Write the buffered entries and give a second handle to fsync later.
    fn sync_handle(&mut self) -> Result<(PathBuf, File)> {
        self.write_pending()?;
        let f = self.file.try_clone().map_err(|e| Error::io(format_args!("duplicate {}", self.path.display()), e))?;
        Ok((self.path.clone(), f))
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
    file: MappedEntries,
}

impl OffsetIndex {
    /// Open (or create) the index; `load` reads and sanity-checks the existing entries.
    pub fn open(path: &Path, base_offset: i64, load: bool) -> Result<OffsetIndex> {
        let (file, bytes) = MappedEntries::open(path, 8, load)?;
        let mut entries = Vec::with_capacity(bytes.len() / 8);
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
        Ok(OffsetIndex { base_offset, entries, file })
    }
    /// Preallocate to `bytes` (`segment.index.bytes`) when the file is next mapped.
    pub fn set_max_bytes(&mut self, bytes: u64) {
        self.file.max_bytes = bytes;
    }
    /// Whether the preallocated size is used up (Kafka rolls the segment then).
    pub fn is_full(&self) -> bool {
        self.file.is_full(0)
    }
    /// [`OffsetIndex::is_full`] once `pending` more entries are in.
    pub fn is_full_after(&self, pending: usize) -> bool {
        self.file.is_full(pending)
    }
    /// Unmap and cut the file to its entries.
    pub fn trim(&mut self) -> Result<()> {
        self.file.trim()
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
    /// fsync the entries.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()
    }
    /// A handle to fsync the entries later without `&mut self`.
    pub(crate) fn sync_handle(&mut self) -> Result<(PathBuf, File)> {
        self.file.sync_handle()
    }
}

/// `.timeindex`: monotonic `(max timestamp so far, offset)` entries.
pub struct TimeIndex {
    base_offset: i64,
    entries: Vec<(i64, i32)>,
    file: MappedEntries,
}

impl TimeIndex {
    /// Open (or create); `load` reads and sanity-checks the existing entries.
    pub fn open(path: &Path, base_offset: i64, load: bool) -> Result<TimeIndex> {
        let (file, bytes) = MappedEntries::open(path, 12, load)?;
        let mut entries = Vec::with_capacity(bytes.len() / 12);
        for e in bytes.chunks_exact(12) {
            let ts = i64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
            let rel = i32::from_be_bytes([e[8], e[9], e[10], e[11]]);
            if entries.last().is_some_and(|&(t, r): &(i64, i32)| t > ts || r > rel) {
                return Err(Error::corrupt(format!("{} entries are not monotonic", path.display())));
            }
            entries.push((ts, rel));
        }
        Ok(TimeIndex { base_offset, entries, file })
    }
    /// Preallocate to `bytes` (`segment.index.bytes`) when the file is next mapped.
    pub fn set_max_bytes(&mut self, bytes: u64) {
        self.file.max_bytes = bytes;
    }
    /// Whether the preallocated size is used up but for one entry, kept for the final entry
    /// of a roll (Kafka's `TimeIndex.isFull`; the segment rolls then).
    pub fn is_full(&self) -> bool {
        self.file.is_full(1)
    }
    /// [`TimeIndex::is_full`] once `pending` more entries are in.
    pub fn is_full_after(&self, pending: usize) -> bool {
        self.file.is_full(1 + pending)
    }
    /// Unmap and cut the file to its entries.
    pub fn trim(&mut self) -> Result<()> {
        self.file.trim()
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
    /// fsync the entries.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()
    }
    /// A handle to fsync the entries later without `&mut self`.
    pub(crate) fn sync_handle(&mut self) -> Result<(PathBuf, File)> {
        self.file.sync_handle()
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
    /// A handle to fsync the entries later without `&mut self`.
    pub(crate) fn sync_handle(&mut self) -> Result<(PathBuf, File)> {
        self.file.sync_handle()
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
        // preallocated to segment.index.bytes and written through the mapping; trimmed to
        // the entries on demand
        assert_eq!(std::fs::metadata(&p).unwrap().len(), DEFAULT_MAX_INDEX_BYTES);
        let expect = [0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0x10, 0x68, 0, 0, 0, 31, 0, 0, 0x20, 0xd0];
        assert_eq!(&std::fs::read(&p).unwrap()[..24], &expect);
        ix.sync().unwrap();
        ix.trim().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), expect);
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

    /// The `VmFlags` of this process's mapping of `path` (Linux `/proc/self/smaps`).
    #[cfg(target_os = "linux")]
    fn vm_flags_of_mapping(path: &Path) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let name = path.to_str().unwrap();
        let mut lines = smaps.lines().skip_while(|l| !l.ends_with(name));
        lines.next()?;
        lines.find(|l| l.starts_with("VmFlags:")).map(str::to_string)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_appended_index_is_mapped_for_random_access() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("00000000000000000000.index");
        let mut ix = OffsetIndex::open(&p, 0, true).unwrap();
        assert_eq!(vm_flags_of_mapping(&p), None);
        ix.append(1, 4096).unwrap();
        // `rr`: MADV_RANDOM, so a fault on the sparse preallocated file reads no pages ahead
        let flags = vm_flags_of_mapping(&p).expect("the index is mapped");
        assert!(flags.split_whitespace().any(|f| f == "rr"), "{flags}");
        for i in 2..2000 {
            ix.append(i, (i * 4096) as u32).unwrap();
        }
        assert_eq!(ix.lookup(1500), (1500, 1500 * 4096));
        ix.trim().unwrap();
        assert_eq!(vm_flags_of_mapping(&p), None);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 1999 * 8);
    }

    #[test]
    fn time_index_bytes_and_lookup() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.timeindex");
        let mut ix = TimeIndex::open(&p, 10, true).unwrap();
        ix.maybe_append(1000, 12).unwrap();
        ix.maybe_append(900, 13).unwrap(); // not larger: skipped
        ix.maybe_append(2000, 20).unwrap();
        ix.trim().unwrap();
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

    /// Kafka's preallocated, memory-mapped index: appends land in the file without a write
    /// call, truncation zeroes what it drops while mapped, trim cuts the file to its entries,
    /// and a file left preallocated (a crash before the trim) loads as its valid entries.
    #[test]
    fn mapped_index_preallocates_truncates_trims_and_loads_an_untrimmed_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("00000000000000000000.index");
        let mut ix = OffsetIndex::open(&p, 0, true).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0, "nothing preallocated before the first entry");
        ix.set_max_bytes(8 * 100 + 5); // 100 entries (rounded down to whole entries)
        for i in 0..50i64 {
            ix.append(i * 10 + 9, (i as u32 + 1) * 4100).unwrap();
        }
        assert_eq!(ix.file.file_len(), 800);
        assert!(!ix.is_full());
        // the entries are in the file already (the shared mapping is the page cache)
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(&raw[..8], &[0, 0, 0, 9, 0, 0, 0x10, 0x04]);
        assert!(raw[400..].iter().all(|&b| b == 0));
        // truncate while mapped: the dropped entries are zeroed in the file
        ix.truncate_to_position(30 * 4100).unwrap();
        assert_eq!(ix.len(), 29);
        let raw = std::fs::read(&p).unwrap();
        assert!(raw[29 * 8..].iter().all(|&b| b == 0) && raw[28 * 8..29 * 8].iter().any(|&b| b != 0));
        assert_eq!(ix.lookup(1000), (289, 29 * 4100));
        // a crash now leaves the file preallocated: a trusted load takes the valid prefix
        std::mem::forget(ix);
        let mut ix = OffsetIndex::open(&p, 0, true).unwrap();
        assert_eq!((ix.len(), ix.lookup(1000), ix.lookup(150)), (29, (289, 29 * 4100), (149, 15 * 4100)));
        // trimming a loaded, untrimmed file cuts its zero tail (nothing was mapped)
        ix.trim().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 29 * 8);
        // appends continue after the valid prefix; fill up to the preallocated size
        ix.set_max_bytes(800);
        let mut n = 29i64;
        while !ix.is_full() {
            ix.append(n * 10 + 9, (n as u32 + 1) * 4100).unwrap();
            n += 1;
        }
        assert_eq!(ix.len(), 100, "full at segment.index.bytes / 8 entries");
        assert_eq!(ix.file.file_len(), 800);
        // past the preallocation (a recovery rebuilding a bigger index): the file grows
        ix.append(n * 10 + 9, (n as u32 + 1) * 4100).unwrap();
        assert_eq!(ix.len(), 101);
        assert!(ix.file.file_len() >= 808);
        ix.trim().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 101 * 8);
        // truncating an unmapped (trimmed) index shortens the file
        ix.truncate_to_position(10 * 4100).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 9 * 8);
        drop(ix);
        assert_eq!(OffsetIndex::open(&p, 0, true).unwrap().len(), 9);
        // a non-zero entry out of order after the valid ones is corruption, not a tail
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0; 16]);
        std::fs::write(&p, &bytes).unwrap();
        assert!(OffsetIndex::open(&p, 0, true).is_err());
        // the time index: zero tail ignored, its entries kept
        let tp = d.path().join("00000000000000000000.timeindex");
        let mut tx = TimeIndex::open(&tp, 0, true).unwrap();
        tx.maybe_append(1000, 5).unwrap();
        tx.maybe_append(2000, 9).unwrap();
        assert_eq!(tx.file.file_len(), DEFAULT_MAX_INDEX_BYTES / 12 * 12);
        tx.set_max_bytes(36); // 3 entries, one kept for the final entry of a roll
        assert!(tx.is_full());
        tx.set_max_bytes(48);
        assert!(!tx.is_full());
        std::mem::forget(tx);
        let tx = TimeIndex::open(&tp, 0, true).unwrap();
        assert_eq!((tx.len(), tx.last_entry()), (2, Some((2000, 9))));
        // not trusted (a segment being recovered): emptied
        drop(tx);
        assert_eq!(TimeIndex::open(&tp, 0, false).unwrap().len(), 0);
        assert_eq!(std::fs::metadata(&tp).unwrap().len(), 0);
    }
}
