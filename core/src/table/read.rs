//! Reading a row: HBase's masking, version, TTL and filter rules applied to the raw cells of one
//! row, and the classification major compaction uses to drop what no read can see.
//!
//! What exists (independent of the query) is what a major compaction would keep, so VERSIONS,
//! TTL and MIN_VERSIONS hold on every read whether or not a compaction ran:
//!
//! - Walking a column newest first, a put is *masked* by a DeleteFamily marker with ts >= its ts,
//!   a DeleteFamilyVersion or Delete marker at exactly its ts, or a DeleteColumn marker with
//!   ts >= its ts. Masking ignores write order, so a delete hides puts written later with an
//!   older timestamp until a major compaction removes the marker (HBase's "deletes mask puts").
//! - With KEEP_DELETED_CELLS=FALSE masked puts do not exist (and do not count as versions);
//!   otherwise they exist and count, and a read sees them when the marker lies outside its time
//!   range (HBase counts a marker for such families only when it is inside the read's range).
//! - Of the remaining puts, only the newest VERSIONS exist; of those, a put older than TTL exists
//!   only while it is among the newest MIN_VERSIONS.
//!
//! Then the read applies its time range, its filter (`filter_cell` before version counting, as
//! HBase's `ScanQueryMatcher`), and its max versions.
//!
//! A family with NEW_VERSION_BEHAVIOR replaces the first two rules by [`nvb`]'s: markers mask
//! only puts committed before them, and with KEEP_DELETED_CELLS=FALSE versions count what was
//! visible over time. With KEEP_DELETED_CELLS deleted puts still exist and count, so only the
//! masking changes.

use fjall::Slice;

use crate::cell::{Cell, CellKind};
use crate::error::Result;
use crate::filter::{Filter, ReturnCode};
use crate::table::codec;
use crate::table::nvb::{self, Verdict};
use crate::table::ops::TimeRange;
use crate::table::schema::{FamilyDescriptor, KeepDeletedCells};

/// Raw `(key, value)` entries of one row in one family, in key order.
pub(crate) type Entries = Vec<(Slice, Slice)>;

/// A read's parameters for one family.
pub(crate) struct FamilyRead<'a> {
    pub desc: &'a FamilyDescriptor,
    /// Qualifiers wanted, escaped and terminated (`codec::escape_into`), sorted ascending;
    /// `None` = all.
    pub qualifiers_enc: Option<&'a [Vec<u8>]>,
    pub time_range: TimeRange,
    pub max_versions: u32,
    /// The read's clock, taken when a TTL first needs it.
    pub now: &'a LazyNow,
    /// A raw scan: delete markers and masked puts are returned too.
    pub raw: bool,
}

/// A `now` for [`LazyNow::new`] that makes the read take the clock only if a TTL needs it
/// (most reads meet none, and skip the clock call).
pub(crate) const NOW_UNREAD: i64 = i64::MIN;

/// A read's current time in ms: given, or ([`NOW_UNREAD`]) taken on first use and then kept,
/// so every family of a row sees one time.
pub(crate) struct LazyNow(std::cell::Cell<i64>);

impl LazyNow {
    pub(crate) fn new(now: i64) -> LazyNow {
        LazyNow(std::cell::Cell::new(now))
    }

    pub(crate) fn get(&self) -> i64 {
        let v = self.0.get();
        if v != NOW_UNREAD {
            return v;
        }
        let v = crate::now_ms();
        self.0.set(v);
        v
    }
}

#[derive(Default)]
struct FamilyMarkers {
    /// Highest DeleteFamily ts (all markers / markers the read counts).
    all_family: Option<i64>,
    read_family: Option<i64>,
    all_versions: Vec<i64>,
    read_versions: Vec<i64>,
}

fn expired(desc: &FamilyDescriptor, ts: i64, now: i64) -> bool {
    match desc.ttl_ms() {
        Some(ttl) => ts < now.saturating_sub(ttl),
        None => false,
    }
}

/// [`expired`] with the clock read only when the family has a TTL.
fn expired_lazy(desc: &FamilyDescriptor, ts: i64, now: &LazyNow) -> bool {
    match desc.ttl_ms() {
        Some(ttl) => ts < now.get().saturating_sub(ttl),
        None => false,
    }
}

