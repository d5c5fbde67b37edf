//! `kabase._native.Table` and `Scanner`: table admin on the engine and data calls on a table.
//!
//! Cells cross the boundary as `(column, value, timestamp)` tuples with `column` =
//! `family:qualifier`, grouped per row as `(row, [cells])`; a scan returns many rows per call.

use kabase::table::{
    BloomType, Compression, Delete, FamilyDescriptor, Get, Increment, KeepDeletedCells, Mutation, Put, RowResult,
    Scan, Scanner, Table, TableDescriptor,
};
use kabase::{Error, ErrorCode};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use std::sync::Arc;

use crate::engine::{PyEngine, Release, Shared, Slot};
use crate::error::IntoPyResult;

/// A column spec `family` / `family:` (whole family) or `family:qualifier`.
pub(crate) enum ColumnSpec {
    Family(Vec<u8>),
    Column(Vec<u8>, Vec<u8>),
}

pub(crate) fn parse_column(col: &[u8]) -> ColumnSpec {
    match col.iter().position(|&b| b == b':') {
        None => ColumnSpec::Family(col.to_vec()),
        Some(i) if i + 1 == col.len() => ColumnSpec::Family(col[..i].to_vec()),
        Some(i) => ColumnSpec::Column(col[..i].to_vec(), col[i + 1..].to_vec()),
    }
}

fn column_for_write(col: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    match col.iter().position(|&b| b == b':') {
        Some(i) => Ok((col[..i].to_vec(), col[i + 1..].to_vec())),
        None => Err(Error::invalid(format!(
            "column {:?} must be 'family:qualifier' (a put needs a qualifier, which may be empty: 'family:')",
            String::from_utf8_lossy(col)
        ))),
    }
}

fn parse_filter(filter: Option<Vec<u8>>) -> PyResult<Option<Box<dyn kabase::filter::Filter>>> {
    match filter {
        None => Ok(None),
        Some(f) => crate::filters::parse(&f),
    }
}

/// Column names (`family:qualifier` bytes objects) of the previous row, by cell position: rows
/// of one table mostly repeat their columns, so each name object is made once per batch and
/// shared (bytes are immutable) instead of once per cell.
struct ColumnNames<'py> {
    names: Vec<(Vec<u8>, Vec<u8>, Bound<'py, PyBytes>)>,
    buf: Vec<u8>,
}

impl<'py> ColumnNames<'py> {
    fn new() -> Self {
        ColumnNames { names: Vec::new(), buf: Vec::with_capacity(64) }
    }

    /// The name of the `i`-th cell of a row, `family:qualifier`.
    fn get(&mut self, py: Python<'py>, i: usize, family: &[u8], qualifier: &[u8]) -> Bound<'py, PyBytes> {
        if let Some((f, q, o)) = self.names.get(i) {
            if f.as_slice() == family && q.as_slice() == qualifier {
                return o.clone();
            }
        }
        self.buf.clear();
        self.buf.extend_from_slice(family);
        self.buf.push(b':');
        self.buf.extend_from_slice(qualifier);
        let o = PyBytes::new(py, &self.buf);
        let entry = (family.to_vec(), qualifier.to_vec(), o.clone());
        if i < self.names.len() {
            self.names[i] = entry;
        } else if i == self.names.len() {
            self.names.push(entry);
        }
        o
    }
}

/// Rows as `[(row, [(column, value, ts)])]`.
pub(crate) fn rows_to_py<'py>(py: Python<'py>, rows: &[RowResult]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut names = ColumnNames::new();
    for r in rows {
        let cells = PyList::empty(py);
        for (i, c) in r.cells.iter().enumerate() {
            let t = PyTuple::new(
                py,
                [
                    names.get(py, i, &c.family, &c.qualifier).into_any(),
                    PyBytes::new(py, &c.value).into_any(),
                    c.timestamp.into_pyobject(py)?.into_any(),
                ],
            )?;
            cells.append(t)?;
        }
        out.append(PyTuple::new(py, [PyBytes::new(py, &r.row).into_any(), cells.into_any()])?)?;
    }
    Ok(out)
}

