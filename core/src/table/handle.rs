//! The [`Table`] handle: data operations of one table (HBase `Table`).

use std::ops::Bound;
use std::sync::Arc;

use fjall::Readable;

use crate::cell::{Cell, CellKind};
use crate::error::{Error, ErrorCode, Result};
use crate::filter::Filter;
use crate::table::codec;
use crate::table::ops::{
    Append, CheckAndMutate, CheckAndMutateResult, ColumnSelection, Condition, Delete, DeleteSpec, Get, Increment, Mutation,
    Put, PutCell, RowMutation, RowMutations, RowResult, Scan, TimeRange,
};
use crate::table::point;
use crate::table::read::{self, BufSource, CellSink, EntrySource, Entries, FamilyRead, ReadBufs};
use crate::table::scan::{Cursor, Scanner};
use crate::table::schema::{Durability, TableDescriptor, MAX_ROW_LEN};
use crate::table::write::{ChangeSet, EncodedWrite, PendingCell, Scratch};
use crate::table::{Shape, TableRt, TablesState};
use crate::Engine;

/// A handle to one table: cheap to clone, safe to share between threads. Every call re-checks
/// that the engine is open and the table exists and is enabled.
///
/// ```
/// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Get, Delete, Increment};
/// let e = Engine::open_in_memory()?;
/// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").versions(2)))?;
/// let t = e.table("t")?;
/// t.put(Put::new("r").add_at("cf", "q", 1, "old").add_at("cf", "q", 2, "new"))?;
/// let r = t.get(Get::new("r").max_versions(2))?;
/// assert_eq!(r.versions("cf", "q").len(), 2);
/// t.delete(Delete::new("r").column("cf", "q"))?;          // newest version only
/// assert_eq!(t.get(Get::new("r"))?.value("cf", "q"), Some(&b"old"[..]));
/// assert_eq!(t.increment(Increment::new("c").add("cf", "n", 5))?.long("cf", "n"), Some(5));
/// # Ok::<(), kabase::Error>(())
/// ```
#[derive(Clone)]
pub struct Table {
    engine: Engine,
    rt: Arc<TableRt>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.rt.name.as_string()).finish()
    }
}

/// Families a read touches, in family order.
pub(crate) struct ReadPlan {
    pub fams: FamilyPlans,
    pub max_versions: u32,
    /// Return delete markers and masked puts (a raw scan).
    pub raw: bool,
}

/// One family of a [`ReadPlan`].
pub(crate) struct FamilyPlan {
    /// Index into the shape's families.
    pub index: usize,
    /// The read's time range for this family.
    pub time_range: TimeRange,
    /// Wanted qualifiers, escaped and terminated, sorted; `None` = all.
    pub qualifiers_enc: Option<Vec<Vec<u8>>>,
}

/// A plan's families: one family (the common table) inline, so that a get of a one-family
/// table allocates nothing for its plan; more in a vector. Reads as a slice.
pub(crate) enum FamilyPlans {
    One([FamilyPlan; 1]),
    Many(Vec<FamilyPlan>),
}

impl FamilyPlans {
    fn from_vec(mut v: Vec<FamilyPlan>) -> FamilyPlans {
        match v.pop() {
            Some(fp) if v.is_empty() => FamilyPlans::One([fp]),
            Some(fp) => {
                v.push(fp);
                FamilyPlans::Many(v)
            }
            None => FamilyPlans::Many(v),
        }
    }
}

