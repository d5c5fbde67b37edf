//! Tables through the facade: admin calls on [`Engine`], data calls on [`Table`], rows in
//! batches ([`RowBatch`], [`RowStream`]).

use std::sync::Arc;

use kabase::{Error, Result};
use parking_lot::Mutex;

use crate::Engine;

pub use kabase::{Cell, RowResult as Row};

/// One column value to write: `family:qualifier = value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnValue {
    /// Column family.
    pub family: Vec<u8>,
    /// Column qualifier (may be empty).
    pub qualifier: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

impl ColumnValue {
    /// A column value from its parts.
    pub fn new(family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> ColumnValue {
        ColumnValue { family: family.into(), qualifier: qualifier.into(), value: value.into() }
    }

    /// A column value from HBase's `family:qualifier` notation (see [`parse_column`]).
    pub fn parse(column: &[u8], value: impl Into<Vec<u8>>) -> Result<ColumnValue> {
        let (family, qualifier) = parse_column(column)?;
        Ok(ColumnValue { family, qualifier, value: value.into() })
    }
}

/// Split HBase's `family:qualifier` column notation at the first `:`. The family must not be
/// empty; the qualifier may be (`cf:`). A column without `:` is `InvalidArgument`.
pub fn parse_column(column: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let colon = column.iter().position(|&b| b == b':').ok_or_else(|| {
        Error::invalid(format!("column {:?} must be written family:qualifier", String::from_utf8_lossy(column)))
    })?;
    let (family, rest) = column.split_at(colon);
    if family.is_empty() {
        return Err(Error::invalid(format!("column {:?} has an empty family", String::from_utf8_lossy(column))));
    }
    Ok((family.to_vec(), rest.get(1..).unwrap_or_default().to_vec()))
}

/// Which rows a scan visits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// First row (inclusive); empty = the table's start.
    pub start: Vec<u8>,
    /// Row to stop before (exclusive); empty = the table's end.
    pub stop: Vec<u8>,
    /// Only rows whose key starts with this prefix.
    pub prefix: Option<Vec<u8>>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// From high keys to low.
    pub reversed: bool,
    /// Only these families (empty = all).
    pub families: Vec<Vec<u8>>,
}

impl ScanOptions {
    fn to_core(&self) -> kabase::Scan {
        let mut scan = kabase::Scan::new();
        scan.start = self.start.clone();
        scan.stop = self.stop.clone();
        scan.prefix = self.prefix.clone();
        scan.limit = self.limit;
        scan.reversed = self.reversed;
        for f in &self.families {
            scan.columns.add_family(f.clone());
        }
        scan
    }
}

/// Many rows crossing the boundary at once.
#[derive(Clone, Debug, Default)]
pub struct RowBatch {
    /// The rows, in scan order.
    pub rows: Vec<Row>,
}

impl RowBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// Whether the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// What to read of each row, for [`Table::read`] and [`Table::scanner_with`]: HBase's column,
/// version, time-range and filter settings of a `Get` or `Scan`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only these columns: `family` or `family:` (the whole family) or `family:qualifier`
    /// (empty = every column).
    pub columns: Vec<Vec<u8>>,
    /// Versions per column (0 = the core default, 1).
    pub max_versions: u32,
    /// Only versions at or after this timestamp.
    pub time_min: Option<i64>,
    /// Only versions before this timestamp (exclusive, as HBase Thrift's `timestamp`).
    pub time_max: Option<i64>,
    /// A filter in the HBase filter language, e.g. `PrefixFilter('r1')`.
    pub filter: Option<Vec<u8>>,
    /// Scans only: most cells per returned row part (0 = whole rows).
    pub batch: u32,
    /// Scans only: rows the core reads ahead per chunk (0 = the core's default).
    pub caching: u32,
}

/// A column spec for reading: `family`, `family:` (whole family) or `family:qualifier`.
enum ReadColumn {
    Family(Vec<u8>),
    Column(Vec<u8>, Vec<u8>),
}

fn read_column(col: &[u8]) -> ReadColumn {
    match col.iter().position(|&b| b == b':') {
        None => ReadColumn::Family(col.to_vec()),
        Some(i) if i + 1 == col.len() => ReadColumn::Family(col[..i].to_vec()),
        Some(i) => ReadColumn::Column(col[..i].to_vec(), col[i + 1..].to_vec()),
    }
}

