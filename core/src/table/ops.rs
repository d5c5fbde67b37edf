//! Request and result types of table operations, shaped like HBase's Java client
//! (`Put`, `Get`, `Delete`, `Scan`, `Increment`, `Append`, `RowMutations`, `CheckAndMutate`,
//! `Result`).

use std::collections::BTreeMap;

use crate::cell::Cell;
use crate::filter::Filter;
use crate::table::schema::Durability;

/// A time range `[min, max)` in milliseconds (HBase `TimeRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub min: i64,
    /// Exclusive upper bound.
    pub max: i64,
}

impl TimeRange {
    /// Every timestamp.
    pub const ALL: TimeRange = TimeRange { min: 0, max: i64::MAX };
    /// `[min, max)`.
    pub fn new(min: i64, max: i64) -> TimeRange {
        TimeRange { min, max }
    }
    /// Exactly `ts` (`[ts, ts+1)`).
    pub fn at(ts: i64) -> TimeRange {
        TimeRange { min: ts, max: ts.saturating_add(1) }
    }
    /// Whether `ts` is inside.
    pub fn contains(&self, ts: i64) -> bool {
        ts >= self.min && ts < self.max
    }
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange::ALL
    }
}

/// One value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutCell {
    /// Family.
    pub family: Vec<u8>,
    /// Qualifier.
    pub qualifier: Vec<u8>,
    /// Explicit timestamp; `None` = the Put's timestamp or server time.
    pub timestamp: Option<i64>,
    /// Value.
    pub value: Vec<u8>,
}

/// Write cells of one row (HBase `Put`).
///
/// ```
/// let put = kabase::Put::new("row1").add("cf", "a", "1").add_at("cf", "b", 42, "2");
/// assert_eq!(put.cells.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// Row key.
    pub row: Vec<u8>,
    /// Timestamp of cells without their own (`None` = server time).
    pub timestamp: Option<i64>,
    /// Cells.
    pub cells: Vec<PutCell>,
    /// Durability of this mutation.
    pub durability: Durability,
    /// Per-cell TTL in milliseconds for every cell of the put (HBase `Mutation.setTTL`); `None`
    /// = only the family's TTL applies.
    pub ttl: Option<i64>,
}

impl Put {
    /// A put of `row` with no cells yet.
    pub fn new(row: impl Into<Vec<u8>>) -> Put {
        Put { row: row.into(), timestamp: None, cells: Vec::new(), durability: Durability::UseDefault, ttl: None }
    }
    /// A put whose cells default to `ts`.
    pub fn new_at(row: impl Into<Vec<u8>>, ts: i64) -> Put {
        Put { timestamp: Some(ts), ..Put::new(row) }
    }
    /// Add a value (timestamp from the put or the server).
    pub fn add(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Put {
        self.cells.push(PutCell { family: family.into(), qualifier: qualifier.into(), timestamp: None, value: value.into() });
        self
    }
    /// Add a value with an explicit timestamp.
    pub fn add_at(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, ts: i64, value: impl Into<Vec<u8>>) -> Put {
        self.cells.push(PutCell { family: family.into(), qualifier: qualifier.into(), timestamp: Some(ts), value: value.into() });
        self
    }
    /// Set the durability.
    pub fn durability(mut self, d: Durability) -> Put {
        self.durability = d;
        self
    }
    /// Give every cell of the put a TTL in milliseconds (HBase `Mutation.setTTL`): a cell is
    /// invisible once `timestamp + ttl` is in the past, and a major compaction drops it. It can
    /// only shorten a cell's life: the family's TTL still applies.
    ///
    /// ```
    /// let p = kabase::Put::new("r").add("cf", "q", "v").ttl(60_000);
    /// assert_eq!(p.ttl, Some(60_000));
    /// ```
    pub fn ttl(mut self, ms: i64) -> Put {
        self.ttl = Some(ms);
        self
    }
}

/// One part of a [`Delete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteSpec {
    /// Every column of the family with timestamp <= ts (DeleteFamily).
    Family {
        /// Family.
        family: Vec<u8>,
        /// Upper bound; `None` = the delete's timestamp or now.
        ts: Option<i64>,
    },
    /// Every column of the family at exactly ts (DeleteFamilyVersion).
    FamilyVersion {
        /// Family.
        family: Vec<u8>,
        /// Timestamp.
        ts: i64,
    },
    /// Every version of a column with timestamp <= ts (DeleteColumn, `addColumns`).
    Columns {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
        /// Upper bound; `None` = the delete's timestamp or now.
        ts: Option<i64>,
    },
    /// One version of a column (Delete, `addColumn`); `None` = the newest version.
    Column {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
        /// Exact timestamp; `None` = the newest visible version, looked up under the row lock.
        ts: Option<i64>,
    },
}

