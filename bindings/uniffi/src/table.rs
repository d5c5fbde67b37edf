//! Tables: the [`Table`] handle, rows and cells as records, scans in batches.

use std::sync::Arc;

use crate::engine::non_negative;
use crate::Result;

/// One column value to write.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ColumnValue {
    /// Column family.
    pub family: Vec<u8>,
    /// Column qualifier (may be empty).
    pub qualifier: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

impl From<ColumnValue> for kabase_sdk::ColumnValue {
    fn from(c: ColumnValue) -> Self {
        kabase_sdk::ColumnValue::new(c.family, c.qualifier, c.value)
    }
}

/// A column value from HBase's `family:qualifier` notation (`INVALID_ARGUMENT` without `:` or
/// with an empty family).
#[uniffi::export]
pub fn parse_column_value(column: String, value: Vec<u8>) -> Result<ColumnValue> {
    let c = kabase_sdk::ColumnValue::parse(column.as_bytes(), value)?;
    Ok(ColumnValue { family: c.family, qualifier: c.qualifier, value: c.value })
}

/// The columns of one row to write (for [`Table::put_many`]).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RowMutation {
    /// Row key.
    pub row: Vec<u8>,
    /// Columns to write, atomically for this row.
    pub columns: Vec<ColumnValue>,
}

/// One cell read back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Cell {
    /// Column family.
    pub family: Vec<u8>,
    /// Column qualifier.
    pub qualifier: Vec<u8>,
    /// Version timestamp, ms since the epoch.
    pub timestamp: i64,
    /// The value.
    pub value: Vec<u8>,
}

/// A row read back: its cells ordered by family, then qualifier.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Row {
    /// Row key.
    pub row: Vec<u8>,
    /// Cells.
    pub cells: Vec<Cell>,
}

pub(crate) fn row_out(r: kabase_sdk::Row) -> Row {
    Row {
        row: r.row,
        cells: r.cells.into_iter().map(|c| Cell { family: c.family, qualifier: c.qualifier, timestamp: c.timestamp, value: c.value }).collect(),
    }
}

fn rows_out(b: kabase_sdk::RowBatch) -> Vec<Row> {
    b.rows.into_iter().map(row_out).collect()
}

/// Which rows a scan visits; every field has a default (the whole table).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ScanOptions {
    /// First row (inclusive); null (or empty) = the table's start.
    #[uniffi(default = None)]
    pub start: Option<Vec<u8>>,
    /// Row to stop before (exclusive); null (or empty) = the table's end.
    #[uniffi(default = None)]
    pub stop: Option<Vec<u8>>,
    /// Only rows whose key starts with this prefix.
    #[uniffi(default = None)]
    pub prefix: Option<Vec<u8>>,
    /// At most this many rows.
    #[uniffi(default = None)]
    pub limit: Option<i64>,
    /// From high keys to low.
    #[uniffi(default = false)]
    pub reversed: bool,
    /// Only these families (empty = all).
    #[uniffi(default = [])]
    pub families: Vec<Vec<u8>>,
}

impl ScanOptions {
    fn to_sdk(&self) -> Result<kabase_sdk::ScanOptions> {
        let limit = match self.limit {
            Some(l) => Some(u64::try_from(l).map_err(|_| kabase_sdk::Error::invalid(format!("scan limit must not be negative, got {l}")))?),
            None => None,
        };
        Ok(kabase_sdk::ScanOptions {
            start: self.start.clone().unwrap_or_default(),
            stop: self.stop.clone().unwrap_or_default(),
            prefix: self.prefix.clone(),
            limit,
            reversed: self.reversed,
            families: self.families.clone(),
        })
    }
}

/// A table handle.
#[derive(uniffi::Object)]
pub struct Table {
    inner: kabase_sdk::Table,
}

impl Table {
    pub(crate) fn new(inner: kabase_sdk::Table) -> Table {
        Table { inner }
    }
}

