//! The single commit path of every row mutation, row locks, durability and group commit, and
//! the commit-hook seam for change streams.
//!
//! Every row change (put, delete, increment, append, row mutations, check-and-mutate, batch)
//! ends in [`Committer::commit`], which builds ONE fjall write batch for the change: the cells,
//! a change sequence number, and whatever registered [`CommitHook`]s add (a later issue writes an
//! outbox record there). The batch is applied atomically across keyspaces, and readers read
//! through one fjall snapshot, so a row change is all-or-nothing to them. (A change of a single
//! cell at the default durability to which no hook adds anything, and that needs no new sequence
//! reservation, is the one exception: it is one fjall insert, atomic by itself.)
//!
//! Lock order of a write: [`Committer::admit`] (hooks may wait there, e.g. for change-stream
//! room, holding nothing), then the row lock(s), then the server timestamp is read, then the
//! commit mutex inside [`Committer::commit`]. Reading the time under the row lock makes writers
//! of one row commit in timestamp order (HBase takes its timestamps the same way).
//!
//! Every batch that changes table keyspaces is applied under the commit mutex inside the *write
//! epoch* (a sequence lock: odd while a batch is being applied to the memtables, even between
//! batches). A read that opens its LSM iterators without a snapshot (reading the newest data)
//! checks the epoch before and after: unchanged and even means no batch was half-applied while
//! it read, so it saw every row whole ([`Committer::read_epoch`]); otherwise it reads again
//! through a snapshot.
//!
//! Change sequence numbers are per engine and strictly increasing across restarts: they are
//! handed out in commit order under the commit mutex, and reserved in blocks of
//! [`SEQ_BLOCK`]; the batch that crosses into a new block also writes the new reservation
//! (`seq/reserved`, u64 BE, in the metadata keyspace), so after a crash numbering resumes past
//! any number a surviving batch could have used (gaps are allowed, reuse is not).

use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

use crate::cell::{Cell, CellKind};
use crate::error::{Error, Result};
use crate::table::codec;
use crate::table::memtables::MemtableKeeper;
use crate::table::schema::{Durability, TableName};

/// Reservation block of change sequence numbers.
pub const SEQ_BLOCK: u64 = 1 << 20;
/// Metadata key of the sequence reservation.
pub(crate) const SEQ_KEY: &[u8] = b"seq/reserved";
/// Row lock stripes: a power of two, `1 << STRIPE_BITS`.
const STRIPE_BITS: u32 = 12;
const ROW_LOCK_STRIPES: usize = 1 << STRIPE_BITS;

/// One cell of a pending row change, before encoding.
#[derive(Debug, Clone)]
pub(crate) struct PendingCell {
    /// Index of the family in the table shape.
    pub fam: usize,
    pub qualifier: Vec<u8>,
    pub ts: i64,
    pub kind: CellKind,
    /// Raw (unencoded) value; empty for markers.
    pub value: Vec<u8>,
    /// Per-cell TTL in ms (`Put::ttl`).
    pub ttl: Option<i64>,
}

/// What a commit hook sees of a row change.
#[allow(dead_code)]
pub(crate) struct CommitContext<'a> {
    /// The table.
    pub table: &'a TableName,
    /// The row.
    pub row: &'a [u8],
    /// Family names, indexed by [`PendingCell::fam`].
    pub families: &'a [Vec<u8>],
    /// The cells written (puts and delete markers with their resolved timestamps).
    pub cells: &'a [PendingCell],
    /// This change's sequence number.
    pub seq: u64,
    /// The sequence numbers of every change committed in the same atomic batch as this one
    /// (`first..=last`; a single change has `first == last == seq`). Change streams deliver a
    /// multi-row batch to a topic atomically (one record batch, or one transaction when its
    /// records go to several partitions).
    pub batch_seqs: (u64, u64),
}