/// Rows as `[(row, {column: value})]` (or `{column: (value, ts)}` with `include_timestamp`),
/// keeping the newest version of each column, the way happybase returns rows.
pub(crate) fn rows_to_dicts<'py>(py: Python<'py>, rows: &[RowResult], include_timestamp: bool) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut names = ColumnNames::new();
    for r in rows {
        let d = PyDict::new(py);
        let mut last: Option<(&[u8], &[u8])> = None;
        let mut i = 0;
        for c in &r.cells {
            // Versions of one column are adjacent, newest first: keep the first.
            if last == Some((c.family.as_slice(), c.qualifier.as_slice())) {
                continue;
            }
            last = Some((c.family.as_slice(), c.qualifier.as_slice()));
            let name = names.get(py, i, &c.family, &c.qualifier);
            i += 1;
            let value = PyBytes::new(py, &c.value);
            if include_timestamp {
                d.set_item(name, (value, c.timestamp))?;
            } else {
                d.set_item(name, value)?;
            }
        }
        out.append(PyTuple::new(py, [PyBytes::new(py, &r.row).into_any(), d.into_any()])?)?;
    }
    Ok(out)
}

fn opt_get<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => match v.extract::<T>() {
            Ok(x) => Ok(Some(x)),
            Err(_) if v.is_instance_of::<pyo3::types::PyInt>() => Err(crate::error::new_err(
                ErrorCode::InvalidArgument,
                format!("family option {key} is out of range: {v}"),
            )),
            Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "family option {key} has the wrong type: {}",
                v.get_type().name()?
            ))),
        },
        _ => Ok(None),
    }
}

/// A family descriptor from `{'name': b'cf', 'max_versions': 3, 'compression': 'GZ', ...}`.
fn family_from_dict(d: &Bound<'_, PyDict>) -> PyResult<FamilyDescriptor> {
    let name: Vec<u8> = opt_get(d, "name")?
        .ok_or_else(|| crate::error::new_err(ErrorCode::InvalidArgument, "a column family needs a name"))?;
    let mut f = FamilyDescriptor::new(name);
    if let Some(v) = opt_get::<u32>(d, "max_versions")? {
        f = f.versions(v);
    }
    if let Some(v) = opt_get::<u32>(d, "min_versions")? {
        f = f.min_versions(v);
    }
    if let Some(v) = opt_get::<u64>(d, "ttl")? {
        f = f.ttl(v);
    }
    if let Some(v) = opt_get::<String>(d, "compression")? {
        f = f.compression(Compression::parse(&v).py()?);
    }
    if let Some(v) = opt_get::<String>(d, "bloom_filter")? {
        f = f.bloom_filter(BloomType::parse(&v).py()?);
    }
    if let Some(v) = opt_get::<bool>(d, "in_memory")? {
        f = f.in_memory(v);
    }
    if let Some(v) = opt_get::<u32>(d, "block_size")? {
        f = f.block_size(v);
    }
    if let Some(v) = opt_get::<String>(d, "keep_deleted_cells")? {
        let k = match v.to_ascii_uppercase().as_str() {
            "FALSE" => KeepDeletedCells::False,
            "TRUE" => KeepDeletedCells::True,
            "TTL" => KeepDeletedCells::Ttl,
            other => {
                return Err(crate::error::new_err(
                    ErrorCode::InvalidConfig,
                    format!("KEEP_DELETED_CELLS must be FALSE, TRUE or TTL, not {other:?}"),
                ))
            }
        };
        f = f.keep_deleted_cells(k);
    }
    if let Some(v) = opt_get::<bool>(d, "new_version_behavior")? {
        f = f.new_version_behavior(v);
    }
    Ok(f)
}

