//! One log segment: `<base>.log` plus its `.index`, `.timeindex` and `.txnindex`.
//!
//! File names are the base offset zero-padded to 20 digits (Kafka `LogFileUtils`). Appends go to
//! the end of the `.log` with positional writes; reads use positional reads, so readers never
//! move a shared cursor. The offset index gets an entry (the batch's **last** offset → the
//! batch's start position) once more than `index.interval.bytes` were appended since the last
//! one, and the time index an entry (max timestamp so far → its offset) at the same moments, as
//! Kafka's `LogSegment.append` does.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{self, BatchHeader, HEADER_SIZE};
use super::index::{AbortedTxn, OffsetIndex, TimeIndex, TxnIndex};
use crate::error::{Error, ErrorCode, Result};

/// Most batches [`Segment::append_batches`] hands to one `pwritev` (Linux's `IOV_MAX`).
pub const MAX_IOVECS: usize = 1024;

/// Bytes [`Segment::append_batches`] writes per `pwritev` (more when one batch is larger).
/// Measured on ext4 (kernel 6.18, 2-core VM), copying ~63 KiB batches filled by another
/// thread: one batch per call cost 29-38 us of CPU per 64 KiB, eight per call 19-20 us, and
/// calls of 8 MiB were erratic (15-91 us), so runs are written in pieces of this size.
pub const WRITE_BYTES: usize = 512 << 10;

/// An active `.log` at least this long gets disk space allocated ahead of its writes
/// ([`Segment::append_batches`]); a smaller one (most partitions of most topics) never holds
/// more blocks than its bytes need.
pub const PREALLOCATE_FROM: u64 = 1 << 20;

/// Most bytes allocated past the end of an active `.log`. The allocation ahead doubles with
/// the file (a 2 MiB file gets 2 MiB more) up to this. Writes into allocated blocks skip
/// ext4's per-page delayed-allocation bookkeeping (space reservation, quota, the extent
/// status tree): on the benchmarks' ext4 (kernel 6.18, 2-core VM), 200 MB written in 64 KiB
/// `write`s ran at 4.1-5.7 GB/s with 16 or 64 MiB allocated ahead, against 3.0-4.1 GB/s
/// without (docs/benchmarks.md, Topics, session 12). The file's length never includes these
/// blocks (`FALLOC_FL_KEEP_SIZE`), so readers and recovery see only written batches; they are
/// given back when the segment rolls, on a clean close, and when a segment is opened with
/// blocks past its end (after a crash).
pub const PREALLOCATE_MAX: u64 = 16 << 20;

/// Allocate `len` bytes of `f` from `pos` without changing its length (Linux's `fallocate`
/// with `FALLOC_FL_KEEP_SIZE`). Elsewhere, or on a file system without it, an error that the
/// caller takes as "write without allocating ahead".
#[allow(unsafe_code)]
fn allocate_ahead(f: &File, pos: u64, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let range = |v: u64| libc::off_t::try_from(v).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "file range out of bounds"));
        let (pos, len) = (range(pos)?, range(len)?);
        loop {
            // SAFETY: a plain system call on an open descriptor; no memory is passed.
            let r = unsafe { libc::fallocate(f.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, pos, len) };
            if r == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (f, pos, len);
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "allocating ahead needs Linux's fallocate"))
    }
}

/// Disk space a file holds past its length rounded up to 4 KiB (space allocated ahead, or on
/// ext4 also the blocks of a fragmented file's extent tree, which `st_blocks` counts too).
fn space_past_end(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    (meta.blocks() * 512).saturating_sub(meta.len().next_multiple_of(4096))
}

/// Tests: space a file holds past its end beyond what its extent tree may take (a rolled
/// 3 MiB segment was seen holding one 4 KiB block more than its rounded length); each
/// allocation ahead is at least [`PREALLOCATE_FROM`].
#[cfg(test)]
pub(crate) fn blocks_past_end(meta: &std::fs::Metadata) -> u64 {
    space_past_end(meta).saturating_sub(256 << 10)
}