/// Delete cells of one row (HBase `Delete`). With no specs it deletes the whole row: one
/// DeleteFamily marker per family at the delete's timestamp.
///
/// ```
/// let d = kabase::Delete::new("row1").columns("cf", "a").family_version("cf", 7);
/// assert_eq!(d.specs.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Row key.
    pub row: Vec<u8>,
    /// Default timestamp for specs without one; `None` = now.
    pub timestamp: Option<i64>,
    /// What to delete.
    pub specs: Vec<DeleteSpec>,
    /// Durability of this mutation.
    pub durability: Durability,
}

impl Delete {
    /// Delete the whole row (until specs are added).
    pub fn new(row: impl Into<Vec<u8>>) -> Delete {
        Delete { row: row.into(), timestamp: None, specs: Vec::new(), durability: Durability::UseDefault }
    }
    /// Delete the whole row up to `ts` (until specs are added).
    pub fn new_at(row: impl Into<Vec<u8>>, ts: i64) -> Delete {
        Delete { timestamp: Some(ts), ..Delete::new(row) }
    }
    /// `addFamily(f)`: all versions of all columns of the family up to the delete's timestamp.
    pub fn family(mut self, family: impl Into<Vec<u8>>) -> Delete {
        self.specs.push(DeleteSpec::Family { family: family.into(), ts: None });
        self
    }
    /// `addFamily(f, ts)`.
    pub fn family_at(mut self, family: impl Into<Vec<u8>>, ts: i64) -> Delete {
        self.specs.push(DeleteSpec::Family { family: family.into(), ts: Some(ts) });
        self
    }
    /// `addFamilyVersion(f, ts)`.
    pub fn family_version(mut self, family: impl Into<Vec<u8>>, ts: i64) -> Delete {
        self.specs.push(DeleteSpec::FamilyVersion { family: family.into(), ts });
        self
    }
    /// `addColumns(f, q)`: all versions up to the delete's timestamp.
    pub fn columns(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>) -> Delete {
        self.specs.push(DeleteSpec::Columns { family: family.into(), qualifier: qualifier.into(), ts: None });
        self
    }
    /// `addColumns(f, q, ts)`: all versions <= ts.
    pub fn columns_at(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, ts: i64) -> Delete {
        self.specs.push(DeleteSpec::Columns { family: family.into(), qualifier: qualifier.into(), ts: Some(ts) });
        self
    }
    /// `addColumn(f, q)`: the newest version only.
    pub fn column(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>) -> Delete {
        self.specs.push(DeleteSpec::Column { family: family.into(), qualifier: qualifier.into(), ts: None });
        self
    }
    /// `addColumn(f, q, ts)`: exactly the version at ts.
    pub fn column_at(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, ts: i64) -> Delete {
        self.specs.push(DeleteSpec::Column { family: family.into(), qualifier: qualifier.into(), ts: Some(ts) });
        self
    }
    /// Set the durability.
    pub fn durability(mut self, d: Durability) -> Delete {
        self.durability = d;
        self
    }
}

/// Add to 8-byte big-endian counters of one row (HBase `Increment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    /// Row key.
    pub row: Vec<u8>,
    /// `(family, qualifier, amount)`.
    pub columns: Vec<(Vec<u8>, Vec<u8>, i64)>,
    /// Durability of this mutation.
    pub durability: Durability,
}

impl Increment {
    /// An increment of `row`.
    pub fn new(row: impl Into<Vec<u8>>) -> Increment {
        Increment { row: row.into(), columns: Vec::new(), durability: Durability::UseDefault }
    }
    /// Add `amount` to a column (a missing column counts as 0).
    pub fn add(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, amount: i64) -> Increment {
        self.columns.push((family.into(), qualifier.into(), amount));
        self
    }
    /// Set the durability.
    pub fn durability(mut self, d: Durability) -> Increment {
        self.durability = d;
        self
    }
}