fn family_to_dict<'py>(py: Python<'py>, f: &FamilyDescriptor) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", PyBytes::new(py, &f.name))?;
    d.set_item("max_versions", f.max_versions)?;
    d.set_item("min_versions", f.min_versions)?;
    d.set_item("ttl", f.ttl_seconds)?;
    d.set_item("compression", f.compression.name())?;
    d.set_item(
        "bloom_filter",
        match f.bloom_filter {
            BloomType::None => "NONE",
            BloomType::Row => "ROW",
            BloomType::RowCol => "ROWCOL",
        },
    )?;
    d.set_item("in_memory", f.in_memory)?;
    d.set_item("block_size", f.block_size)?;
    d.set_item(
        "keep_deleted_cells",
        match f.keep_deleted_cells {
            KeepDeletedCells::False => "FALSE",
            KeepDeletedCells::True => "TRUE",
            KeepDeletedCells::Ttl => "TTL",
        },
    )?;
    d.set_item("new_version_behavior", f.new_version_behavior)?;
    Ok(d)
}

#[pymethods]
impl PyEngine {
    /// Create a table from family dicts (`name`, `max_versions`, `min_versions`, `ttl`,
    /// `compression`, `bloom_filter`, `in_memory`, `block_size`, `keep_deleted_cells`,
    /// `new_version_behavior`).
    fn create_table(&self, py: Python<'_>, name: &str, families: Vec<Bound<'_, PyDict>>) -> PyResult<()> {
        let mut desc = TableDescriptor::new(name);
        for f in &families {
            desc = desc.family(family_from_dict(f)?);
        }
        let e = self.core()?;
        py.detach(move || e.create_table(desc)).py()
    }

    /// Delete a (disabled) table.
    fn delete_table(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let e = self.core()?;
        let n = name.to_string();
        py.detach(move || e.delete_table(&n)).py()
    }

    fn enable_table(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let e = self.core()?;
        let n = name.to_string();
        py.detach(move || e.enable_table(&n)).py()
    }

    fn disable_table(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let e = self.core()?;
        let n = name.to_string();
        py.detach(move || e.disable_table(&n)).py()
    }

    fn is_table_enabled(&self, name: &str) -> PyResult<bool> {
        self.core()?.is_table_enabled(name).py()
    }

    /// Table names (`table` or `ns:table`).
    fn list_tables(&self) -> PyResult<Vec<String>> {
        self.core()?.list_tables().py()
    }

    fn table_exists(&self, name: &str) -> PyResult<bool> {
        self.core()?.table_exists(name).py()
    }

    /// The table's families as dicts (the keys `create_table` takes).
    fn describe_table<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let d = self.core()?.describe_table(name).py()?;
        d.families.iter().map(|f| family_to_dict(py, f)).collect()
    }

    /// The table's regions as dicts (`id`, `name`, `start_key`, `end_key`).
    fn table_regions<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let regions = self.core()?.table_regions(name).py()?;
        regions
            .iter()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("id", r.id)?;
                d.set_item("name", r.name.as_str())?;
                d.set_item("start_key", PyBytes::new(py, &r.start_key))?;
                d.set_item("end_key", PyBytes::new(py, &r.end_key))?;
                Ok(d)
            })
            .collect()
    }

    /// Flush (`major=False`) or major-compact (`major=True`) a table.
    #[pyo3(signature = (name, major=false))]
    fn compact_table(&self, py: Python<'_>, name: &str, major: bool) -> PyResult<()> {
        let e = self.core()?;
        let n = name.to_string();
        py.detach(move || if major { e.major_compact_table(&n) } else { e.flush_table(&n) }).py()
    }

    /// A handle to a table.
    fn table(&self, name: &str) -> PyResult<PyTable> {
        let t = self.core()?.table(name).py()?;
        Ok(PyTable { name: t.name(), slot: Slot::new(&self.shared, "table", t), shared: Arc::clone(&self.shared) })
    }
}

/// A handle to one table (thread-safe).
#[pyclass(module = "kabase._native", name = "Table", frozen)]
pub struct PyTable {
    name: String,
    slot: Arc<Slot<Table>>,
    shared: Arc<Shared>,
}

impl PyTable {
    fn table(&self) -> PyResult<Table> {
        self.slot.get().py()
    }
}

type MutationTuple = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, Option<Vec<Vec<u8>>>, bool, Option<i64>, bool);