impl CommitContext<'_> {
    /// The change as cells.
    #[allow(dead_code)]
    pub fn to_cells(&self) -> Vec<Cell> {
        self.cells
            .iter()
            .map(|c| Cell {
                row: self.row.to_vec(),
                family: self.families.get(c.fam).cloned().unwrap_or_default(),
                qualifier: c.qualifier.clone(),
                timestamp: c.ts,
                kind: c.kind,
                value: c.value.clone(),
            })
            .collect()
    }
}

/// The writes a hook may add to a change's batch; they commit atomically with it.
pub(crate) struct HookBatch<'a> {
    batch: &'a mut fjall::OwnedWriteBatch,
}

impl HookBatch<'_> {
    /// Insert a key into `ks` in the same atomic batch.
    #[allow(dead_code)]
    pub fn insert(&mut self, ks: &fjall::Keyspace, key: impl Into<fjall::UserKey>, value: impl Into<fjall::UserValue>) {
        self.batch.insert(ks, key, value);
    }
    /// Remove a key of `ks` in the same atomic batch.
    #[allow(dead_code)]
    pub fn remove(&mut self, ks: &fjall::Keyspace, key: impl Into<fjall::UserKey>) {
        self.batch.remove(ks, key);
    }
}

/// An extension of the commit path: called under the commit mutex for every row change, it may
/// add keys to the change's batch. An error aborts the change (nothing is written).
pub(crate) trait CommitHook: Send + Sync {
    /// Called by a writer of `table` before it takes any row lock or the commit mutex; may wait
    /// (change-stream backpressure) or refuse the write. Waiting here stalls only this writer,
    /// never the writers of other tables or rows.
    fn admit(&self, _table: &TableName) -> Result<()> {
        Ok(())
    }
    fn extend(&self, ctx: &CommitContext<'_>, batch: &mut HookBatch<'_>) -> Result<()>;
    /// Called on the committing thread once the batch is applied and `last_seq()` covers it
    /// (outside the commit mutex); change streams wake their relay here.
    fn committed(&self) {}
}

struct SeqState {
    next: u64,
    reserved: u64,
}

#[derive(Default)]
struct SyncState {
    synced: u64,
    syncing: bool,
}

/// The commit path shared by all tables of an engine.
pub(crate) struct Committer {
    db: fjall::Database,
    meta: fjall::Keyspace,
    seq: Mutex<SeqState>,
    last_committed: AtomicU64,
    /// The write epoch (see the module docs): odd while a batch is being applied.
    epoch: AtomicU64,
    sync: Mutex<SyncState>,
    sync_cv: Condvar,
    /// Registered hooks; replaced as a whole on registration, so a writer holds no lock while
    /// a hook makes it wait.
    hooks: RwLock<Arc<Vec<Arc<dyn CommitHook>>>>,
    row_locks: Box<[Mutex<()>]>,
    pub(crate) async_pending: Arc<AtomicBool>,
    fsyncs: AtomicU64,
}

/// One row change ready to commit: its row and its cells, as ranges of the [`Scratch`]'s flat
/// buffers (`rows`, and both `cells` and `writes`).
#[derive(Clone, Debug)]
pub(crate) struct RowChange {
    /// This change's row key: `Scratch::rows[row]`.
    pub row: std::ops::Range<usize>,
    /// This change's slice of `Scratch::cells` and of `Scratch::writes`.
    pub cells: std::ops::Range<usize>,
}

/// An encoded write: `(family index, key, value)`.
pub(crate) type EncodedWrite = (usize, fjall::Slice, fjall::Slice);

/// Row changes of one table committed together ([`Committer::commit`]): the table's name,
/// family names and keyspaces, and the changes themselves in `scratch`.
pub(crate) struct ChangeSet<'a> {
    pub table: &'a TableName,
    /// Family names, indexed by [`PendingCell::fam`].
    pub family_names: &'a [Vec<u8>],
    /// Family keyspaces, indexed the same way.
    pub keyspaces: &'a [fjall::Keyspace],
    pub scratch: &'a mut Scratch,
}