/// Append bytes to columns of one row (HBase `Append`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// Row key.
    pub row: Vec<u8>,
    /// `(family, qualifier, bytes)`.
    pub columns: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// Durability of this mutation.
    pub durability: Durability,
}

impl Append {
    /// An append to `row`.
    pub fn new(row: impl Into<Vec<u8>>) -> Append {
        Append { row: row.into(), columns: Vec::new(), durability: Durability::UseDefault }
    }
    /// Append `bytes` to a column (a missing column counts as empty).
    pub fn add(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, bytes: impl Into<Vec<u8>>) -> Append {
        self.columns.push((family.into(), qualifier.into(), bytes.into()));
        self
    }
    /// Set the durability.
    pub fn durability(mut self, d: Durability) -> Append {
        self.durability = d;
        self
    }
}

/// Puts and deletes applied to one row atomically, in order (HBase `RowMutations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowMutations {
    /// Row key.
    pub row: Vec<u8>,
    /// The mutations; each must name the same row.
    pub mutations: Vec<RowMutation>,
}

/// One element of [`RowMutations`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowMutation {
    /// A put.
    Put(Put),
    /// A delete.
    Delete(Delete),
}

impl RowMutations {
    /// Mutations of `row`.
    pub fn new(row: impl Into<Vec<u8>>) -> RowMutations {
        RowMutations { row: row.into(), mutations: Vec::new() }
    }
    /// Add a put.
    pub fn put(mut self, p: Put) -> RowMutations {
        self.mutations.push(RowMutation::Put(p));
        self
    }
    /// Add a delete.
    pub fn delete(mut self, d: Delete) -> RowMutations {
        self.mutations.push(RowMutation::Delete(d));
        self
    }
}

/// Any single-row mutation, for [`crate::table::Table::batch`] and check-and-mutate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// A put.
    Put(Put),
    /// A delete.
    Delete(Delete),
    /// An increment.
    Increment(Increment),
    /// An append.
    Append(Append),
    /// Several puts and deletes of one row.
    RowMutations(RowMutations),
}

impl Mutation {
    /// The row the mutation writes.
    pub fn row(&self) -> &[u8] {
        match self {
            Mutation::Put(p) => &p.row,
            Mutation::Delete(d) => &d.row,
            Mutation::Increment(i) => &i.row,
            Mutation::Append(a) => &a.row,
            Mutation::RowMutations(r) => &r.row,
        }
    }
}

impl From<Put> for Mutation {
    fn from(p: Put) -> Self {
        Mutation::Put(p)
    }
}
impl From<Delete> for Mutation {
    fn from(d: Delete) -> Self {
        Mutation::Delete(d)
    }
}
impl From<Increment> for Mutation {
    fn from(i: Increment) -> Self {
        Mutation::Increment(i)
    }
}
impl From<Append> for Mutation {
    fn from(a: Append) -> Self {
        Mutation::Append(a)
    }
}
impl From<RowMutations> for Mutation {
    fn from(r: RowMutations) -> Self {
        Mutation::RowMutations(r)
    }
}

/// Which columns a read returns: whole families or single columns, per family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnSelection {
    /// family -> `None` (whole family) or the qualifiers wanted.
    pub families: BTreeMap<Vec<u8>, Option<Vec<Vec<u8>>>>,
}

impl ColumnSelection {
    /// `addFamily`: replaces any column selection of that family.
    pub fn add_family(&mut self, family: Vec<u8>) {
        self.families.insert(family, None);
    }
    /// `addColumn`: replaces a whole-family selection of that family.
    pub fn add_column(&mut self, family: Vec<u8>, qualifier: Vec<u8>) {
        match self.families.entry(family).or_insert_with(|| Some(Vec::new())) {
            Some(qs) => {
                if !qs.contains(&qualifier) {
                    qs.push(qualifier);
                }
            }
            slot @ None => *slot = Some(vec![qualifier]),
        }
    }
    /// Whether nothing was selected (= every family).
    pub fn is_all(&self) -> bool {
        self.families.is_empty()
    }
}

