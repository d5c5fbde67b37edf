//! `kabase._native.Table` and `Scanner`: table admin on the engine and data calls on a table.
//!
//! Cells cross the boundary as `(column, value, timestamp)` tuples with `column` =
//! `family:qualifier`, grouped per row as `(row, [cells])`; a scan returns many rows per call.

use kabase_sdk::{ErrorCode, FamilyOptions, MutationBuffer, ReadOptions, Row, RowMutation, RowStream, ScanOptions, Table};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use std::sync::Arc;

use crate::engine::{PyEngine, Release, Shared, Slot};
use crate::error::IntoPyResult;

/// A filter string for the core's parser, or `Unsupported` when this build has none.
fn filter_arg(filter: Option<Vec<u8>>) -> PyResult<Option<Vec<u8>>> {
    if filter.is_some() && !cfg!(feature = "filters") {
        return Err(crate::error::new_err(ErrorCode::Unsupported, "filter strings need the core's filter-language parser, which this build does not have yet"));
    }
    Ok(filter)
}

/// Column names (`family:qualifier` bytes objects) of the previous row, by cell position: rows
/// of one table mostly repeat their columns, so each name object is made once and shared
/// (bytes are immutable) instead of once per cell: per call for `rows`, per scanner for a scan
/// (kept between its `next_batch` calls, as its chunks mostly repeat the columns).
#[derive(Default)]
struct ColumnNames {
    /// Per position: the name's family and qualifier (kept apart, so that a cell is checked
    /// against them by two short compares, without slicing one buffer) and the name object.
    names: Vec<ColumnName>,
}

/// One position's column name in [`ColumnNames`].
struct ColumnName {
    family: Vec<u8>,
    qualifier: Vec<u8>,
    name: Py<PyBytes>,
}

impl ColumnNames {
    fn new() -> Self {
        ColumnNames { names: Vec::new() }
    }

    /// The name of the `i`-th cell of a row, `family:qualifier` (borrowed: the caller takes its
    /// own reference only if it keeps it).
    #[inline]
    fn get<'py>(&mut self, py: Python<'py>, i: usize, family: &[u8], qualifier: &[u8]) -> &Bound<'py, PyBytes> {
        if let Some(n) = self.names.get(i) {
            if same_bytes(&n.qualifier, qualifier) && same_bytes(&n.family, family) {
                return self.names[i].name.bind(py);
            }
        }
        self.make(py, i, family, qualifier)
    }

    /// A new name object for position `i` (out of line: after a scan's first row, rows mostly
    /// repeat their columns).
    #[inline(never)]
    fn make<'py>(&mut self, py: Python<'py>, i: usize, family: &[u8], qualifier: &[u8]) -> &Bound<'py, PyBytes> {
        let mut name = Vec::with_capacity(family.len() + 1 + qualifier.len());
        name.extend_from_slice(family);
        name.push(b':');
        name.extend_from_slice(qualifier);
        let entry = ColumnName { family: family.to_vec(), qualifier: qualifier.to_vec(), name: PyBytes::new(py, &name).unbind() };
        // Cells are visited from position 0, so `i` is at most `names.len()`.
        let at = if i < self.names.len() {
            self.names[i] = entry;
            i
        } else {
            self.names.push(entry);
            self.names.len() - 1
        };
        self.names[at].name.bind(py)
    }
}

/// `a == b`, byte by byte: family names and qualifiers are short, and a call to `memcmp` (what
/// slice equality becomes) costs more than the loop.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Rows read and converted per chunk by `Scanner.next_batch`.
const SCAN_CHUNK: usize = 64;

/// The tuple `(a, b)`, made with the C API directly (pyo3's `PyTuple::new` goes through a
/// generic iterator; a scan makes one of these per row and per cell). `PyTuple_Pack` fills the
/// new tuple's slots itself, which costs less than two checked `PyTuple_SetItem` calls.
#[allow(unsafe_code)]
fn pair<'py>(py: Python<'py>, a: Bound<'py, PyAny>, b: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `a` and `b` are live objects for the call (bound handles, GIL held);
    // `PyTuple_Pack(2, a, b)` takes its own reference to each (ours are released when `a` and
    // `b` drop) and returns a new reference, or NULL with an exception set, which
    // `from_owned_ptr_or_err` takes over or turns into the error.
    unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyTuple_Pack(2, a.as_ptr(), b.as_ptr())) }
}

