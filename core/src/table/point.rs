//! A get's row read without lsm-tree's merging range iterator.
//!
//! `AbstractTree::range` builds, for every read, a boxed iterator per memtable and per table
//! whose key range covers the row, a merge heap, an MVCC stream and a self-referencing owner
//! (about eight allocations, and as many frees), then steps them one entry at a time. A get reads
//! one row, which mostly has a handful of entries, so [`collect_row`] instead reads each source
//! of the row directly - the active memtable, then per run of every level the tables whose key
//! range covers the row - into one vector, and merges that by the LSM's own rules: entries
//! ordered by user key and newest sequence number first, the newest entry of each key wins, a
//! key whose newest entry is an LSM tombstone is gone (lsm-tree's `MvccStream` followed by its
//! tombstone filter). The cells' delete markers, versions and TTLs are then applied by
//! [`crate::table::read::read_family`] exactly as for any other read.
//!
//! It reads the newest data, as [`crate::table::scan::Cursor::open_unpinned_row`] does, so its
//! caller checks the write epoch around the read. The memtables and the table list are taken
//! separately (lsm-tree does not expose its super version), so the read takes place only when it
//! can tell that together they hold the row: the active memtable taken first, then no sealed
//! memtable (a memtable being flushed, which this read cannot reach), then the table list (why
//! that suffices is written at `collect_raw`). Otherwise, for a key-value-separated tree, and for a
//! row with more than [`MAX_ENTRIES`] entries (where seeking past skipped columns pays), the
//! caller reads through a cursor instead.
//!
//! This uses lsm-tree 3.1's documented-hidden accessors (`current_version`, `Table::range`, a
//! table's key range, a memtable's skip list); the workspace `Cargo.toml` pins lsm-tree to the version
//! they were written against.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use fjall::{AbstractTree, Slice};
use lsm_tree::{AnyTree, InternalValue, SeqNo, ValueType};

use crate::error::Result;

/// Most entries one family of a row may have for [`collect_row`] to read it; a wider row is read
/// through a cursor, which steps over and seeks past what the read does not want.
pub(crate) const MAX_ENTRIES: usize = 256;

/// Entries of one row collected from every source, before the merge.
pub(crate) type Raw = Vec<InternalValue>;

