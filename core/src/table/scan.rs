//! The streaming scanner: reads `caching` rows at a time, each chunk through one fjall snapshot
//! (so every row returned is a complete row that existed at some point; the scan as a whole is
//! "read committed", like HBase's), merging the family keyspaces row by row.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use fjall::{Readable, Slice};

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::table::codec;
use crate::table::handle::{plan, process_row, ReadPlan, Table};
use crate::table::ops::{RowResult, Scan};
use crate::cell::Cell;
use crate::cell::CellKind;
use crate::table::read::{self, After, BufSource, CellSink, EntrySource, Found, ReadBufs};
use crate::table::plain::{self, PlainBufs, PlainFamily};
use crate::table::schema::MAX_ROW_LEN;
use crate::table::Shape;

/// An iterator over the rows of a scan. Rows are read lazily: a chunk holds LSM iterators over
/// one snapshot for up to [`Scan::caching`] rows, then they are dropped and the next chunk
/// resumes after the last row. With [`Scan::batch`] a row may come as several results.
///
/// Three ways to read the same results, by what each row costs:
/// - the [`Iterator`] hands out each row as an owned [`RowResult`]: its row key, its cell
///   vector and each cell's row, family, qualifier and value are buffers of their own (six
///   allocations for a one-cell row, and as many frees when the caller drops it);
/// - [`Scanner::next_into`] refills one `RowResult` the caller keeps, reusing all of those
///   buffers, so a loop allocates (almost) nothing per row;
/// - [`Scanner::next_view`] lends each row out borrowed until the next call, values being the
///   LSM's own slices, as a raw fjall iterator hands out its keys and values.
///
/// On a 1,000-row scan of one-cell rows the last two run at 0.8-0.9 of raw fjall's iteration
/// over the same keys and the iterator at 0.65-0.75 (docs/benchmarks.md, Tables): use one of
/// them in a loop that reads many rows and keeps few.
pub struct Scanner {
    table: Table,
    shape: Arc<Shape>,
    plan: ReadPlan,
    reversed: bool,
    /// Current key bounds (encoded); they move as chunks are read.
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    limit: Option<u64>,
    batch: usize,
    caching: usize,
    filter: Option<Box<dyn Filter>>,
    has_filter_row: bool,
    /// A plain forward scan read through [`plain::process_row_plain`].
    plain: bool,
    plain_bufs: PlainBufs,
    /// The plan's families as the plain read needs them (empty when the scan is not plain).
    plain_fams: Vec<PlainFamily>,
    /// Open chunk: one cursor per family read.
    cursors: Option<Vec<Cursor>>,
    pub(crate) chunk_rows: usize,
    chunk_now: i64,
    /// Reversed scans: the current row's entries per family.
    bufs: Vec<RevSource>,
    /// Cells and key buffers to reuse.
    read_bufs: ReadBufs,
    scratch: Vec<u8>,
    /// LSM entries pulled by closed chunks.
    visited: u64,
    /// Encoded row part of the last row read in the open chunk.
    last: Option<Vec<u8>>,
    /// Parts of a row split by `batch`, not yet returned.
    pending: VecDeque<RowResult>,
    rows_returned: u64,
    done: bool,
    /// Read every chunk through this snapshot instead of a fresh one per chunk (a consistent
    /// scan of the whole table; change streams' snapshot-then-stream uses it).
    pinned: Option<fjall::Snapshot>,
    /// The row [`Scanner::next_view`] lends out: its key, and its cells as slots (no filter, no
    /// batch) or as owned cells (otherwise).
    view: Option<Box<ViewBufs>>,
    view_owned: RowResult,
    /// The cell count of the iterator's last row ([`FreshCells::hint`]).
    cells_hint: usize,
    /// The row just read was left undecoded in the cursors (a sink that reads no row key, an
    /// unescaped row part: [`CellSink::READS_ROW`]); its key is the served part without its
    /// terminator.
    row_in_cursor: bool,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("table", &self.table.name()).field("rows_returned", &self.rows_returned).finish()
    }
}

/// The smallest byte string greater than every string starting with `p` (None = no bound).
fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn max_lower(a: Bound<Vec<u8>>, b: Vec<u8>) -> Bound<Vec<u8>> {
    match a {
        Bound::Included(x) if x >= b => Bound::Included(x),
        _ => Bound::Included(b),
    }
}

fn min_upper(a: Bound<Vec<u8>>, b: Vec<u8>) -> Bound<Vec<u8>> {
    match a {
        Bound::Excluded(x) if x <= b => Bound::Excluded(x),
        _ => Bound::Excluded(b),
    }
}

/// The LSM iterator of a [`Cursor`], either direction (no boxing: one less allocation per read).
enum CursorIter {
    Forward(fjall::Iter),
    Backward(std::iter::Rev<fjall::Iter>),
    /// The keyspace's LSM read at its newest data, without registering a snapshot (see
    /// [`Cursor::open_unpinned_row`]).
    Newest(NewestIter),
}

/// What `AbstractTree::range` returns.
type NewestIter = Box<dyn DoubleEndedIterator<Item = lsm_tree::IterGuardImpl> + Send + 'static>;