/// The buffers of row changes on their way to a commit, kept per thread between writes so a put
/// or a batch allocates none of them: a writer takes them ([`Scratch::take`]), fills them,
/// commits, and gives them back ([`Scratch::give_back`]). Every buffer is flat, for all the
/// changes of one commit: change `c` owns `rows[c.row]`, `cells[c.cells]` and `writes[c.cells]`
/// (one encoded write per cell, in the same order; within one change, later writes win over
/// earlier ones with the same key). A nested write on the same thread (none exists today) would
/// simply find empty buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    pub changes: Vec<RowChange>,
    /// The changes' row keys, back to back.
    pub rows: Vec<u8>,
    pub cells: Vec<PendingCell>,
    pub writes: Vec<EncodedWrite>,
    /// Key-encoding scratch.
    pub kbuf: Vec<u8>,
    /// Value-encoding scratch (bounded by [`codec::VALUE_SCRATCH_MAX`], so always kept).
    pub vbuf: Vec<u8>,
    /// The caller's own index of each change (e.g. the batch position of its mutation).
    pub members: Vec<usize>,
}

/// Buffers holding more than this many entries (or row bytes) are not kept after a write: a
/// huge batch's memory is given back rather than held by the thread.
const SCRATCH_KEEP: usize = 1024;
const SCRATCH_KEEP_ROW_BYTES: usize = 64 << 10;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

impl Scratch {
    /// This thread's buffers (empty).
    pub(crate) fn take() -> Scratch {
        SCRATCH.with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default())
    }

    /// Return the buffers for the next write on this thread (emptied; oversized ones dropped).
    pub(crate) fn give_back(mut self) {
        self.clear();
        if self.cells.capacity() > SCRATCH_KEEP
            || self.writes.capacity() > SCRATCH_KEEP
            || self.changes.capacity() > SCRATCH_KEEP
            || self.members.capacity() > SCRATCH_KEEP
            || self.rows.capacity() > SCRATCH_KEEP_ROW_BYTES
            || self.kbuf.capacity() > codec::MAX_KEY_LEN
        {
            return;
        }
        SCRATCH.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = self;
            }
        });
    }

    fn clear(&mut self) {
        self.changes.clear();
        self.rows.clear();
        self.cells.clear();
        self.writes.clear();
        self.kbuf.clear();
        self.vbuf.clear();
        self.members.clear();
    }

    /// Add a change of `row` whose cells and writes are `cells` (already in the buffers).
    pub(crate) fn push_change(&mut self, row: &[u8], cells: std::ops::Range<usize>) {
        let start = self.rows.len();
        self.rows.extend_from_slice(row);
        self.changes.push(RowChange { row: start..self.rows.len(), cells });
    }
}

impl Committer {
    pub(crate) fn open(db: &fjall::Database, meta: &fjall::Keyspace) -> Result<Committer> {
        let reserved = match meta.get(SEQ_KEY)? {
            Some(v) => {
                let b: [u8; 8] = v.as_ref().try_into().map_err(|_| Error::corrupt("seq/reserved is not 8 bytes"))?;
                u64::from_be_bytes(b)
            }
            None => 0,
        };
        let locks: Vec<Mutex<()>> = (0..ROW_LOCK_STRIPES).map(|_| Mutex::new(())).collect();
        Ok(Committer {
            db: db.clone(),
            meta: meta.clone(),
            // Resume after everything a previous run may have used.
            seq: Mutex::new(SeqState { next: reserved + 1, reserved }),
            last_committed: AtomicU64::new(reserved),
            epoch: AtomicU64::new(0),
            sync: Mutex::new(SyncState { synced: reserved, syncing: false }),
            sync_cv: Condvar::new(),
            hooks: RwLock::new(Arc::new(Vec::new())),
            row_locks: locks.into_boxed_slice(),
            async_pending: Arc::new(AtomicBool::new(false)),
            fsyncs: AtomicU64::new(0),
        })
    }