/// `d[k] = v` with the C API directly (no conversion of `k` and `v`, which are Python objects
/// already; `PyDict_SetItem` takes its own references).
#[allow(unsafe_code)]
fn dict_set(py: Python<'_>, d: &Bound<'_, PyDict>, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<()> {
    // SAFETY: the three pointers are live objects for the call (borrowed from bound handles)
    // and the GIL is held; `PyDict_SetItem` does not steal references.
    if unsafe { pyo3::ffi::PyDict_SetItem(d.as_ptr(), k.as_ptr(), v.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(py))
    }
}

/// One row as `(row, [(column, value, ts)])`.
fn row_to_tuple<'py>(py: Python<'py>, names: &mut ColumnNames, r: &Row) -> PyResult<Bound<'py, PyAny>> {
    let mut cells = Vec::with_capacity(r.cells.len());
    for (i, c) in r.cells.iter().enumerate() {
        let t = PyTuple::new(
            py,
            [
                names.get(py, i, &c.family, &c.qualifier).clone().into_any(),
                PyBytes::new(py, &c.value).into_any(),
                c.timestamp.into_pyobject(py)?.into_any(),
            ],
        )?;
        cells.push(t);
    }
    pair(py, PyBytes::new(py, &r.row).into_any(), PyList::new(py, cells)?.into_any())
}

/// One row as `(row, {column: value})` (or `{column: (value, ts)}` with `include_timestamp`),
/// keeping the newest version of each column, the way happybase returns rows.
fn row_to_dict<'py>(py: Python<'py>, names: &mut ColumnNames, r: &Row, include_timestamp: bool) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    let mut last: Option<&kabase_sdk::Cell> = None;
    let mut i = 0;
    for c in &r.cells {
        // Versions of one column are adjacent, newest first: keep the first.
        if last.is_some_and(|l| same_bytes(&l.qualifier, &c.qualifier) && same_bytes(&l.family, &c.family)) {
            continue;
        }
        last = Some(c);
        let value = PyBytes::new(py, &c.value).into_any();
        let value = if include_timestamp { pair(py, value, c.timestamp.into_pyobject(py)?.into_any())? } else { value };
        dict_set(py, &d, names.get(py, i, &c.family, &c.qualifier), &value)?;
        i += 1;
    }
    pair(py, PyBytes::new(py, &r.row).into_any(), d.into_any())
}

/// Rows as `[(row, [(column, value, ts)])]`.
pub(crate) fn rows_to_py<'py>(py: Python<'py>, rows: &[Row]) -> PyResult<Bound<'py, PyList>> {
    let mut names = ColumnNames::new();
    let items = rows.iter().map(|r| row_to_tuple(py, &mut names, r)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Rows as `[(row, {column: value})]` (see [`row_to_dict`]).
pub(crate) fn rows_to_dicts<'py>(py: Python<'py>, rows: &[Row], include_timestamp: bool) -> PyResult<Bound<'py, PyList>> {
    let mut names = ColumnNames::new();
    let items = rows.iter().map(|r| row_to_dict(py, &mut names, r, include_timestamp)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
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

/// Family settings from `{'name': b'cf', 'max_versions': 3, 'compression': 'GZ', ...}`.
fn family_from_dict(d: &Bound<'_, PyDict>) -> PyResult<FamilyOptions> {
    let name: Vec<u8> = opt_get(d, "name")?
        .ok_or_else(|| crate::error::new_err(ErrorCode::InvalidArgument, "a column family needs a name"))?;
    Ok(FamilyOptions {
        name,
        max_versions: opt_get(d, "max_versions")?,
        min_versions: opt_get(d, "min_versions")?,
        ttl: opt_get(d, "ttl")?,
        compression: opt_get(d, "compression")?,
        bloom_filter: opt_get(d, "bloom_filter")?,
        in_memory: opt_get(d, "in_memory")?,
        block_size: opt_get(d, "block_size")?,
        keep_deleted_cells: opt_get(d, "keep_deleted_cells")?,
        new_version_behavior: opt_get(d, "new_version_behavior")?,
    })
}

fn family_to_dict<'py>(py: Python<'py>, f: &FamilyOptions) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", PyBytes::new(py, &f.name))?;
    d.set_item("max_versions", f.max_versions)?;
    d.set_item("min_versions", f.min_versions)?;
    d.set_item("ttl", f.ttl)?;
    d.set_item("compression", f.compression.as_deref())?;
    d.set_item("bloom_filter", f.bloom_filter.as_deref())?;
    d.set_item("in_memory", f.in_memory)?;
    d.set_item("block_size", f.block_size)?;
    d.set_item("keep_deleted_cells", f.keep_deleted_cells.as_deref())?;
    d.set_item("new_version_behavior", f.new_version_behavior)?;
    Ok(d)
}