/// One `pwritev(2)` of `bufs` at `pos`; returns the bytes written.
#[allow(unsafe_code)]
fn pwritev(f: &File, bufs: &[std::io::IoSlice<'_>], pos: u64) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let pos = libc::off_t::try_from(pos).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "file position out of range"))?;
    let count = bufs.len().min(MAX_IOVECS) as libc::c_int;
    loop {
        // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` on Unix (documented by std);
        // the slices borrow live buffers for the duration of the call.
        let n = unsafe { libc::pwritev(f.as_raw_fd(), bufs.as_ptr().cast::<libc::iovec>(), count, pos) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// File name of a segment file: 20-digit base offset and a suffix such as `.log`.
pub fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// One segment of a partition log.
pub struct Segment {
    /// First offset the segment may hold.
    pub base_offset: i64,
    dir: PathBuf,
    log: Arc<File>,
    /// Held while [`Segment::read_into`] uses the `.log`'s file cursor.
    read_cursor: parking_lot::Mutex<()>,
    size: u64,
    index: OffsetIndex,
    time_index: TimeIndex,
    txn_index: TxnIndex,
    bytes_since_last_index: u64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    rolling_timestamp: Option<i64>,
    /// When the segment was created or opened (for `segment.ms` on empty segments).
    pub created_ms: i64,
    next_offset: i64,
    /// Bytes of the `.log` known to be fsynced.
    pub flushed_size: u64,
    /// End of the disk space allocated for the `.log` ahead of its writes ([`PREALLOCATE_MAX`];
    /// 0 = none past `size`).
    allocated: u64,
    /// Allocating ahead failed once (no `fallocate` here, or a full disk): plain writes only.
    no_allocate: bool,
}

/// The files of one segment to fsync outside the partition lock ([`Segment::sync_files`]).
pub struct SegmentSync {
    /// Base offset of the segment.
    pub base_offset: i64,
    log: Arc<File>,
    log_path: PathBuf,
    /// Bytes of the `.log` when the handles were taken.
    size: u64,
    others: Vec<(PathBuf, File)>,
}

impl SegmentSync {
    /// fsync the `.log` and the index files.
    pub fn sync(&self) -> Result<()> {
        self.log.sync_data().map_err(|e| Error::io(format_args!("sync {}", self.log_path.display()), e))?;
        for (p, f) in &self.others {
            f.sync_data().map_err(|e| Error::io(format_args!("sync {}", p.display()), e))?;
        }
        Ok(())
    }
}

/// Where a scan of the `.log` stopped.
pub struct ScanEnd {
    /// Bytes of whole, valid batches from the start of the scan.
    pub valid_bytes: u64,
    /// Why it stopped early, if it did.
    pub error: Option<Error>,
}

impl Segment {
    fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(file_name(self.base_offset, suffix))
    }

    /// Create an empty segment (truncating leftovers).
    pub fn create(dir: &Path, base_offset: i64) -> Result<Segment> {
        let p = dir.join(file_name(base_offset, ".log"));
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).map_err(|e| Error::io(format_args!("create {}", p.display()), e))?;
        Self::with_file(dir, base_offset, f, false)
    }

    /// Open an existing segment; `load_indexes` trusts the index files (after a sanity check),
    /// otherwise they are reset and the caller must [`Segment::recover`].
    pub fn open(dir: &Path, base_offset: i64, load_indexes: bool) -> Result<Segment> {
        let p = dir.join(file_name(base_offset, ".log"));
        let f = OpenOptions::new().read(true).write(true).open(&p).map_err(|e| Error::io(format_args!("open {}", p.display()), e))?;
        Self::with_file(dir, base_offset, f, load_indexes)
    }

    fn with_file(dir: &Path, base_offset: i64, f: File, load: bool) -> Result<Segment> {
        let meta = f.metadata().map_err(|e| Error::io("stat segment", e))?;
        let size = meta.len();
        // Space allocated ahead by a writer that did not close cleanly is given back (a file
        // with blocks past its end for another reason is cut to its own length, which changes
        // nothing). Only space is at stake, so a failure here does not keep the segment from
        // opening: the space counts as allocated ahead, and the next roll or clean close tries
        // again.
        let past = space_past_end(&meta);
        let allocated = if past > 0 && f.set_len(size).is_err() { size + past } else { 0 };
        let index = OffsetIndex::open(&dir.join(file_name(base_offset, ".index")), base_offset, load)?;
        let time_index = TimeIndex::open(&dir.join(file_name(base_offset, ".timeindex")), base_offset, load)?;
        let txn_index = TxnIndex::open(&dir.join(file_name(base_offset, ".txnindex")), load)?;
        let mut s = Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log: Arc::new(f),
            read_cursor: parking_lot::Mutex::new(()),
            size,
            index,
            time_index,
            txn_index,
            bytes_since_last_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            rolling_timestamp: None,
            created_ms: crate::util::now_ms(),
            next_offset: base_offset,
            flushed_size: size,
            allocated,
            no_allocate: false,
        };
        if load && size > 0 {
            s.load_tail()?;
        }
        Ok(s)
    }

    /// After trusting the indexes: find the next offset, max timestamp and first timestamp by
    /// scanning from the last index entry (and the first batch).
    fn load_tail(&mut self) -> Result<()> {
        if let Some(idx_last) = self.index.last_offset() {
            if idx_last < self.base_offset {
                return Err(Error::corrupt("index last offset below base offset"));
            }
        }
        if let Some(h) = self.header_at(0)? {
            self.rolling_timestamp = Some(h.max_timestamp);
        }
        let (_, start) = self.index.lookup(i64::MAX);
        if let Some((t, o)) = self.time_index.last_entry() {
            self.max_timestamp = t;
            self.offset_of_max_timestamp = o;
        }
        let mut pos = u64::from(start);
        while let Some(h) = self.header_at(pos)? {
            if pos + h.size() as u64 > self.size {
                break;
            }
            self.next_offset = h.next_offset();
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
            pos += h.size() as u64;
        }
        if pos != self.size {
            return Err(Error::corrupt(format!("segment {} ends with {} bytes that are not a whole batch", self.base_offset, self.size - pos)));
        }
        Ok(())
    }

    /// Parse the batch header at `pos`, or `None` past the end.
    pub fn header_at(&self, pos: u64) -> Result<Option<BatchHeader>> {
        if pos + HEADER_SIZE as u64 > self.size {
            return Ok(None);
        }
        let mut b = [0u8; HEADER_SIZE];
        self.log.read_exact_at(&mut b, pos).map_err(|e| Error::io("read segment", e))?;
        batch::parse_header(&b).map(Some)
    }

    /// Bytes in the `.log`.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Offset after the last batch (the base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    /// Largest timestamp of any batch (-1 when empty).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// Max timestamp of the first batch (Kafka's rolling-based timestamp).
    pub fn rolling_timestamp(&self) -> Option<i64> {
        self.rolling_timestamp
    }
    /// Aborted transactions whose marker is in this segment.
    pub fn aborted(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }
    /// Number of offset index entries.
    pub fn index_entries(&self) -> usize {
        self.index.len()
    }
    /// The `.log` file (for fsync outside the log lock).
    pub fn log_file(&self) -> Arc<File> {
        Arc::clone(&self.log)
    }

    /// Append one validated batch (already carrying its final offsets) at the end.
    pub fn append(&mut self, h: &BatchHeader, bytes: &[u8], index_interval: u64) -> Result<()> {
        let pos = self.size;
        if pos + bytes.len() as u64 > u64::from(u32::MAX) {
            return Err(Error::internal("segment position would exceed 4 GiB"));
        }
        self.allocate_for(pos + bytes.len() as u64);
        self.log.write_all_at(bytes, pos).map_err(|e| Error::io(format_args!("append to {}", self.path(".log").display()), e))?;
        self.size += bytes.len() as u64;
        self.after_batch(h, pos, index_interval)
    }

    /// Append consecutive whole batches with one vectored positional write (`pwritev`, up to
    /// [`MAX_IOVECS`] batches per call), then index them as [`Segment::append`] does. Writing a
    /// run of batches at once costs the kernel less than one write per batch: a batch rarely
    /// starts or ends on a page boundary, and every write pays for its partial first and last
    /// page. On an error nothing is recorded (the segment's size stays where it was, so the
    /// next append overwrites any partly written bytes).
    pub fn append_batches(&mut self, batches: &[(BatchHeader, &[u8])], index_interval: u64) -> Result<()> {
        let start = self.size;
        let total: u64 = batches.iter().map(|(_, b)| b.len() as u64).sum();
        if start + total > u64::from(u32::MAX) {
            return Err(Error::internal("segment position would exceed 4 GiB"));
        }
        self.allocate_for(start + total);
        let mut pos = start;
        let mut rest = batches;
        while !rest.is_empty() {
            // Up to WRITE_BYTES (at least one batch) and MAX_IOVECS batches per call.
            let mut take = 0;
            let mut bytes = 0;
            while take < rest.len() && take < MAX_IOVECS && (take == 0 || bytes + rest[take].1.len() <= WRITE_BYTES) {
                bytes += rest[take].1.len();
                take += 1;
            }
            let (chunk, later) = rest.split_at(take);
            rest = later;
            let mut slices: Vec<std::io::IoSlice<'_>> = chunk.iter().map(|(_, b)| std::io::IoSlice::new(b)).collect();
            let mut bufs = &mut slices[..];
            while !bufs.is_empty() {
                let n = pwritev(&self.log, bufs, pos).map_err(|e| Error::io(format_args!("append to {}", self.path(".log").display()), e))?;
                if n == 0 {
                    let e = std::io::Error::new(std::io::ErrorKind::WriteZero, "pwritev wrote nothing");
                    return Err(Error::io(format_args!("append to {}", self.path(".log").display()), e));
                }
                pos += n as u64;
                std::io::IoSlice::advance_slices(&mut bufs, n);
            }
        }
        let mut pos = start;
        for (h, b) in batches {
            self.size += b.len() as u64;
            self.after_batch(h, pos, index_interval)?;
            pos += b.len() as u64;
        }
        Ok(())
    }

    /// Before writing up to `end`: once the `.log` reaches [`PREALLOCATE_FROM`], keep disk
    /// space allocated ahead of the writes, as much again as the file holds, up to
    /// [`PREALLOCATE_MAX`]. A failure (no `fallocate`, a full disk) only turns it off for this
    /// segment: the write itself then reports a real lack of space.
    fn allocate_for(&mut self, end: u64) {
        if end <= self.allocated || end < PREALLOCATE_FROM || self.no_allocate {
            return;
        }
        let from = self.allocated.max(self.size);
        let to = (end + end.min(PREALLOCATE_MAX)).min(u64::from(u32::MAX));
        match allocate_ahead(&self.log, from, to - from) {
            Ok(()) => self.allocated = to,
            Err(_) => self.no_allocate = true,
        }
    }

    /// Give back the disk space allocated past the `.log`'s end (the segment stops being
    /// written: roll, clean close).
    pub fn release_allocated(&mut self) -> Result<()> {
        if self.allocated > self.size {
            self.log.set_len(self.size).map_err(|e| Error::io(format_args!("release space past the end of {}", self.path(".log").display()), e))?;
        }
        self.allocated = 0;
        Ok(())
    }

    /// Tests: reopen the `.log` read-only (`false`) so appends fail with an I/O error, or
    /// read-write again (`true`).
    #[cfg(test)]
    pub(crate) fn set_log_writable(&mut self, writable: bool) {
        let f = OpenOptions::new().read(true).write(writable).open(self.path(".log")).unwrap();
        self.log = Arc::new(f);
    }

    fn after_batch(&mut self, h: &BatchHeader, pos: u64, index_interval: u64) -> Result<()> {
        if self.rolling_timestamp.is_none() {
            self.rolling_timestamp = Some(h.max_timestamp);
        }
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        if self.bytes_since_last_index > index_interval {
            self.index.append(h.last_offset(), pos as u32)?;
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
            self.bytes_since_last_index = 0;
        }
        self.bytes_since_last_index += h.size() as u64;
        self.next_offset = h.next_offset();
        Ok(())
    }

    /// Record an aborted transaction whose marker was appended here.
    pub fn append_aborted(&mut self, t: AbortedTxn) -> Result<()> {
        self.txn_index.append(t)
    }

    /// Scan whole batches from `from`, validating size and CRC, calling `f` for each; stops at
    /// the first invalid or partial batch.
    pub fn scan(&self, from: u64, mut f: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<()>) -> Result<ScanEnd> {
        const CHUNK: u64 = 8 << 20;
        let mut pos = from;
        let mut buf = Vec::new();
        while pos < self.size {
            let want = (self.size - pos).min(CHUNK);
            buf.resize(want as usize, 0);
            self.log.read_exact_at(&mut buf, pos).map_err(|e| Error::io("read segment", e))?;
            let mut off = 0usize;
            let mut progressed = false;
            while off + HEADER_SIZE <= buf.len() {
                let h = match batch::parse_header(&buf[off..]) {
                    Ok(h) => h,
                    Err(e) => return Ok(ScanEnd { valid_bytes: pos + off as u64 - from, error: Some(e) }),
                };
                let size = h.size();
                if off + size > buf.len() {
                    if pos + off as u64 + size as u64 > self.size {
                        let e = Error::new(ErrorCode::CorruptRecord, format!("batch at offset {} is cut short by the end of the segment", h.base_offset));
                        return Ok(ScanEnd { valid_bytes: pos + off as u64 - from, error: Some(e) });
                    }
                    if off == 0 {
                        // One batch larger than the chunk: read it alone.
                        let mut big = vec![0u8; size];
                        self.log.read_exact_at(&mut big, pos).map_err(|e| Error::io("read segment", e))?;
                        if let Err(e) = batch::validate(&big) {
                            return Ok(ScanEnd { valid_bytes: pos - from, error: Some(e) });
                        }
                        f(pos, &h, &big)?;
                        off = size;
                        progressed = true;
                    }
                    break;
                }
                if let Err(e) = batch::validate(&buf[off..off + size]) {
                    return Ok(ScanEnd { valid_bytes: pos + off as u64 - from, error: Some(e) });
                }
                f(pos + off as u64, &h, &buf[off..off + size])?;
                off += size;
                progressed = true;
            }
            if !progressed {
                let e = Error::new(ErrorCode::CorruptRecord, "segment ends inside a batch header");
                return Ok(ScanEnd { valid_bytes: pos - from, error: Some(e) });
            }
            pos += off as u64;
        }
        Ok(ScanEnd { valid_bytes: pos - from, error: None })
    }

    /// Rebuild all indexes by scanning the whole `.log` (Kafka's `LogSegment.recover`);
    /// `on_batch` sees every valid batch in order (producer state, aborted transactions).
    /// Truncates the `.log` at the first invalid batch and returns how many bytes were cut.
    pub fn recover(&mut self, index_interval: u64, mut on_batch: impl FnMut(&BatchHeader, &[u8]) -> Result<Option<AbortedTxn>>) -> Result<u64> {
        self.index.reset()?;
        self.time_index.reset()?;
        self.txn_index.reset()?;
        self.bytes_since_last_index = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.rolling_timestamp = None;
        self.next_offset = self.base_offset;
        let mut expected = self.base_offset;
        let mut rebuilt: Vec<(BatchHeader, u64, Option<AbortedTxn>)> = Vec::new();
        let mut bad_offset: Option<u64> = None;
        let end = self.scan(0, |pos, h, bytes| {
            if bad_offset.is_some() {
                return Ok(());
            }
            if h.base_offset < expected {
                bad_offset = Some(pos);
                return Ok(());
            }
            expected = h.next_offset();
            let aborted = on_batch(h, bytes)?;
            rebuilt.push((*h, pos, aborted));
            Ok(())
        })?;
        let valid = bad_offset.unwrap_or(end.valid_bytes);
        for (h, pos, aborted) in rebuilt {
            if pos >= valid {
                break;
            }
            self.after_batch(&h, pos, index_interval)?;
            if let Some(t) = aborted {
                self.txn_index.append(t)?;
            }
        }
        let cut = self.size - valid;
        if cut > 0 {
            self.log.set_len(valid).map_err(|e| Error::io("truncate segment", e))?;
            self.size = valid;
            self.allocated = 0;
        }
        Ok(cut)
    }

    /// Find the position of the batch containing `offset` (or the first after it).
    pub fn translate(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>> {
        let (_, start) = self.index.lookup(offset);
        let mut pos = u64::from(start);
        while let Some(h) = self.header_at(pos)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.size() as u64;
        }
        Ok(None)
    }

    /// Read whole batches starting with the one holding `offset`: at most `max_bytes` (but at
    /// least one batch), not past `max_position`. Every batch is CRC-checked; a failing one is
    /// reported as [`ErrorCode::CorruptRecord`].
    pub fn read(&self, offset: i64, max_bytes: usize, max_position: u64) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        Ok(if self.read_into(offset, max_bytes, max_position, &mut out)? { Some(out) } else { None })
    }

    /// [`Segment::read`] appending to `out` (so a caller can reuse one buffer across reads);
    /// returns whether anything was appended. On an error `out` is left as it was.
    pub fn read_into(&self, offset: i64, max_bytes: usize, max_position: u64, out: &mut Vec<u8>) -> Result<bool> {
        let Some((pos, first)) = self.translate(offset)? else { return Ok(false) };
        if pos >= max_position {
            return Ok(false);
        }
        let limit = (max_position - pos).min(max_bytes.max(first.size()) as u64) as usize;
        let start = out.len();
        // `read_to_end` reads into the spare capacity without zero-filling it first (a
        // positional read needs an initialized `&mut [u8]`, i.e. a memset of up to
        // `max.partition.fetch.bytes` per fetch). It uses the file cursor, which nothing
        // else moves (appends are positional); `read_cursor` keeps concurrent reads apart.
        out.reserve(limit);
        let read = {
            let _g = self.read_cursor.lock();
            let mut f: &File = &self.log;
            f.seek(SeekFrom::Start(pos)).and_then(|_| f.take(limit as u64).read_to_end(out))
        };
        match read {
            Ok(n) if n == limit => {}
            Ok(n) => {
                out.truncate(start);
                return Err(Error::new(ErrorCode::CorruptRecord, format!("segment {} of {}: read {n} of {limit} bytes at position {pos}", self.base_offset, self.dir.display())));
            }
            Err(e) => {
                out.truncate(start);
                return Err(Error::io("read segment", e));
            }
        }
        let mut end = 0usize;
        let mut expected = first.base_offset;
        let mut failure = None;
        for b in batch::batches(&out[start..]) {
            let b = b.and_then(|(h, x)| {
                if h.base_offset < expected {
                    return Err(Error::new(ErrorCode::CorruptRecord, format!("batch at offset {} follows offset {}: offsets go backwards", h.base_offset, expected - 1)));
                }
                expected = h.next_offset();
                Ok((h, x))
            });
            match b {
                Ok((h, _)) => end += h.size(),
                Err(e) => {
                    if end == 0 {
                        failure = Some(e);
                    }
                    break;
                }
            }
        }
        out.truncate(start + end);
        if let Some(e) = failure {
            return Err(Error::new(ErrorCode::CorruptRecord, format!("segment {} of {}: {}", self.base_offset, self.dir.display(), e.message())));
        }
        // end == 0: the first batch is larger than what fits, so max_position cuts it.
        Ok(end > 0)
    }

    /// The first record with timestamp ≥ `ts` at or after `start_offset`: `(timestamp, offset)`.
    pub fn find_offset_by_timestamp(&self, ts: i64, start_offset: i64) -> Result<Option<(i64, i64)>> {
        if self.max_timestamp < ts {
            return Ok(None);
        }
        let from = self.time_index.lookup(ts).max(start_offset);
        let Some((pos, _)) = self.translate(from)? else { return Ok(None) };
        let mut p = pos;
        while let Some(h) = self.header_at(p)? {
            if h.max_timestamp >= ts && h.last_offset() >= start_offset {
                let mut buf = vec![0u8; h.size()];
                self.log.read_exact_at(&mut buf, p).map_err(|e| Error::io("read segment", e))?;
                let (_, recs) = batch::decode_records(&buf)?;
                if let Some(r) = recs.iter().find(|r| r.timestamp >= ts && r.offset >= start_offset) {
                    return Ok(Some((r.timestamp, r.offset)));
                }
            }
            p += h.size() as u64;
        }
        Ok(None)
    }

    /// Drop every batch at or after `offset`; returns the bytes removed.
    pub fn truncate_to(&mut self, offset: i64) -> Result<u64> {
        let Some((pos, _)) = self.translate(offset)? else { return Ok(0) };
        let (pos, h) = match self.translate(offset)? {
            Some((p, h)) if h.base_offset < offset => (p + h.size() as u64, h),
            Some((p, h)) => (p, h),
            None => (pos, self.header_at(pos)?.ok_or_else(|| Error::internal("vanished batch"))?),
        };
        let _ = h;
        let cut = self.size - pos;
        self.log.set_len(pos).map_err(|e| Error::io("truncate segment", e))?;
        self.size = pos;
        self.allocated = 0;
        self.flushed_size = self.flushed_size.min(pos);
        self.index.truncate_to_position(pos as u32)?;
        self.time_index.truncate_to_offset(offset)?;
        self.txn_index.truncate_to_offset(offset)?;
        // recompute tail state
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.rolling_timestamp = None;
        let mut p = 0;
        let mut last_idx_pos = 0u64;
        while let Some(h) = self.header_at(p)? {
            if self.rolling_timestamp.is_none() {
                self.rolling_timestamp = Some(h.max_timestamp);
            }
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
            self.next_offset = h.next_offset();
            let (_, ip) = self.index.lookup(h.last_offset());
            last_idx_pos = last_idx_pos.max(u64::from(ip));
            p += h.size() as u64;
        }
        self.bytes_since_last_index = self.size - last_idx_pos;
        Ok(cut)
    }

    /// Called when the segment stops being the active one: final time-index entry, then both
    /// indexes are unmapped and trimmed to their entries (Kafka's `onBecomeInactiveSegment`).
    pub fn on_become_inactive(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
        }
        self.trim()
    }

    /// Unmap the offset and time indexes and cut their files to their entries, and give back
    /// the `.log`'s space allocated ahead (on roll and on clean close; the next entry
    /// preallocates and maps again, the next large append allocates again).
    pub fn trim(&mut self) -> Result<()> {
        self.release_allocated()?;
        self.index.trim()?;
        self.time_index.trim()
    }

    /// `segment.index.bytes`: the size the offset and time indexes are preallocated to.
    pub fn set_max_index_bytes(&mut self, bytes: u64) {
        self.index.set_max_bytes(bytes);
        self.time_index.set_max_bytes(bytes);
    }

    /// Whether the offset or time index has used up its preallocated size (Kafka rolls then).
    pub fn indexes_full(&self) -> bool {
        self.index.is_full() || self.time_index.is_full()
    }

    /// [`Segment::indexes_full`] once `pending` more batches are appended (each adds at most
    /// one entry to each index).
    pub fn indexes_full_after(&self, pending: usize) -> bool {
        self.index.is_full_after(pending) || self.time_index.is_full_after(pending)
    }

    /// fsync the `.log` and the indexes (a mapped index stays mapped and preallocated, as
    /// Kafka's flush of the active segment leaves it).
    pub fn flush(&mut self) -> Result<()> {
        self.log.sync_data().map_err(|e| Error::io(format_args!("sync {}", self.path(".log").display()), e))?;
        self.index.sync()?;
        self.time_index.sync()?;
        self.txn_index.sync()?;
        self.flushed_size = self.size;
        Ok(())
    }

    /// Handles to the segment's files (buffered `.txnindex` entries written first), so that a
    /// background thread can fsync a rolled segment without holding the partition lock.
    pub fn sync_files(&mut self) -> Result<SegmentSync> {
        let others = vec![self.index.sync_handle()?, self.time_index.sync_handle()?, self.txn_index.sync_handle()?];
        Ok(SegmentSync { base_offset: self.base_offset, log: Arc::clone(&self.log), log_path: self.path(".log"), size: self.size, others })
    }

    /// Record a completed [`SegmentSync::sync`] of this very segment (not of one that replaced
    /// it at the same base offset meanwhile, such as a compacted copy).
    pub fn mark_synced(&mut self, done: &SegmentSync) {
        if Arc::ptr_eq(&self.log, &done.log) {
            self.flushed_size = self.flushed_size.max(done.size.min(self.size));
        }
    }

    /// Remove the segment's files.
    pub fn delete_files(&self) -> Result<()> {
        for s in [".log", ".index", ".timeindex", ".txnindex"] {
            let p = self.path(s);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format_args!("delete {}", p.display()), e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_batch, BatchSpec, RecordInput};

    fn batch(base: i64, n: i32, ts: i64, size: usize) -> (BatchHeader, Vec<u8>) {
        let recs: Vec<RecordInput> = (0..n).map(|i| RecordInput { offset_delta: i, timestamp: ts + i64::from(i), value: Some(vec![b'x'; size]), ..RecordInput::default() }).collect();
        let b = encode_batch(&BatchSpec { base_offset: base, ..BatchSpec::default() }, &recs).unwrap();
        (batch::parse_header(&b).unwrap(), b)
    }

    /// Once the `.log` passes `PREALLOCATE_FROM`, disk space is allocated ahead of the writes
    /// but never counted in its length (reads and recovery see exactly the batches); `trim`
    /// gives it back, and so does opening a segment left with space past its end (a writer
    /// that did not close cleanly). Below `PREALLOCATE_FROM` nothing is allocated ahead.
    #[cfg(target_os = "linux")]
    #[test]
    fn space_allocated_ahead_is_never_read_and_is_given_back() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(file_name(0, ".log"));
        let past_end = || blocks_past_end(&std::fs::metadata(&path).unwrap());
        let mut s = Segment::create(d.path(), 0).unwrap();
        let append = |s: &mut Segment, n: usize| {
            for _ in 0..n {
                let off = s.next_offset();
                let (h, b) = batch(off, 8, 1000 + off, 4000);
                s.append_batches(&[(h, &b[..])], 4096).unwrap();
            }
        };
        append(&mut s, 20);
        assert!(s.size() < PREALLOCATE_FROM);
        assert_eq!(past_end(), 0, "a small segment holds no space past its end");
        while s.size() < PREALLOCATE_FROM + (64 << 10) {
            append(&mut s, 1);
        }
        let (size, next) = (s.size(), s.next_offset());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size, "the length counts only batches");
        assert!(past_end() > 0, "space allocated ahead past {size}");
        let scanned = s.scan(0, |_, _, _| Ok(())).unwrap();
        assert!(scanned.error.is_none());
        assert_eq!(scanned.valid_bytes, size);
        // No clean close: the next open gives the space back and recovers every batch.
        drop(s);
        assert!(past_end() > 0);
        let mut s = Segment::open(d.path(), 0, false).unwrap();
        assert_eq!(past_end(), 0);
        assert_eq!(s.recover(4096, |_, _| Ok(None)).unwrap(), 0);
        assert_eq!((s.size(), s.next_offset()), (size, next));
        // Appends allocate ahead again; a trim (roll, clean close) gives it back.
        append(&mut s, 4);
        assert!(past_end() > 0);
        s.trim().unwrap();
        assert_eq!(past_end(), 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), s.size());
    }

    /// A run written by `append_batches` (in several `pwritev` calls: more than
    /// `WRITE_BYTES`) leaves the same `.log` bytes and the same offset and time index as the
    /// same batches appended one at a time; a failed write records nothing.
    #[test]
    fn append_batches_matches_one_append_per_batch() {
        let d = tempfile::tempdir().unwrap();
        let (one, many) = (d.path().join("one"), d.path().join("many"));
        std::fs::create_dir(&one).unwrap();
        std::fs::create_dir(&many).unwrap();
        let mut a = Segment::create(&one, 0).unwrap();
        let mut b = Segment::create(&many, 0).unwrap();
        let mut batches = Vec::new();
        let mut off = 0;
        for i in 0..60 {
            // 2 to 7 records of 3,001 bytes: batches of ~6-21 KiB, 60 of them ~800 KiB in all
            let n = 2 + (i % 6) as i32;
            batches.push(batch(off, n, 1000 + i64::from(i) * 7, 3001));
            off += i64::from(n);
        }
        let total: usize = batches.iter().map(|(_, x)| x.len()).sum();
        assert!(total > 3 * WRITE_BYTES / 2, "the run needs more than one pwritev");
        for (h, x) in &batches {
            a.append(h, x, 4096).unwrap();
        }
        let list: Vec<(BatchHeader, &[u8])> = batches.iter().map(|(h, x)| (*h, &x[..])).collect();
        b.append_batches(&list[..1], 4096).unwrap();
        b.append_batches(&list[1..], 4096).unwrap();
        assert_eq!(b.size(), total as u64);
        assert_eq!(std::fs::read(one.join(file_name(0, ".log"))).unwrap(), std::fs::read(many.join(file_name(0, ".log"))).unwrap());
        assert_eq!((a.index_entries(), a.next_offset(), a.max_timestamp()), (b.index_entries(), b.next_offset(), b.max_timestamp()));
        assert!(b.index_entries() > 30);
        for o in (0..off).step_by(13) {
            assert_eq!(a.translate(o).unwrap().map(|(p, _)| p), b.translate(o).unwrap().map(|(p, _)| p), "offset {o}");
            assert_eq!(a.find_offset_by_timestamp(1000 + o * 2, 0).unwrap(), b.find_offset_by_timestamp(1000 + o * 2, 0).unwrap());
            assert_eq!(b.read(o, 1, u64::MAX).unwrap().map(|r| batch::parse_header(&r).unwrap().last_offset() >= o), Some(true));
        }
        // A failed write: nothing recorded, the next append goes where the run would have.
        b.set_log_writable(false);
        let (h, x) = batch(off, 3, 5000, 100);
        assert!(b.append_batches(&[(h, &x[..])], 4096).is_err());
        assert_eq!((b.size(), b.next_offset()), (total as u64, off));
        b.set_log_writable(true);
        b.append_batches(&[(h, &x[..])], 4096).unwrap();
        assert_eq!(b.size(), (total + x.len()) as u64);
        assert_eq!(batch::validate(&b.read(off, 1, u64::MAX).unwrap().unwrap()).unwrap().base_offset, off);
    }

    fn filled(dir: &Path) -> Segment {
        let mut s = Segment::create(dir, 100).unwrap();
        let mut off = 100;
        for i in 0..50 {
            let (h, b) = batch(off, 10, 1000 + i * 10, 100);
            s.append(&h, &b, 4096).unwrap();
            off += 10;
        }
        s
    }

    #[test]
    fn append_index_read_and_reopen() {
        let d = tempfile::tempdir().unwrap();
        let mut s = filled(d.path());
        assert_eq!(s.next_offset(), 600);
        assert!(s.index_entries() > 5, "sparse index every 4096 bytes");
        // index entries hold the batch's last offset
        let (o, p) = s.index.lookup(599);
        let h = s.header_at(u64::from(p)).unwrap().unwrap();
        assert_eq!(h.last_offset(), o);
        for target in [100, 101, 109, 110, 355, 599] {
            let bytes = s.read(target, 1, s.size()).unwrap().unwrap();
            let h = batch::parse_header(&bytes).unwrap();
            assert!(h.base_offset <= target && target <= h.last_offset(), "{target}");
            assert_eq!(bytes.len(), h.size(), "min one batch even if max_bytes is 1");
        }
        assert!(s.read(600, 1000, s.size()).unwrap().is_none());
        let all = s.read(100, usize::MAX / 2, s.size()).unwrap().unwrap();
        assert_eq!(all.len() as u64, s.size());
        assert_eq!(s.find_offset_by_timestamp(1000 + 250 + 3, 100).unwrap(), Some((1253, 353)));
        assert_eq!(s.find_offset_by_timestamp(0, 100).unwrap(), Some((1000, 100)));
        assert_eq!(s.find_offset_by_timestamp(99999, 100).unwrap(), None);
        s.on_become_inactive().unwrap();
        s.flush().unwrap();
        let size = s.size();
        drop(s);
        let s = Segment::open(d.path(), 100, true).unwrap();
        assert_eq!((s.next_offset(), s.size(), s.max_timestamp()), (600, size, 1000 + 490 + 9));
        assert!(d.path().join("00000000000000000100.timeindex").exists());
    }

    #[test]
    fn recover_truncates_torn_tail_and_rebuilds() {
        let d = tempfile::tempdir().unwrap();
        let s = filled(d.path());
        let entries = s.index_entries();
        let size = s.size();
        drop(s);
        let p = d.path().join(file_name(100, ".log"));
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(size - 30).unwrap();
        let mut s = Segment::open(d.path(), 100, false).unwrap();
        let mut seen = 0;
        let cut = s.recover(4096, |_, _| {
            seen += 1;
            Ok(None)
        }).unwrap();
        assert_eq!(seen, 49);
        assert_eq!(s.next_offset(), 590);
        assert!(cut > 0 && cut < 2000);
        assert!(s.index_entries() >= entries - 1);
    }

    #[test]
    fn corrupt_byte_is_reported_on_read() {
        let d = tempfile::tempdir().unwrap();
        let mut s = filled(d.path());
        s.flush().unwrap();
        let p = d.path().join(file_name(100, ".log"));
        let mut bytes = std::fs::read(&p).unwrap();
        let (pos, _) = s.translate(300).unwrap().unwrap();
        bytes[pos as usize + 100] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        let e = s.read(300, 10000, s.size()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::CorruptRecord);
        // a read that stops before the bad batch serves the good ones
        let ok = s.read(100, 100, s.size()).unwrap().unwrap();
        assert!(batch::validate(&ok).is_ok());
    }

    #[test]
    fn truncate_to_offset() {
        let d = tempfile::tempdir().unwrap();
        let mut s = filled(d.path());
        s.truncate_to(305).unwrap();
        assert_eq!(s.next_offset(), 310);
        s.truncate_to(300).unwrap();
        assert_eq!(s.next_offset(), 300);
        let (h, b) = batch(300, 1, 5000, 10);
        s.append(&h, &b, 4096).unwrap();
        assert_eq!(s.next_offset(), 301);
        assert!(s.read(300, 100, s.size()).unwrap().is_some());
    }

    /// The active segment's indexes are preallocated and mapped: a flush leaves them so, a
    /// trusted open of an untrimmed index uses its entries up to the zero tail, a roll or close
    /// trims them, and after a crash recovery rebuilds them from the `.log` with the same
    /// lookups as before.
    #[test]
    fn mapped_indexes_trim_on_roll_load_untrimmed_and_rebuild_after_a_crash() {
        let d = tempfile::tempdir().unwrap();
        let ix_path = d.path().join(file_name(100, ".index"));
        let tix_path = d.path().join(file_name(100, ".timeindex"));
        let mut s = filled(d.path());
        let entries = s.index_entries();
        assert!(entries > 5);
        let lookups: Vec<_> = (100..600).step_by(37).map(|o| s.translate(o).unwrap().map(|(p, _)| p)).collect();
        s.flush().unwrap();
        assert_eq!(std::fs::metadata(&ix_path).unwrap().len(), crate::log::index::DEFAULT_MAX_INDEX_BYTES, "the active index stays preallocated");
        std::mem::forget(s); // killed: no trim
        // a trusted open (as below the recovery point) takes the entries before the zero tail
        let s = Segment::open(d.path(), 100, true).unwrap();
        assert_eq!(s.index_entries(), entries);
        let again: Vec<_> = (100..600).step_by(37).map(|o| s.translate(o).unwrap().map(|(p, _)| p)).collect();
        assert_eq!(again, lookups);
        assert_eq!((s.next_offset(), s.max_timestamp()), (600, 1000 + 490 + 9));
        // more appends continue the mapped file, then a crash ...
        let mut s = s;
        let mut off = s.next_offset();
        for i in 0..20 {
            let (h, b) = batch(off, 10, 5000 + i, 100);
            s.append(&h, &b, 4096).unwrap();
            off += 10;
        }
        let grown = s.index_entries();
        assert!(grown > entries);
        let all: Vec<_> = (100..off).step_by(13).map(|o| s.translate(o).unwrap().map(|(p, _)| p)).collect();
        std::mem::forget(s);
        assert_eq!(std::fs::metadata(&ix_path).unwrap().len(), crate::log::index::DEFAULT_MAX_INDEX_BYTES);
        // ... and recovery rebuilds the whole index from the .log
        let mut s = Segment::open(d.path(), 100, false).unwrap();
        assert_eq!(s.recover(4096, |_, _| Ok(None)).unwrap(), 0);
        // (the cadence may differ by one entry: the reopened segment counted bytes since the
        // last entry from zero, recovery counts from the start of the .log)
        assert!(s.index_entries() + 1 >= grown && s.index_entries() > entries, "{} rebuilt, {grown} before", s.index_entries());
        assert_eq!(s.next_offset(), off);
        let rebuilt: Vec<_> = (100..off).step_by(13).map(|o| s.translate(o).unwrap().map(|(p, _)| p)).collect();
        assert_eq!(rebuilt, all);
        // a roll trims both files to their entries; a trusted open reads them back
        let n = s.index_entries();
        s.on_become_inactive().unwrap();
        s.flush().unwrap();
        assert_eq!(std::fs::metadata(&ix_path).unwrap().len(), n as u64 * 8);
        assert_eq!(std::fs::metadata(&tix_path).unwrap().len() % 12, 0);
        assert!(std::fs::metadata(&tix_path).unwrap().len() < 12 * 200);
        drop(s);
        let s = Segment::open(d.path(), 100, true).unwrap();
        assert_eq!((s.index_entries(), s.next_offset(), s.max_timestamp()), (n, off, 5019 + 9));
        // a small segment.index.bytes fills up: the partition rolls on that
        let d2 = tempfile::tempdir().unwrap();
        let mut s = Segment::create(d2.path(), 0).unwrap();
        s.set_max_index_bytes(48); // 6 offset entries; 4 time entries, one kept for the roll
        let mut off = 0;
        while !s.indexes_full() {
            let (h, b) = batch(off, 10, 1000 + off, 500);
            s.append(&h, &b, 1000).unwrap();
            off += 10;
        }
        assert_eq!(s.index_entries(), 3, "the time index (12-byte entries) fills first");
        assert_eq!(std::fs::metadata(d2.path().join(file_name(0, ".index"))).unwrap().len(), 48);
        assert_eq!(std::fs::metadata(d2.path().join(file_name(0, ".timeindex"))).unwrap().len(), 48);
    }

    #[test]
    fn reads_append_to_a_reused_buffer_and_a_short_file_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let s = filled(d.path());
        let whole = std::fs::read(d.path().join(file_name(100, ".log"))).unwrap();
        // appends after what the buffer holds, reading the same bytes as the file has
        let mut out = b"prefix".to_vec();
        assert!(s.read_into(100, 5000, s.size(), &mut out).unwrap());
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], &whole[..out.len() - 6]);
        let (pos, _) = s.translate(350).unwrap().unwrap();
        let mut again = Vec::with_capacity(1 << 20);
        assert!(s.read_into(350, usize::MAX / 2, s.size(), &mut again).unwrap());
        assert_eq!(&again[..], &whole[pos as usize..]);
        // the file shrinks behind the segment's back: an error, the buffer as it was
        let f = OpenOptions::new().write(true).open(d.path().join(file_name(100, ".log"))).unwrap();
        f.set_len(s.size() - 500).unwrap();
        let mut out = b"keep".to_vec();
        let e = s.read_into(350, usize::MAX / 2, s.size(), &mut out).unwrap_err();
        assert_eq!(e.code(), ErrorCode::CorruptRecord);
        assert_eq!(out, b"keep");
    }
}