    /// Register a hook (for the change-stream layer).
    #[allow(dead_code)]
    pub(crate) fn add_hook(&self, hook: Arc<dyn CommitHook>) {
        let mut hooks = self.hooks.write();
        let mut list = Vec::clone(&hooks);
        list.push(hook);
        *hooks = Arc::new(list);
    }

    /// Admission of a write to `table` ([`CommitHook::admit`]): every write path calls this
    /// before taking its row locks, so a writer waiting for change-stream room holds no lock.
    pub(crate) fn admit(&self, table: &TableName) -> Result<()> {
        let hooks = Arc::clone(&self.hooks.read());
        for h in hooks.iter() {
            h.admit(table)?;
        }
        Ok(())
    }

    /// The lock stripe of a table's row: the top bits of a multiply-rotate hash (FxHash's step)
    /// of the table id and the row, eight bytes at a time. The stripes only need to spread rows
    /// (a shared stripe costs waiting, never correctness); a CRC32C of the same bytes through
    /// the `crc32c` crate cost about 280 instructions for an 11-byte row (callgrind: `lock_rows`
    /// fell from 340 to 117 instructions per row of a batched put with this hash).
    fn stripe(table_id: u64, row: &[u8]) -> usize {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let step = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
        let mut h = step(0, table_id);
        let mut words = row.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = step(h, u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // The tail's length goes in its (otherwise zero) top byte: "a" and "a\0" differ.
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            h = step(h, u64::from_le_bytes(b) | ((rest.len() as u64) << 56));
        }
        (h >> (64 - STRIPE_BITS)) as usize
    }