/// Parse a filter-language string (HBase's `ParseFilter` syntax) into a core filter.
pub fn parse_filter(text: &[u8]) -> Result<Box<dyn kabase::filter::Filter>> {
    kabase::filter::parse_bytes(text)
}

impl ReadOptions {
    fn get(&self, row: Vec<u8>) -> Result<kabase::Get> {
        let mut g = kabase::Get::new(row);
        if self.max_versions > 0 {
            g = g.max_versions(self.max_versions);
        }
        for c in &self.columns {
            g = match read_column(c) {
                ReadColumn::Family(f) => g.family(f),
                ReadColumn::Column(f, q) => g.column(f, q),
            };
        }
        if self.time_max.is_some() || self.time_min.is_some() {
            g = g.time_range(self.time_min.unwrap_or(0), self.time_max.unwrap_or(i64::MAX));
        }
        if let Some(f) = &self.filter {
            g = g.filter(parse_filter(f)?);
        }
        Ok(g)
    }

    fn apply_to(&self, mut s: kabase::Scan) -> Result<kabase::Scan> {
        if self.max_versions > 0 {
            s = s.max_versions(self.max_versions);
        }
        s = s.batch(self.batch);
        if self.caching > 0 {
            s = s.caching(self.caching);
        }
        for c in &self.columns {
            s = match read_column(c) {
                ReadColumn::Family(f) => s.family(f),
                ReadColumn::Column(f, q) => s.column(f, q),
            };
        }
        if self.time_max.is_some() || self.time_min.is_some() {
            s = s.time_range(self.time_min.unwrap_or(0), self.time_max.unwrap_or(i64::MAX));
        }
        if let Some(f) = &self.filter {
            s = s.filter(parse_filter(f)?);
        }
        Ok(s)
    }
}

/// A column family's settings by name, as HBase's shell and happybase spell them; `None` keeps
/// the core's default when creating a table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyOptions {
    /// Family name.
    pub name: Vec<u8>,
    /// Versions kept per column.
    pub max_versions: Option<u32>,
    /// Versions kept even when older than the TTL.
    pub min_versions: Option<u32>,
    /// Time to live of a cell in seconds.
    pub ttl: Option<u64>,
    /// `NONE`, `GZ`, `SNAPPY`, `LZ4`, `ZSTD`.
    pub compression: Option<String>,
    /// `NONE`, `ROW`, `ROWCOL`.
    pub bloom_filter: Option<String>,
    /// Prefer keeping this family's blocks cached.
    pub in_memory: Option<bool>,
    /// Block size in bytes.
    pub block_size: Option<u32>,
    /// `FALSE`, `TRUE` or `TTL` (any case).
    pub keep_deleted_cells: Option<String>,
    /// HBase's NEW_VERSION_BEHAVIOR: a delete masks only puts committed before it.
    pub new_version_behavior: Option<bool>,
}

impl FamilyOptions {
    /// The core descriptor (names checked here: a bad compression, bloom filter or
    /// keep-deleted-cells name is `InvalidConfig`).
    pub fn to_descriptor(&self) -> Result<kabase::FamilyDescriptor> {
        use kabase::table::{BloomType, Compression, KeepDeletedCells};
        let mut f = kabase::FamilyDescriptor::new(self.name.clone());
        if let Some(v) = self.max_versions {
            f = f.versions(v);
        }
        if let Some(v) = self.min_versions {
            f = f.min_versions(v);
        }
        if let Some(v) = self.ttl {
            f = f.ttl(v);
        }
        if let Some(v) = &self.compression {
            f = f.compression(Compression::parse(v)?);
        }
        if let Some(v) = &self.bloom_filter {
            f = f.bloom_filter(BloomType::parse(v)?);
        }
        if let Some(v) = self.in_memory {
            f = f.in_memory(v);
        }
        if let Some(v) = self.block_size {
            f = f.block_size(v);
        }
        if let Some(v) = &self.keep_deleted_cells {
            f = f.keep_deleted_cells(match v.to_ascii_uppercase().as_str() {
                "FALSE" => KeepDeletedCells::False,
                "TRUE" => KeepDeletedCells::True,
                "TTL" => KeepDeletedCells::Ttl,
                other => return Err(Error::new(kabase::ErrorCode::InvalidConfig, format!("KEEP_DELETED_CELLS must be FALSE, TRUE or TTL, not {other:?}"))),
            });
        }
        if let Some(v) = self.new_version_behavior {
            f = f.new_version_behavior(v);
        }
        Ok(f)
    }