/// Whether a marker at `ts` counts for a read with `tr` in a family with `kdc`.
fn read_counts_marker(kdc: KeepDeletedCells, tr: &TimeRange, ts: i64) -> bool {
    match kdc {
        KeepDeletedCells::False => true,
        KeepDeletedCells::True | KeepDeletedCells::Ttl => tr.contains(ts),
    }
}

fn parse(key: &[u8], row_len: usize) -> Result<codec::KeyTailRef<'_>> {
    codec::decode_tail_ref(key, row_len)
}

/// The raw entries of one row in one family, read in key order, that a read can step through and
/// seek in (HBase's per-family `StoreScanner` over its `KeyValueHeap`).
pub(crate) trait EntrySource {
    /// The current entry, or `None` once the family's cells of this row are exhausted.
    fn peek(&self) -> Option<(&[u8], &[u8])>;
    /// The current entry's stored value as the LSM handed it out (a borrowing read keeps it
    /// instead of copying the bytes).
    fn peek_value(&self) -> Option<&Slice>;
    /// Move to the next entry.
    fn advance(&mut self) -> Result<()>;
    /// Move to the first entry with a key `>= key` (only forward; `key` is inside the row or
    /// the row's end).
    fn seek(&mut self, key: &[u8]) -> Result<()>;
}

/// Entries already read into memory (reversed scans read a row backwards, then walk it forwards).
#[derive(Default)]
pub(crate) struct BufSource {
    pub entries: Entries,
    pub pos: usize,
}

impl EntrySource for BufSource {
    fn peek(&self) -> Option<(&[u8], &[u8])> {
        self.entries.get(self.pos).map(|(k, v)| (&k[..], &v[..]))
    }
    fn peek_value(&self) -> Option<&Slice> {
        self.entries.get(self.pos).map(|(_, v)| v)
    }
    fn advance(&mut self) -> Result<()> {
        self.pos += 1;
        Ok(())
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        let rest = self.entries.get(self.pos..).unwrap_or_default();
        self.pos += rest.partition_point(|(k, _)| &k[..] < key);
        Ok(())
    }
}

/// How many entries to step over before a skip seeks instead (HBase's `trySkipToNextColumn`
/// likewise steps while the target is near): a seek re-positions every LSM run, which costs
/// more than a few steps when columns are narrow.
pub(crate) const STEPS_BEFORE_SEEK: usize = 4;

/// Move `src` to the first entry `>= target` (which is ahead of the current entry): a few
/// steps, then a real seek.
pub(crate) fn skip_to<S: EntrySource + ?Sized>(src: &mut S, target: &[u8]) -> Result<()> {
    for _ in 0..STEPS_BEFORE_SEEK {
        src.advance()?;
        match src.peek() {
            None => return Ok(()),
            Some((k, _)) if k >= target => return Ok(()),
            Some(_) => {}
        }
    }
    src.seek(target)
}

/// Move `src` past the rest of the current column (`qualifier_enc` in the row `row_enc`): a few
/// steps while the next entry is still in the column (a prefix test, no seek key built), then a
/// seek to the column's end. Equivalent to [`skip_to`] with [`codec::column_end_key`], cheaper
/// when the column has one version, as most do.
pub(crate) fn skip_column<S: EntrySource + ?Sized>(src: &mut S, row_enc: &[u8], qualifier_enc: &[u8], target: &mut Vec<u8>) -> Result<()> {
    let row_len = row_enc.len();
    for _ in 0..STEPS_BEFORE_SEEK {
        src.advance()?;
        match src.peek() {
            None => return Ok(()),
            Some((k, _)) if !codec::in_column(k, row_len, qualifier_enc) => return Ok(()),
            Some(_) => {}
        }
    }
    codec::column_end_key(target, row_enc, qualifier_enc);
    src.seek(target)
}

/// Buffers a read reuses from row to row: cells to refill (their byte buffers kept) and key
/// scratch space.
#[derive(Default)]
pub(crate) struct ReadBufs {
    /// Cells to refill.
    pub spare: Vec<Cell>,
    cur_q: Vec<u8>,
    target: Vec<u8>,
}