    /// Lock one row of a table (striped: unrelated rows may share a stripe).
    pub(crate) fn lock_row(&self, table_id: u64, row: &[u8]) -> MutexGuard<'_, ()> {
        self.row_locks[Self::stripe(table_id, row)].lock()
    }

    /// Lock several rows at once, in stripe order (no deadlock with other multi-row lockers).
    pub(crate) fn lock_rows<'a, 'r>(&'a self, table_id: u64, rows: impl Iterator<Item = &'r [u8]>) -> Vec<MutexGuard<'a, ()>> {
        // The stripes as a bit set: walking it gives them sorted and each once.
        let mut set = [0u64; ROW_LOCK_STRIPES / 64];
        let mut n = 0;
        for r in rows {
            let s = Self::stripe(table_id, r);
            let (w, b) = (s / 64, 1u64 << (s % 64));
            if set[w] & b == 0 {
                set[w] |= b;
                n += 1;
            }
        }
        let mut guards = Vec::with_capacity(n);
        for (w, mut bits) in set.into_iter().enumerate() {
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                guards.push(self.row_locks[w * 64 + b].lock());
            }
        }
        guards
    }

    /// Run `apply` (a write to the memtables) inside the write epoch. The caller holds the
    /// commit mutex (`self.seq`), so one write at a time moves the epoch.
    fn in_epoch(&self, apply: impl FnOnce() -> fjall::Result<()>) -> Result<()> {
        // Odd before any of the write's entries can be seen: a reader that sees one of them
        // (through the memtable's release-acquire links) then sees the odd or a later epoch.
        self.epoch.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        let r = apply();
        self.epoch.fetch_add(1, Ordering::Release);
        Ok(r?)
    }

    /// Apply a batch that carries no row change of its own (major compaction removing entries
    /// no read can see) inside the write epoch, under the commit mutex.
    pub(crate) fn apply_unsequenced(&self, batch: fjall::OwnedWriteBatch) -> Result<()> {
        let _st = self.seq.lock();
        self.in_epoch(|| batch.commit())
    }

    /// The write epoch before an unpinned read, or `None` while a batch is being applied (the
    /// read must use a snapshot). Pair with [`Committer::epoch_unchanged`] after the read.
    pub(crate) fn read_epoch(&self) -> Option<u64> {
        let e = self.epoch.load(Ordering::Acquire);
        e.is_multiple_of(2).then_some(e)
    }

    /// Whether no batch was applied since [`Committer::read_epoch`] returned `e`: the reads in
    /// between saw one state of every keyspace, with every row change whole.
    pub(crate) fn epoch_unchanged(&self, e: u64) -> bool {
        fence(Ordering::Acquire);
        self.epoch.load(Ordering::Relaxed) == e
    }

    /// Number of journal fsyncs done for FSYNC_WAL writers (tests check group commit).
    #[allow(dead_code)]
    pub(crate) fn fsync_count(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    /// A snapshot of the LSM together with the change sequence number it contains everything up
    /// to (and nothing after): taken under the commit mutex, so no commit is half-visible. Change
    /// streams pair a table snapshot with the topic offset that continues it.
    pub(crate) fn snapshot_with_seq(&self) -> (fjall::Snapshot, u64) {
        let _st = self.seq.lock();
        (self.db.snapshot(), self.last_committed.load(Ordering::Acquire))
    }

    /// The highest change sequence number committed so far.
    #[allow(dead_code)]
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_committed.load(Ordering::Acquire)
    }

    /// Commit several row changes in ONE atomic batch (each still gets its own sequence number
    /// and hook calls), then wait for `durability`. Returns the last change's sequence number
    /// (change `i` of `n` got `last - (n - 1) + i`). `set.writes` is drained, also on error.
    ///
    /// This is the only place where row data reaches the LSM.
    pub(crate) fn commit(&self, set: ChangeSet<'_>, durability: Durability) -> Result<u64> {
        let ChangeSet { table, family_names, keyspaces, scratch } = set;
        let Scratch { changes, rows, cells, writes, .. } = scratch;
        if changes.is_empty() {
            writes.clear();
            return Ok(self.last_seq());
        }
        // The changes' ranges must tile the buffers in order.
        let (mut at, mut row_at) = (0, 0);
        for c in changes.iter() {
            if c.cells.start != at || c.cells.end < c.cells.start || c.row.start != row_at || c.row.end < c.row.start {
                writes.clear();
                return Err(Error::internal("change set ranges out of order"));
            }
            at = c.cells.end;
            row_at = c.row.end;
        }
        if at != cells.len() || writes.len() != cells.len() || row_at != rows.len() {
            writes.clear();
            return Err(Error::internal("change set buffers out of step"));
        }
        // Sized for every write plus the sequence reservation, so it never grows.
        // A change of one cell with the journal handed to the OS (the default durability) may
        // go to the LSM as a single insert, which is what fjall's own `Keyspace::insert` does for
        // a raw put (`PersistMode::Buffer` is its default): cheaper than a one-item batch (no
        // batch framing in the journal, no per-commit keyspace set). It is held aside until the
        // hooks have run: if they add anything, it goes into the batch with their writes.
        let single_insert = changes.len() == 1 && writes.len() == 1 && matches!(durability, Durability::SyncWal | Durability::FsyncWal);
        let mut held: Option<(&fjall::Keyspace, fjall::Slice, fjall::Slice)> = None;
        let mut stamped_single: Option<(&fjall::Keyspace, fjall::Slice, fjall::Slice)> = None;
        let mut batch = fjall::OwnedWriteBatch::with_capacity(self.db.clone(), if single_insert { 0 } else { writes.len() + 1 });
        batch = match durability {
            Durability::SkipWal | Durability::AsyncWal => batch.durability(None),
            _ => batch.durability(Some(fjall::PersistMode::Buffer)),
        };
        let mut writes = writes.drain(..);
        if single_insert {
            if let Some((fam, key, value)) = writes.next() {
                let ks = keyspaces.get(fam).ok_or_else(|| Error::internal("family index out of range"))?;
                if codec::has_seq_flag(&value) {
                    stamped_single = Some((ks, key, value));
                } else {
                    held = Some((ks, key, value));
                }
            }
        }
        // Writes whose keys have a sequence-number slot (NEW_VERSION_BEHAVIOR families), by
        // change index: they are stamped and added once the numbers are handed out.
        let mut stamped: Vec<(usize, &fjall::Keyspace, fjall::Slice, fjall::Slice)> = Vec::new();
        if let Some((ks, key, value)) = stamped_single {
            stamped.push((0, ks, key, value));
        }
        for (ci, ch) in changes.iter().enumerate().filter(|_| !single_insert) {
            let n = ch.cells.len();
            if n == 1 {
                if let Some((fam, key, value)) = writes.next() {
                    let ks = keyspaces.get(fam).ok_or_else(|| Error::internal("family index out of range"))?;
                    if codec::has_seq_flag(&value) {
                        stamped.push((ci, ks, key, value));
                    } else {
                        batch.insert(ks, key, value);
                    }
                }
                continue;
            }
            let own: Vec<EncodedWrite> = writes.by_ref().take(n).collect();
            // Later writes of the same key win: keep only the last occurrence.
            let mut last = std::collections::HashMap::with_capacity(n);
            for (i, (fam, key, _)) in own.iter().enumerate() {
                last.insert((*fam, key.clone()), i);
            }
            for (i, (fam, key, value)) in own.into_iter().enumerate() {
                if last.get(&(fam, key.clone())) != Some(&i) {
                    continue;
                }
                let ks = keyspaces.get(fam).ok_or_else(|| Error::internal("family index out of range"))?;
                if codec::has_seq_flag(&value) {
                    stamped.push((ci, ks, key, value));
                } else {
                    batch.insert(ks, key, value);
                }
            }
        }
        drop(writes);
        let hooks = Arc::clone(&self.hooks.read());
        let last;
        {
            let mut st = self.seq.lock();
            let first = st.next;
            last = first + changes.len() as u64 - 1;
            if last > st.reserved {
                let reserved = last + SEQ_BLOCK;
                batch.insert(&self.meta, SEQ_KEY, reserved.to_be_bytes().to_vec());
                st.reserved = reserved;
            }
            st.next = last + 1;
            for (ci, ks, key, value) in stamped {
                batch.insert(ks, codec::stamp_key_seq(&key, first + ci as u64), value);
            }
            if !hooks.is_empty() {
                for (i, ch) in changes.iter().enumerate() {
                    let ctx = CommitContext {
                        table,
                        row: &rows[ch.row.clone()],
                        families: family_names,
                        cells: &cells[ch.cells.clone()],
                        seq: first + i as u64,
                        batch_seqs: (first, last),
                    };
                    let mut hb = HookBatch { batch: &mut batch };
                    for h in hooks.iter() {
                        h.extend(&ctx, &mut hb)?;
                    }
                }
            }
            match held {
                // One cell on its own is whole to any reader; it still moves the epoch so that
                // every commit does.
                Some((ks, key, value)) if batch.is_empty() => self.in_epoch(|| ks.insert(key, value))?,
                Some((ks, key, value)) => {
                    batch.insert(ks, key, value);
                    self.in_epoch(|| batch.commit())?;
                }
                None => self.in_epoch(|| batch.commit())?,
            }
            self.last_committed.store(last, Ordering::Release);
        }
        for h in hooks.iter() {
            h.committed();
        }
        drop(hooks);
        match durability {
            Durability::FsyncWal => self.sync_through(last)?,
            Durability::AsyncWal => self.async_pending.store(true, Ordering::Release),
            _ => {}
        }
        Ok(last)
    }

    /// Group commit: return once the journal is fsynced past `seq`. One caller fsyncs for
    /// everyone committed before it started; the others wait for it.
    fn sync_through(&self, seq: u64) -> Result<()> {
        let mut st = self.sync.lock();
        loop {
            if st.synced >= seq {
                return Ok(());
            }
            if !st.syncing {
                st.syncing = true;
                let target = self.last_committed.load(Ordering::Acquire);
                drop(st);
                let r = self.db.persist(fjall::PersistMode::SyncData);
                self.fsyncs.fetch_add(1, Ordering::Relaxed);
                st = self.sync.lock();
                st.syncing = false;
                if r.is_ok() {
                    st.synced = st.synced.max(target);
                }
                self.sync_cv.notify_all();
                r?;
            } else {
                self.sync_cv.wait(&mut st);
            }
        }
    }
}