/// A range of `ks` at its newest data: what `Keyspace::range` reads, without the snapshot
/// registration (a shared map update on open and on drop) that only matters to a read that
/// must not see later writes; an unpinned read checks the write epoch instead.
fn newest_range(ks: &fjall::Keyspace, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> NewestIter {
    use fjall::AbstractTree;
    ks.tree.range::<&[u8], _>(codec::fit_range(lower, upper), fjall::SeqNo::MAX, None)
}

/// The entry at a cursor's head: key, value, the length of the key's row part, and whether
/// that row is the one the cursor serves (decided once per entry, so peeking is free).
struct Head {
    key: Slice,
    value: Slice,
    row_len: usize,
    in_row: bool,
    /// The row part holds no escaped 0x00 (known for heads that start another row; false
    /// when not known).
    unescaped: bool,
}

/// The row key of the encoded row part `row_enc` into `row_out`: a copy when the part holds no
/// escaped 0x00 (`unescaped`), else unescaped. A buffer without an allocation (a fresh result,
/// the iterator's) gets one of the exact size. Always inlined: as a call it cost more than
/// the copy.
#[inline(always)]
fn decode_row_key(row_enc: &[u8], unescaped: bool, row_out: &mut Vec<u8>) {
    if !unescaped {
        codec::decode_row_into(row_enc, row_out);
        return;
    }
    let r = row_enc.get(..row_enc.len().saturating_sub(2)).unwrap_or_default();
    if row_out.capacity() == 0 {
        *row_out = exact_copy(r);
    } else {
        codec::copy_over(row_out, r);
    }
}

/// A copy of `b` in an allocation of its exact size. Out of line: inlined into the scanner's
/// step (with [`decode_row_key`]), the allocation became a call to the generic `RawVec` code
/// costing more than the copy.
#[inline(never)]
fn exact_copy(b: &[u8]) -> Vec<u8> {
    b.to_vec()
}

/// Whether `key` starts with `prefix`, testing the prefix's last 8 bytes first: the row parts
/// of neighbouring rows mostly differ near their end, so a new row is told in one comparison.
#[inline]
fn starts_with_tail_first(key: &[u8], prefix: &[u8]) -> bool {
    let n = prefix.len();
    if key.len() < n {
        return false;
    }
    if n >= 8 && key.get(n - 8..n).map(u64_ne) != prefix.get(n - 8..n).map(u64_ne) {
        return false;
    }
    key[..n] == *prefix
}

/// [`codec::row_part_len_unescaped`], finding the row's first 0x00 eight bytes at a time.
/// Always inlined (once per row, in the cursor's step; as a call it cost ~20 more).
#[inline(always)]
fn row_part_len_unescaped(key: &[u8]) -> Result<(usize, bool)> {
    match codec::first_zero(key) {
        Some(z) if key.get(z + 1) == Some(&0x01) => Ok((z + 2, true)),
        _ => codec::row_part_len(key).map(|n| (n, false)),
    }
}

#[inline]
fn u64_ne(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_ne_bytes(a)
}

/// An LSM iterator over one family keyspace, with the entry at its head, that can seek
/// forwards (by opening a new range at the target through the same snapshot). Between
/// [`Cursor::set_row`] calls it is an [`EntrySource`] for that row.
pub(crate) struct Cursor {
    iter: CursorIter,
    head: Option<Head>,
    /// The snapshot seeks re-open the range through; `None` for a cursor that reads the newest
    /// data (see [`Cursor::open_unpinned_row`]).
    snap: Option<fjall::Snapshot>,
    ks: fjall::Keyspace,
    upper: Bound<Vec<u8>>,
    /// Encoded row part the cursor serves as an entry source.
    row: Vec<u8>,
    /// Entries pulled from the LSM so far.
    pub(crate) visited: u64,
}

impl Cursor {
    /// A cursor over `iter`, at its first entry.
    fn start(iter: CursorIter, snap: Option<fjall::Snapshot>, ks: &fjall::Keyspace, upper: Bound<Vec<u8>>) -> Result<Cursor> {
        let mut c = Cursor { iter, head: None, snap, ks: ks.clone(), upper, row: Vec::new(), visited: 0 };
        c.pull()?;
        Ok(c)
    }

    /// A forward cursor over `[lower, upper)` of `ks` in `snap`, at its first entry.
    pub(crate) fn open(snap: fjall::Snapshot, ks: &fjall::Keyspace, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Cursor> {
        let iter = CursorIter::Forward(snap.range::<&[u8], _>(ks, codec::fit_range(lower, upper)));
        Cursor::start(iter, Some(snap), ks, upper.map(<[u8]>::to_vec))
    }

    /// A forward cursor over the row `row_enc` (an encoded row part) of `ks`, serving that row,
    /// reading the newest data through no snapshot (a seek opens a new range, which may see
    /// later writes): its reader checks the write epoch around the read
    /// ([`crate::table::write::Committer::read_epoch`]).
    pub(crate) fn open_unpinned_row(ks: &fjall::Keyspace, row_enc: &[u8]) -> Result<Cursor> {
        let mut upper = Vec::with_capacity(row_enc.len());
        codec::row_end_key(&mut upper, row_enc);
        let iter = CursorIter::Newest(newest_range(ks, Bound::Included(row_enc), Bound::Excluded(&upper)));
        let mut c = Cursor { iter, head: None, snap: None, ks: ks.clone(), upper: Bound::Excluded(upper), row: row_enc.to_vec(), visited: 0 };
        c.pull()?;
        Ok(c)
    }

    /// A backward cursor over `[lower, upper)`. It finds the rows of a reversed scan; a row is
    /// then read from memory or through a forward cursor over the row alone (see
    /// [`Scanner::step`]), and [`Cursor::seek_before`] moves past it.
    fn open_rev(snap: fjall::Snapshot, ks: &fjall::Keyspace, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Cursor> {
        let iter = CursorIter::Backward(snap.range::<&[u8], _>(ks, codec::fit_range(lower, upper)).rev());
        Cursor::start(iter, Some(snap), ks, upper.map(<[u8]>::to_vec))
    }

    /// Move to the next entry of the LSM iterator (no head at its end).
    #[inline(never)]
    fn pull(&mut self) -> Result<()> {
        self.pull_inline()
    }

    /// [`Cursor::pull`], inlined where a plain read moves past a column (once per cell).
    #[inline(always)]
    fn pull_inline(&mut self) -> Result<()> {
        // Each arm ends the cursor itself, so the entry is not wrapped in one more `Option`
        // (each layer was a move of the whole entry).
        let kv = match &mut self.iter {
            CursorIter::Forward(it) => match it.next() {
                Some(g) => g.into_inner(),
                None => return self.end(),
            },
            CursorIter::Backward(it) => match it.next() {
                Some(g) => g.into_inner(),
                None => return self.end(),
            },
            CursorIter::Newest(it) => match it.next() {
                Some(g) => lsm_tree::Guard::into_inner(g).map_err(fjall::Error::from),
                None => return self.end(),
            },
        };
        self.visited += 1;
        let (key, value) = kv?;
        // A key starting with the row being served belongs to it (escaped rows are
        // prefix-free), so its row part is known without decoding.
        let in_row = !self.row.is_empty() && starts_with_tail_first(&key, &self.row);
        let (row_len, unescaped) = if in_row { (self.row.len(), false) } else { row_part_len_unescaped(&key)? };
        // Written over the head in place when there is one (a new `Option<Head>` was built and
        // moved whole).
        match &mut self.head {
            Some(h) => {
                h.key = key;
                h.value = value;
                h.row_len = row_len;
                h.in_row = in_row;
                h.unescaped = unescaped;
            }
            None => self.head = Some(Head { key, value, row_len, in_row, unescaped }),
        }
        Ok(())
    }

    /// The LSM iterator is exhausted: no head.
    fn end(&mut self) -> Result<()> {
        self.head = None;
        Ok(())
    }

    fn row(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|h| &h.key[..h.row_len])
    }

    /// Backward cursors: move to the last entry below `key` (and at or above `lower`).
    fn seek_before(&mut self, lower: Bound<&[u8]>, key: &[u8]) -> Result<()> {
        let snap = self.snap.as_ref().ok_or_else(|| Error::internal("a backward cursor without a snapshot"))?;
        self.iter = CursorIter::Backward(snap.range::<&[u8], _>(&self.ks, codec::fit_range(lower, Bound::Excluded(key))).rev());
        self.pull()
    }

    /// Serve the row with encoded part `row_enc` as an entry source.
    pub(crate) fn set_row(&mut self, row_enc: &[u8]) {
        self.row.clear();
        self.row.extend_from_slice(row_enc);
        if let Some(h) = &mut self.head {
            h.in_row = h.key[..h.row_len] == *row_enc;
        }
    }

    /// [`Cursor::set_row`] for the cursor whose head starts the row (its head is in it).
    fn set_head_row(&mut self, row_enc: &[u8]) {
        self.row.clear();
        self.row.extend_from_slice(row_enc);
        if let Some(h) = &mut self.head {
            h.in_row = true;
        }
    }

    /// Serve the row the head entry starts (its row part copied from the head's key); returns
    /// whether that row part holds no escaped 0x00 (see [`Head::unescaped`]).
    fn serve_head_row(&mut self) -> bool {
        let Some(h) = &mut self.head else {
            return false;
        };
        codec::copy_over(&mut self.row, h.key.get(..h.row_len).unwrap_or_default());
        h.in_row = true;
        h.unescaped
    }

    /// The encoded row part the cursor serves.
    #[inline]
    pub(crate) fn served_row(&self) -> &[u8] {
        &self.row
    }

    /// The head entry's key, and its value to take out (leaving an empty slice in its place),
    /// when it belongs to the row served: the plain scan hands the value to a sink that keeps it
    /// ([`CellSink::offer_put_slice`]) just before moving past the entry.
    #[inline]
    pub(crate) fn head_in_row_mut(&mut self) -> Option<(&Slice, &mut Slice)> {
        match &mut self.head {
            Some(h) if h.in_row => Some((&h.key, &mut h.value)),
            _ => None,
        }
    }

    /// Move past the column of the head entry, whose key starts with `row 0x01 qualifier_enc`
    /// in its first `col_len` bytes (the row part being `row_len` bytes): a few steps while the
    /// next key is still in the column (compared with the head's own key, kept until then, so
    /// no qualifier is copied), then a seek to the column's end. [`read::skip_column`] for the
    /// plain scan. Its first step is inlined: the next entry mostly starts another column or
    /// row.
    #[inline(always)]
    pub(crate) fn skip_head_column(&mut self, row_len: usize, col_len: usize, target: &mut Vec<u8>) -> Result<()> {
        // The column's first key is kept for the comparison (the head holds an empty one until
        // the step writes over it).
        let Some(h) = &mut self.head else {
            return Ok(());
        };
        let first = std::mem::take(&mut h.key);
        self.pull_inline()?;
        match &self.head {
            Some(h) if h.in_row => self.skip_head_column_rest(first, row_len, col_len, target),
            _ => Ok(()),
        }
    }

    /// [`Cursor::skip_head_column`] after its first step, the head still in the row: `first` is
    /// the key the column started with.
    #[inline(never)]
    fn skip_head_column_rest(&mut self, first: Slice, row_len: usize, col_len: usize, target: &mut Vec<u8>) -> Result<()> {
        let col = first.get(row_len..col_len).ok_or_else(|| Error::internal("a column longer than its key"))?;
        for i in 0..read::STEPS_BEFORE_SEEK {
            if i > 0 {
                self.pull()?;
            }
            match &self.head {
                Some(h) if h.in_row && h.key.get(row_len..col_len) == Some(col) => {}
                _ => return Ok(()),
            }
        }
        target.clear();
        target.extend_from_slice(&first[..col_len]);
        if let Some(last) = target.last_mut() {
            *last = 0x02;
        }
        self.seek(target)
    }

    /// Move past whatever is left of the current row (forward cursors). Inlined: a read
    /// mostly ends with the cursor already past its row.
    #[inline]
    fn finish_row(&mut self, scratch: &mut Vec<u8>) -> Result<()> {
        match &self.head {
            Some(h) if h.in_row => self.skip_rest_of_row(scratch),
            _ => Ok(()),
        }
    }

    /// [`Cursor::finish_row`] when the head is still in the row: seek to the row's end.
    #[inline(never)]
    fn skip_rest_of_row(&mut self, scratch: &mut Vec<u8>) -> Result<()> {
        codec::row_end_key(scratch, &self.row);
        let target = std::mem::take(scratch);
        let r = read::skip_to(self, &target);
        *scratch = target;
        r
    }
}

impl EntrySource for Cursor {
    fn peek(&self) -> Option<(&[u8], &[u8])> {
        match &self.head {
            Some(h) if h.in_row => Some((&h.key[..], &h.value[..])),
            _ => None,
        }
    }
    fn peek_value(&self) -> Option<&Slice> {
        match &self.head {
            Some(h) if h.in_row => Some(&h.value),
            _ => None,
        }
    }
    fn advance(&mut self) -> Result<()> {
        self.pull()
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        let upper = bound_ref(&self.upper);
        let range = (Bound::Included(key), upper);
        self.iter = match &self.snap {
            Some(snap) => CursorIter::Forward(snap.range::<&[u8], _>(&self.ks, codec::fit_range(range.0, range.1))),
            None => CursorIter::Newest(newest_range(&self.ks, range.0, range.1)),
        };
        self.pull()
    }
}

/// How many entries of a row a reversed scan reads backwards into memory: a row with more is
/// read forwards through a cursor over the row alone, so filter hints, explicit columns and
/// version limits seek in the LSM as they do in forward scans, and one backward seek moves past
/// the row.
const REV_BUFFERED_ENTRIES: usize = 16;

/// One family's entries of the current row in a reversed scan.
enum RevSource {
    /// Read backwards into memory (a narrow row).
    Buf(BufSource),
    /// A forward cursor over the row (a wide one).
    Row(Cursor),
}

impl EntrySource for RevSource {
    fn peek(&self) -> Option<(&[u8], &[u8])> {
        match self {
            RevSource::Buf(b) => b.peek(),
            RevSource::Row(c) => c.peek(),
        }
    }
    fn peek_value(&self) -> Option<&Slice> {
        match self {
            RevSource::Buf(b) => b.peek_value(),
            RevSource::Row(c) => c.peek_value(),
        }
    }
    fn advance(&mut self) -> Result<()> {
        match self {
            RevSource::Buf(b) => b.advance(),
            RevSource::Row(c) => c.advance(),
        }
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        match self {
            RevSource::Buf(b) => b.seek(key),
            RevSource::Row(c) => c.seek(key),
        }
    }
}

impl Scanner {
    pub(crate) fn new(table: Table, shape: Arc<Shape>, scan: Scan) -> Result<Scanner> {
        if scan.raw && scan.columns.families.values().any(|q| q.is_some()) {
            // HBase: "Cannot specify any column for a raw scan".
            return Err(crate::error::Error::invalid("a raw scan cannot select single columns; select whole families or none"));
        }
        // HBase's Scan.withStartRow/withStopRow (and setRowPrefixFilter, which sets both) refuse
        // a row longer than HConstants.MAX_ROW_LENGTH.
        for (what, row) in [("start row", Some(&scan.start)), ("stop row", Some(&scan.stop)), ("row prefix", scan.prefix.as_ref())] {
            if let Some(row) = row.filter(|r| r.len() > MAX_ROW_LEN) {
                return Err(Error::invalid(format!("the scan's {what} is {} bytes long; rows are limited to {MAX_ROW_LEN}", row.len())));
            }
        }
        let mut plan = plan(&shape, &scan.columns, scan.time_range, scan.max_versions)?.with_family_ranges(&shape, &scan.family_time_ranges)?;
        plan.raw = scan.raw;
        let mut lower: Bound<Vec<u8>> = Bound::Unbounded;
        let mut upper: Bound<Vec<u8>> = Bound::Unbounded;
        if scan.reversed {
            if !scan.start.is_empty() {
                upper = min_upper(upper, codec::after_row(&scan.start));
            }
            if !scan.stop.is_empty() {
                lower = max_lower(lower, codec::after_row(&scan.stop));
            }
        } else {
            if !scan.start.is_empty() {
                lower = max_lower(lower, codec::row_prefix(&scan.start));
            }
            if !scan.stop.is_empty() {
                upper = min_upper(upper, codec::row_prefix(&scan.stop));
            }
        }
        if let Some(p) = &scan.prefix {
            if !p.is_empty() {
                let mut enc = Vec::new();
                codec::push_escaped_prefix(&mut enc, p);
                if let Some(succ) = prefix_successor(&enc) {
                    upper = min_upper(upper, succ);
                }
                lower = max_lower(lower, enc);
            }
        }
        let plain = !scan.reversed && scan.filter.is_none() && plain::is_plain(&shape, &plan);
        let plain_fams = if plain { plain::plain_families(&shape, &plan) } else { Vec::new() };
        Ok(Scanner {
            plain: plain && plain_fams.len() == plan.fams.len(),
            plain_fams,
            plain_bufs: PlainBufs::default(),
            table,
            shape,
            plan,
            reversed: scan.reversed,
            lower,
            upper,
            limit: scan.limit,
            batch: scan.batch as usize,
            caching: scan.caching.max(1) as usize,
            has_filter_row: scan.filter.as_ref().is_some_and(|f| f.has_filter_row()),
            filter: scan.filter,
            cursors: None,
            chunk_rows: 0,
            chunk_now: 0,
            bufs: Vec::new(),
            read_bufs: ReadBufs::default(),
            scratch: Vec::new(),
            visited: 0,
            last: None,
            pending: VecDeque::new(),
            rows_returned: 0,
            done: false,
            pinned: None,
            view: None,
            view_owned: RowResult::default(),
            cells_hint: 1,
            row_in_cursor: false,
        })
    }

    fn empty_range(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Bound::Included(l), Bound::Excluded(u)) => l >= u,
            _ => false,
        }
    }

    #[cfg(test)]
    /// How many LSM entries the scan has pulled so far (seeks skip entries without pulling
    /// them).
    pub(crate) fn entries_visited(&self) -> u64 {
        self.visited + self.cursors.as_ref().map_or(0, |cs| cs.iter().map(|c| c.visited).sum())
    }

    #[cfg(test)]
    /// Whether the scan reads through the plain path ([`plain::process_row_plain`]).
    pub(crate) fn is_plain_read(&self) -> bool {
        self.plain
    }

    #[cfg(test)]
    /// The same scan through the general read (to compare the plain path against).
    pub(crate) fn general_read(mut self) -> Scanner {
        self.plain = false;
        self
    }

    /// Read all chunks through one snapshot (see the `pinned` field).
    pub(crate) fn pin_snapshot(mut self, snap: fjall::Snapshot) -> Scanner {
        self.pinned = Some(snap);
        self
    }

    /// Drop the open chunk and move the bounds past the last row read.
    fn close_chunk(&mut self) {
        if let Some(mut cs) = self.cursors.take() {
            self.visited += cs.iter().map(|c| c.visited).sum::<u64>();
            // A plain read keeps the row it read last in its cursors only (each serves it).
            if self.plain {
                if let Some(c) = cs.first_mut().filter(|c| !c.row.is_empty()) {
                    self.last = Some(std::mem::take(&mut c.row));
                }
            }
        }
        if let Some(row_enc) = self.last.take() {
            let n = row_enc.len();
            if self.reversed {
                self.upper = Bound::Excluded(row_enc);
            } else {
                let mut after = row_enc;
                after.truncate(n.saturating_sub(2));
                after.extend_from_slice(&[0x00, 0x02]);
                self.lower = Bound::Included(after);
            }
        }
    }

    /// Open a chunk: a snapshot and one iterator per family from the current bounds.
    fn open_chunk(&mut self) -> Result<()> {
        // Fail once the engine closes or the table is disabled or deleted.
        let _ = self.table.shape()?;
        if self.empty_range() {
            self.done = true;
            return Ok(());
        }
        let snap = match &self.pinned {
            Some(s) => s.clone(),
            None => self.table.engine().inner.tables.db_snapshot(),
        };
        let mut cursors = Vec::with_capacity(self.plan.fams.len());
        for fp in &self.plan.fams {
            let ks = &self.shape.families[fp.index].ks;
            let c = if self.reversed {
                Cursor::open_rev(snap.clone(), ks, bound_ref(&self.lower), bound_ref(&self.upper))?
            } else {
                Cursor::open(snap.clone(), ks, bound_ref(&self.lower), bound_ref(&self.upper))?
            };
            cursors.push(c);
        }
        if self.reversed {
            self.bufs = (0..cursors.len()).map(|_| RevSource::Buf(BufSource::default())).collect();
        }
        self.cursors = Some(cursors);
        self.chunk_rows = 0;
        self.chunk_now = crate::now_ms();
        Ok(())
    }

    /// Read one row of the open chunk; `None` when it was filtered out or the scan ended.
    /// Read one row of the open chunk into `row_out` and `cells` (which must be empty); false
    /// when it was filtered out or the scan ended.
    /// The caller ([`Scanner::next_row`]) has checked the limit.
    fn step<O: CellSink>(&mut self, row_out: &mut Vec<u8>, cells: &mut O) -> Result<bool> {
        let Some(cursors) = self.cursors.as_mut() else {
            return Ok(false);
        };
        // The next row: smallest (forward) or largest (reversed) head row; with one family,
        // its cursor's.
        let mut best: Option<usize> = None;
        if let [c] = &cursors[..] {
            best = c.head.as_ref().map(|_| 0);
        } else {
            for (i, c) in cursors.iter().enumerate() {
                if let Some(r) = c.row() {
                    let better = match best.and_then(|b| cursors[b].row()) {
                        None => true,
                        Some(x) => {
                            if self.reversed {
                                r > x
                            } else {
                                r < x
                            }
                        }
                    };
                    if better {
                        best = Some(i);
                    }
                }
            }
        }
        let Some(b) = best.filter(|&b| cursors.get(b).is_some_and(|c| c.head.is_some())) else {
            self.done = true;
            return Ok(false);
        };
        if self.plain {
            return self.step_plain(b, row_out, cells);
        }
        self.step_general(b, row_out, cells)
    }

    /// [`Scanner::step`] for any other scan, the row starting at cursor `b`'s head. Out of line:
    /// the plain step, inlined into each reading loop, keeps fewer values on its stack.
    #[inline(never)]
    fn step_general<O: CellSink>(&mut self, b: usize, row_out: &mut Vec<u8>, cells: &mut O) -> Result<bool> {
        let Some(cursors) = self.cursors.as_mut() else {
            return Ok(false);
        };
        let Some(h) = cursors.get(b).and_then(|c| c.head.as_ref()) else {
            self.done = true;
            return Ok(false);
        };
        let (row_enc, unescaped) = (&h.key[..h.row_len], h.unescaped);
        // Copy the row key (the cursor moves on); the buffer is reused across rows.
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(row_enc);
        let row_enc = last.as_slice();
        self.chunk_rows += 1;
        decode_row_key(row_enc, unescaped, row_out);
        let row = row_out.as_slice();
        let (keep, end) = if self.reversed {
            // Read a narrow row backwards into memory, then walk it forwards; a wide one
            // forwards through a cursor over the row, after which the backward cursor seeks
            // past the row.
            for (c, src) in cursors.iter_mut().zip(self.bufs.iter_mut()) {
                let mut b = match std::mem::replace(src, RevSource::Buf(BufSource::default())) {
                    RevSource::Buf(b) => b,
                    RevSource::Row(_) => BufSource::default(),
                };
                b.entries.clear();
                b.pos = 0;
                while c.row() == Some(row_enc) && b.entries.len() < REV_BUFFERED_ENTRIES {
                    if let Some(h) = c.head.take() {
                        b.entries.push((h.key, h.value));
                    }
                    c.pull()?;
                }
                if c.row() == Some(row_enc) {
                    codec::row_end_key(&mut self.scratch, row_enc);
                    let snap = c.snap.clone().ok_or_else(|| Error::internal("a backward cursor without a snapshot"))?;
                    let mut fwd = Cursor::open(snap, &c.ks, Bound::Included(row_enc), Bound::Excluded(&self.scratch))?;
                    fwd.set_row(row_enc);
                    c.seek_before(bound_ref(&self.lower), row_enc)?;
                    *src = RevSource::Row(fwd);
                } else {
                    b.entries.reverse();
                    *src = RevSource::Buf(b);
                }
            }
            let r = process_row(&self.shape, &self.plan, row, row_enc, &mut self.bufs, self.chunk_now, self.filter.as_deref_mut(), cells, &mut self.read_bufs);
            for src in self.bufs.iter_mut() {
                if let RevSource::Row(c) = src {
                    self.visited += c.visited;
                    *src = RevSource::Buf(BufSource::default());
                }
            }
            r?
        } else {
            for (i, c) in cursors.iter_mut().enumerate() {
                if i == b {
                    c.set_head_row(row_enc);
                } else {
                    c.set_row(row_enc);
                }
            }
            let r = process_row(&self.shape, &self.plan, row, row_enc, cursors, self.chunk_now, self.filter.as_deref_mut(), cells, &mut self.read_bufs);
            for c in cursors.iter_mut() {
                c.finish_row(&mut self.scratch)?;
            }
            r?
        };
        if end {
            self.done = true;
        }
        if !keep {
            cells.clear_into(&mut self.read_bufs.spare);
            return Ok(false);
        }
        self.rows_returned += 1;
        Ok(true)
    }

    /// [`Scanner::step`] for a plain scan (forward), the row starting at cursor `b`'s head: the
    /// row part is copied once, into the cursors (which serve it, and hold it for
    /// [`Scanner::close_chunk`] when the chunk ends), not into `last`.
    #[inline]
    fn step_plain<O: CellSink>(&mut self, b: usize, row_out: &mut Vec<u8>, cells: &mut O) -> Result<bool> {
        let Some(cursors) = self.cursors.as_mut() else {
            return Ok(false);
        };
        let unescaped = if let [c] = &mut cursors[..] {
            // One family: no other cursor to serve the row.
            c.serve_head_row()
        } else {
            let (before, rest) = cursors.split_at_mut(b);
            let Some((cb, after)) = rest.split_first_mut() else {
                return Ok(false);
            };
            let unescaped = cb.serve_head_row();
            for c in before.iter_mut().chain(after.iter_mut()) {
                c.set_row(&cb.row);
            }
            unescaped
        };
        self.chunk_rows += 1;
        let Some(cb) = cursors.get(b) else {
            return Ok(false);
        };
        let row_enc = cb.served_row();
        // A sink that reads no row key gets an empty one; the key stays in the cursors.
        self.row_in_cursor = !O::READS_ROW && unescaped;
        if !self.row_in_cursor {
            decode_row_key(row_enc, unescaped, row_out);
        }
        let r = plain::process_row_plain(&self.shape, &self.plain_fams, row_out, cursors, self.chunk_now, cells, &mut self.read_bufs, &mut self.plain_bufs);
        for c in cursors.iter_mut() {
            c.finish_row(&mut self.scratch)?;
        }
        if !r? {
            cells.clear_into(&mut self.read_bufs.spare);
            return Ok(false);
        }
        self.rows_returned += 1;
        Ok(true)
    }

    /// Split `out` (a row just read) into parts of `batch` cells: the first stays, the rest
    /// wait in `pending`.
    #[inline]
    fn split_batch(&mut self, out: &mut RowResult) {
        if self.batch > 0 && !self.has_filter_row && out.cells.len() > self.batch {
            self.split_batch_rest(out);
        }
    }

    #[inline(never)]
    fn split_batch_rest(&mut self, out: &mut RowResult) {
        let mut rest = out.cells.split_off(self.batch);
        while !rest.is_empty() {
            let tail = rest.split_off(self.batch.min(rest.len()));
            self.pending.push_back(RowResult { row: out.row.clone(), cells: rest });
            rest = tail;
        }
    }

    /// Fill `out` (empty) with the next result; false at the end of the scan.
    fn fill(&mut self, out: &mut RowResult) -> Result<bool> {
        if let Some(r) = self.pending.pop_front() {
            *out = r;
            return Ok(true);
        }
        if self.next_row(&mut out.row, &mut out.cells)? {
            self.split_batch(out);
            return Ok(true);
        }
        Ok(false)
    }

    /// Read the next kept row into `row` and `cells` (empty), opening chunks as needed; false at
    /// the end of the scan. Every way of reading a scan goes through here.
    fn next_row<O: CellSink>(&mut self, row: &mut Vec<u8>, cells: &mut O) -> Result<bool> {
        loop {
            if self.done {
                self.close_chunk();
                return Ok(false);
            }
            if self.limit.is_some_and(|l| self.rows_returned >= l) {
                // The limit is reached: no next chunk to open (a scan with `limit == caching`
                // would otherwise open one more only to find it has nothing to return).
                self.done = true;
                continue;
            }
            if self.cursors.is_none() || self.chunk_rows >= self.caching {
                self.close_chunk();
                if let Err(e) = self.open_chunk() {
                    self.done = true;
                    return Err(e);
                }
                continue;
            }
            match self.step(row, cells) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    /// Read the next result into `out`, reusing its buffers: the row key's, the cell vector's
    /// and every cell's own byte buffers are recycled for the cells read next, so a loop over a
    /// scan allocates (almost) nothing per row. Returns false (with `out` emptied) at the end.
    /// The iterator interface gives the same results, each freshly allocated.
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Scan, RowResult};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")))?;
    /// let t = e.table("t")?;
    /// for r in ["a", "b", "c"] { t.put(Put::new(r).add("cf", "q", r))?; }
    /// let mut scanner = t.scan(Scan::new())?;
    /// let mut row = RowResult::default();
    /// let mut keys = Vec::new();
    /// while scanner.next_into(&mut row)? {
    ///     keys.push(row.row.clone());
    /// }
    /// assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn next_into(&mut self, out: &mut RowResult) -> Result<bool> {
        // The row key is overwritten by the row read (`decode_row_key`), mostly at the same
        // length; it is emptied at the end.
        if self.filter.is_some() || !self.pending.is_empty() {
            self.read_bufs.spare.append(&mut out.cells);
            if self.fill(out)? {
                return Ok(true);
            }
            out.row.clear();
            out.cells.clear();
            return Ok(false);
        }
        // No filter: the cells are refilled where they stand.
        let mut sink = Refill { cells: &mut out.cells, n: 0 };
        let r = self.next_row(&mut out.row, &mut sink);
        sink.finish(&mut self.read_bufs.spare);
        let r = r.inspect_err(|_| out.row.clear())?;
        if r {
            self.split_batch(out);
            return Ok(true);
        }
        out.row.clear();
        out.cells.clear();
        Ok(false)
    }

    /// Read the next result and lend it out as a [`RowView`], borrowed from the scanner until
    /// the next call: its values are the storage engine's own (reference-counted) bytes, not
    /// copies, and the row key and qualifiers are decoded into one buffer the scanner reuses, so
    /// a loop over a scan copies no value and allocates (almost) nothing per row. `None` at the
    /// end. The rows, cells and errors are exactly those of [`Scanner::next_into`] and the
    /// iterator (the same read, only the result is stored differently); with a filter or a
    /// [`Scan::batch`] the view is backed by owned cells instead (filters may rewrite cells).
    /// [`CellView::to_cell`] and [`RowView::to_row_result`] copy out what must outlive the call.
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Scan};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")))?;
    /// let t = e.table("t")?;
    /// for (r, v) in [("a", "1"), ("b", "22"), ("c", "333")] {
    ///     t.put(Put::new(r).add("cf", "q", v))?;
    /// }
    /// let mut scanner = t.scan(Scan::new().start("b"))?;
    /// let mut total = 0;
    /// while let Some(row) = scanner.next_view()? {
    ///     for cell in row.cells() {
    ///         assert_eq!(cell.row, row.row());
    ///         assert_eq!((cell.family, cell.qualifier), (&b"cf"[..], &b"q"[..]));
    ///         total += cell.value.len();
    ///     }
    /// }
    /// assert_eq!(total, 5);
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn next_view(&mut self) -> Result<Option<RowView<'_>>> {
        if self.filter.is_some() || self.batch > 0 {
            let mut out = std::mem::take(&mut self.view_owned);
            let r = self.next_into(&mut out);
            self.view_owned = out;
            return Ok(if r? { Some(RowView { row: &self.view_owned.row, cells: ViewRef::Owned(&self.view_owned.cells) }) } else { None });
        }
        // The buffers move out and back as one pointer (`next_row` borrows the scanner).
        let mut v = self.view.take().unwrap_or_default();
        v.cells.clear();
        self.row_in_cursor = false;
        let r = self.next_row(&mut v.row, &mut v.cells);
        let v = &mut **self.view.insert(v);
        if !r? {
            v.cells.clear();
            return Ok(None);
        }
        // An unescaped row key is the cursors' row part without its terminator (see
        // `row_in_cursor`); every cursor of a plain read serves the row.
        let row = match self.cursors.as_deref() {
            Some([c, ..]) if self.row_in_cursor => c.row.get(..c.row.len().saturating_sub(2)).unwrap_or_default(),
            _ => &v.row,
        };
        Ok(Some(RowView { row, cells: ViewRef::Slots(&v.cells) }))
    }
}