/// Read one row (HBase `Get`).
///
/// ```
/// let g = kabase::Get::new("row1").family("cf").max_versions(3);
/// assert_eq!(g.max_versions, 3);
/// ```
#[derive(Debug)]
pub struct Get {
    /// Row key.
    pub row: Vec<u8>,
    /// Columns to read.
    pub columns: ColumnSelection,
    /// Versions per column (default 1).
    pub max_versions: u32,
    /// Time range `[min, max)`.
    pub time_range: TimeRange,
    /// Optional filter.
    pub filter: Option<Box<dyn Filter>>,
    /// Time ranges of single families, in place of `time_range` for them (HBase
    /// `setColumnFamilyTimeRange`).
    pub family_time_ranges: BTreeMap<Vec<u8>, TimeRange>,
}

impl Get {
    /// Read the newest version of every column of `row`.
    pub fn new(row: impl Into<Vec<u8>>) -> Get {
        Get {
            row: row.into(),
            columns: ColumnSelection::default(),
            max_versions: 1,
            time_range: TimeRange::ALL,
            filter: None,
            family_time_ranges: BTreeMap::new(),
        }
    }
    /// Read `family` in `[min, max)` instead of the get's time range (HBase
    /// `setColumnFamilyTimeRange`).
    ///
    /// ```
    /// let g = kabase::Get::new("r").time_range(0, 10).family_time_range("cf", 5, 6);
    /// assert_eq!(g.family_time_ranges[&b"cf"[..]], kabase::TimeRange::new(5, 6));
    /// ```
    pub fn family_time_range(mut self, family: impl Into<Vec<u8>>, min: i64, max: i64) -> Get {
        self.family_time_ranges.insert(family.into(), TimeRange::new(min, max));
        self
    }
    /// Read the whole family.
    pub fn family(mut self, family: impl Into<Vec<u8>>) -> Get {
        self.columns.add_family(family.into());
        self
    }
    /// Read one column.
    pub fn column(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>) -> Get {
        self.columns.add_column(family.into(), qualifier.into());
        self
    }
    /// Versions per column.
    pub fn max_versions(mut self, n: u32) -> Get {
        self.max_versions = n;
        self
    }
    /// Only versions in `[min, max)`.
    pub fn time_range(mut self, min: i64, max: i64) -> Get {
        self.time_range = TimeRange::new(min, max);
        self
    }
    /// Only the version at exactly `ts`.
    pub fn timestamp(mut self, ts: i64) -> Get {
        self.time_range = TimeRange::at(ts);
        self
    }
    /// Apply a filter.
    pub fn filter(mut self, f: Box<dyn Filter>) -> Get {
        self.filter = Some(f);
        self
    }
}

/// Read many rows in key order (HBase `Scan`).
///
/// ```
/// let s = kabase::Scan::new().start("a").stop("m").caching(500).limit(10);
/// assert_eq!(s.limit, Some(10));
/// ```
#[derive(Debug)]
pub struct Scan {
    /// First row (inclusive; for reversed scans the highest row). Empty = table start/end.
    pub start: Vec<u8>,
    /// Row to stop before (exclusive; for reversed scans the low end). Empty = unbounded.
    pub stop: Vec<u8>,
    /// Only rows starting with this prefix.
    pub prefix: Option<Vec<u8>>,
    /// Scan from high keys to low.
    pub reversed: bool,
    /// Most rows returned.
    pub limit: Option<u64>,
    /// Most cells per returned result (a row may come in several parts); 0 = whole rows.
    pub batch: u32,
    /// Rows read per chunk from the LSM (each chunk reads one consistent snapshot).
    pub caching: u32,
    /// Time range.
    pub time_range: TimeRange,
    /// Versions per column.
    pub max_versions: u32,
    /// Columns to read.
    pub columns: ColumnSelection,
    /// Optional filter.
    pub filter: Option<Box<dyn Filter>>,
    /// Time ranges of single families, in place of `time_range` for them.
    pub family_time_ranges: BTreeMap<Vec<u8>, TimeRange>,
    /// Raw scan: also return delete markers and the cells they mask (HBase `Scan.setRaw`).
    pub raw: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Scan::new()
    }
}