/// One row's mutations as [`Mutation`]s: a put of `puts` (`family:qualifier` columns), then a
/// delete of `deletes` (`family` deletes the family, `family:` the empty qualifier,
/// `family:qualifier` every version of that column), or of the whole row with `delete_row`.
fn row_mutations(
    mut row: Vec<u8>,
    puts: Vec<(Vec<u8>, Vec<u8>)>,
    deletes: Vec<Vec<u8>>,
    delete_row: bool,
    ts: Option<i64>,
    wal: bool,
    out: &mut Vec<Mutation>,
) -> PyResult<()> {
    let durability = if wal { kabase::table::Durability::UseDefault } else { kabase::table::Durability::SkipWal };
    let has_delete = delete_row || !deletes.is_empty();
    if !puts.is_empty() {
        let key = if has_delete { row.clone() } else { std::mem::take(&mut row) };
        let mut p = match ts {
            Some(t) => Put::new_at(key, t),
            None => Put::new(key),
        };
        for (col, value) in puts {
            let (f, q) = column_for_write(&col).py()?;
            p = p.add(f, q, value);
        }
        out.push(Mutation::Put(p.durability(durability)));
    }
    if has_delete {
        let mut d = match ts {
            Some(t) => Delete::new_at(row, t),
            None => Delete::new(row),
        };
        if !delete_row {
            for col in deletes {
                d = match parse_column(&col) {
                    ColumnSpec::Family(f) if !col.ends_with(b":") => d.family(f),
                    ColumnSpec::Family(f) => d.columns(f, Vec::new()),
                    ColumnSpec::Column(f, q) => d.columns(f, q),
                };
            }
        }
        out.push(Mutation::Delete(d.durability(durability)));
    }
    Ok(())
}

/// Apply `muts` as one batch with the GIL released; raises the first failed row's error.
fn apply(py: Python<'_>, t: Table, muts: Vec<Mutation>) -> PyResult<()> {
    if muts.is_empty() {
        return Ok(());
    }
    py.detach(move || -> Result<(), Error> {
        for r in t.batch(muts)? {
            r?;
        }
        Ok(())
    })
    .py()
}