/// The row [`Scanner::next_view`] lends out: its key and its cells as slots.
#[derive(Default)]
struct ViewBufs {
    row: Vec<u8>,
    cells: ViewCells,
}

/// Where a [`CellView`]'s value lives.
enum SlotValue {
    /// `slice[offset..]`: the stored value as the LSM handed it out (uncompressed).
    Stored(Slice, usize),
    /// A range of [`ViewCells::bytes`] (a decompressed value, or an empty one).
    Bytes(usize, usize),
}

/// One kept cell of a [`RowView`].
struct Slot {
    /// A range of [`ViewCells::names`].
    family: (usize, usize),
    qualifier: (usize, usize),
    timestamp: i64,
    kind: CellKind,
    value: SlotValue,
}

/// The cells of a borrowed row: decoded qualifiers in one buffer, values as the LSM's slices,
/// family names in a buffer kept from row to row (a scan meets the same few families in every
/// row, so a row's cells copy none). A [`CellSink`] for reads without a filter.
#[derive(Default)]
pub(crate) struct ViewCells {
    bytes: Vec<u8>,
    slots: Vec<Slot>,
    /// Every family name met so far, once each (a scan reads a table's families only).
    names: Vec<u8>,
    /// Their ranges in `names`.
    families: Vec<(usize, usize)>,
    /// The range of the family the last cell offered belongs to.
    last_family: (usize, usize),
    /// The index and range of the family the last cell offered by the plain read
    /// ([`CellSink::offer_put_slice`]) belongs to (ranges in `names` hold for the whole scan).
    plain_family: Option<(usize, (usize, usize))>,
    /// Decoded qualifiers, kept from row to row (up to [`QUALS_KEPT`] bytes): a scan meets the
    /// same columns row after row.
    quals: Vec<u8>,
    /// The range in `quals` of the qualifier of each cell (by index) of the rows before.
    qual_at: Vec<(usize, usize)>,
}