    /// Every setting of a core descriptor, by name.
    pub fn from_descriptor(f: &kabase::FamilyDescriptor) -> FamilyOptions {
        use kabase::table::{BloomType, KeepDeletedCells};
        FamilyOptions {
            name: f.name.clone(),
            max_versions: Some(f.max_versions),
            min_versions: Some(f.min_versions),
            ttl: f.ttl_seconds,
            compression: Some(f.compression.name().to_string()),
            bloom_filter: Some(
                match f.bloom_filter {
                    BloomType::None => "NONE",
                    BloomType::Row => "ROW",
                    BloomType::RowCol => "ROWCOL",
                }
                .to_string(),
            ),
            in_memory: Some(f.in_memory),
            block_size: Some(f.block_size),
            keep_deleted_cells: Some(
                match f.keep_deleted_cells {
                    KeepDeletedCells::False => "FALSE",
                    KeepDeletedCells::True => "TRUE",
                    KeepDeletedCells::Ttl => "TTL",
                }
                .to_string(),
            ),
            new_version_behavior: Some(f.new_version_behavior),
        }
    }
}

/// One region of a table: its id, name and key range (`end_key` empty = the table's end).
pub use kabase::table::RegionInfo;

impl Engine {
    /// Create a table from family settings by name.
    pub fn create_table_from(&self, name: &str, families: &[FamilyOptions]) -> Result<()> {
        let mut desc = kabase::TableDescriptor::new(name);
        for f in families {
            desc = desc.family(f.to_descriptor()?);
        }
        self.core.create_table(desc)
    }

    /// Delete a table that is disabled already (HBase's rule: `TableNotDisabled` otherwise).
    /// [`Engine::delete_table`] disables it first.
    pub fn delete_disabled_table(&self, name: &str) -> Result<()> {
        self.core.delete_table(name)
    }

    /// Enable a disabled table.
    pub fn enable_table(&self, name: &str) -> Result<()> {
        self.core.enable_table(name)
    }

    /// Disable a table: reads and writes fail with `TableDisabled` until it is enabled.
    pub fn disable_table(&self, name: &str) -> Result<()> {
        self.core.disable_table(name)
    }

    /// Whether a table is enabled.
    pub fn is_table_enabled(&self, name: &str) -> Result<bool> {
        self.core.is_table_enabled(name)
    }

    /// Every family's settings.
    pub fn describe_table(&self, name: &str) -> Result<Vec<FamilyOptions>> {
        Ok(self.core.describe_table(name)?.families.iter().map(FamilyOptions::from_descriptor).collect())
    }

    /// The table's regions.
    pub fn table_regions(&self, name: &str) -> Result<Vec<RegionInfo>> {
        self.core.table_regions(name)
    }

    /// Flush the table's memtables (`major` = false) or major-compact it (`major` = true).
    pub fn compact_table(&self, name: &str, major: bool) -> Result<()> {
        if major {
            self.core.major_compact_table(name)
        } else {
            self.core.flush_table(name)
        }
    }
}

impl Engine {
    /// Create a table with these column families (default family options). The name is
    /// `table` or `namespace:table`.
    pub fn create_table(&self, name: &str, families: &[&str]) -> Result<()> {
        if families.is_empty() {
            return Err(Error::invalid(format!("table {name} needs at least one column family")));
        }
        let mut desc = kabase::TableDescriptor::new(name);
        for f in families {
            desc = desc.family(kabase::FamilyDescriptor::new(f.as_bytes().to_vec()));
        }
        self.core.create_table(desc)
    }

    /// Create a table from a full descriptor (versions, TTL, compression, ...).
    pub fn create_table_with(&self, desc: kabase::TableDescriptor) -> Result<()> {
        self.core.create_table(desc)
    }

    /// Delete a table and all its data (disabling it first, as HBase requires).
    pub fn delete_table(&self, name: &str) -> Result<()> {
        if self.core.is_table_enabled(name)? {
            self.core.disable_table(name)?;
        }
        self.core.delete_table(name)
    }

    /// Whether the table exists.
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        self.core.table_exists(name)
    }

    /// Names of every table.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        self.core.list_tables()
    }

    /// A handle to an existing table (`TableNotFound` otherwise).
    pub fn table(&self, name: &str) -> Result<Table> {
        Ok(Table { core: self.core.table(name)? })
    }
}