impl Scan {
    /// Every row, newest version of every column.
    pub fn new() -> Scan {
        Scan {
            start: Vec::new(),
            stop: Vec::new(),
            prefix: None,
            reversed: false,
            limit: None,
            batch: 0,
            caching: 100,
            time_range: TimeRange::ALL,
            max_versions: 1,
            columns: ColumnSelection::default(),
            filter: None,
            family_time_ranges: BTreeMap::new(),
            raw: false,
        }
    }
    /// Read `family` in `[min, max)` instead of the scan's time range (HBase
    /// `setColumnFamilyTimeRange`).
    pub fn family_time_range(mut self, family: impl Into<Vec<u8>>, min: i64, max: i64) -> Scan {
        self.family_time_ranges.insert(family.into(), TimeRange::new(min, max));
        self
    }
    /// A raw scan (HBase `Scan.setRaw`): besides puts, return the delete markers (cells with a
    /// delete [`crate::cell::CellKind`]; family markers have an empty qualifier) and the puts
    /// they mask, as stored until a major compaction removes them. Versions are capped by the
    /// scan's `max_versions` only; TTLs still apply. As in HBase, a raw scan cannot select
    /// single columns (whole families are fine).
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Delete, Scan};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")))?;
    /// let t = e.table("t")?;
    /// t.put(Put::new_at("r", 1).add("cf", "q", "v"))?;
    /// t.delete(Delete::new_at("r", 2).columns("cf", "q"))?;
    /// let rows: Vec<_> = t.scan(Scan::new().raw(true))?.collect::<Result<_, _>>()?;
    /// assert_eq!(rows[0].cells.len(), 2); // the DeleteColumn marker and the put it masks
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn raw(mut self, raw: bool) -> Scan {
        self.raw = raw;
        self
    }
    /// Start row (inclusive).
    pub fn start(mut self, row: impl Into<Vec<u8>>) -> Scan {
        self.start = row.into();
        self
    }
    /// Stop row (exclusive).
    pub fn stop(mut self, row: impl Into<Vec<u8>>) -> Scan {
        self.stop = row.into();
        self
    }
    /// Only rows with this prefix.
    pub fn prefix(mut self, p: impl Into<Vec<u8>>) -> Scan {
        self.prefix = Some(p.into());
        self
    }
    /// Scan backwards.
    pub fn reversed(mut self, r: bool) -> Scan {
        self.reversed = r;
        self
    }
    /// Most rows returned.
    pub fn limit(mut self, n: u64) -> Scan {
        self.limit = Some(n);
        self
    }
    /// Most cells per result.
    pub fn batch(mut self, n: u32) -> Scan {
        self.batch = n;
        self
    }
    /// Rows per chunk.
    pub fn caching(mut self, n: u32) -> Scan {
        self.caching = n;
        self
    }
    /// Time range `[min, max)`.
    pub fn time_range(mut self, min: i64, max: i64) -> Scan {
        self.time_range = TimeRange::new(min, max);
        self
    }
    /// Exactly `ts`.
    pub fn timestamp(mut self, ts: i64) -> Scan {
        self.time_range = TimeRange::at(ts);
        self
    }
    /// Versions per column.
    pub fn max_versions(mut self, n: u32) -> Scan {
        self.max_versions = n;
        self
    }
    /// Read a whole family.
    pub fn family(mut self, family: impl Into<Vec<u8>>) -> Scan {
        self.columns.add_family(family.into());
        self
    }
    /// Read one column.
    pub fn column(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>) -> Scan {
        self.columns.add_column(family.into(), qualifier.into());
        self
    }
    /// Apply a filter.
    pub fn filter(mut self, f: Box<dyn Filter>) -> Scan {
        self.filter = Some(f);
        self
    }
}

/// The cells read from one row (HBase `Result`): families in name order, qualifiers ascending,
/// newest version first per column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowResult {
    /// Row key.
    pub row: Vec<u8>,
    /// Cells.
    pub cells: Vec<Cell>,
}