#[pymethods]
impl PyTable {
    /// The table's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Read rows: `[(row, [(column, value, ts)])]`, one entry per requested row (empty cell list
    /// when the row has nothing visible). `columns` are `family` or `family:qualifier`;
    /// versions newer than or equal to `time_max` are skipped (HBase Thrift's exclusive bound).
    /// With `as_dict`, rows come as `(row, {column: value})` (see `rows_to_dicts`).
    #[pyo3(signature = (rows, columns=None, max_versions=1, time_max=None, filter=None, time_min=None, as_dict=false, include_timestamp=false))]
    #[allow(clippy::too_many_arguments)]
    fn get<'py>(
        &self,
        py: Python<'py>,
        rows: Vec<Vec<u8>>,
        columns: Option<Vec<Vec<u8>>>,
        max_versions: u32,
        time_max: Option<i64>,
        filter: Option<Vec<u8>>,
        time_min: Option<i64>,
        as_dict: bool,
        include_timestamp: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut gets = Vec::with_capacity(rows.len());
        for r in rows {
            let mut g = Get::new(r).max_versions(max_versions);
            if let Some(cols) = &columns {
                for c in cols {
                    g = match parse_column(c) {
                        ColumnSpec::Family(f) => g.family(f),
                        ColumnSpec::Column(f, q) => g.column(f, q),
                    };
                }
            }
            if time_max.is_some() || time_min.is_some() {
                g = g.time_range(time_min.unwrap_or(0), time_max.unwrap_or(i64::MAX));
            }
            if let Some(f) = parse_filter(filter.clone())? {
                g = g.filter(f);
            }
            gets.push(g);
        }
        let t = self.table()?;
        let results = py.detach(move || if gets.len() == 1 { t.get(gets.into_iter().next().unwrap_or_else(|| Get::new(Vec::new()))).map(|r| vec![r]) } else { t.get_many(gets) }).py()?;
        crate::gc::deferred(py, results.len(), || if as_dict { rows_to_dicts(py, &results, include_timestamp) } else { rows_to_py(py, &results) })
    }

    /// Apply mutations: `[(row, puts [(column, value)], deletes [column] | None, delete_row,
    /// timestamp | None, wal)]`. Per row, puts are applied, then deletes (`family` deletes the
    /// family, `family:qualifier` every version of that column); `delete_row` deletes the whole
    /// row. Raises the first row's error after applying the others (HBase batch semantics).
    fn mutate(&self, py: Python<'_>, ops: Vec<MutationTuple>) -> PyResult<()> {
        let mut muts: Vec<Mutation> = Vec::with_capacity(ops.len());
        for (row, puts, deletes, delete_row, ts, wal) in ops {
            row_mutations(row, puts, deletes.unwrap_or_default(), delete_row, ts, wal, &mut muts)?;
        }
        apply(py, self.table()?, muts)
    }

    /// Open a scanner. Rows come in batches from [`PyScanner::next_batch`].
    #[pyo3(signature = (start=None, stop=None, prefix=None, columns=None, filter=None, time_max=None, max_versions=1, reversed=false, limit=None, batch=0, caching=1000))]
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        py: Python<'_>,
        start: Option<Vec<u8>>,
        stop: Option<Vec<u8>>,
        prefix: Option<Vec<u8>>,
        columns: Option<Vec<Vec<u8>>>,
        filter: Option<Vec<u8>>,
        time_max: Option<i64>,
        max_versions: u32,
        reversed: bool,
        limit: Option<u64>,
        batch: u32,
        caching: u32,
    ) -> PyResult<PyScanner> {
        let mut s = Scan::new().max_versions(max_versions).reversed(reversed).batch(batch).caching(caching.max(1));
        if let Some(v) = start {
            s = s.start(v);
        }
        if let Some(v) = stop {
            s = s.stop(v);
        }
        if let Some(v) = prefix {
            s = s.prefix(v);
        }
        if let Some(cols) = columns {
            for c in cols {
                s = match parse_column(&c) {
                    ColumnSpec::Family(f) => s.family(f),
                    ColumnSpec::Column(f, q) => s.column(f, q),
                };
            }
        }
        if let Some(ts) = time_max {
            s = s.time_range(0, ts);
        }
        if let Some(n) = limit {
            s = s.limit(n);
        }
        if let Some(f) = parse_filter(filter)? {
            s = s.filter(f);
        }
        let t = self.table()?;
        let scanner = py.detach(move || t.scan(s)).py()?;
        let inner = Arc::new(ScanSlot(Mutex::new(Some(scanner)), std::sync::atomic::AtomicBool::new(false)));
        self.shared.register(Arc::downgrade(&inner) as std::sync::Weak<dyn Release>);
        Ok(PyScanner { inner })
    }

    /// Add `amount` to an 8-byte big-endian counter; returns the new value.
    fn increment(&self, py: Python<'_>, row: Vec<u8>, column: Vec<u8>, amount: i64) -> PyResult<i64> {
        let (f, q) = column_for_write(&column).py()?;
        let t = self.table()?;
        let (ff, qq) = (f.clone(), q.clone());
        let r = py.detach(move || t.increment(Increment::new(row).add(ff, qq, amount))).py()?;
        r.long(&f, &q).ok_or_else(|| crate::error::new_err(ErrorCode::Internal, "increment returned no counter value"))
    }

    /// Stream every committed change of this table into `topic` (None: `default.<table>`),
    /// exactly once, from now on (`Stream.snapshot()` gives what the table held before).
    /// Options: `name`, `partitioning` (`'row_key'`, `'family'`, `'fixed:<n>'` or an int),
    /// `shape` (`'per_row'`, `'per_cell'`), `format` (`'json'`, `'binary'`), `bytes`
    /// (`'auto'`, `'base64'`), `compression`, `partitions`, `max_lag`, `backpressure`
    /// (`'block'`, `'error'`), `backpressure_timeout_ms`, `routes` (dicts with `action`,
    /// `table`, `family`, `qualifier`, `topics`).
    #[cfg(feature = "topics")]
    #[pyo3(signature = (topic=None, **options))]
    fn stream_to(&self, py: Python<'_>, topic: Option<String>, options: Option<&Bound<'_, PyDict>>) -> PyResult<crate::stream::PyStream> {
        crate::stream::stream_to(py, &self.shared, self.name.clone(), topic, options)
    }

    fn __repr__(&self) -> String {
        format!("<kabase.Table {:?}>", self.name)
    }
}