/// A table handle: owning, cheap to clone, thread-safe.
#[derive(Clone)]
pub struct Table {
    core: kabase::Table,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.core.name()).finish()
    }
}

impl Table {
    /// The table's full name (`namespace:table`).
    pub fn name(&self) -> String {
        self.core.name()
    }

    /// The core handle.
    pub fn core(&self) -> &kabase::Table {
        &self.core
    }

    /// Write columns of one row atomically (timestamp = now).
    pub fn put(&self, row: &[u8], columns: &[ColumnValue]) -> Result<()> {
        self.core.put(make_put(row, columns)?)
    }

    /// Write many rows in one call; each row is atomic, and the first failure is returned with
    /// the row it concerns.
    pub fn put_many(&self, rows: &[(Vec<u8>, Vec<ColumnValue>)]) -> Result<()> {
        let mut muts = Vec::with_capacity(rows.len());
        for (row, cols) in rows {
            muts.push(kabase::Mutation::from(make_put(row, cols)?));
        }
        for (i, r) in self.core.batch(muts)?.into_iter().enumerate() {
            if let Err(e) = r {
                let row = rows.get(i).map(|(r, _)| String::from_utf8_lossy(r).into_owned()).unwrap_or_default();
                return Err(Error::new(e.code(), format!("row {row:?}: {}", e.message())));
            }
        }
        Ok(())
    }

    /// The newest version of every column of a row; `None` when the row has no cell.
    pub fn get(&self, row: &[u8]) -> Result<Option<Row>> {
        let r = self.core.get(kabase::Get::new(row.to_vec()))?;
        Ok(if r.is_empty() { None } else { Some(r) })
    }

    /// [`Table::get`] of many rows in one call into the core (the core's multi-get): a row or
    /// `None` per key, in key order (a repeated key is read again). Each row is read
    /// consistently on its own, as HBase's multi-get does; the core has no snapshot spanning
    /// several rows. An empty key (or any failure) fails the whole call, naming the key.
    pub fn get_many(&self, rows: &[Vec<u8>]) -> Result<Vec<Option<Row>>> {
        if let Some(i) = rows.iter().position(Vec::is_empty) {
            return Err(Error::invalid(format!("row key {i} of the multi-get must not be empty")));
        }
        let gets = rows.iter().map(|r| kabase::Get::new(r.clone())).collect();
        Ok(self.core.get_many(gets)?.into_iter().map(|r| if r.is_empty() { None } else { Some(r) }).collect())
    }

    /// The newest version of the given columns (`family:qualifier`, or `family` for the whole
    /// family) of a row; `None` when none of them has a cell.
    pub fn get_columns(&self, row: &[u8], columns: &[Vec<u8>]) -> Result<Option<Row>> {
        let mut get = kabase::Get::new(row.to_vec());
        for c in columns {
            match c.iter().position(|&b| b == b':') {
                Some(_) => {
                    let (f, q) = parse_column(c)?;
                    get = get.column(f, q);
                }
                None => get = get.family(c.clone()),
            }
        }
        let r = self.core.get(get)?;
        Ok(if r.is_empty() { None } else { Some(r) })
    }

    /// Read rows with [`ReadOptions`]: one result per requested row, in order (an empty
    /// [`Row`] where nothing is visible). One row is a get, several a multi-get.
    pub fn read(&self, rows: Vec<Vec<u8>>, options: &ReadOptions) -> Result<Vec<Row>> {
        let mut gets = Vec::with_capacity(rows.len());
        for r in rows {
            gets.push(options.get(r)?);
        }
        if gets.len() == 1 {
            if let Some(g) = gets.pop() {
                return Ok(vec![self.core.get(g)?]);
            }
        }
        self.core.get_many(gets)
    }

    /// Add `amount` to the 8-byte big-endian counter at `column` (`family:qualifier`) of `row`;
    /// returns the new value.
    pub fn increment(&self, row: &[u8], column: &[u8], amount: i64) -> Result<i64> {
        let colon = column.iter().position(|&b| b == b':').ok_or_else(|| {
            Error::invalid(format!(
                "column {:?} must be 'family:qualifier' (a put needs a qualifier, which may be empty: 'family:')",
                String::from_utf8_lossy(column)
            ))
        })?;
        let (f, q) = (&column[..colon], &column[colon + 1..]);
        let r = self.core.increment(kabase::table::Increment::new(row.to_vec()).add(f.to_vec(), q.to_vec(), amount))?;
        r.long(f, q).ok_or_else(|| Error::internal("increment returned no counter value"))
    }