#[pymethods]
impl PyEngine {
    /// Create a table from family dicts (`name`, `max_versions`, `min_versions`, `ttl`,
    /// `compression`, `bloom_filter`, `in_memory`, `block_size`, `keep_deleted_cells`,
    /// `new_version_behavior`).
    fn create_table(&self, py: Python<'_>, name: &str, families: Vec<Bound<'_, PyDict>>) -> PyResult<()> {
        let fams = families.iter().map(family_from_dict).collect::<PyResult<Vec<_>>>()?;
        let e = self.core()?;
        py.detach(move || e.create_table_from(name, &fams)).py()
    }

    /// Delete a (disabled) table.
    fn delete_table(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let e = self.core()?;
        let n = name.to_string();
        py.detach(move || e.delete_disabled_table(&n)).py()
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
        d.iter().map(|f| family_to_dict(py, f)).collect()
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
        py.detach(move || e.compact_table(&n, major)).py()
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
        let opts = ReadOptions { columns: columns.unwrap_or_default(), max_versions, time_min, time_max, filter: filter_arg(filter)?, ..ReadOptions::default() };
        let t = self.table()?;
        let results = py.detach(move || t.read(rows, &opts)).py()?;
        crate::gc::deferred(py, results.len(), || if as_dict { rows_to_dicts(py, &results, include_timestamp) } else { rows_to_py(py, &results) })
    }

    /// Apply mutations: `[(row, puts [(column, value)], deletes [column] | None, delete_row,
    /// timestamp | None, wal)]`. Per row, puts are applied, then deletes (`family` deletes the
    /// family, `family:qualifier` every version of that column); `delete_row` deletes the whole
    /// row. Raises the first row's error after applying the others (HBase batch semantics).
    fn mutate(&self, py: Python<'_>, ops: Vec<MutationTuple>) -> PyResult<()> {
        let rows: Vec<RowMutation> = ops
            .into_iter()
            .map(|(row, puts, deletes, delete_row, timestamp, wal)| RowMutation { row, puts, deletes: deletes.unwrap_or_default(), delete_row, timestamp, wal })
            .collect();
        let t = self.table()?;
        if rows.is_empty() {
            return Ok(());
        }
        py.detach(move || t.mutate(rows)).py()
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
        let range = ScanOptions { start: start.unwrap_or_default(), stop: stop.unwrap_or_default(), prefix, limit, reversed, families: Vec::new() };
        let read = ReadOptions { columns: columns.unwrap_or_default(), max_versions, time_max, filter: filter_arg(filter)?, batch, caching: caching.max(1), ..ReadOptions::default() };
        let t = self.table()?;
        let stream = py.detach(move || t.scanner_with(&range, &read)).py()?;
        let inner = Arc::new(ScanSlot(stream));
        self.shared.register(Arc::downgrade(&inner) as std::sync::Weak<dyn Release>);
        Ok(PyScanner { inner, rows: Mutex::new(ScanBufs::default()) })
    }