/// How many bytes of decoded qualifiers [`ViewCells`] keeps from row to row.
const QUALS_KEPT: usize = 4096;

impl ViewCells {
    fn clear(&mut self) {
        self.bytes.clear();
        self.slots.clear();
        if self.quals.len() > QUALS_KEPT {
            self.quals.clear();
            self.qual_at.clear();
        }
    }

    #[inline]
    fn get<'a>(&'a self, row: &'a [u8], i: usize) -> Option<CellView<'a>> {
        let s = self.slots.get(i)?;
        let range = |r: (usize, usize)| self.bytes.get(r.0..r.1).unwrap_or_default();
        let value = match &s.value {
            SlotValue::Stored(v, off) => v.get(*off..).unwrap_or_default(),
            SlotValue::Bytes(a, b) => range((*a, *b)),
        };
        let family = self.names.get(s.family.0..s.family.1).unwrap_or_default();
        let qualifier = self.quals.get(s.qualifier.0..s.qualifier.1).unwrap_or_default();
        Some(CellView { row, family, qualifier, timestamp: s.timestamp, kind: s.kind, value })
    }

    /// The range of `family` in `names`, added when first met.
    #[inline]
    fn family_range(&mut self, family: &[u8]) -> (usize, usize) {
        let last = self.last_family;
        // Byte by byte: family names are short, and a call to `memcmp` costs as much as the
        // copy this saves.
        if self.names.get(last.0..last.1).is_some_and(|n| n.len() == family.len() && n.iter().zip(family).all(|(a, b)| a == b)) {
            return last;
        }
        self.new_family_range(family)
    }