    /// Delete a whole row (every version of every column).
    pub fn delete(&self, row: &[u8]) -> Result<()> {
        if row.is_empty() {
            return Err(Error::invalid("row key must not be empty"));
        }
        self.core.delete(kabase::Delete::new(row.to_vec()))
    }

    /// Delete every version of the given columns (`family:qualifier`) of a row.
    pub fn delete_columns(&self, row: &[u8], columns: &[Vec<u8>]) -> Result<()> {
        let mut del = kabase::Delete::new(row.to_vec());
        for c in columns {
            let (f, q) = parse_column(c)?;
            del = del.columns(f, q);
        }
        self.core.delete(del)
    }

    /// Every matching row in one batch (use [`ScanOptions::limit`] or [`Table::scanner`] for
    /// big tables).
    pub fn scan(&self, options: &ScanOptions) -> Result<RowBatch> {
        let rows = self.core.scan(options.to_core())?.collect::<Result<Vec<_>>>()?;
        Ok(RowBatch { rows })
    }

    /// A stream of the rows `range` selects, reading what `read` says of each (columns,
    /// versions, time range, filter string, batching).
    pub fn scanner_with(&self, range: &ScanOptions, read: &ReadOptions) -> Result<RowStream> {
        let scan = read.apply_to(range.to_core())?;
        Ok(RowStream::new(self.core.scan(scan)?))
    }

    /// A stream of matching rows, read a batch at a time with [`RowStream::next_batch`].
    pub fn scanner(&self, options: &ScanOptions) -> Result<RowStream> {
        Ok(RowStream::new(self.core.scan(options.to_core())?))
    }
}

fn make_put(row: &[u8], columns: &[ColumnValue]) -> Result<kabase::Put> {
    if row.is_empty() {
        return Err(Error::invalid("row key must not be empty"));
    }
    if columns.is_empty() {
        return Err(Error::invalid(format!("put of row {:?} has no column", String::from_utf8_lossy(row))));
    }
    let mut put = kabase::Put::new(row.to_vec());
    for c in columns {
        put = put.add(c.family.clone(), c.qualifier.clone(), c.value.clone());
    }
    Ok(put)
}

/// Where a [`RowStream`] is.
enum ScanState {
    Open(Box<kabase::Scanner>),
    /// Every row was read, or [`RowStream::end`] was called: batches come back empty.
    Done,
    /// [`RowStream::close`] was called: batches fail with `Closed`.
    Closed,
}

/// An open scan, read in batches. Owning and thread-safe; finished once a batch comes back
/// empty (the scan's resources are released then). [`RowStream::close`] (or dropping it)
/// releases the scan.
#[derive(Clone)]
pub struct RowStream {
    inner: Arc<Mutex<ScanState>>,
}

impl RowStream {
    fn new(scanner: kabase::Scanner) -> RowStream {
        RowStream { inner: Arc::new(Mutex::new(ScanState::Open(Box::new(scanner)))) }
    }

    /// Up to `max_rows` next rows (at least 1 is asked for when `max_rows` is 0); empty when
    /// the scan is done.
    pub fn next_batch(&self, max_rows: usize) -> Result<RowBatch> {
        let mut rows = Vec::with_capacity(max_rows.clamp(1, 4096));
        self.next_batch_into(&mut rows, max_rows)?;
        Ok(RowBatch { rows })
    }

    /// Append up to `max_rows` next rows (at least 1) to `rows`; returns how many were added
    /// (0 once the scan is done). For hosts that convert rows in small chunks: reusing one
    /// buffer keeps the allocator on its fast path (rows freed right after conversion are
    /// reused by the next chunk's rows).
    pub fn next_batch_into(&self, rows: &mut Vec<Row>, max_rows: usize) -> Result<usize> {
        let n = max_rows.max(1);
        let mut guard = self.inner.lock();
        let scanner = match &mut *guard {
            ScanState::Open(s) => s,
            ScanState::Done => return Ok(0),
            ScanState::Closed => return Err(Error::closed("row stream")),
        };
        let mut added = 0;
        while added < n {
            match scanner.next() {
                Some(r) => {
                    rows.push(r?);
                    added += 1;
                }
                None => {
                    *guard = ScanState::Done;
                    break;
                }
            }
        }
        Ok(added)
    }