    /// Add `amount` to an 8-byte big-endian counter; returns the new value.
    fn increment(&self, py: Python<'_>, row: Vec<u8>, column: Vec<u8>, amount: i64) -> PyResult<i64> {
        let t = self.table()?;
        py.detach(move || t.increment(&row, &column, amount)).py()
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
    /// The rows `next_batch` refills in place and the column names it made, kept between calls
    /// so that a scan read in many small batches allocates its row buffers and its names once
    /// (taken with `try_lock`: a call that finds them in use by another thread's call uses
    /// buffers of its own, never waits while holding the GIL).
    rows: Mutex<ScanBufs>,
}

/// What a [`PyScanner`] keeps between `next_batch` calls.
#[derive(Default)]
struct ScanBufs {
    rows: Vec<Row>,
    names: ColumnNames,
}

/// A scanner's rows: ended by `close()` (later batches are empty) or, with `Closed`, by closing
/// its engine.
struct ScanSlot(RowStream);

impl Release for ScanSlot {
    fn release(&self) {
        self.0.close();
    }
}

#[pymethods]
impl PyScanner {
    /// Up to `n` rows as `[(row, [(column, value, ts)])]` (with `as_dict`, `[(row, {column:
    /// value})]`); `[]` once the scan is done.
    #[pyo3(signature = (n=1000, as_dict=false, include_timestamp=false))]
    fn next_batch<'py>(&self, py: Python<'py>, n: usize, as_dict: bool, include_timestamp: bool) -> PyResult<Bound<'py, PyList>> {
        let n = n.max(1);
        let stream = &self.inner.0;
        let mut kept = self.rows.try_lock();
        let mut own = ScanBufs::default();
        let ScanBufs { rows, names } = match kept.as_mut() {
            Some(kept) => &mut **kept,
            None => &mut own,
        };
        let mut out: Vec<Bound<'py, PyAny>> = Vec::new();
        // Rows are read (GIL released) and converted a chunk at a time into one reused buffer
        // whose rows are refilled in place (`RowStream::refill`): after the first chunk, reading
        // a row allocates nothing on the Rust side, only the Python objects are new.
        // The collector is paused only for a call that reads more than one chunk. A chunk of a
        // one-column table makes about 65 tracked objects (the rows' tuples and the list; a
        // dict of bytes values is not tracked), far under the collector's threshold (700
        // allocations), and rows a caller drops chunk by chunk (happybase's `scan` asks for 64
        // at a time) take their count back when freed: so pausing and resuming it, three
        // Python calls a chunk (11 instructions a row), bought nothing there. A chunk of wide
        // rows may reach the threshold and run a young collection, as any code making as many
        // objects would.
        crate::gc::deferred(py, if n > SCAN_CHUNK { n } else { 0 }, || {
            while out.len() < n {
                let want = (n - out.len()).min(SCAN_CHUNK);
                let got = py.detach(|| stream.refill(rows, want)).py()?;
                if out.is_empty() {
                    out.reserve(if got < want { got } else { n });
                }
                for r in rows.iter() {
                    out.push(if as_dict { row_to_dict(py, names, r, include_timestamp)? } else { row_to_tuple(py, names, r)? });
                }
                if got < want {
                    break;
                }
            }
            PyList::new(py, out)
        })
    }

    /// Release the scanner early.
    fn close(&self) {
        self.inner.0.end();
        if let Some(mut bufs) = self.rows.try_lock() {
            *bufs = ScanBufs::default();
        }
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

/// A happybase `Batch`'s buffer: the facade's [`MutationBuffer`] (puts and deletes merged per
/// row as they are added, applied in one core batch by `send(table)`), fed with Python values.
#[pyclass(module = "kabase._native", name = "MutationBuffer", frozen)]
pub struct PyMutationBuffer {
    inner: MutationBuffer,
}

#[pymethods]
impl PyMutationBuffer {
    /// A buffer whose mutations carry `timestamp` (None: the time they are applied).
    #[new]
    #[pyo3(signature = (timestamp=None))]
    fn new(timestamp: Option<i64>) -> Self {
        PyMutationBuffer { inner: MutationBuffer::new(timestamp) }
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
        Ok(self.inner.put(row, cells, wal))
    }

    /// Buffer a delete of `columns` (`family`, `family:` or `family:qualifier`) in `row`;
    /// returns the number of buffered mutations.
    fn delete(&self, row: &Bound<'_, PyAny>, columns: &Bound<'_, PyAny>, wal: bool) -> PyResult<usize> {
        let row = to_bytes(row, "row key")?;
        let mut cols = Vec::new();
        for c in columns.try_iter()? {
            cols.push(to_bytes(&c?, "column")?);
        }
        Ok(self.inner.delete(row, cols, wal))
    }

    /// Drop everything buffered.
    fn clear(&self) {
        self.inner.clear();
    }

    /// Apply everything buffered to `table` in one batch and empty the buffer (also when
    /// applying fails); raises the first failed row's error after applying the others.
    fn send(&self, py: Python<'_>, table: &PyTable) -> PyResult<()> {
        let rows = self.inner.take();
        if rows.is_empty() {
            return Ok(());
        }
        let t = table.table()?;
        py.detach(move || t.mutate(rows)).py()
    }

    /// The number of buffered mutations (cells put plus columns deleted).
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Whether any row is buffered (a put of an empty dict buffers its row).
    fn __bool__(&self) -> bool {
        !self.inner.is_empty()
    }
}