    /// The range in `quals` of the escaped, terminated qualifier of the next cell: the one the
    /// cell at this index had in the row before when it is the same (compared with the escaped
    /// form byte by byte; equal and free of 0x00 bytes, that form is the qualifier itself),
    /// else the qualifier decoded onto `quals`.
    #[inline]
    fn push_qualifier(&mut self, qualifier_enc: &[u8]) -> (usize, usize) {
        let i = self.slots.len();
        let q = qualifier_enc.get(..qualifier_enc.len().saturating_sub(2)).unwrap_or_default();
        if let Some(&(a, b)) = self.qual_at.get(i) {
            if self.quals.get(a..b).is_some_and(|p| p.len() == q.len() && p.iter().zip(q).all(|(x, y)| x == y && *y != 0)) {
                return (a, b);
            }
        }
        self.new_qualifier(i, qualifier_enc)
    }

    /// [`ViewCells::push_qualifier`] for a qualifier not met at index `i` in the row before.
    #[inline(never)]
    fn new_qualifier(&mut self, i: usize, qualifier_enc: &[u8]) -> (usize, usize) {
        let a = self.quals.len();
        codec::push_decoded(qualifier_enc, &mut self.quals);
        let r = (a, self.quals.len());
        match self.qual_at.get_mut(i) {
            Some(at) => *at = r,
            None => self.qual_at.push(r),
        }
        r
    }