/// The tables' background thread. Every 50 ms it hands the journal to the OS if an ASYNC_WAL
/// write is pending, and lets the [`MemtableKeeper`] free the flushed memtables only it still
/// holds (off fjall's locks: see `memtables.rs`). Stops when the stop channel is dropped or
/// signalled, after a last journal hand-off.
pub(crate) fn spawn_background(
    db: fjall::Database,
    pending: Arc<AtomicBool>,
    memtables: Arc<MemtableKeeper>,
    stop: crossbeam_channel::Receiver<()>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("kabase-tables".into()).spawn(move || loop {
        let stopping = !matches!(stop.recv_timeout(Duration::from_millis(50)), Err(crossbeam_channel::RecvTimeoutError::Timeout));
        if pending.swap(false, Ordering::AcqRel) {
            let _ = db.persist(fjall::PersistMode::Buffer);
        }
        if stopping {
            return;
        }
        memtables.release();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_lock_stripes_spread_rows_and_tables() {
        // The bench's rows, and rows of every length up to 40 bytes: every stripe in range,
        // the same row always on the same stripe, and no stripe far above its share.
        let rows: Vec<Vec<u8>> = (0..100_000u64)
            .map(|i| format!("r{i:010}").into_bytes())
            .chain((1..40).flat_map(|n| (0..256u32).map(move |b| (0..n).map(|j| (b as u8).wrapping_add(j as u8)).collect())))
            .collect();
        for table in [0u64, 1, 7, u64::MAX] {
            let mut load = vec![0u32; ROW_LOCK_STRIPES];
            for r in &rows {
                let s = Committer::stripe(table, r);
                assert!(s < ROW_LOCK_STRIPES);
                assert_eq!(s, Committer::stripe(table, r));
                load[s] += 1;
            }
            let share = rows.len() as u32 / ROW_LOCK_STRIPES as u32;
            let max = load.iter().copied().max().unwrap_or(0);
            assert!(max < 3 * share, "table {table}: a stripe holds {max} rows, the share is {share}");
            assert!(load.iter().all(|&n| n > 0), "table {table}: an unused stripe");
        }
        // The same row in different tables, and rows that differ only by a trailing zero byte
        // or by length, land apart (for these inputs; collisions are allowed in general).
        let of = |t: u64| Committer::stripe(t, b"row-1");
        assert_ne!(of(1), of(2));
        assert_ne!(Committer::stripe(1, b"a"), Committer::stripe(1, b"a\0"));
        assert_ne!(Committer::stripe(1, b"abcdefgh"), Committer::stripe(1, b"abcdefgh\0"));
    }

    #[test]
    fn lock_rows_locks_each_stripe_once_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = fjall::Database::builder(dir.path()).open().expect("open");
        let meta = db.keyspace("meta", fjall::KeyspaceCreateOptions::default).expect("keyspace");
        let c = Committer::open(&db, &meta).expect("committer");
        let rows: Vec<Vec<u8>> = (0..500u32).map(|i| format!("row{}", i % 300).into_bytes()).collect();
        let mut want: Vec<usize> = rows.iter().map(|r| Committer::stripe(9, r)).collect();
        want.sort_unstable();
        want.dedup();
        let guards = c.lock_rows(9, rows.iter().map(|r| r.as_slice()));
        assert_eq!(guards.len(), want.len());
        for &s in &want {
            assert!(c.row_locks[s].is_locked());
        }
        drop(guards);
        assert!(want.iter().all(|&s| !c.row_locks[s].is_locked()));
        // A single row's lock is its stripe's.
        let g = c.lock_row(9, b"row7");
        assert!(c.row_locks[Committer::stripe(9, b"row7")].is_locked());
        drop(g);
    }
}