    /// Overwrite `rows` with up to `max_rows` next rows (at least 1), reusing the buffers of
    /// the rows already in it: each slot is refilled in place (the core's `Scanner::next_into`:
    /// row key, cell vector and every cell's byte buffers are recycled), new slots are added when
    /// `rows` is shorter, and `rows` is truncated to the number read (0 once the scan is done).
    /// For hosts that copy each chunk out (into their own objects) before reading the next: a
    /// loop of these calls allocates (almost) nothing per row on the Rust side.
    pub fn refill(&self, rows: &mut Vec<Row>, max_rows: usize) -> Result<usize> {
        let n = max_rows.max(1);
        let mut guard = self.inner.lock();
        let scanner = match &mut *guard {
            ScanState::Open(s) => s,
            ScanState::Done => {
                rows.clear();
                return Ok(0);
            }
            ScanState::Closed => return Err(Error::closed("row stream")),
        };
        let mut added = 0;
        let mut result = Ok(());
        while added < n {
            if added == rows.len() {
                rows.push(Row::default());
            }
            match scanner.next_into(&mut rows[added]) {
                Ok(true) => added += 1,
                Ok(false) => {
                    *guard = ScanState::Done;
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        rows.truncate(added);
        result.map(|()| added)
    }

    /// Release the scan early; later batches come back empty (as at the scan's end).
    pub fn end(&self) {
        let mut g = self.inner.lock();
        if matches!(*g, ScanState::Open(_)) {
            *g = ScanState::Done;
        }
    }

    /// Release the scan; later calls fail with `Closed`.
    pub fn close(&self) {
        let old = std::mem::replace(&mut *self.inner.lock(), ScanState::Closed);
        drop(old);
    }
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream").field("open", &matches!(*self.inner.lock(), ScanState::Open(_))).finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kabase::ErrorCode;

    /// An in-memory engine with table `t` (families `cf` and `meta`); shared by the facade's
    /// table tests.
    pub(crate) fn table() -> (Engine, Table) {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("t", &["cf", "meta"]).unwrap();
        let t = e.table("t").unwrap();
        (e, t)
    }

    #[test]
    fn column_notation() {
        assert_eq!(parse_column(b"cf:name").unwrap(), (b"cf".to_vec(), b"name".to_vec()));
        assert_eq!(parse_column(b"cf:").unwrap(), (b"cf".to_vec(), Vec::new()));
        assert_eq!(parse_column(b"cf:a:b").unwrap(), (b"cf".to_vec(), b"a:b".to_vec()));
        assert_eq!(parse_column(b"nocolon").unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(parse_column(b":q").unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn put_get_delete_columns() {
        let (_e, t) = table();
        t.put(b"r", &[ColumnValue::new("cf", "a", "1"), ColumnValue::new("meta", "b", "2")]).unwrap();
        let only = t.get_columns(b"r", &[b"meta".to_vec()]).unwrap().unwrap();
        assert_eq!(only.cells.len(), 1);
        assert_eq!(only.value("meta", "b"), Some(&b"2"[..]));
        t.delete_columns(b"r", &[b"cf:a".to_vec()]).unwrap();
        let left = t.get(b"r").unwrap().unwrap();
        assert_eq!(left.cells.len(), 1);
        assert!(t.get(b"missing").unwrap().is_none());
        assert_eq!(t.put(b"", &[ColumnValue::new("cf", "a", "1")]).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(t.put(b"r", &[]).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(t.put(b"r", &[ColumnValue::new("nope", "a", "1")]).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    }

    #[test]
    fn batches_and_streams() {
        let (_e, t) = table();
        let rows: Vec<_> = (0..25).map(|i| (format!("row{i:02}").into_bytes(), vec![ColumnValue::new("cf", "v", format!("{i}"))])).collect();
        t.put_many(&rows).unwrap();
        assert_eq!(t.scan(&ScanOptions::default()).unwrap().len(), 25);
        let lim = ScanOptions { limit: Some(5), ..ScanOptions::default() };
        assert_eq!(t.scan(&lim).unwrap().len(), 5);
        let pre = ScanOptions { prefix: Some(b"row1".to_vec()), ..ScanOptions::default() };
        assert_eq!(t.scan(&pre).unwrap().len(), 10);
        let s = t.scanner(&ScanOptions::default()).unwrap();
        let sizes: Vec<usize> = std::iter::from_fn(|| Some(s.next_batch(10).unwrap().len())).take_while(|&n| n > 0).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
        s.close();
        assert_eq!(s.next_batch(1).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn get_many_keeps_key_order_and_missing_rows() {
        let (e, t) = table();
        let rows: Vec<_> = (0..5).map(|i| (format!("r{i}").into_bytes(), vec![ColumnValue::new("cf", "v", format!("{i}"))])).collect();
        t.put_many(&rows).unwrap();
        let keys = vec![b"r3".to_vec(), b"nope".to_vec(), b"r0".to_vec(), b"r3".to_vec()];
        let got = t.get_many(&keys).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().unwrap().value("cf", "v"), Some(&b"3"[..]));
        assert!(got[1].is_none());
        assert_eq!(got[2].as_ref().unwrap().row, b"r0".to_vec());
        assert_eq!(got[3].as_ref().unwrap().row, b"r3".to_vec());
        assert!(t.get_many(&[]).unwrap().is_empty());
        let err = t.get_many(&[b"r1".to_vec(), Vec::new()]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.message().contains("row key 1"), "{}", err.message());
        e.close().unwrap();
        assert_eq!(t.get_many(&keys).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn read_with_options_and_filters() {
        let e = Engine::open_in_memory().unwrap();
        let fam = |n: &str| FamilyOptions { name: n.as_bytes().to_vec(), max_versions: Some(3), ..Default::default() };
        e.create_table_from("t", &[fam("cf"), fam("meta")]).unwrap();
        let t = e.table("t").unwrap();
        for i in 0..3 {
            let m = crate::RowMutation {
                row: format!("r{i}").into_bytes(),
                puts: vec![(b"cf:a".to_vec(), format!("a{i}").into_bytes()), (b"meta:b".to_vec(), b"b".to_vec())],
                timestamp: Some(100 + i),
                wal: true,
                ..Default::default()
            };
            t.mutate(vec![m]).unwrap();
        }
        t.mutate(vec![crate::RowMutation { row: b"r0".to_vec(), puts: vec![(b"cf:a".to_vec(), b"new".to_vec())], timestamp: Some(200), wal: true, ..Default::default() }]).unwrap();
        let all = t.read(vec![b"r0".to_vec(), b"none".to_vec()], &ReadOptions::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[1].is_empty());
        assert_eq!(all[0].value("cf", "a"), Some(&b"new"[..]));
        let two = ReadOptions { columns: vec![b"cf:a".to_vec()], max_versions: 2, ..Default::default() };
        assert_eq!(t.read(vec![b"r0".to_vec()], &two).unwrap()[0].cells.len(), 2);
        let fam = ReadOptions { columns: vec![b"meta:".to_vec()], ..Default::default() };
        assert_eq!(t.read(vec![b"r1".to_vec()], &fam).unwrap()[0].cells.len(), 1);
        let old = ReadOptions { columns: vec![b"cf".to_vec()], time_max: Some(200), ..Default::default() };
        assert_eq!(t.read(vec![b"r0".to_vec()], &old).unwrap()[0].value("cf", "a"), Some(&b"a0"[..]));
        let filtered = ReadOptions { filter: Some(b"PrefixFilter('r1')".to_vec()), ..Default::default() };
        let s = t.scanner_with(&ScanOptions::default(), &filtered).unwrap();
        let rows = s.next_batch(10).unwrap();
        assert_eq!(rows.rows.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"r1".to_vec()]);
        assert!(s.next_batch(10).unwrap().is_empty(), "a finished scan gives empty batches");
        let s = t.scanner_with(&ScanOptions::default(), &ReadOptions::default()).unwrap();
        let mut buf = Vec::new();
        assert_eq!(s.next_batch_into(&mut buf, 2).unwrap(), 2);
        assert_eq!(s.next_batch_into(&mut buf, 0).unwrap(), 1, "0 asks for one row");
        assert_eq!(s.next_batch_into(&mut buf, 5).unwrap(), 0);
        assert_eq!(buf.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"r0".to_vec(), b"r1".to_vec(), b"r2".to_vec()]);
        let s = t.scanner_with(&ScanOptions::default(), &ReadOptions::default()).unwrap();
        let mut buf = vec![Row { row: b"stale".to_vec(), cells: Vec::new() }; 3];
        assert_eq!(s.refill(&mut buf, 2).unwrap(), 2);
        assert_eq!(buf.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"r0".to_vec(), b"r1".to_vec()], "slots are overwritten, the rest dropped");
        assert_eq!(buf[0].value("cf", "a"), Some(&b"new"[..]));
        assert_eq!(buf[0].cells.len(), 2, "a reused slot holds only the new row's cells");
        assert_eq!(s.refill(&mut buf, 0).unwrap(), 1, "0 asks for one row");
        assert_eq!(buf.len(), 1);
        assert_eq!((buf[0].row.as_slice(), buf[0].value("cf", "a")), (&b"r2"[..], Some(&b"a2"[..])));
        assert_eq!(s.refill(&mut buf, 5).unwrap(), 0);
        assert!(buf.is_empty(), "the end empties the buffer");
        assert_eq!(s.refill(&mut buf, 5).unwrap(), 0);
        s.close();
        assert_eq!(s.refill(&mut buf, 5).unwrap_err().code(), ErrorCode::Closed);
        let bad = ReadOptions { filter: Some(b"NoSuchFilter(".to_vec()), ..Default::default() };
        assert!(t.scanner_with(&ScanOptions::default(), &bad).is_err());
        assert!(t.read(vec![b"r0".to_vec()], &bad).is_err());
        let s = t.scanner_with(&ScanOptions::default(), &ReadOptions { caching: 1, ..Default::default() }).unwrap();
        assert_eq!(s.next_batch(1).unwrap().len(), 1);
        s.end();
        assert!(s.next_batch(5).unwrap().is_empty(), "end() finishes the scan");
        s.close();
        assert_eq!(s.next_batch(5).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn counters() {
        let (_e, t) = table();
        assert_eq!(t.increment(b"c", b"cf:n", 5).unwrap(), 5);
        assert_eq!(t.increment(b"c", b"cf:n", -2).unwrap(), 3);
        assert_eq!(t.increment(b"c", b"cfn", 1).unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn family_options_and_table_admin() {
        let e = Engine::open_in_memory().unwrap();
        let fam = FamilyOptions {
            name: b"cf".to_vec(),
            max_versions: Some(3),
            compression: Some("GZ".into()),
            keep_deleted_cells: Some("ttl".into()),
            new_version_behavior: Some(true),
            ..Default::default()
        };
        e.create_table_from("fa", &[fam]).unwrap();
        let d = e.describe_table("fa").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].max_versions, d[0].compression.as_deref(), d[0].keep_deleted_cells.as_deref()), (Some(3), Some("GZ"), Some("TTL")));
        assert_eq!(d[0].new_version_behavior, Some(true));
        let bad = FamilyOptions { name: b"x".to_vec(), keep_deleted_cells: Some("maybe".into()), ..Default::default() };
        assert_eq!(e.create_table_from("fb", &[bad]).unwrap_err().code(), ErrorCode::InvalidConfig);
        let bad = FamilyOptions { name: b"x".to_vec(), compression: Some("RAR".into()), ..Default::default() };
        assert!(e.create_table_from("fb", &[bad]).is_err());
        assert_eq!(e.table_regions("fa").unwrap().len(), 1);
        e.compact_table("fa", false).unwrap();
        e.compact_table("fa", true).unwrap();
        assert!(e.delete_disabled_table("fa").is_err(), "an enabled table is not deleted");
        e.disable_table("fa").unwrap();
        assert!(!e.is_table_enabled("fa").unwrap());
        e.enable_table("fa").unwrap();
        assert!(e.is_table_enabled("fa").unwrap());
        e.disable_table("fa").unwrap();
        e.delete_disabled_table("fa").unwrap();
        assert!(!e.table_exists("fa").unwrap());
    }

    #[test]
    fn admin_and_closed_engine() {
        let (e, t) = table();
        assert!(e.table_exists("t").unwrap());
        assert!(e.list_tables().unwrap().iter().any(|n| n.ends_with('t')));
        assert_eq!(e.create_table("x", &[]).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(e.table("absent").unwrap_err().code(), ErrorCode::TableNotFound);
        e.delete_table("t").unwrap();
        assert!(!e.table_exists("t").unwrap());
        e.close().unwrap();
        assert_eq!(t.get(b"r").unwrap_err().code(), ErrorCode::Closed);
    }
}
