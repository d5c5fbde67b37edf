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

    /// A stream of matching rows, read a batch at a time with [`RowStream::next_batch`].
    pub fn scanner(&self, options: &ScanOptions) -> Result<RowStream> {
        Ok(RowStream { inner: Arc::new(Mutex::new(Some(self.core.scan(options.to_core())?))) })
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

/// An open scan, read in batches. Owning and thread-safe; finished once a batch comes back
/// empty. [`RowStream::close`] (or dropping it) releases the scan.
#[derive(Clone)]
pub struct RowStream {
    inner: Arc<Mutex<Option<kabase::Scanner>>>,
}

impl RowStream {
    /// Up to `max_rows` next rows (at least 1 is asked for when `max_rows` is 0); empty when
    /// the scan is done.
    pub fn next_batch(&self, max_rows: usize) -> Result<RowBatch> {
        let mut guard = self.inner.lock();
        let scanner = guard.as_mut().ok_or_else(|| Error::closed("row stream"))?;
        let mut rows = Vec::new();
        for r in scanner.by_ref().take(max_rows.max(1)) {
            rows.push(r?);
        }
        Ok(RowBatch { rows })
    }

    /// Release the scan; later calls fail with `Closed`.
    pub fn close(&self) {
        self.inner.lock().take();
    }
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream").field("open", &self.inner.lock().is_some()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabase::ErrorCode;

    fn table() -> (Engine, Table) {
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