/// A scan in progress; `next_batch(n)` returns up to `n` rows (an empty list at the end).
#[pyclass(module = "kabase._native", name = "Scanner", frozen)]
pub struct PyScanner {
    inner: Arc<ScanSlot>,
}

/// A scanner's state: `None` at the end, after `close()`, or once its engine was closed.
struct ScanSlot(Mutex<Option<Scanner>>, std::sync::atomic::AtomicBool);

impl Release for ScanSlot {
    fn release(&self) {
        self.1.store(true, std::sync::atomic::Ordering::Release);
        let s = self.0.lock().take();
        drop(s);
    }
}

#[pymethods]
impl PyScanner {
    /// Up to `n` rows as `[(row, [(column, value, ts)])]` (with `as_dict`, `[(row, {column:
    /// value})]`); `[]` once the scan is done.
    #[pyo3(signature = (n=1000, as_dict=false, include_timestamp=false))]
    fn next_batch<'py>(&self, py: Python<'py>, n: usize, as_dict: bool, include_timestamp: bool) -> PyResult<Bound<'py, PyList>> {
        let n = n.max(1);
        let rows = py.detach(|| -> Result<Vec<RowResult>, Error> {
            let mut guard = self.inner.0.lock();
            let Some(sc) = guard.as_mut() else {
                if self.inner.1.load(std::sync::atomic::Ordering::Acquire) {
                    return Err(Error::closed("scanner"));
                }
                return Ok(Vec::new());
            };
            let mut out = Vec::with_capacity(n.min(4096));
            while out.len() < n {
                match sc.next() {
                    Some(r) => out.push(r?),
                    None => {
                        *guard = None;
                        break;
                    }
                }
            }
            Ok(out)
        });
        let rows = rows.py()?;
        crate::gc::deferred(py, rows.len(), || if as_dict { rows_to_dicts(py, &rows, include_timestamp) } else { rows_to_py(py, &rows) })
    }

    /// Release the scanner early.
    fn close(&self) {
        let s = self.inner.0.lock().take();
        drop(s);
    }
}

/// `str` -> UTF-8, `bytes`/`bytearray`/`memoryview` as is; anything else is a `TypeError`
/// naming `what` (the happybase facade's rule for row keys, columns and values).
fn to_bytes(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = v.cast::<pyo3::types::PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = v.cast::<pyo3::types::PyByteArray>() {
        return Ok(b.to_vec());
    }
    if v.is_instance_of::<pyo3::types::PyMemoryView>() {
        return Ok(v.call_method0("tobytes")?.cast_into::<PyBytes>()?.as_bytes().to_vec());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!("{what} must be str or bytes, not {}", v.get_type().name()?)))
}

/// One row's buffered mutations: puts by column (a later put of a column replaces the value,
/// keeping the column's first position), deletes in order, and the WAL flag (off once any
/// mutation of the row skipped it).
struct RowOps {
    row: Vec<u8>,
    puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Column -> index in `puts`, built once a row has many columns.
    index: Option<std::collections::HashMap<Vec<u8>, usize>>,
    deletes: Vec<Vec<u8>>,
    wal: bool,
}

/// Columns a row may hold before its puts are indexed by a hash map instead of searched.
const LINEAR_COLUMNS: usize = 16;

impl RowOps {
    fn put(&mut self, col: Vec<u8>, value: Vec<u8>) {
        let found = match &self.index {
            Some(ix) => ix.get(&col).copied(),
            None => self.puts.iter().position(|(c, _)| *c == col),
        };
        match found {
            Some(i) => self.puts[i].1 = value,
            None => {
                if let Some(ix) = &mut self.index {
                    ix.insert(col.clone(), self.puts.len());
                }
                self.puts.push((col, value));
                if self.index.is_none() && self.puts.len() > LINEAR_COLUMNS {
                    self.index = Some(self.puts.iter().enumerate().map(|(i, (c, _))| (c.clone(), i)).collect());
                }
            }
        }
    }
}

#[derive(Default)]
struct Buffered {
    rows: Vec<RowOps>,
    by_key: std::collections::HashMap<Vec<u8>, usize>,
    count: usize,
}