#[uniffi::export]
impl Table {
    /// The table's full name (`namespace:table`).
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// Write columns of one row atomically (timestamp = now).
    pub fn put(&self, row: Vec<u8>, columns: Vec<ColumnValue>) -> Result<()> {
        let cols: Vec<kabase_sdk::ColumnValue> = columns.into_iter().map(Into::into).collect();
        Ok(self.inner.put(&row, &cols)?)
    }

    /// Write many rows in one call; each row is atomic; the first failure names its row.
    pub fn put_many(&self, rows: Vec<RowMutation>) -> Result<()> {
        let rows: Vec<(Vec<u8>, Vec<kabase_sdk::ColumnValue>)> =
            rows.into_iter().map(|m| (m.row, m.columns.into_iter().map(Into::into).collect())).collect();
        Ok(self.inner.put_many(&rows)?)
    }

    /// The newest version of every column of a row; null when the row has no cell.
    pub fn get(&self, row: Vec<u8>) -> Result<Option<Row>> {
        Ok(self.inner.get(&row)?.map(row_out))
    }

    /// [`Table::get`] of many rows in one call (one crossing and one call into the core's
    /// multi-get): a row or null per key, in key order. Each row is read consistently on its
    /// own; an empty key fails the whole call with `INVALID_ARGUMENT`.
    pub fn get_many(&self, rows: Vec<Vec<u8>>) -> Result<Vec<Option<Row>>> {
        Ok(self.inner.get_many(&rows)?.into_iter().map(|r| r.map(row_out)).collect())
    }

    /// The newest version of the given columns (`family:qualifier`, or `family` for a whole
    /// family); null when none has a cell.
    pub fn get_columns(&self, row: Vec<u8>, columns: Vec<Vec<u8>>) -> Result<Option<Row>> {
        Ok(self.inner.get_columns(&row, &columns)?.map(row_out))
    }

    /// Delete a whole row.
    pub fn delete(&self, row: Vec<u8>) -> Result<()> {
        Ok(self.inner.delete(&row)?)
    }

    /// Delete every version of the given columns (`family:qualifier`) of a row.
    pub fn delete_columns(&self, row: Vec<u8>, columns: Vec<Vec<u8>>) -> Result<()> {
        Ok(self.inner.delete_columns(&row, &columns)?)
    }

    /// Every matching row in one batch (set `limit`, or use [`Table::scanner`], for big tables).
    pub fn scan(&self, options: ScanOptions) -> Result<Vec<Row>> {
        Ok(rows_out(self.inner.scan(&options.to_sdk()?)?))
    }

    /// A stream of matching rows, read a batch at a time.
    pub fn scanner(&self, options: ScanOptions) -> Result<Arc<RowStream>> {
        Ok(Arc::new(RowStream { inner: self.inner.scanner(&options.to_sdk()?)? }))
    }
}

/// An open scan, read in batches; done when a batch comes back empty.
#[derive(uniffi::Object)]
pub struct RowStream {
    inner: kabase_sdk::RowStream,
}

#[uniffi::export]
impl RowStream {
    /// Up to `max_rows` next rows; empty when the scan is done.
    pub fn next_batch(&self, max_rows: i32) -> Result<Vec<Row>> {
        Ok(rows_out(self.inner.next_batch(non_negative(max_rows, "max_rows")? as usize)?))
    }