    #[inline(never)]
    fn new_family_range(&mut self, family: &[u8]) -> (usize, usize) {
        let names = &self.names;
        let r = match self.families.iter().find(|r| names.get(r.0..r.1) == Some(family)) {
            Some(&r) => r,
            None => {
                let a = self.names.len();
                self.names.extend_from_slice(family);
                self.families.push((a, self.names.len()));
                (a, self.names.len())
            }
        };
        self.last_family = r;
        r
    }
}

impl CellSink for ViewCells {
    fn offer(&mut self, found: Found<'_>, filter: Option<&mut (dyn crate::filter::Filter + '_)>, _spare: &mut Vec<Cell>) -> Result<(bool, After)> {
        if filter.is_some() {
            // Filters judge and may rewrite owned cells; `next_view` reads owned cells then.
            return Err(Error::internal("a borrowed scan row cannot take a filter"));
        }
        let family = self.family_range(found.family);
        let qualifier = self.push_qualifier(found.qualifier_enc);
        let value = if found.kind == CellKind::Put {
            match (codec::raw_payload_offset_fast(found.value)?, found.value_slice) {
                (Some(off), Some(slice)) => SlotValue::Stored(slice.clone(), off),
                (Some(off), None) => {
                    let a = self.bytes.len();
                    self.bytes.extend_from_slice(found.value.get(off..).unwrap_or_default());
                    SlotValue::Bytes(a, self.bytes.len())
                }
                (None, _) => {
                    let v = codec::decode_value(found.value)?;
                    let a = self.bytes.len();
                    self.bytes.extend_from_slice(&v);
                    SlotValue::Bytes(a, self.bytes.len())
                }
            }
        } else {
            SlotValue::Bytes(0, 0)
        };
        self.slots.push(Slot { family, qualifier, timestamp: found.ts, kind: found.kind, value });
        Ok((true, After::Next))
    }
    const KEEPS_SLICES: bool = true;
    /// The row key is the [`RowView`]'s, not the cells': `offer` and `offer_put_slice` never read
    /// it.
    const READS_ROW: bool = false;
    /// The plain scan's put: `value` is kept as it was handed over (no reference-count
    /// increment, and the cursor's head drops an empty slice instead of this one).
    #[inline]
    ///
    /// The family's range is found by its index (`plain_family`), without comparing names.
    fn offer_put_slice(&mut self, _row: &[u8], family_index: usize, family: &[u8], qualifier_enc: &[u8], ts: i64, value: Slice, _spare: &mut Vec<Cell>) -> Result<()> {
        let family = match self.plain_family {
            Some((i, r)) if i == family_index => r,
            _ => {
                let r = self.family_range(family);
                self.plain_family = Some((family_index, r));
                r
            }
        };
        let qualifier = self.push_qualifier(qualifier_enc);
        let value = match codec::raw_payload_offset_fast(&value)? {
            Some(off) => SlotValue::Stored(value, off),
            None => {
                let v = codec::decode_value(&value)?;
                let a = self.bytes.len();
                self.bytes.extend_from_slice(&v);
                SlotValue::Bytes(a, self.bytes.len())
            }
        };
        self.slots.push(Slot { family, qualifier, timestamp: ts, kind: CellKind::Put, value });
        Ok(())
    }
    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    fn filter_row_cells(&mut self, _filter: &mut (dyn crate::filter::Filter + '_)) -> Result<()> {
        Err(Error::internal("a borrowed scan row cannot take a filter"))
    }
    fn clear_into(&mut self, _spare: &mut Vec<Cell>) {
        self.clear();
    }
}

/// One cell of a [`RowView`], borrowed from the scanner (see [`Scanner::next_view`]). The same
/// fields as [`Cell`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CellView<'a> {
    /// Row key.
    pub row: &'a [u8],
    /// Column family name.
    pub family: &'a [u8],
    /// Column qualifier (any bytes, may be empty).
    pub qualifier: &'a [u8],
    /// Version, milliseconds since the epoch by default.
    pub timestamp: i64,
    /// Put or (in a raw scan) one of the delete markers.
    pub kind: CellKind,
    /// The value (empty for delete markers).
    pub value: &'a [u8],
}

impl CellView<'_> {
    /// An owned copy.
    pub fn to_cell(&self) -> Cell {
        Cell {
            row: self.row.to_vec(),
            family: self.family.to_vec(),
            qualifier: self.qualifier.to_vec(),
            timestamp: self.timestamp,
            kind: self.kind,
            value: self.value.to_vec(),
        }
    }
}

enum ViewRef<'a> {
    Slots(&'a ViewCells),
    Owned(&'a [Cell]),
}

/// One result of a scan, borrowed from the [`Scanner`] until its next call
/// ([`Scanner::next_view`]): the row key and its cells in [`RowResult`]'s order (families in
/// name order, qualifiers ascending, newest version first per column).
pub struct RowView<'a> {
    row: &'a [u8],
    cells: ViewRef<'a>,
}

impl std::fmt::Debug for RowView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowView").field("row", &self.row).field("cells", &self.cells().collect::<Vec<_>>()).finish()
    }
}

impl<'a> RowView<'a> {
    /// Row key.
    #[inline]
    pub fn row(&self) -> &'a [u8] {
        self.row
    }
    /// How many cells the result holds.
    #[inline]
    pub fn len(&self) -> usize {
        match self.cells {
            ViewRef::Slots(v) => v.slots.len(),
            ViewRef::Owned(c) => c.len(),
        }
    }
    /// Whether the result holds no cell (a scan never returns one).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The `i`-th cell.
    #[inline]
    pub fn cell(&self, i: usize) -> Option<CellView<'a>> {
        match self.cells {
            ViewRef::Slots(v) => v.get(self.row, i),
            ViewRef::Owned(c) => c.get(i).map(|c| CellView {
                row: &c.row,
                family: &c.family,
                qualifier: &c.qualifier,
                timestamp: c.timestamp,
                kind: c.kind,
                value: &c.value,
            }),
        }
    }
    /// The cells, in order.
    #[inline]
    pub fn cells(&self) -> impl ExactSizeIterator<Item = CellView<'a>> + '_ {
        (0..self.len()).map(move |i| self.cell(i).unwrap_or(CellView { row: self.row, family: &[], qualifier: &[], timestamp: 0, kind: CellKind::Put, value: &[] }))
    }
    /// Newest value of a column.
    pub fn value(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        let (f, q) = (family.as_ref(), qualifier.as_ref());
        self.cells().find(|c| c.family == f && c.qualifier == q).map(|c| c.value)
    }
    #[cfg(test)]
    /// Whether the cells are slots over the LSM's slices (not owned cells).
    pub(crate) fn is_borrowed(&self) -> bool {
        matches!(self.cells, ViewRef::Slots(_))
    }
    #[cfg(test)]
    /// How many of the cells' values are the LSM's own slices (not copies).
    pub(crate) fn stored_values(&self) -> usize {
        match self.cells {
            ViewRef::Slots(c) => c.slots.iter().filter(|s| matches!(s.value, SlotValue::Stored(..))).count(),
            ViewRef::Owned(_) => 0,
        }
    }
    /// An owned copy ([`Scanner::next_into`]'s result for the same row).
    pub fn to_row_result(&self) -> RowResult {
        RowResult { row: self.row.to_vec(), cells: self.cells().map(|c| c.to_cell()).collect() }
    }
}