/// A cell to fill: one from `spare` (its buffers reused) or a new one.
pub(crate) fn take_cell(spare: &mut Vec<Cell>) -> Cell {
    spare.pop().unwrap_or_else(|| Cell {
        row: Vec::new(),
        family: Vec::new(),
        qualifier: Vec::new(),
        timestamp: 0,
        kind: CellKind::Put,
        value: Vec::new(),
    })
}

/// Whether a put's own TTL (`Put::ttl`, stored with its value) has run out.
fn cell_ttl_expired(value: &[u8], ts: i64, now: i64) -> Result<bool> {
    cell_ttl_expired_lazy(value, ts, &LazyNow::new(now))
}

/// [`cell_ttl_expired`] with the clock read only when the put has a TTL.
fn cell_ttl_expired_lazy(value: &[u8], ts: i64, now: &LazyNow) -> Result<bool> {
    Ok(match codec::value_ttl(value)? {
        Some(ttl) => ts.saturating_add(ttl) < now.get(),
        None => false,
    })
}

/// What to do after a cell, from the filter's return code.
pub(crate) enum After {
    /// Step to the next entry.
    Next,
    /// Skip the rest of the column.
    NextCol,
    /// Skip the rest of the family in this row.
    EndFamily,
    /// Move to the filter's hint (ahead of the cell, in this row and family).
    Hint(Cell),
}

/// Ask the filter about `cell`: whether to include it and where to go next.
pub(crate) fn judge(filter: Option<&mut (dyn Filter + '_)>, cell: &Cell) -> (bool, After) {
    let Some(f) = filter else {
        return (true, After::Next);
    };
    match f.filter_cell(cell) {
        ReturnCode::Include => (true, After::Next),
        ReturnCode::IncludeAndNextCol => (true, After::NextCol),
        ReturnCode::IncludeAndSeekNextRow => (true, After::EndFamily),
        ReturnCode::Skip => (false, After::Next),
        ReturnCode::NextCol => (false, After::NextCol),
        ReturnCode::NextRow => (false, After::EndFamily),
        ReturnCode::SeekNextUsingHint => match f.next_cell_hint(cell) {
            // Only a hint ahead of the cell makes progress; otherwise act as Skip.
            Some(h) if crate::filter::compare_cells(&h, cell) == std::cmp::Ordering::Greater => {
                if h.row != cell.row || h.family != cell.family {
                    (false, After::EndFamily)
                } else {
                    (false, After::Hint(h))
                }
            }
            _ => (false, After::Next),
        },
    }
}

/// A cell the rules found visible to the read, before the filter judges it: its parts as
/// stored (the row and family are the read's).
pub(crate) struct Found<'a> {
    pub row: &'a [u8],
    pub family: &'a [u8],
    /// Escaped, terminated qualifier; empty for a family-level marker.
    pub qualifier_enc: &'a [u8],
    pub ts: i64,
    pub kind: CellKind,
    /// The stored value (codec byte first; empty for a marker).
    pub value: &'a [u8],
    /// The same value as the LSM's slice, when the source has it (see
    /// [`EntrySource::peek_value`]).
    pub value_slice: Option<&'a Slice>,
}