impl std::ops::Deref for FamilyPlans {
    type Target = [FamilyPlan];
    fn deref(&self) -> &[FamilyPlan] {
        match self {
            FamilyPlans::One(a) => a,
            FamilyPlans::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for FamilyPlans {
    fn deref_mut(&mut self) -> &mut [FamilyPlan] {
        match self {
            FamilyPlans::One(a) => a,
            FamilyPlans::Many(v) => v,
        }
    }
}

impl<'a> IntoIterator for &'a FamilyPlans {
    type Item = &'a FamilyPlan;
    type IntoIter = std::slice::Iter<'a, FamilyPlan>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

pub(crate) fn plan(shape: &Shape, sel: &ColumnSelection, time_range: TimeRange, max_versions: u32) -> Result<ReadPlan> {
    if max_versions == 0 {
        return Err(Error::invalid("max versions must be at least 1"));
    }
    check_time_range(&time_range)?;
    let fams = if sel.is_all() {
        if let [_] = shape.families.as_slice() {
            FamilyPlans::One([FamilyPlan { index: 0, time_range, qualifiers_enc: None }])
        } else {
            FamilyPlans::Many((0..shape.families.len()).map(|index| FamilyPlan { index, time_range, qualifiers_enc: None }).collect())
        }
    } else {
        let mut v = Vec::new();
        for (f, qs) in &sel.families {
            let index = family_index(shape, f)?;
            let qualifiers_enc = qs.as_ref().map(|qs| {
                let mut enc: Vec<Vec<u8>> = qs
                    .iter()
                    .map(|q| {
                        let mut e = Vec::with_capacity(q.len() + 2);
                        codec::escape_into(&mut e, q);
                        e
                    })
                    .collect();
                enc.sort();
                enc.dedup();
                enc
            });
            v.push(FamilyPlan { index, time_range, qualifiers_enc });
        }
        v.sort_by_key(|f| f.index);
        FamilyPlans::from_vec(v)
    };
    Ok(ReadPlan { fams, max_versions, raw: false })
}

fn check_time_range(tr: &TimeRange) -> Result<()> {
    if tr.min < 0 || tr.max < tr.min {
        return Err(Error::invalid(format!("time range [{}, {}) is not valid", tr.min, tr.max)));
    }
    Ok(())
}

impl ReadPlan {
    /// Give single families their own time range (HBase `setColumnFamilyTimeRange`); a family
    /// the table does not have is an error.
    pub(crate) fn with_family_ranges(mut self, shape: &Shape, ranges: &std::collections::BTreeMap<Vec<u8>, TimeRange>) -> Result<ReadPlan> {
        for (family, tr) in ranges {
            check_time_range(tr)?;
            let index = family_index(shape, family)?;
            if let Some(fp) = self.fams.iter_mut().find(|f| f.index == index) {
                fp.time_range = *tr;
            }
        }
        Ok(self)
    }
}

/// Drop a map, skipping the drop glue (about 40 instructions: an into-iterator walked to its
/// end) when it is empty: an empty `BTreeMap` owns no allocation, so forgetting it leaks nothing.
/// A plain get carries two empty maps.
fn drop_map<K, V>(m: std::collections::BTreeMap<K, V>) {
    if m.is_empty() {
        std::mem::forget(m);
    }
}

pub(crate) fn family_index(shape: &Shape, family: &[u8]) -> Result<usize> {
    shape.family_index(family).ok_or_else(|| {
        Error::new(ErrorCode::NoSuchColumnFamily, format!("column family {} does not exist", String::from_utf8_lossy(family)))
    })
}

/// Read one row's cells from per-family entry sources (same order as `plan.fams`, each
/// positioned at the row's first entry), applying the filter as HBase's RegionScanner and
/// per-family StoreScanners do. Kept cells go to `out` (built from `bufs.spare` when it has cells,
/// reusing their buffers; cells a filter drops go back there). `now` may be
/// [`read::NOW_UNREAD`] (the clock is read if a TTL needs it). Returns whether the row is
/// kept and whether the scan must end. Sources may be left anywhere inside the row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn process_row<S: EntrySource, O: CellSink + ?Sized>(
    shape: &Shape,
    plan: &ReadPlan,
    row: &[u8],
    row_enc: &[u8],
    sources: &mut [S],
    now: i64,
    mut filter: Option<&mut (dyn Filter + '_)>,
    out: &mut O,
    bufs: &mut ReadBufs,
) -> Result<(bool, bool)> {
    if let Some(f) = filter.as_deref_mut() {
        if f.filter_all_remaining() {
            return Ok((false, true));
        }
        f.reset();
        if f.filter_row_key(row) {
            return Ok((false, f.filter_all_remaining()));
        }
    }
    let now = read::LazyNow::new(now);
    for (fp, src) in plan.fams.iter().zip(sources.iter_mut()) {
        let fam = &shape.families[fp.index];
        let fr = FamilyRead {
            desc: &fam.desc,
            qualifiers_enc: fp.qualifiers_enc.as_deref(),
            time_range: fp.time_range,
            max_versions: plan.max_versions,
            raw: plan.raw,
            now: &now,
        };
        // A filter's NextRow ends only this family (HBase's per-family store scanners).
        read::read_family(&fr, row, row_enc, &fam.desc.name, src, filter.as_deref_mut(), out, bufs)?;
    }
    if let Some(f) = filter {
        out.filter_row_cells(f)?;
        let keep = !out.is_empty() && !f.filter_row();
        return Ok((keep, f.filter_all_remaining()));
    }
    Ok((!out.is_empty(), false))
}

fn read_entries<R: Readable>(snap: &R, ks: &fjall::Keyspace, prefix: &[u8]) -> Result<Entries> {
    let mut v = Vec::new();
    if prefix.len() > codec::MAX_KEY_LEN {
        // No stored key is that long, so none starts with it (and the LSM refuses such a bound).
        return Ok(v);
    }
    for kv in snap.prefix(ks, prefix) {
        v.push(kv.into_inner()?);
    }
    Ok(v)
}

fn check_row(row: &[u8]) -> Result<()> {
    if row.is_empty() {
        return Err(Error::invalid("row key must not be empty"));
    }
    if row.len() > MAX_ROW_LEN {
        return Err(Error::invalid(format!("row key is {} bytes long; the limit is {MAX_ROW_LEN}", row.len())));
    }
    Ok(())
}

/// Resolve a client timestamp: `i64::MAX` (HBase's LATEST_TIMESTAMP) means server time.
fn resolve_ts(ts: Option<i64>, now: i64) -> Result<i64> {
    match ts {
        None | Some(i64::MAX) => Ok(now),
        Some(t) if t < 0 => Err(Error::invalid(format!("timestamp {t} is negative"))),
        Some(t) => Ok(t),
    }
}

fn same_error(e: &Error) -> Error {
    Error::new(e.code(), e.message().to_string())
}

impl Table {
    pub(crate) fn new(engine: Engine, rt: Arc<TableRt>) -> Table {
        Table { engine, rt }
    }

    /// The table's name (`table` or `ns:table`).
    pub fn name(&self) -> String {
        self.rt.name.as_string()
    }

    fn state(&self) -> &TablesState {
        &self.engine.inner.tables
    }

    /// The current shape, checking engine open, table existing, and (for data calls) enabled.
    pub(crate) fn shape(&self) -> Result<Arc<Shape>> {
        self.engine.check_open()?;
        let s = self.rt.shape.read().clone();
        if s.dropped {
            return Err(Error::new(ErrorCode::TableNotFound, format!("table {} was deleted", self.rt.name)));
        }
        if !s.enabled() {
            return Err(Error::new(ErrorCode::TableDisabled, format!("table {} is disabled", self.rt.name)));
        }
        Ok(s)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The table's descriptor.
    pub fn descriptor(&self) -> Result<TableDescriptor> {
        self.engine.describe_table(&self.rt.name.full())
    }

    /// The table's regions, from its split keys (HBase `RegionLocator.getAllRegionLocations`).
    pub fn regions(&self) -> Result<Vec<crate::table::RegionInfo>> {
        self.engine.table_regions(&self.rt.name.full())
    }

    fn durability(shape: &Shape, d: Durability) -> Durability {
        match (d, shape.durability()) {
            (Durability::UseDefault, Durability::UseDefault) => Durability::SyncWal,
            (Durability::UseDefault, t) => t,
            (m, _) => m,
        }
    }

    // ---------------------------------------------------------------- reads

    fn read_row_locked_or_not(&self, shape: &Shape, row: &[u8], plan: &ReadPlan, filter: Option<&mut (dyn Filter + '_)>) -> Result<Option<Vec<Cell>>> {
        let (cells, _) = self.read_row_counting(shape, row, plan, filter)?;
        Ok(cells)
    }

    /// Read one row, whole (the row stays atomic across its families); also returns how many
    /// LSM entries were visited.
    ///
    /// Without a filter the row is first read unpinned: through no snapshot, inside one even
    /// write epoch ([`crate::table::write::Committer::read_epoch`]), which saves registering a
    /// snapshot per read. If a batch was applied meanwhile (or was being applied), the row is
    /// read again through a snapshot. A filter may keep state across calls, so a filtered read
    /// goes through a snapshot once.
    pub(crate) fn read_row_counting(
        &self,
        shape: &Shape,
        row: &[u8],
        plan: &ReadPlan,
        filter: Option<&mut (dyn Filter + '_)>,
    ) -> Result<(Option<Vec<Cell>>, u64)> {
        if !codec::row_can_hold_cells(row) {
            // No key of this row fits in the LSM, so it holds no cell (and reading its range
            // would hand the LSM bounds it refuses).
            return Ok((None, 0));
        }
        let mut extra_visited = 0;
        if filter.is_none() {
            if let Some(epoch) = self.state().committer.read_epoch() {
                let r = point::with_scratch(|s| {
                    let point::Scratch { row_enc, upper, raw } = s;
                    row_enc.clear();
                    codec::push_escaped(row_enc, row);
                    self.read_row_unpinned_in(shape, row, row_enc, plan, upper, raw)
                });
                let unchanged = self.state().committer.epoch_unchanged(epoch);
                match r {
                    Ok((cells, visited)) if unchanged => return Ok((cells, visited)),
                    Err(e) if unchanged => return Err(e),
                    Ok((_, visited)) => extra_visited = visited,
                    Err(_) => {}
                }
            }
        }
        let row_enc = codec::row_prefix(row);
        let mut upper = Vec::with_capacity(row_enc.len());
        codec::row_end_key(&mut upper, &row_enc);
        let (cells, visited) = self.read_row_pinned(shape, row, &row_enc, &upper, plan, filter)?;
        Ok((cells, extra_visited + visited))
    }

    /// [`Table::read_row_counting`]'s unpinned read (no filter); valid only if the write epoch
    /// did not move meanwhile.
    #[cfg(test)]
    pub(crate) fn read_row_unpinned(&self, shape: &Shape, row: &[u8], row_enc: &[u8], plan: &ReadPlan) -> Result<(Option<Vec<Cell>>, u64)> {
        point::with_scratch(|s| self.read_row_unpinned_in(shape, row, row_enc, plan, &mut s.upper, &mut s.raw))
    }

    /// The unpinned read of [`Table::read_row_counting`] (no filter; valid only if the write
    /// epoch did not move meanwhile), with scratch buffers for the row's end key and the
    /// collected entries.
    fn read_row_unpinned_in(
        &self,
        shape: &Shape,
        row: &[u8],
        row_enc: &[u8],
        plan: &ReadPlan,
        upper: &mut Vec<u8>,
        raw: &mut point::Raw,
    ) -> Result<(Option<Vec<Cell>>, u64)> {
        if plan.fams.iter().all(|fp| fp.qualifiers_enc.is_none()) {
            if let Some(r) = self.read_row_collected_in(shape, row, row_enc, plan, upper, raw)? {
                return Ok(r);
            }
        }
        self.read_row_cursors(shape, row, row_enc, plan)
    }

    /// [`Table::read_row_collected_in`] with this thread's scratch buffers.
    #[cfg(test)]
    pub(crate) fn read_row_collected(&self, shape: &Shape, row: &[u8], row_enc: &[u8], plan: &ReadPlan) -> Result<Option<(Option<Vec<Cell>>, u64)>> {
        point::with_scratch(|s| self.read_row_collected_in(shape, row, row_enc, plan, &mut s.upper, &mut s.raw))
    }

    /// The unpinned read of [`Table::read_row_counting`] with each family's entries of the row
    /// collected from the LSM's sources ([`point::collect_row`]), for reads of whole families
    /// (explicit columns seek past the others in a cursor); `None` when a family cannot be read
    /// that way.
    fn read_row_collected_in(
        &self,
        shape: &Shape,
        row: &[u8],
        row_enc: &[u8],
        plan: &ReadPlan,
        upper: &mut Vec<u8>,
        raw: &mut point::Raw,
    ) -> Result<Option<(Option<Vec<Cell>>, u64)>> {
        let mut visited = 0;
        let mut one = BufSource::default();
        let mut many = Vec::new();
        codec::row_end_key(upper, row_enc);
        for (i, fp) in plan.fams.iter().enumerate() {
            let src = if i == 0 {
                &mut one
            } else {
                many.push(BufSource::default());
                many.last_mut().ok_or_else(|| Error::internal("no family source"))?
            };
            let fam = &shape.families[fp.index];
            match point::collect_row(&fam.ks, &fam.clean_memtable, row_enc, upper, raw, &mut src.entries)? {
                Some(n) => visited += n,
                None => return Ok(None),
            }
        }
        if one.entries.is_empty() && many.iter().all(|m| m.entries.is_empty()) {
            // No entry in any family, and no filter to tell: the row does not exist.
            return Ok(Some((None, visited)));
        }
        let keep = Self::process_collected(shape, plan, row, row_enc, one, many)?;
        Ok(Some((keep, visited)))
    }

    /// The rules applied to the entries [`Table::read_row_collected_in`] collected: the row's
    /// cells, or `None` when none is visible. Kept out of line so that a miss, which never gets
    /// here, runs through less code (session 7 counted a miss's instruction-cache misses).
    #[inline(never)]
    fn process_collected(shape: &Shape, plan: &ReadPlan, row: &[u8], row_enc: &[u8], mut one: BufSource, mut many: Vec<BufSource>) -> Result<Option<Vec<Cell>>> {
        let mut out = Vec::new();
        let r = if many.is_empty() {
            process_row(shape, plan, row, row_enc, std::slice::from_mut(&mut one), read::NOW_UNREAD, None, &mut out, &mut ReadBufs::default())
        } else {
            many.insert(0, one);
            process_row(shape, plan, row, row_enc, &mut many, read::NOW_UNREAD, None, &mut out, &mut ReadBufs::default())
        };
        let (keep, _) = r?;
        Ok(if keep { Some(out) } else { None })
    }

    /// The unpinned read of [`Table::read_row_counting`] through one LSM range cursor per
    /// family (out of line: not on the path of a whole-family get).
    #[inline(never)]
    fn read_row_cursors(&self, shape: &Shape, row: &[u8], row_enc: &[u8], plan: &ReadPlan) -> Result<(Option<Vec<Cell>>, u64)> {
        let mut out = Vec::new();
        let run = |cursors: &mut [Cursor], out: &mut Vec<Cell>| {
            let r = process_row(shape, plan, row, row_enc, cursors, read::NOW_UNREAD, None, out, &mut ReadBufs::default());
            (r, cursors.iter().map(|c| c.visited).sum::<u64>())
        };
        let (r, visited) = if let [fp] = &plan.fams[..] {
            // One family (the common get): no cursor list.
            let mut c = Cursor::open_unpinned_row(&shape.families[fp.index].ks, row_enc)?;
            run(std::slice::from_mut(&mut c), &mut out)
        } else {
            let mut cursors = Vec::with_capacity(plan.fams.len());
            for fp in &plan.fams {
                cursors.push(Cursor::open_unpinned_row(&shape.families[fp.index].ks, row_enc)?);
            }
            run(&mut cursors, &mut out)
        };
        let (keep, _) = r?;
        Ok((if keep { Some(out) } else { None }, visited))
    }

    /// [`Table::read_row_counting`]'s read through one snapshot.
    pub(crate) fn read_row_pinned(
        &self,
        shape: &Shape,
        row: &[u8],
        row_enc: &[u8],
        upper: &[u8],
        plan: &ReadPlan,
        mut filter: Option<&mut (dyn Filter + '_)>,
    ) -> Result<(Option<Vec<Cell>>, u64)> {
        let mut snap = Some(self.state().db_snapshot());
        let mut cursors = Vec::with_capacity(plan.fams.len());
        let last = plan.fams.len().saturating_sub(1);
        for (i, fp) in plan.fams.iter().enumerate() {
            // The last family takes the snapshot itself; the others share clones of it.
            let s = if i == last { snap.take() } else { snap.clone() };
            let s = s.ok_or_else(|| Error::internal("read snapshot already taken"))?;
            let mut c = Cursor::open(s, &shape.families[fp.index].ks, Bound::Included(row_enc), Bound::Excluded(upper))?;
            c.set_row(row_enc);
            cursors.push(c);
        }
        let mut out = Vec::new();
        let (keep, _) = process_row(shape, plan, row, row_enc, &mut cursors, read::NOW_UNREAD, filter.take(), &mut out, &mut ReadBufs::default())?;
        let visited = cursors.iter().map(|c| c.visited).sum::<u64>();
        Ok((if keep { Some(out) } else { None }, visited))
    }

    /// Read one row (HBase `Table.get`). A missing row gives an empty result.
    pub fn get(&self, mut get: Get) -> Result<RowResult> {
        check_row(&get.row)?;
        let shape = self.shape()?;
        let mut plan = plan(&shape, &get.columns, get.time_range, get.max_versions)?;
        if !get.family_time_ranges.is_empty() {
            plan = plan.with_family_ranges(&shape, &get.family_time_ranges)?;
        }
        let cells = self.read_row_locked_or_not(&shape, &get.row, &plan, get.filter.as_deref_mut())?;
        let Get { row, columns, family_time_ranges, .. } = get;
        drop_map(columns.families);
        drop_map(family_time_ranges);
        Ok(RowResult { row, cells: cells.unwrap_or_default() })
    }

    /// Whether a get finds any cell.
    pub fn exists(&self, get: Get) -> Result<bool> {
        Ok(!self.get(get)?.is_empty())
    }

    /// Several gets (each row read consistently on its own).
    pub fn get_many(&self, gets: Vec<Get>) -> Result<Vec<RowResult>> {
        gets.into_iter().map(|g| self.get(g)).collect()
    }

    /// Scan rows in order, streaming in chunks of `caching` rows (HBase `Table.getScanner`).
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Scan};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")))?;
    /// let t = e.table("t")?;
    /// for r in ["a1", "a2", "b1"] { t.put(Put::new(r).add("cf", "q", "v"))?; }
    /// let rows: Vec<_> = t.scan(Scan::new().prefix("a").reversed(true))?.collect::<Result<_, _>>()?;
    /// assert_eq!(rows.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"a2".to_vec(), b"a1".to_vec()]);
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn scan(&self, scan: Scan) -> Result<Scanner> {
        let shape = self.shape()?;
        Scanner::new(self.clone(), shape, scan)
    }

    // ---------------------------------------------------------------- writes

    fn put_cells(shape: &Shape, timestamp: Option<i64>, ttl: Option<i64>, cells: Vec<PutCell>, now: i64) -> Result<Vec<PendingCell>> {
        let mut out = Vec::with_capacity(cells.len());
        Self::put_cells_into(shape, timestamp, ttl, cells, now, &mut out)?;
        Ok(out)
    }

    /// Append a put's cells to `out`; on error `out` may hold some of them (callers truncate).
    fn put_cells_into(shape: &Shape, timestamp: Option<i64>, ttl: Option<i64>, cells: Vec<PutCell>, now: i64, out: &mut Vec<PendingCell>) -> Result<()> {
        if cells.is_empty() {
            return Err(Error::invalid("a put needs at least one cell"));
        }
        if let Some(t) = ttl {
            if t < 0 {
                return Err(Error::invalid(format!("cell TTL {t} ms is negative")));
            }
        }
        let default_ts = resolve_ts(timestamp, now)?;
        out.reserve(cells.len());
        for c in cells {
            let fam = family_index(shape, &c.family)?;
            let ts = match c.timestamp {
                None => default_ts,
                t => resolve_ts(t, now)?,
            };
            if c.value.len() >= u32::MAX as usize - 16 {
                return Err(Error::invalid(format!("value is {} bytes; the limit is 4 GiB", c.value.len())));
            }
            out.push(PendingCell { fam, qualifier: c.qualifier, ts, kind: CellKind::Put, value: c.value, ttl });
        }
        Ok(())
    }

    /// Delete markers for a delete; reads the newest version for `column` without a timestamp.
    fn delete_cells(&self, shape: &Shape, del: &Delete, now: i64) -> Result<Vec<PendingCell>> {
        let default_ts = resolve_ts(del.timestamp, now)?;
        let mut out = Vec::new();
        if del.specs.is_empty() {
            for fam in 0..shape.families.len() {
                out.push(PendingCell { fam, qualifier: Vec::new(), ts: default_ts, kind: CellKind::DeleteFamily, value: Vec::new(), ttl: None });
            }
            return Ok(out);
        }
        for s in &del.specs {
            let cell = match s {
                DeleteSpec::Family { family, ts } => PendingCell {
                    fam: family_index(shape, family)?,
                    qualifier: Vec::new(),
                    ts: ts.map_or(Ok(default_ts), |t| resolve_ts(Some(t), now))?,
                    kind: CellKind::DeleteFamily,
                    value: Vec::new(),
                    ttl: None,
                },
                DeleteSpec::FamilyVersion { family, ts } => PendingCell {
                    fam: family_index(shape, family)?,
                    qualifier: Vec::new(),
                    ts: resolve_ts(Some(*ts), now)?,
                    kind: CellKind::DeleteFamilyVersion,
                    value: Vec::new(),
                    ttl: None,
                },
                DeleteSpec::Columns { family, qualifier, ts } => PendingCell {
                    fam: family_index(shape, family)?,
                    qualifier: qualifier.clone(),
                    ts: ts.map_or(Ok(default_ts), |t| resolve_ts(Some(t), now))?,
                    kind: CellKind::DeleteColumn,
                    value: Vec::new(),
                    ttl: None,
                },
                DeleteSpec::Column { family, qualifier, ts } => {
                    let fam = family_index(shape, family)?;
                    let ts = match ts {
                        Some(t) => resolve_ts(Some(*t), now)?,
                        None => {
                            // HBase: the server looks up the newest version; with none, it uses now.
                            let mut sel = ColumnSelection::default();
                            sel.add_column(family.clone(), qualifier.clone());
                            let p = plan(shape, &sel, TimeRange::ALL, 1)?;
                            let cells = self.read_row_locked_or_not(shape, &del.row, &p, None)?;
                            cells.and_then(|c| c.first().map(|c| c.timestamp)).unwrap_or(default_ts)
                        }
                    };
                    PendingCell { fam, qualifier: qualifier.clone(), ts, kind: CellKind::Delete, value: Vec::new(), ttl: None }
                }
            };
            out.push(cell);
        }
        Ok(out)
    }

    /// Encode `cells` of `row` into `writes` (one write per cell, same order), using `kbuf` and
    /// `vbuf` as scratch for keys and values; on error `writes` may hold some of them (callers
    /// truncate).
    fn encode_into(shape: &Shape, row: &[u8], cells: &[PendingCell], kbuf: &mut Vec<u8>, vbuf: &mut Vec<u8>, writes: &mut Vec<EncodedWrite>) -> Result<()> {
        writes.reserve(cells.len());
        for c in cells {
            kbuf.clear();
            codec::push_cell_key(kbuf, row, &c.qualifier, c.ts, c.kind);
            let desc = &shape.families[c.fam].desc;
            if desc.new_version_behavior {
                // A slot for the commit's sequence number, filled in by the commit.
                codec::push_seq_slot(kbuf);
            }
            if kbuf.len() > codec::MAX_KEY_LEN {
                return Err(Error::invalid(format!(
                    "cell key is {} bytes once encoded (row {} bytes, qualifier {} bytes); the storage limit is {}",
                    kbuf.len(),
                    row.len(),
                    c.qualifier.len(),
                    codec::MAX_KEY_LEN
                )));
            }
            let value = if desc.new_version_behavior {
                let v = if c.kind == CellKind::Put { codec::encode_value_ttl(&c.value, desc.compression, c.ttl) } else { Vec::new() };
                fjall::Slice::from(codec::with_seq_flag(v))
            } else if c.kind == CellKind::Put && c.ttl.is_some() {
                fjall::Slice::from(codec::encode_value_ttl(&c.value, shape.families[c.fam].desc.compression, c.ttl))
            } else if c.kind == CellKind::Put {
                codec::encode_value_slice(&c.value, shape.families[c.fam].desc.compression, vbuf)
            } else {
                fjall::Slice::from(&b""[..])
            };
            writes.push((c.fam, fjall::Slice::from(kbuf.as_slice()), value));
        }
        Ok(())
    }

    fn commit_one(&self, shape: &Shape, row: &[u8], cells: Vec<PendingCell>, durability: Durability) -> Result<u64> {
        let mut sc = Scratch::take();
        sc.cells.extend(cells);
        let r = self.commit_scratch(shape, row, &mut sc, durability);
        sc.give_back();
        r
    }

    /// The change set of `sc`'s changes to this table.
    fn change_set<'a>(&'a self, shape: &'a Shape, sc: &'a mut Scratch) -> ChangeSet<'a> {
        ChangeSet { table: &self.rt.name, family_names: &shape.family_names, keyspaces: &shape.keyspaces, scratch: sc }
    }

    /// Encode and commit the one row change whose cells are in `sc.cells`, through `sc`'s
    /// buffers; returns its sequence number.
    fn commit_scratch(&self, shape: &Shape, row: &[u8], sc: &mut Scratch, durability: Durability) -> Result<u64> {
        Self::encode_into(shape, row, &sc.cells, &mut sc.kbuf, &mut sc.vbuf, &mut sc.writes)?;
        sc.push_change(row, 0..sc.cells.len());
        self.state().committer.commit(self.change_set(shape, sc), Self::durability(shape, durability))
    }

    /// Write the cells of one row atomically (HBase `Table.put`).
    pub fn put(&self, put: Put) -> Result<()> {
        check_row(&put.row)?;
        let shape = self.shape()?;
        let Put { row, timestamp, cells, durability, ttl } = put;
        let committer = &self.state().committer;
        committer.admit(&self.rt.name)?;
        let _lock = committer.lock_row(shape.id(), &row);
        // Server time is read under the row lock (as HBase does), so writers of one row commit
        // in the order of their timestamps.
        let mut sc = Scratch::take();
        let r = Self::put_cells_into(&shape, timestamp, ttl, cells, crate::now_ms(), &mut sc.cells)
            .and_then(|_| self.commit_scratch(&shape, &row, &mut sc, durability));
        sc.give_back();
        r.map(|_| ())
    }

    /// Write delete markers for one row atomically (HBase `Table.delete`).
    pub fn delete(&self, del: Delete) -> Result<()> {
        check_row(&del.row)?;
        let shape = self.shape()?;
        self.state().committer.admit(&self.rt.name)?;
        let _lock = self.state().committer.lock_row(shape.id(), &del.row);
        self.delete_locked(&shape, &del)
    }

    fn delete_locked(&self, shape: &Shape, del: &Delete) -> Result<()> {
        let cells = self.delete_cells(shape, del, crate::now_ms())?;
        self.commit_one(shape, &del.row, cells, del.durability)?;
        Ok(())
    }

    /// Add to 8-byte big-endian signed counters (HBase `Table.increment`); returns the new values.
    /// A stored value of another width fails with [`ErrorCode::NotALong`].
    pub fn increment(&self, inc: Increment) -> Result<RowResult> {
        check_row(&inc.row)?;
        let shape = self.shape()?;
        self.state().committer.admit(&self.rt.name)?;
        let _lock = self.state().committer.lock_row(shape.id(), &inc.row);
        self.increment_locked(&shape, &inc)
    }

    /// Current newest cell of each requested column, read under the row lock.
    fn current_cells(&self, shape: &Shape, row: &[u8], cols: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<Cell>> {
        let mut sel = ColumnSelection::default();
        for (f, q) in cols {
            family_index(shape, f)?;
            sel.add_column(f.clone(), q.clone());
        }
        let p = plan(shape, &sel, TimeRange::ALL, 1)?;
        Ok(self.read_row_locked_or_not(shape, row, &p, None)?.unwrap_or_default())
    }

    fn increment_locked(&self, shape: &Shape, inc: &Increment) -> Result<RowResult> {
        if inc.columns.is_empty() {
            return Err(Error::invalid("an increment needs at least one column"));
        }
        let cols: Vec<(Vec<u8>, Vec<u8>)> = inc.columns.iter().map(|(f, q, _)| (f.clone(), q.clone())).collect();
        let current = self.current_cells(shape, &inc.row, &cols)?;
        let now = crate::now_ms();
        let mut values: Vec<(Vec<u8>, Vec<u8>, i64, i64)> = Vec::new(); // family, qualifier, value, ts
        for (f, q, amount) in &inc.columns {
            if let Some(v) = values.iter_mut().find(|v| v.0 == *f && v.1 == *q) {
                v.2 = v.2.wrapping_add(*amount);
                continue;
            }
            let (base, ts) = match current.iter().find(|c| c.family == *f && c.qualifier == *q) {
                Some(c) => {
                    let b: [u8; 8] = c.value.as_slice().try_into().map_err(|_| {
                        Error::new(ErrorCode::NotALong, format!("Field is not a long, it's {} bytes wide", c.value.len()))
                    })?;
                    (i64::from_be_bytes(b), now.max(c.timestamp))
                }
                None => (0, now),
            };
            values.push((f.clone(), q.clone(), base.wrapping_add(*amount), ts));
        }
        let mut cells = Vec::new();
        let mut out = Vec::new();
        for (f, q, v, ts) in values {
            let fam = family_index(shape, &f)?;
            cells.push(PendingCell { fam, qualifier: q.clone(), ts, kind: CellKind::Put, value: v.to_be_bytes().to_vec(), ttl: None });
            out.push(Cell::put(inc.row.clone(), f, q, ts, v.to_be_bytes().to_vec()));
        }
        self.commit_one(shape, &inc.row, cells, inc.durability)?;
        out.sort_by(|a, b| (&a.family, &a.qualifier).cmp(&(&b.family, &b.qualifier)));
        Ok(RowResult { row: inc.row.clone(), cells: out })
    }

    /// Append bytes to columns (HBase `Table.append`); returns the new values.
    pub fn append(&self, app: Append) -> Result<RowResult> {
        check_row(&app.row)?;
        let shape = self.shape()?;
        self.state().committer.admit(&self.rt.name)?;
        let _lock = self.state().committer.lock_row(shape.id(), &app.row);
        self.append_locked(&shape, &app)
    }

    fn append_locked(&self, shape: &Shape, app: &Append) -> Result<RowResult> {
        if app.columns.is_empty() {
            return Err(Error::invalid("an append needs at least one column"));
        }
        let cols: Vec<(Vec<u8>, Vec<u8>)> = app.columns.iter().map(|(f, q, _)| (f.clone(), q.clone())).collect();
        let current = self.current_cells(shape, &app.row, &cols)?;
        let now = crate::now_ms();
        let mut values: Vec<(Vec<u8>, Vec<u8>, Vec<u8>, i64)> = Vec::new();
        for (f, q, bytes) in &app.columns {
            if let Some(v) = values.iter_mut().find(|v| v.0 == *f && v.1 == *q) {
                v.2.extend_from_slice(bytes);
                continue;
            }
            let (mut base, ts) = match current.iter().find(|c| c.family == *f && c.qualifier == *q) {
                Some(c) => (c.value.clone(), now.max(c.timestamp)),
                None => (Vec::new(), now),
            };
            base.extend_from_slice(bytes);
            values.push((f.clone(), q.clone(), base, ts));
        }
        let mut cells = Vec::new();
        let mut out = Vec::new();
        for (f, q, v, ts) in values {
            let fam = family_index(shape, &f)?;
            cells.push(PendingCell { fam, qualifier: q.clone(), ts, kind: CellKind::Put, value: v.clone(), ttl: None });
            out.push(Cell::put(app.row.clone(), f, q, ts, v));
        }
        self.commit_one(shape, &app.row, cells, app.durability)?;
        out.sort_by(|a, b| (&a.family, &a.qualifier).cmp(&(&b.family, &b.qualifier)));
        Ok(RowResult { row: app.row.clone(), cells: out })
    }

    /// Apply puts and deletes to one row atomically, in order (HBase `Table.mutateRow`).
    pub fn mutate_row(&self, rm: RowMutations) -> Result<()> {
        check_row(&rm.row)?;
        let shape = self.shape()?;
        self.state().committer.admit(&self.rt.name)?;
        let _lock = self.state().committer.lock_row(shape.id(), &rm.row);
        self.mutate_row_locked(&shape, &rm)
    }

    fn mutate_row_locked(&self, shape: &Shape, rm: &RowMutations) -> Result<()> {
        if rm.mutations.is_empty() {
            return Err(Error::invalid("row mutations need at least one mutation"));
        }
        let now = crate::now_ms();
        let mut cells = Vec::new();
        let mut durability = Durability::UseDefault;
        for m in &rm.mutations {
            let (row, d) = match m {
                RowMutation::Put(p) => (&p.row, p.durability),
                RowMutation::Delete(d) => (&d.row, d.durability),
            };
            if *row != rm.row {
                return Err(Error::invalid("every mutation of a RowMutations must name its row"));
            }
            durability = durability.max(d);
            match m {
                RowMutation::Put(p) => cells.extend(Self::put_cells(shape, p.timestamp, p.ttl, p.cells.clone(), now)?),
                RowMutation::Delete(d) => cells.extend(self.delete_cells(shape, d, now)?),
            }
        }
        self.commit_one(shape, &rm.row, cells, durability)?;
        Ok(())
    }

    fn apply_locked(&self, shape: &Shape, m: &Mutation) -> Result<RowResult> {
        match m {
            Mutation::Put(p) => {
                let cells = Self::put_cells(shape, p.timestamp, p.ttl, p.cells.clone(), crate::now_ms())?;
                self.commit_one(shape, &p.row, cells, p.durability)?;
                Ok(RowResult { row: p.row.clone(), cells: Vec::new() })
            }
            Mutation::Delete(d) => {
                self.delete_locked(shape, d)?;
                Ok(RowResult { row: d.row.clone(), cells: Vec::new() })
            }
            Mutation::Increment(i) => self.increment_locked(shape, i),
            Mutation::Append(a) => self.append_locked(shape, a),
            Mutation::RowMutations(r) => {
                self.mutate_row_locked(shape, r)?;
                Ok(RowResult { row: r.row.clone(), cells: Vec::new() })
            }
        }
    }

    /// Check a condition on a row and, if it holds, apply a mutation, atomically under the row
    /// lock (HBase `Table.checkAndMutate`).
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, CheckAndMutate};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")))?;
    /// let t = e.table("t")?;
    /// let claim = || CheckAndMutate::new("job1").if_not_exists("cf", "owner").then(Put::new("job1").add("cf", "owner", "w1"));
    /// assert!(t.check_and_mutate(claim())?.success);
    /// assert!(!t.check_and_mutate(claim())?.success);
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn check_and_mutate(&self, mut cam: CheckAndMutate) -> Result<CheckAndMutateResult> {
        check_row(&cam.row)?;
        let m = cam.mutation.take().ok_or_else(|| Error::invalid("check-and-mutate needs a mutation (then(...))"))?;
        if m.row() != cam.row.as_slice() {
            return Err(Error::invalid("the mutation's row must match the checked row"));
        }
        let cond = cam.condition.take().ok_or_else(|| Error::invalid("check-and-mutate needs a condition"))?;
        let shape = self.shape()?;
        self.state().committer.admit(&self.rt.name)?;
        let _lock = self.state().committer.lock_row(shape.id(), &cam.row);
        let holds = match cond {
            Condition::NotExists { family, qualifier } => {
                let mut sel = ColumnSelection::default();
                sel.add_column(family, qualifier);
                let p = plan(&shape, &sel, cam.time_range, 1)?;
                self.read_row_locked_or_not(&shape, &cam.row, &p, None)?.is_none()
            }
            Condition::Matches { family, qualifier, op, value } => {
                let mut sel = ColumnSelection::default();
                sel.add_column(family, qualifier);
                let p = plan(&shape, &sel, cam.time_range, 1)?;
                match self.read_row_locked_or_not(&shape, &cam.row, &p, None)? {
                    Some(cells) => cells.first().is_some_and(|c| super::ops::check_holds(op, &c.value, &value)),
                    None => false,
                }
            }
            Condition::Filter(mut f) => {
                let p = plan(&shape, &ColumnSelection::default(), cam.time_range, 1)?;
                self.read_row_locked_or_not(&shape, &cam.row, &p, Some(f.as_mut()))?.is_some()
            }
        };
        if !holds {
            return Ok(CheckAndMutateResult { success: false, result: RowResult { row: cam.row, cells: Vec::new() } });
        }
        let result = self.apply_locked(&shape, &m)?;
        Ok(CheckAndMutateResult { success: true, result })
    }

    /// Apply mutations of many rows with one result per mutation, in order (HBase
    /// `Table.batch`). Puts and deletes are committed together in one LSM batch (each row still
    /// gets its own change sequence number); increments, appends and row mutations go one by
    /// one. The batch as a whole is not atomic: a failed mutation does not stop the others.
    pub fn batch(&self, mut mutations: Vec<Mutation>) -> Result<Vec<Result<RowResult>>> {
        let shape = self.shape()?;
        let n = mutations.len();
        let mut results: Vec<Option<Result<RowResult>>> = (0..n).map(|_| None).collect();
        // Puts and deletes (the group committed together) are worked on in place.
        let grouped = |m: &Mutation| matches!(m, Mutation::Put(_) | Mutation::Delete(_));
        let mut any_grouped = mutations.iter().any(grouped);
        // Stream backpressure is waited for before any row lock is taken; a refusal fails every
        // put and delete of the batch.
        if any_grouped {
            if let Err(e) = self.state().committer.admit(&self.rt.name) {
                for (i, m) in mutations.iter().enumerate() {
                    if grouped(m) {
                        results[i] = Some(Err(same_error(&e)));
                    }
                }
                any_grouped = false;
            }
        }
        if any_grouped {
            let committer = &self.state().committer;
            let _locks = committer.lock_rows(shape.id(), mutations.iter().filter(|m| grouped(m)).map(|m| m.row()));
            let now = crate::now_ms();
            // Pass 1: build and encode each member's cells into the batch's flat buffers
            // (this thread's reused scratch; the values move out of the puts).
            let mut sc = Scratch::take();
            sc.cells.reserve(n);
            sc.writes.reserve(n);
            sc.changes.reserve(n);
            sc.members.reserve(n);
            let mut durability = Durability::UseDefault;
            for (i, m) in mutations.iter_mut().enumerate().filter(|(_, m)| grouped(m)) {
                let start = sc.cells.len();
                let r = check_row(m.row()).and_then(|_| match m {
                    Mutation::Put(p) => {
                        let pc = std::mem::take(&mut p.cells);
                        Self::put_cells_into(&shape, p.timestamp, p.ttl, pc, now, &mut sc.cells).map(|_| p.durability)
                    }
                    Mutation::Delete(d) => {
                        let dc = self.delete_cells(&shape, d, now)?;
                        sc.cells.extend(dc);
                        Ok(d.durability)
                    }
                    _ => Err(Error::internal("not a put or delete")),
                });
                let r = r.and_then(|d| Self::encode_into(&shape, m.row(), &sc.cells[start..], &mut sc.kbuf, &mut sc.vbuf, &mut sc.writes).map(|_| d));
                match r {
                    Ok(d) => {
                        durability = durability.max(Self::durability(&shape, d));
                        let end = sc.cells.len();
                        sc.push_change(m.row(), start..end);
                        sc.members.push(i);
                    }
                    Err(e) => {
                        sc.cells.truncate(start);
                        sc.writes.truncate(start);
                        results[i] = Some(Err(e));
                    }
                }
            }
            // Pass 2: commit together.
            let outcome = committer.commit(self.change_set(&shape, &mut sc), Self::durability(&shape, durability));
            // The results take the rows out of the (consumed) mutations instead of copying them.
            for &i in &sc.members {
                let m = &mut mutations[i];
                results[i] = Some(match &outcome {
                    Ok(_) => {
                        let row = match m {
                            Mutation::Put(p) => std::mem::take(&mut p.row),
                            Mutation::Delete(d) => std::mem::take(&mut d.row),
                            _ => Vec::new(),
                        };
                        Ok(RowResult { row, cells: Vec::new() })
                    }
                    Err(e) => Err(same_error(e)),
                });
            }
            sc.give_back();
        }
        for (i, m) in mutations.iter().enumerate() {
            if grouped(m) {
                continue;
            }
            let r = check_row(m.row()).and_then(|_| {
                self.state().committer.admit(&self.rt.name)?;
                let _lock = self.state().committer.lock_row(shape.id(), m.row());
                self.apply_locked(&shape, m)
            });
            results[i] = Some(r);
        }
        Ok(results.into_iter().map(|r| r.unwrap_or_else(|| Err(Error::internal("batch slot left empty")))).collect())
    }
}

impl TablesState {
    pub(crate) fn db_snapshot(&self) -> fjall::Snapshot {
        self.db.snapshot()
    }
}

/// Major-compaction pass over a table: remove every entry [`read::compaction_keep`] rejects.
/// Each affected row is re-read and rewritten under its row lock, so concurrent writers are safe.
pub(crate) fn compact_shape(engine: &Engine, shape: &Shape) -> Result<()> {
    let state = &engine.inner.tables;
    let db = &state.db;
    for fam in &shape.families {
        let snap = db.snapshot();
        let mut cur_row: Option<Vec<u8>> = None;
        let mut entries: Entries = Vec::new();
        let flush_row = |row: &[u8], entries: &mut Entries| -> Result<()> {
            let now = crate::now_ms();
            let keep = read::compaction_keep(&fam.desc, entries, now)?;
            entries.clear();
            if keep.iter().all(|k| *k) {
                return Ok(());
            }
            let raw_row = codec::decode_row(row);
            let _lock = state.committer.lock_row(shape.id(), &raw_row);
            let fresh = read_entries(&db.snapshot(), &fam.ks, row)?;
            let keep = read::compaction_keep(&fam.desc, &fresh, now)?;
            let mut batch = db.batch().durability(Some(fjall::PersistMode::Buffer));
            for ((k, _), keep) in fresh.iter().zip(keep) {
                if !keep {
                    batch.remove(&fam.ks, k.clone());
                }
            }
            // Inside the write epoch: a marker and the puts it masks go together to unpinned
            // readers.
            state.committer.apply_unsequenced(batch)?;
            Ok(())
        };
        for kv in snap.iter(&fam.ks) {
            let (k, v) = kv.into_inner()?;
            let n = codec::row_part_len(&k)?;
            let row = &k[..n];
            if cur_row.as_deref() != Some(row) {
                if let Some(r) = cur_row.take() {
                    flush_row(&r, &mut entries)?;
                }
                cur_row = Some(row.to_vec());
            }
            entries.push((k, v));
        }
        if let Some(r) = cur_row.take() {
            flush_row(&r, &mut entries)?;
        }
    }
    Ok(())
}