/// The cells of a result [`Scanner::next_into`] refills when the scan has no filter: the
/// previous result's cells are overwritten where they stand (each one's buffers reused, no cell
/// moved in or out of the vector), cells beyond them are taken from `spare`, and
/// [`Refill::finish`] moves the ones this row did not use to `spare`. (A filter judges and
/// rewrites owned cells, so a filtered scan reads into the `Vec<Cell>` sink.)
struct Refill<'a> {
    cells: &'a mut Vec<Cell>,
    /// How many of `cells` hold the row's cells.
    n: usize,
}

impl Refill<'_> {
    /// Leave exactly the row's cells in the vector.
    #[inline]
    fn finish(self, spare: &mut Vec<Cell>) {
        if self.cells.len() > self.n {
            spare.extend(self.cells.drain(self.n..));
        }
    }
}

impl CellSink for Refill<'_> {
    #[inline]
    fn offer(&mut self, found: Found<'_>, filter: Option<&mut (dyn Filter + '_)>, spare: &mut Vec<Cell>) -> Result<(bool, After)> {
        if filter.is_some() {
            return Err(Error::internal("a refilled row cannot take a filter"));
        }
        if self.n == self.cells.len() {
            self.cells.push(read::take_cell(spare));
        }
        let cell = self.cells.get_mut(self.n).ok_or_else(|| Error::internal("a refilled row lost a cell"))?;
        read::fill_cell(cell, &found)?;
        self.n += 1;
        Ok((true, After::Next))
    }
    fn is_empty(&self) -> bool {
        self.n == 0
    }
    fn filter_row_cells(&mut self, _filter: &mut (dyn Filter + '_)) -> Result<()> {
        Err(Error::internal("a refilled row cannot take a filter"))
    }
    fn clear_into(&mut self, _spare: &mut Vec<Cell>) {
        // The cells stay where they are, to be refilled.
        self.n = 0;
    }
}

/// The cells of a result the iterator hands out (and so never gets back to refill): each cell
/// is built with its buffers allocated at their exact sizes, and the cell vector at the size of
/// the previous row's (one allocation each, no growth). A [`CellSink`]; with a filter it reads
/// as the `Vec<Cell>` sink does (filters judge and rewrite owned cells from `spare`).
struct FreshCells<'a> {
    cells: &'a mut Vec<Cell>,
    /// Capacity for the vector's first allocation.
    hint: usize,
}

/// A new cell holding `found`, every buffer allocated at its exact size.
#[inline]
fn fresh_cell(found: &Found<'_>) -> Result<Cell> {
    let qualifier = if found.qualifier_enc.is_empty() {
        Vec::new()
    } else {
        let mut q = Vec::with_capacity(found.qualifier_enc.len().saturating_sub(2));
        codec::push_decoded(found.qualifier_enc, &mut q);
        q
    };
    let value = match found.kind {
        CellKind::Put => match codec::raw_payload_offset_fast(found.value)? {
            Some(off) => found.value.get(off..).unwrap_or_default().to_vec(),
            None => codec::decode_value(found.value)?,
        },
        _ => Vec::new(),
    };
    Ok(Cell { row: found.row.to_vec(), family: found.family.to_vec(), qualifier, timestamp: found.ts, kind: found.kind, value })
}

impl CellSink for FreshCells<'_> {
    #[inline]
    fn offer(&mut self, found: Found<'_>, filter: Option<&mut (dyn Filter + '_)>, spare: &mut Vec<Cell>) -> Result<(bool, After)> {
        if filter.is_some() {
            return self.cells.offer(found, filter, spare);
        }
        let cell = fresh_cell(&found)?;
        if self.cells.capacity() == 0 {
            self.cells.reserve_exact(self.hint);
        }
        self.cells.push(cell);
        Ok((true, After::Next))
    }
    fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    fn filter_row_cells(&mut self, filter: &mut (dyn Filter + '_)) -> Result<()> {
        self.cells.filter_row_cells(filter)
    }
    fn clear_into(&mut self, spare: &mut Vec<Cell>) {
        self.cells.clear_into(spare);
    }
}