/// Where a read puts the cells it returns: owned [`Cell`]s (`Vec<Cell>`), or slots borrowing
/// the LSM's slices (a scan's [`crate::table::RowView`]). The rules are the same either way:
/// [`read_family`] decides, the sink only stores.
pub(crate) trait CellSink {
    /// Offer a visible cell: the filter (if any) judges it, an included cell is kept.
    /// Returns whether it was included and where the read goes next.
    fn offer(&mut self, found: Found<'_>, filter: Option<&mut (dyn Filter + '_)>, spare: &mut Vec<Cell>) -> Result<(bool, After)>;
    /// Whether no cell is kept.
    fn is_empty(&self) -> bool;
    /// Let the filter see (and change) the row's cells (`Filter::filter_row_cells`).
    fn filter_row_cells(&mut self, filter: &mut (dyn Filter + '_)) -> Result<()>;
    /// Drop every kept cell (owned cells go to `spare`, to be refilled).
    fn clear_into(&mut self, spare: &mut Vec<Cell>);
    /// Whether the sink keeps the LSM's value slices: the plain scan then hands each put's
    /// value over ([`CellSink::offer_put_slice`]) instead of lending it.
    const KEEPS_SLICES: bool = false;
    /// Whether the sink reads [`Found::row`] (and [`CellSink::offer_put_slice`]'s `row`). A
    /// sink that does not (a borrowed row takes its key from the scanner) lets the plain scan
    /// leave an unescaped row key where the cursor holds it instead of copying it out.
    const READS_ROW: bool = true;
    /// Offer a visible put with no filter, its stored `value` handed over (taken from the
    /// cursor's head, which moves past it next): a sink that keeps slices keeps this one
    /// without a reference-count increment. Otherwise read as [`CellSink::offer`].
    /// `family_index` is the family's index in the table's shape (the same family has the same
    /// index throughout a scan).
    #[allow(clippy::too_many_arguments)]
    fn offer_put_slice(&mut self, row: &[u8], family_index: usize, family: &[u8], qualifier_enc: &[u8], ts: i64, value: Slice, spare: &mut Vec<Cell>) -> Result<()> {
        let _ = family_index;
        let found = Found { row, family, qualifier_enc, ts, kind: CellKind::Put, value: &value, value_slice: Some(&value) };
        self.offer(found, None, spare).map(|_| ())
    }
}

/// Build a [`Cell`] from `found`, from `spare` when it has one (buffers reused).
fn make_cell(spare: &mut Vec<Cell>, found: &Found<'_>) -> Result<Cell> {
    let mut cell = take_cell(spare);
    if let Err(e) = fill_cell(&mut cell, found) {
        spare.push(cell);
        return Err(e);
    }
    Ok(cell)
}

/// Overwrite `cell` with `found` (its buffers reused).
#[inline]
pub(crate) fn fill_cell(cell: &mut Cell, found: &Found<'_>) -> Result<()> {
    codec::copy_over(&mut cell.row, found.row);
    // A refilled cell mostly holds this family's name already. Compared byte by byte: names
    // are short, and a call to `memcmp` costs as much as the copy it would save.
    if cell.family.len() != found.family.len() || !cell.family.iter().zip(found.family).all(|(a, b)| a == b) {
        cell.family.clear();
        cell.family.extend_from_slice(found.family);
    }
    // A refilled cell mostly holds this qualifier already (a scan meets the same columns row
    // after row): compared in place with the escaped form, byte by byte; equal and free of
    // 0x00 bytes, that form is the qualifier itself (no escapes), so nothing is copied.
    let q = found.qualifier_enc.get(..found.qualifier_enc.len().saturating_sub(2)).unwrap_or_default();
    if cell.qualifier.len() != q.len() || !cell.qualifier.iter().zip(q).all(|(a, b)| a == b && *b != 0) {
        if found.qualifier_enc.is_empty() {
            cell.qualifier.clear();
        } else {
            codec::decode_row_into(found.qualifier_enc, &mut cell.qualifier);
        }
    }
    cell.timestamp = found.ts;
    cell.kind = found.kind;
    if found.kind == CellKind::Put {
        codec::decode_value_into(found.value, &mut cell.value)?;
    } else {
        cell.value.clear();
    }
    Ok(())
}

impl CellSink for Vec<Cell> {
    fn offer(&mut self, found: Found<'_>, mut filter: Option<&mut (dyn Filter + '_)>, spare: &mut Vec<Cell>) -> Result<(bool, After)> {
        if filter.is_none() {
            // Every cell is kept: fill it where it stays (a cell is too large to move cheaply).
            self.push(take_cell(spare));
            if let Some(cell) = self.last_mut() {
                if let Err(e) = fill_cell(cell, &found) {
                    spare.extend(self.pop());
                    return Err(e);
                }
            }
            return Ok((true, After::Next));
        }
        let cell = make_cell(spare, &found)?;
        let (include, after) = judge(filter.as_deref_mut(), &cell);
        if include {
            self.push(match filter {
                Some(f) => f.transform_cell(cell),
                None => cell,
            });
        } else {
            spare.push(cell);
        }
        Ok((include, after))
    }
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
    fn filter_row_cells(&mut self, filter: &mut (dyn Filter + '_)) -> Result<()> {
        filter.filter_row_cells(self);
        Ok(())
    }
    fn clear_into(&mut self, spare: &mut Vec<Cell>) {
        spare.append(self);
    }
}

/// Apply the rules to one family of one row, reading `src` (positioned at the family's first
/// entry of the row) and appending visible cells to `out`. `row_enc` is the row's encoded key
/// part. Cells are built from `spare` when it has any, reusing their buffers.
///
/// As HBase's `ScanQueryMatcher` with the filter's return codes: `NextCol` and
/// `IncludeAndNextCol` skip the rest of the column, `NextRow` and `IncludeAndSeekNextRow` the
/// rest of this family in the row (the row's other families are still read),
/// `SeekNextUsingHint` moves to the filter's hint. Skips to a later column or past the family
/// seek in the LSM (after a few steps); a hint inside the current column is walked to, so the
/// column's delete markers and version ranks stay exact.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_family<S: EntrySource + ?Sized, O: CellSink + ?Sized>(
    read: &FamilyRead<'_>,
    row: &[u8],
    row_enc: &[u8],
    family: &[u8],
    src: &mut S,
    mut filter: Option<&mut (dyn Filter + '_)>,
    out: &mut O,
    bufs: &mut ReadBufs,
) -> Result<()> {
    let ReadBufs { spare, cur_q, target } = bufs;
    cur_q.clear();
    let row_len = row_enc.len();
    let desc = read.desc;
    let kdc = desc.keep_deleted_cells;
    let tr = read.time_range;
    let raw = read.raw;
    let mut fm = FamilyMarkers::default();
    // NEW_VERSION_BEHAVIOR: fed every marker (KEEP_DELETED_CELLS=FALSE: they all count and
    // versions count what is visible) or the markers the read counts (otherwise: it only
    // decides deletion).
    let mut tracker = (desc.new_version_behavior && !raw)
        .then(|| nvb::Tracker::new(if kdc == KeepDeletedCells::False { desc.max_versions } else { u32::MAX }));

    // Family-level markers come first in the row (told apart by their tag byte, so a row
    // without markers is not decoded twice).
    while let Some((key, _)) = src.peek() {
        if !codec::is_family_level(key, row_len) {
            break;
        }
        let p = parse(key, row_len)?;
        let counts = read_counts_marker(kdc, &tr, p.ts);
        if let Some(t) = tracker.as_mut() {
            if counts {
                t.family_marker(p.kind, p.ts, p.seq);
            }
        }
        match p.kind {
            CellKind::DeleteFamily => {
                fm.all_family = fm.all_family.max(Some(p.ts));
                if counts {
                    fm.read_family = fm.read_family.max(Some(p.ts));
                }
            }
            _ => {
                fm.all_versions.push(p.ts);
                if counts {
                    fm.read_versions.push(p.ts);
                }
            }
        }
        if raw && tr.contains(p.ts) {
            let found = Found { row, family, qualifier_enc: &[], ts: p.ts, kind: p.kind, value: &[], value_slice: None };
            let (_, after) = out.offer(found, filter.as_deref_mut(), spare)?;
            if matches!(after, After::EndFamily) {
                return Ok(());
            }
        }
        src.advance()?;
    }

    // Column walk state.
    let mut have_col = false;
    let mut col_all_del: Option<i64> = None;
    let mut col_read_del: Option<i64> = None;
    let mut col_all_ver: Vec<i64> = Vec::new();
    let mut col_read_ver: Vec<i64> = Vec::new();
    let mut rank: u32 = 0;
    let mut returned: u32 = 0;
    // Cells of the current column with keys below this are passed over (a hint inside the column).
    let mut walk_to: Option<Vec<u8>> = None;

    loop {
        let Some((key, value)) = src.peek() else {
            break;
        };
        let p = parse(key, row_len)?;
        if p.family_level {
            return Err(crate::error::Error::corrupt("family marker after column cells"));
        }
        if !have_col || cur_q.as_slice() != p.qualifier_enc {
            col_all_del = None;
            col_read_del = None;
            col_all_ver.clear();
            col_read_ver.clear();
            rank = 0;
            returned = 0;
            walk_to = None;
            cur_q.clear();
            cur_q.extend_from_slice(p.qualifier_enc);
            have_col = true;
            if let Some(t) = tracker.as_mut() {
                t.start_column();
            }
            if let Some(qs) = read.qualifiers_enc {
                if qs.binary_search_by(|q| q.as_slice().cmp(p.qualifier_enc)).is_err() {
                    // Not a wanted column: go to the next wanted one, or past the family.
                    let next = qs.partition_point(|q| q.as_slice() <= p.qualifier_enc);
                    match qs.get(next) {
                        Some(q) => codec::column_start_key(target, row_enc, q),
                        None => return Ok(()),
                    }
                    skip_to(src, target)?;
                    continue;
                }
            }
        }
        let ts = p.ts;
        let walked_over = walk_to.as_deref().is_some_and(|w| key < w);
        match p.kind {
            CellKind::DeleteColumn | CellKind::Delete => {
                if p.kind == CellKind::DeleteColumn {
                    col_all_del = col_all_del.max(Some(ts));
                } else {
                    col_all_ver.push(ts);
                }
                if read_counts_marker(kdc, &tr, ts) {
                    if let Some(t) = tracker.as_mut() {
                        t.column_marker(p.kind, ts, p.seq);
                    }
                    if p.kind == CellKind::DeleteColumn {
                        col_read_del = col_read_del.max(Some(ts));
                    } else {
                        col_read_ver.push(ts);
                    }
                }
                if !(raw && tr.contains(ts) && !walked_over) {
                    src.advance()?;
                    continue;
                }
            }
            CellKind::Put => {
                if cell_ttl_expired_lazy(value, ts, read.now)? {
                    // Its own TTL ran out: gone for every read (and for major compaction).
                    src.advance()?;
                    continue;
                }
                let verdict = match tracker.as_mut() {
                    Some(t) => Some(t.put(ts, p.seq)),
                    None => None,
                };
                let masked_all = match verdict {
                    Some(v) => v != Verdict::Visible,
                    None => {
                        fm.all_family.is_some_and(|d| d >= ts)
                            || col_all_del.is_some_and(|d| d >= ts)
                            || fm.all_versions.contains(&ts)
                            || col_all_ver.contains(&ts)
                    }
                };
                if masked_all && kdc == KeepDeletedCells::False && !raw {
                    if tracker.as_ref().is_some_and(|t| t.column_full()) {
                        // VERSIONS puts are visible: the rest of the column is masked.
                        codec::column_end_key(target, row_enc, cur_q);
                        skip_to(src, target)?;
                    } else {
                        src.advance()?;
                    }
                    continue;
                }
                rank += 1;
                // Past VERSIONS, or expired beyond MIN_VERSIONS (older versions are expired too,
                // as timestamps only decrease along the column): nothing more of this column
                // exists. A raw scan shows versions past VERSIONS until a major compaction.
                let expired_here = expired_lazy(desc, ts, read.now) && rank > desc.min_versions;
                if (rank > desc.max_versions && !raw) || expired_here {
                    skip_column(src, row_enc, cur_q, target)?;
                    continue;
                }
                // The tracker was fed only the markers the read counts.
                let masked_read = !raw
                    && masked_all
                    && (verdict.is_some()
                        || fm.read_family.is_some_and(|d| d >= ts)
                        || col_read_del.is_some_and(|d| d >= ts)
                        || fm.read_versions.contains(&ts)
                        || col_read_ver.contains(&ts));
                if masked_read || !tr.contains(ts) || walked_over {
                    src.advance()?;
                    continue;
                }
            }
            _ => return Err(crate::error::Error::corrupt("family marker kind in a column key")),
        }
        let is_put = p.kind == CellKind::Put;
        let value_slice = if is_put { src.peek_value() } else { None };
        let found = Found { row, family, qualifier_enc: p.qualifier_enc, ts, kind: p.kind, value, value_slice };
        let (include, mut after) = out.offer(found, filter.as_deref_mut(), spare)?;
        if include {
            if is_put {
                returned += 1;
            }
            if returned >= read.max_versions && matches!(after, After::Next) {
                after = After::NextCol;
            }
        }
        match after {
            After::Next => src.advance()?,
            After::NextCol => skip_column(src, row_enc, cur_q, target)?,
            After::EndFamily => return Ok(()),
            After::Hint(h) => {
                let mut qe = Vec::with_capacity(h.qualifier.len() + 2);
                codec::escape_into(&mut qe, &h.qualifier);
                if qe == *cur_q {
                    let mut w = Vec::new();
                    codec::column_position_key(&mut w, row_enc, &qe, h.timestamp, h.kind);
                    walk_to = Some(w);
                    src.advance()?;
                } else {
                    codec::column_position_key(target, row_enc, &qe, h.timestamp, h.kind);
                    skip_to(src, target)?;
                }
            }
        }
    }
    Ok(())
}

/// Which entries of one family of one row a major compaction keeps (`true` = keep).
pub(crate) fn compaction_keep(desc: &FamilyDescriptor, entries: &[(Slice, Slice)], now: i64) -> Result<Vec<bool>> {
    let mut keep = vec![true; entries.len()];
    let Some((first, _)) = entries.first() else {
        return Ok(keep);
    };
    let row_len = codec::row_part_len(first)?;
    let kdc = desc.keep_deleted_cells;
    let keep_marker = |ts: i64| match kdc {
        KeepDeletedCells::False => false,
        KeepDeletedCells::True => true,
        KeepDeletedCells::Ttl => !expired(desc, ts, now),
    };
    let mut fam_del: Option<i64> = None;
    let mut fam_ver: Vec<i64> = Vec::new();
    // NEW_VERSION_BEHAVIOR with KEEP_DELETED_CELLS=FALSE: what the tracker hides is gone (with
    // KEEP_DELETED_CELLS, masked puts exist and count whatever the order).
    let mut tracker = (desc.new_version_behavior && kdc == KeepDeletedCells::False).then(|| nvb::Tracker::new(desc.max_versions));
    let mut cur_q: Option<&[u8]> = None;
    let mut col_del: Option<i64> = None;
    let mut col_ver: Vec<i64> = Vec::new();
    let mut rank = 0u32;
    for (i, (key, value)) in entries.iter().enumerate() {
        let p = parse(key, row_len)?;
        if p.family_level {
            if p.kind == CellKind::DeleteFamily {
                fam_del = fam_del.max(Some(p.ts));
            } else {
                fam_ver.push(p.ts);
            }
            if let Some(t) = tracker.as_mut() {
                t.family_marker(p.kind, p.ts, p.seq);
            }
            keep[i] = keep_marker(p.ts);
            continue;
        }
        if cur_q != Some(p.qualifier_enc) {
            col_del = None;
            col_ver.clear();
            rank = 0;
            cur_q = Some(p.qualifier_enc);
            if let Some(t) = tracker.as_mut() {
                t.start_column();
            }
        }
        if p.kind != CellKind::Put {
            if let Some(t) = tracker.as_mut() {
                t.column_marker(p.kind, p.ts, p.seq);
            }
        }
        match p.kind {
            CellKind::DeleteColumn => {
                col_del = col_del.max(Some(p.ts));
                keep[i] = keep_marker(p.ts);
                continue;
            }
            CellKind::Delete => {
                col_ver.push(p.ts);
                keep[i] = keep_marker(p.ts);
                continue;
            }
            _ => {}
        }
        let ts = p.ts;
        if cell_ttl_expired(value, ts, now)? {
            keep[i] = false;
            continue;
        }
        let masked = match tracker.as_mut() {
            Some(t) => t.put(ts, p.seq) != Verdict::Visible,
            None => {
                fam_del.is_some_and(|d| d >= ts)
                    || col_del.is_some_and(|d| d >= ts)
                    || fam_ver.contains(&ts)
                    || col_ver.contains(&ts)
            }
        };
        if masked && kdc == KeepDeletedCells::False {
            keep[i] = false;
            continue;
        }
        rank += 1;
        if rank > desc.max_versions || (expired(desc, ts, now) && rank > desc.min_versions) {
            keep[i] = false;
        }
    }
    Ok(keep)
}