impl Buffered {
    fn entry(&mut self, row: Vec<u8>, wal: bool) -> &mut RowOps {
        let i = match self.by_key.get(&row) {
            Some(&i) => {
                if !wal {
                    self.rows[i].wal = false;
                }
                i
            }
            None => {
                let i = self.rows.len();
                self.by_key.insert(row.clone(), i);
                self.rows.push(RowOps { row, puts: Vec::new(), index: None, deletes: Vec::new(), wal });
                i
            }
        };
        &mut self.rows[i]
    }
}

/// A happybase `Batch`'s buffer: puts and deletes are converted and merged per row here as
/// they are added, and `send(table)` applies the whole buffer in one core batch.
#[pyclass(module = "kabase._native", name = "MutationBuffer", frozen)]
pub struct PyMutationBuffer {
    timestamp: Option<i64>,
    inner: Mutex<Buffered>,
}

#[pymethods]
impl PyMutationBuffer {
    /// A buffer whose mutations carry `timestamp` (None: the time they are applied).
    #[new]
    #[pyo3(signature = (timestamp=None))]
    fn new(timestamp: Option<i64>) -> Self {
        PyMutationBuffer { timestamp, inner: Mutex::new(Buffered::default()) }
    }

    /// Buffer a put of `data` (`{column: value}`, str or bytes) into `row`; returns the number
    /// of buffered mutations. Nothing is buffered when any key or value has a wrong type.
    fn put(&self, row: &Bound<'_, PyAny>, data: &Bound<'_, PyAny>, wal: bool) -> PyResult<usize> {
        let row = to_bytes(row, "row key")?;
        let mut cells: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if let Ok(d) = data.cast::<PyDict>() {
            cells.reserve(d.len());
            for (c, v) in d.iter() {
                cells.push((to_bytes(&c, "column")?, to_bytes(&v, "value")?));
            }
        } else if data.hasattr("items")? {
            for item in data.call_method0("items")?.try_iter()? {
                let (c, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
                cells.push((to_bytes(&c, "column")?, to_bytes(&v, "value")?));
            }
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!("'data' must be a dict, not {}", data.get_type().name()?)));
        }
        let mut b = self.inner.lock();
        let n = cells.len();
        let e = b.entry(row, wal);
        for (c, v) in cells {
            e.put(c, v);
        }
        b.count += n;
        Ok(b.count)
    }

    /// Buffer a delete of `columns` (`family`, `family:` or `family:qualifier`) in `row`;
    /// returns the number of buffered mutations.
    fn delete(&self, row: &Bound<'_, PyAny>, columns: &Bound<'_, PyAny>, wal: bool) -> PyResult<usize> {
        let row = to_bytes(row, "row key")?;
        let mut cols = Vec::new();
        for c in columns.try_iter()? {
            cols.push(to_bytes(&c?, "column")?);
        }
        let mut b = self.inner.lock();
        let n = cols.len();
        b.entry(row, wal).deletes.extend(cols);
        b.count += n;
        Ok(b.count)
    }

    /// Drop everything buffered.
    fn clear(&self) {
        *self.inner.lock() = Buffered::default();
    }

    /// Apply everything buffered to `table` in one batch and empty the buffer (also when
    /// applying fails); raises the first failed row's error after applying the others.
    fn send(&self, py: Python<'_>, table: &PyTable) -> PyResult<()> {
        let b = std::mem::take(&mut *self.inner.lock());
        if b.rows.is_empty() {
            return Ok(());
        }
        let t = table.table()?;
        let mut muts = Vec::with_capacity(b.rows.len());
        for r in b.rows {
            row_mutations(r.row, r.puts, r.deletes, false, self.timestamp, r.wal, &mut muts)?;
        }
        apply(py, t, muts)
    }

    /// The number of buffered mutations (cells put plus columns deleted).
    fn __len__(&self) -> usize {
        self.inner.lock().count
    }

    /// Whether any row is buffered (a put of an empty dict buffers its row).
    fn __bool__(&self) -> bool {
        !self.inner.lock().rows.is_empty()
    }
}