impl RowResult {
    /// Whether no cell was found.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// Newest value of a column.
    pub fn value(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Option<&[u8]> {
        self.latest(family, qualifier).map(|c| c.value.as_slice())
    }
    /// Newest cell of a column.
    pub fn latest(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Option<&Cell> {
        let (f, q) = (family.as_ref(), qualifier.as_ref());
        self.cells.iter().find(|c| c.family == f && c.qualifier == q)
    }
    /// Every returned version of a column, newest first.
    pub fn versions(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Vec<&Cell> {
        let (f, q) = (family.as_ref(), qualifier.as_ref());
        self.cells.iter().filter(|c| c.family == f && c.qualifier == q).collect()
    }
    /// A counter value (8-byte big-endian) of a column, if present and 8 bytes wide.
    pub fn long(&self, family: impl AsRef<[u8]>, qualifier: impl AsRef<[u8]>) -> Option<i64> {
        let v = self.value(family, qualifier)?;
        let b: [u8; 8] = v.try_into().ok()?;
        Some(i64::from_be_bytes(b))
    }
}

/// HBase's `CompareOperator`: one type for filters and check-and-mutate, defined in
/// [`crate::filter::compare_op`] and re-exported here so `kabase::table::CompareOperator` keeps
/// working.
pub use crate::filter::CompareOperator;

/// Whether a check-and-mutate condition `given OP stored` holds. As in HBase
/// (`HRegion.checkAndMutate` compares the given value with the stored one), `Less` passes when
/// the given value is less than the stored value. In [`CompareOperator::holds`]'s terms the given
/// value is the "value" and the stored one the "comparand".
pub(crate) fn check_holds(op: CompareOperator, stored: &[u8], given: &[u8]) -> bool {
    op.holds(Some(stored.cmp(given)))
}

/// The condition of a [`CheckAndMutate`].
#[derive(Debug)]
pub enum Condition {
    /// The column has no visible value.
    NotExists {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
    },
    /// The column's newest value compared with `value` by `op` (`value op stored`, HBase's order).
    Matches {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
        /// Operator.
        op: CompareOperator,
        /// Operand.
        value: Vec<u8>,
    },
    /// The row passes the filter (some cell of the row survives it).
    Filter(Box<dyn Filter>),
}

/// An atomic check-then-mutate on one row (HBase `CheckAndMutate`).
///
/// ```
/// use kabase::{CheckAndMutate, Put};
/// let cam = CheckAndMutate::new("r").if_not_exists("cf", "lock").then(Put::new("r").add("cf", "lock", "me"));
/// assert!(cam.mutation.is_some());
/// ```
#[derive(Debug)]
pub struct CheckAndMutate {
    /// Row key.
    pub row: Vec<u8>,
    /// Condition.
    pub condition: Option<Condition>,
    /// Time range the condition reads.
    pub time_range: TimeRange,
    /// The mutation applied when the condition holds.
    pub mutation: Option<Mutation>,
}

impl CheckAndMutate {
    /// A check on `row`.
    pub fn new(row: impl Into<Vec<u8>>) -> CheckAndMutate {
        CheckAndMutate { row: row.into(), condition: None, time_range: TimeRange::ALL, mutation: None }
    }
    /// `ifNotExists(f, q)`.
    pub fn if_not_exists(mut self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>) -> Self {
        self.condition = Some(Condition::NotExists { family: family.into(), qualifier: qualifier.into() });
        self
    }
    /// `ifEquals(f, q, v)`.
    pub fn if_equals(self, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        self.if_matches(family, qualifier, CompareOperator::Equal, value)
    }
    /// `ifMatches(f, q, op, v)`: holds when `v op stored` (HBase's order); a missing column
    /// never matches.
    pub fn if_matches(
        mut self,
        family: impl Into<Vec<u8>>,
        qualifier: impl Into<Vec<u8>>,
        op: CompareOperator,
        value: impl Into<Vec<u8>>,
    ) -> Self {
        self.condition = Some(Condition::Matches { family: family.into(), qualifier: qualifier.into(), op, value: value.into() });
        self
    }
    /// `ifMatches(filter)`.
    pub fn if_filter(mut self, f: Box<dyn Filter>) -> Self {
        self.condition = Some(Condition::Filter(f));
        self
    }
    /// Restrict the versions the condition reads.
    pub fn time_range(mut self, min: i64, max: i64) -> Self {
        self.time_range = TimeRange::new(min, max);
        self
    }
    /// The mutation to apply (Put, Delete, Increment, Append or RowMutations).
    pub fn then(mut self, m: impl Into<Mutation>) -> Self {
        self.mutation = Some(m.into());
        self
    }
}

/// What [`crate::table::Table::check_and_mutate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckAndMutateResult {
    /// Whether the condition held and the mutation was applied.
    pub success: bool,
    /// New values for an Increment or Append (empty otherwise).
    pub result: RowResult,
}