    /// Release the scan; later calls fail with `CLOSED`.
    pub fn shutdown(&self) {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    fn cv(c: &str, v: &str) -> ColumnValue {
        parse_column_value(c.into(), v.as_bytes().to_vec()).unwrap()
    }

    fn table() -> (Arc<Engine>, Arc<Table>) {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("t".into(), vec!["cf".into(), "x".into()]).unwrap();
        let t = e.table("t".into()).unwrap();
        (e, t)
    }

    #[test]
    fn put_get_delete_round_trip() {
        let (_e, t) = table();
        assert_eq!(t.name(), "t");
        t.put(b"r1".to_vec(), vec![cv("cf:b", "2"), cv("cf:a", "1"), cv("x:", "e")]).unwrap();
        let r = t.get(b"r1".to_vec()).unwrap().unwrap();
        let cols: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = r.cells.iter().map(|c| (c.family.clone(), c.qualifier.clone(), c.value.clone())).collect();
        assert_eq!(cols, vec![(b"cf".to_vec(), b"a".to_vec(), b"1".to_vec()), (b"cf".to_vec(), b"b".to_vec(), b"2".to_vec()), (b"x".to_vec(), vec![], b"e".to_vec())]);
        let only = t.get_columns(b"r1".to_vec(), vec![b"cf:b".to_vec()]).unwrap().unwrap();
        assert_eq!(only.cells.len(), 1);
        t.delete_columns(b"r1".to_vec(), vec![b"cf:a".to_vec()]).unwrap();
        assert_eq!(t.get(b"r1".to_vec()).unwrap().unwrap().cells.len(), 2);
        t.delete(b"r1".to_vec()).unwrap();
        assert!(t.get(b"r1".to_vec()).unwrap().is_none());
    }

    #[test]
    fn put_many_scan_and_scanner() {
        let (_e, t) = table();
        let rows = (0..10).map(|i| RowMutation { row: format!("r{i}").into_bytes(), columns: vec![cv("cf:q", &i.to_string())] }).collect();
        t.put_many(rows).unwrap();
        assert_eq!(t.scan(ScanOptions::default()).unwrap().len(), 10);
        let got = t.get_many(vec![b"r2".to_vec(), b"nope".to_vec(), b"r0".to_vec()]).unwrap();
        assert_eq!(got.iter().map(|r| r.as_ref().map(|r| r.row.clone())).collect::<Vec<_>>(), vec![Some(b"r2".to_vec()), None, Some(b"r0".to_vec())]);
        assert_eq!(got[0].as_ref().unwrap().cells[0].value, b"2".to_vec());
        assert!(t.get_many(vec![]).unwrap().is_empty());
        assert!(matches!(t.get_many(vec![b"r1".to_vec(), vec![]]), Err(crate::KabaseError::Failed { code: 103, .. })));
        let some = t.scan(ScanOptions { start: Some(b"r3".to_vec()), stop: Some(b"r6".to_vec()), ..Default::default() }).unwrap();
        assert_eq!(some.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"r3".to_vec(), b"r4".to_vec(), b"r5".to_vec()]);
        let rev = t.scan(ScanOptions { reversed: true, limit: Some(2), ..Default::default() }).unwrap();
        assert_eq!(rev.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"r9".to_vec(), b"r8".to_vec()]);
        let s = t.scanner(ScanOptions::default()).unwrap();
        let mut n = 0;
        loop {
            let b = s.next_batch(4).unwrap();
            if b.is_empty() {
                break;
            }
            assert!(b.len() <= 4);
            n += b.len();
        }
        assert_eq!(n, 10);
        s.shutdown();
        assert!(matches!(s.next_batch(1), Err(crate::KabaseError::Failed { code: 104, .. })));
    }

    #[test]
    fn bad_input_is_an_error() {
        let (_e, t) = table();
        assert!(matches!(parse_column_value("nocolon".into(), vec![]), Err(crate::KabaseError::Failed { code: 103, .. })));
        assert!(matches!(t.put(vec![], vec![cv("cf:a", "1")]), Err(crate::KabaseError::Failed { code: 103, .. })));
        let bad_family = ColumnValue { family: b"nope".to_vec(), qualifier: b"a".to_vec(), value: b"1".to_vec() };
        assert!(matches!(t.put(b"r".to_vec(), vec![bad_family]), Err(crate::KabaseError::Failed { code: 207, .. })));
        assert!(matches!(t.scan(ScanOptions { limit: Some(-1), ..Default::default() }), Err(crate::KabaseError::Failed { code: 103, .. })));
        assert!(matches!(t.scanner(ScanOptions::default()).unwrap().next_batch(-1), Err(crate::KabaseError::Failed { code: 103, .. })));
    }
}