impl Iterator for Scanner {
    type Item = Result<RowResult>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(r) = self.pending.pop_front() {
            return Some(Ok(r));
        }
        let mut r = RowResult { row: Vec::new(), cells: Vec::new() };
        let mut sink = FreshCells { cells: &mut r.cells, hint: self.cells_hint };
        match self.next_row(&mut r.row, &mut sink) {
            Ok(true) => {
                self.cells_hint = r.cells.len().clamp(1, MAX_CELLS_HINT);
                self.split_batch(&mut r);
                Some(Ok(r))
            }
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The largest first allocation [`FreshCells`] makes for a row's cells (a wider row grows its
/// vector as it fills).
const MAX_CELLS_HINT: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn found<'a>(family: &'a [u8], qualifier_enc: &'a [u8], value: &'a [u8]) -> Found<'a> {
        Found { row: b"r", family, qualifier_enc, ts: 7, kind: CellKind::Put, value, value_slice: None }
    }

    /// A borrowed row's cells name their families from the scan-long name buffer: each family
    /// is stored once however the cells alternate, and every cell reads back its own.
    #[test]
    fn view_cells_keep_each_family_name_once() {
        let mut cells = ViewCells::default();
        let q = codec::row_prefix(b"q");
        let v = codec::encode_value(b"v", crate::table::schema::Compression::None);
        let fams: [&[u8]; 6] = [b"cf", b"cg", b"cf", b"c", b"cgh", b"cg"];
        for round in 0..3 {
            cells.clear();
            for f in fams {
                cells.offer(found(f, &q, &v), None, &mut Vec::new()).unwrap();
            }
            let got: Vec<&[u8]> = (0..fams.len()).map(|i| cells.get(b"r", i).unwrap().family).collect();
            assert_eq!(got, fams, "round {round}");
            assert_eq!(cells.get(b"r", 0).unwrap().value, b"v");
            assert_eq!(cells.names.len(), "cfcgccgh".len());
        }
        // The plain read's puts name their family by index, mixed with offers by name.
        let idx: [usize; 6] = [0, 1, 0, 2, 3, 1];
        for round in 0..3 {
            cells.clear();
            for (i, (&f, &fi)) in fams.iter().zip(&idx).enumerate() {
                if (i + round) % 3 == 0 {
                    cells.offer(found(f, &q, &v), None, &mut Vec::new()).unwrap();
                } else {
                    cells.offer_put_slice(b"r", fi, f, &q, 7, Slice::from(&v[..]), &mut Vec::new()).unwrap();
                }
            }
            let got: Vec<&[u8]> = (0..fams.len()).map(|i| cells.get(b"r", i).unwrap().family).collect();
            assert_eq!(got, fams, "round {round}");
            assert_eq!(cells.names.len(), "cfcgccgh".len());
        }
    }

    /// A borrowed row's qualifiers are kept from row to row: a cell whose qualifier is the one
    /// the cell at its index had in the row before reads it from there (nothing decoded), any
    /// other is decoded (`00` after `00 FF`, whose escaped form starts alike, and any qualifier
    /// holding a 0x00), and the buffer starts over past `QUALS_KEPT` bytes.
    #[test]
    fn view_cells_keep_qualifiers_from_row_to_row() {
        let v = codec::encode_value(b"v", crate::table::schema::Compression::None);
        let rows: Vec<Vec<Vec<u8>>> = vec![
            vec![b"a".to_vec(), b"\x00\xff".to_vec(), b"".to_vec()],
            vec![b"a".to_vec(), b"\x00".to_vec(), b"".to_vec()],
            vec![b"a".to_vec(), b"\x00\xff".to_vec(), b"".to_vec(), b"b".to_vec()],
            vec![b"b".to_vec(), b"\x00\xff".to_vec()],
            vec![b"b".to_vec(), b"\x00\xff".to_vec()],
        ];
        let mut cells = ViewCells::default();
        let mut quals_len = Vec::new();
        for row in &rows {
            cells.clear();
            for q in row {
                cells.offer(found(b"cf", &codec::row_prefix(q), &v), None, &mut Vec::new()).unwrap();
            }
            let got: Vec<&[u8]> = (0..row.len()).map(|i| cells.get(b"r", i).unwrap().qualifier).collect();
            assert_eq!(got, *row);
            quals_len.push(cells.quals.len());
        }
        // Decoded: the first row's three (two bytes, one empty), then `00`, then `00 FF` and `b`
        // (a new index), then `b` at index 0 and `00 FF`, then `00 FF` once more: a qualifier
        // holding a 0x00 is always decoded; `a`, `b` and the empty one are kept.
        assert_eq!(quals_len, [3, 4, 7, 10, 12]);
        // Past the bound the buffer starts over, and reads right.
        let long = vec![b'x'; QUALS_KEPT + 1];
        for round in 0..3 {
            cells.clear();
            assert!(cells.quals.len() <= QUALS_KEPT + 6, "round {round}");
            for q in [&long[..], b"a"] {
                cells.offer(found(b"cf", &codec::row_prefix(q), &v), None, &mut Vec::new()).unwrap();
            }
            assert_eq!(cells.get(b"r", 0).unwrap().qualifier, &long[..]);
            assert_eq!(cells.get(b"r", 1).unwrap().qualifier, b"a");
        }
    }

    /// The iterator's results hold buffers of their exact sizes: the row key, each cell's
    /// parts (a qualifier its escaped size), and (from the second row of rows alike) the cell
    /// vector.
    #[test]
    fn iterator_results_are_allocated_to_size() {
        use crate::{Engine, FamilyDescriptor, Put, TableDescriptor};
        let e = Engine::open_in_memory().unwrap();
        e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")).family(FamilyDescriptor::new("cg"))).unwrap();
        let t = e.table("t").unwrap();
        for i in 0..20 {
            t.put(Put::new(format!("row-{i:03}")).add("cf", "a", vec![1u8; i]).add("cf", "q\x00", "x").add("cg", "b", "yy")).unwrap();
        }
        let rows = t.scan(Scan::new()).unwrap().collect::<Result<Vec<_>>>().unwrap();
        assert_eq!(rows.len(), 20);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.row.capacity(), r.row.len());
            assert_eq!(r.cells.len(), 3);
            if i > 0 {
                assert_eq!(r.cells.capacity(), 3, "row {i}");
            }
            for c in &r.cells {
                assert_eq!(c.row, r.row);
                for b in [&c.row, &c.family, &c.value] {
                    assert_eq!(b.capacity(), b.len(), "{c:?}");
                }
                // A qualifier gets its escaped size (one byte more per 0x00 in it).
                let zeros = c.qualifier.iter().filter(|&&b| b == 0).count();
                assert_eq!(c.qualifier.capacity(), c.qualifier.len() + zeros, "{c:?}");
            }
            assert_eq!(r.cells[1].qualifier, b"q\x00");
            assert_eq!(r.cells[0].value.len(), i);
        }
    }

    /// A plain scan hands each put's value over from the cursor's head to the borrowed row
    /// (`Cursor::head_in_row_mut`, `ViewCells::offer_put_slice`): uncompressed values stay the
    /// LSM's slices (short ones inline, long ones shared), compressed ones are decoded; the
    /// column skip after the hand-over still passes the older versions (it reads the head's
    /// key only); the rows are `next_into`'s, from the memtable and from a flushed table, over
    /// chunk ends.
    #[test]
    fn plain_views_keep_the_values_handed_over() {
        use crate::table::schema::Compression;
        use crate::{Engine, FamilyDescriptor, Put, TableDescriptor};
        let e = Engine::open_in_memory().unwrap();
        e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").versions(3)).family(FamilyDescriptor::new("cg").compression(Compression::Gz))).unwrap();
        let t = e.table("t").unwrap();
        for i in 0..30u8 {
            let r = format!("row-{i:03}");
            for v in 1..=3 {
                t.put(Put::new(r.clone()).add_at("cf", "a", v, format!("a{i}-{v}"))).unwrap();
            }
            t.put(Put::new(r).add("cf", "b\x00", vec![i; 40]).add("cg", "c", format!("c{i}-").repeat(40))).unwrap();
        }
        for round in 0..2 {
            if round == 1 {
                e.flush_table("t").unwrap();
            }
            let mut sc = t.scan(Scan::new().caching(7)).unwrap();
            assert!(sc.is_plain_read());
            let mut viewed = Vec::new();
            while let Some(r) = sc.next_view().unwrap() {
                assert!(r.is_borrowed());
                // cf's two values are the LSM's slices; cg's (compressed: it repeats) is a
                // decoded copy.
                assert_eq!(r.stored_values(), 2, "round {round}: {r:?}");
                viewed.push(r.to_row_result());
            }
            let mut sc = t.scan(Scan::new().caching(7)).unwrap();
            let (mut into, mut out) = (Vec::new(), RowResult::default());
            while sc.next_into(&mut out).unwrap() {
                into.push(out.clone());
            }
            assert_eq!(viewed, into, "round {round}");
            assert_eq!(viewed.len(), 30);
            for (i, r) in viewed.iter().enumerate() {
                let values: Vec<&[u8]> = r.cells.iter().map(|c| &c.value[..]).collect();
                let (a, c) = (format!("a{i}-3"), format!("c{i}-").repeat(40));
                let want: [&[u8]; 3] = [a.as_bytes(), &[i as u8; 40], c.as_bytes()];
                assert_eq!(values, want, "round {round}, row {i}");
            }
        }
    }

    /// `next_into` without a filter refills each cell where it stands (`Refill`): from one row
    /// to the next the cell vector and every cell's buffers stay in place (the same pointers at
    /// the same index), wider rows take cells from the spares and narrower ones hand the rest
    /// back, rows with nothing visible are skipped, and a qualifier equal to the escaped form
    /// of the next one (`00 FF` against `00`'s `00 FF 00 01`) is still decoded. The rows are the
    /// iterator's.
    #[test]
    fn next_into_refills_cells_where_they_stand() {
        use crate::{Delete, Engine, FamilyDescriptor, Put, TableDescriptor};
        let e = Engine::open_in_memory().unwrap();
        e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")).family(FamilyDescriptor::new("cg"))).unwrap();
        let t = e.table("t").unwrap();
        let quals: [&[u8]; 4] = [b"\x00\xff", b"\x00", b"q", b""];
        for i in 0..40usize {
            let r = format!("row-{i:03}");
            let mut p = Put::new(r.clone());
            // Rows of three cells, with a wider or narrower one now and then.
            let width = match i % 10 { 4 => 5, 7 => 1, _ => 3 };
            for c in 0..width {
                let q = if c == 0 { quals[i % 4].to_vec() } else { format!("c{c}").into_bytes() };
                p = p.add(if c == 2 { "cg" } else { "cf" }, q, vec![b'v'; 10 + i + c]);
            }
            t.put(p).unwrap();
            if i % 10 == 9 {
                t.delete(Delete::new(r)).unwrap();
            }
        }
        for batch in [0, 2] {
            let scan = || Scan::new().caching(6).batch(batch);
            let want = t.scan(scan()).unwrap().collect::<Result<Vec<_>>>().unwrap();
            assert_eq!(want.len(), if batch == 0 { 36 } else { 72 });
            let mut sc = t.scan(scan()).unwrap();
            let mut out = RowResult::default();
            let (mut got, mut moved) = (Vec::new(), 0);
            let mut last: Option<(usize, *const Cell, Vec<*const u8>)> = None;
            while sc.next_into(&mut out).unwrap() {
                got.push(out.clone());
                let ptrs: Vec<*const u8> = out.cells.iter().map(|c| c.row.as_ptr()).collect();
                if let Some((n, cells, prev)) = &last {
                    if *n == out.cells.len() && batch == 0 {
                        assert_eq!(*cells, out.cells.as_ptr(), "row {}", got.len());
                        moved += usize::from(prev != &ptrs);
                    }
                }
                last = Some((out.cells.len(), out.cells.as_ptr(), ptrs));
            }
            assert_eq!(got, want, "batch {batch}");
            assert_eq!(moved, 0, "every cell refilled where it stood");
            if batch == 0 {
                assert!(got.windows(2).any(|w| w[0].cells[0].qualifier == b"\x00\xff" && w[1].cells[0].qualifier == b"\x00"), "the case is met");
            }
        }
    }

    #[test]
    fn row_part_len_unescaped_matches_the_codecs() {
        for b in codec::zero_search_cases() {
            assert_eq!(row_part_len_unescaped(&b).ok(), codec::row_part_len_unescaped(&b).ok(), "{b:?}");
        }
    }
}