/// Buffers a thread's gets reuse: the row's key part and end key, and the entries collected before the merge
/// (left empty between gets, so they hold no block of the LSM).
#[derive(Default)]
pub(crate) struct Scratch {
    /// The row's encoded key part.
    pub row_enc: Vec<u8>,
    /// The row's end key.
    pub upper: Vec<u8>,
    /// Collected entries.
    pub raw: Raw,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Run `f` with this thread's [`Scratch`] (fresh buffers if it is in use further up the stack).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

fn lsm(e: lsm_tree::Error) -> crate::error::Error {
    fjall::Error::from(e).into()
}

/// Read the entries of the row `[row_enc, upper)` (an encoded row part and its end key) of `ks`
/// at its newest data into `out` as `(key, value)` pairs in key order, merged as the LSM merges
/// them. `raw` is scratch space (left empty). Returns how many LSM entries were read, or `None`
/// when this read cannot take place (see the module docs; `out` is then empty) and the caller
/// must read through a cursor.
///
/// `clean` is the family's [`FamilyRt::clean_memtable`](super::FamilyRt): one more than the id of
/// an active memtable seen with no memtable sealed, which spares the look-up of the sealed
/// memtables while that memtable is still the active one.
pub(crate) fn collect_row(ks: &fjall::Keyspace, clean: &AtomicU64, row_enc: &[u8], upper: &[u8], raw: &mut Raw, out: &mut Vec<(Slice, Slice)>) -> Result<Option<u64>> {
    out.clear();
    let r = collect_raw(ks, clean, row_enc, upper, raw, out);
    raw.clear();
    r
}

// Why the active memtable `mt` (taken first), then no sealed memtable, then the table list
// `version` (taken last) hold every entry of the row that was committed before the read began:
//
// - An entry in `mt` is read from `mt` itself (a memtable keeps its entries once sealed or
//   flushed, and the `Arc` keeps it alive).
// - An entry in an older memtable: that memtable was rotated out before `mt` became active, and
//   when no memtable was sealed (the second look-up) it had been flushed. lsm-tree registers a
//   flush's tables and drops the flushed memtable from the sealed list in one step, so the
//   tables were in the table list then, and are in the later `version` (compactions rewrite
//   tables, they do not drop entries a newer read can see).
// - An entry in a memtable newer than `mt` was written after the read began: every write to a
//   table's keyspaces moves the write epoch, which the caller checks around the read.
// - If `mt` was rotated out and flushed between the look-ups, its entries are read twice (from
//   `mt` and from its tables) with the same sequence numbers; the merge keeps one of each key.
//
// So a rotation between the look-ups needs no second look-up of the active memtable (session 6
// took one, an extra lock and super-version clone per get).
//
// The second look-up is also spared when `mt` is a memtable an earlier read found active with
// no memtable sealed (its id is kept in `clean`): memtables are sealed only by a rotation, which
// makes a new memtable (a new id) active, and `mt` is still active, so no rotation happened
// since that read, and the memtables older than `mt` had been flushed by then. Each look-up of
// lsm-tree's version history takes its lock and clones its latest super-version (three `Arc`s),
// a fifth of a miss when the row is in no memtable.
fn collect_raw(ks: &fjall::Keyspace, clean: &AtomicU64, row_enc: &[u8], upper: &[u8], raw: &mut Raw, out: &mut Vec<(Slice, Slice)>) -> Result<Option<u64>> {
    raw.clear();
    let AnyTree::Standard(tree) = &ks.tree else {
        return Ok(None);
    };
    // Two or three look-ups of lsm-tree's version history, in this order.
    let mt = tree.active_memtable();
    let id = mt.id() + 1;
    if clean.load(Ordering::Acquire) != id {
        if tree.sealed_memtable_count() != 0 {
            return Ok(None);
        }
        clean.store(id, Ordering::Release);
    }
    let version = tree.current_version();
    // The lower bound as lsm-tree's range builds it (see its `TreeIter::create_range`); the row
    // ends at the first key at or past `upper`. The skip list is walked entry by entry from its
    // lower bound (no range iterator to build and drop: a miss finds one entry past the row).
    let lo = InternalValue::from_components(row_enc, Slice::empty(), SeqNo::MAX, ValueType::Tombstone).key;
    let mut sources = 0;
    let before = raw.len();
    let mut next = mt.items.lower_bound(Bound::Included(&lo));
    while let Some(e) = next {
        if e.key().user_key[..] >= *upper {
            break;
        }
        if e.key().seqno < SeqNo::MAX {
            if raw.len() == MAX_ENTRIES {
                raw.clear();
                return Ok(None);
            }
            raw.push(InternalValue { key: e.key().clone(), value: e.value().clone() });
        }
        next = e.next();
    }
    sources += usize::from(raw.len() > before);
    // The tables' bounds, built when a table covers the row (a miss past every table's key
    // range needs none).
    let mut bounds: Option<(Slice, Slice)> = None;
    for level in version.iter_levels() {
        for run in level.iter() {
            // A run's tables are disjoint and in key order: those covering the row are the ones
            // from the first whose last key is at or past the row's start, up to the first that
            // starts at or past the row's end.
            let first = run.partition_point(|t| &t.metadata.key_range.max()[..] < row_enc);
            for table in run.get(first..).unwrap_or_default() {
                if &table.metadata.key_range.min()[..] >= upper {
                    break;
                }
                let before = raw.len();
                let (lo_key, hi_key) = bounds.get_or_insert_with(|| (Slice::from(row_enc), Slice::from(upper)));
                if !collect_table(table, lo_key, hi_key, raw)? {
                    raw.clear();
                    return Ok(None);
                }
                sources += usize::from(raw.len() > before);
            }
        }
    }
    if raw.is_empty() {
        // No source holds the row (every miss): nothing to merge.
        return Ok(Some(0));
    }
    let visited = raw.len() as u64;
    merge(raw, sources, out);
    Ok(Some(visited))
}

/// Append the entries of `[lo, hi)` in `table` to `raw`; `false` when that would pass
/// [`MAX_ENTRIES`]. Out of line, as [`merge`] is: a miss past every table's key range runs
/// through neither, and less code means fewer instruction-cache misses.
#[inline(never)]
fn collect_table(table: &lsm_tree::Table, lo: &Slice, hi: &Slice, raw: &mut Raw) -> Result<bool> {
    for item in table.range((Bound::Included(lo.clone()), Bound::Excluded(hi.clone()))) {
        let item = item.map_err(lsm)?;
        if item.key.seqno < SeqNo::MAX {
            if raw.len() == MAX_ENTRIES {
                return Ok(false);
            }
            raw.push(item);
        }
    }
    Ok(true)
}

/// Merge the entries of `sources` sources collected in `raw` (each source's in order) into
/// `out`, emptying `raw`.
#[inline(never)]
fn merge(raw: &mut Raw, sources: usize, out: &mut Vec<(Slice, Slice)>) {
    if sources > 1 {
        // Each source is in order already; the stable sort merges their runs.
        raw.sort_by(|a, b| a.key.cmp(&b.key));
    }
    // The newest entry of each key wins; a tombstone there hides the key.
    out.reserve(raw.len());
    let mut last: Option<Slice> = None;
    for item in raw.drain(..) {
        if last.as_ref().is_some_and(|k| *k == item.key.user_key) {
            continue;
        }
        last = Some(item.key.user_key.clone());
        if !item.key.is_tombstone() {
            out.push((item.key.user_key, item.value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use crate::table::{FamilyDescriptor, Get, Put, TableDescriptor};
    use crate::Engine;

    /// Gets find every row while memtables rotate and flush under them without any write in the
    /// read's window (`flush_table` rotates and waits for the flush), so the argument at
    /// `collect_raw` is exercised: a rotation or a flush between the three look-ups must neither
    /// hide a row (its memtable read, or its tables in the later table list) nor show one twice.
    #[test]
    fn gets_find_every_row_while_memtables_rotate_and_flush() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").versions(2))).unwrap();
        let t = e.table("t").unwrap();
        let row = |i: usize| format!("r{i:04}");
        // Older rows in tables, newer ones (and second versions of some) in the memtable.
        for i in 0..300 {
            t.put(Put::new(row(i)).add_at("cf", "q", 1, format!("v{i}"))).unwrap();
            if i % 100 == 99 {
                e.flush_table("t").unwrap();
            }
        }
        for i in (0..300).step_by(7) {
            t.put(Put::new(row(i)).add_at("cf", "q", 2, format!("w{i}"))).unwrap();
        }
        let written = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let flusher = {
            let (e, t, written, done) = (e.clone(), t.clone(), written.clone(), done.clone());
            std::thread::spawn(move || {
                for k in 0..60 {
                    t.put(Put::new(format!("x{k:04}")).add_at("cf", "q", 1, format!("x{k}"))).unwrap();
                    written.store(k + 1, Ordering::Release);
                    e.flush_table("t").unwrap();
                }
                done.store(true, Ordering::Release);
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|id| {
                let (t, written, done) = (t.clone(), written.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut gets = 0u64;
                    while !done.load(Ordering::Acquire) || gets < 2_000 {
                        let i = (gets as usize * 37 + id * 11) % 300;
                        let r = t.get(Get::new(row(i)).max_versions(2)).unwrap();
                        let got: Vec<(i64, Vec<u8>)> = r.versions("cf", "q").into_iter().map(|c| (c.timestamp, c.value.clone())).collect();
                        let mut want = Vec::new();
                        if i % 7 == 0 {
                            want.push((2, format!("w{i}").into_bytes()));
                        }
                        want.push((1, format!("v{i}").into_bytes()));
                        assert_eq!(got, want, "row {i}");
                        let n = written.load(Ordering::Acquire);
                        if n > 0 {
                            let k = gets as usize % n;
                            let r = t.get(Get::new(format!("x{k:04}"))).unwrap();
                            assert_eq!(r.value("cf", "q"), Some(format!("x{k}").as_bytes()), "row x{k:04}");
                        }
                        let miss = t.get(Get::new(format!("r{:04}z", i))).unwrap();
                        assert!(miss.is_empty());
                        gets += 1;
                    }
                    gets
                })
            })
            .collect();
        flusher.join().unwrap();
        for r in readers {
            assert!(r.join().unwrap() >= 2_000);
        }
    }
}
