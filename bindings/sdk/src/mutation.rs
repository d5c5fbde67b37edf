//! Row mutations through the facade: [`RowMutation`] (puts then deletes of one row, as
//! HBase's `RowMutations`), applied many at a time with [`Table::mutate`], and
//! [`MutationBuffer`], the buffer behind happybase's `Batch`: puts and deletes are merged per
//! row as they are added and sent in one core batch.

use std::collections::HashMap;

use kabase::table::{Delete, Durability, Mutation, Put};
use kabase::{Error, Result};
use parking_lot::Mutex;

use crate::Table;

/// Every mutation of one row, applied as: a put of `puts`, then a delete of `deletes` (or of the
/// whole row with `delete_row`).
///
/// Columns of `puts` are `family:qualifier` (the qualifier may be empty: `family:`). Columns of
/// `deletes` are `family` (the whole family), `family:` (the empty qualifier) or
/// `family:qualifier` (every version of that column).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowMutation {
    /// Row key.
    pub row: Vec<u8>,
    /// `(column, value)` to put, in order.
    pub puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Columns or families to delete.
    pub deletes: Vec<Vec<u8>>,
    /// Delete the whole row (`deletes` is then ignored).
    pub delete_row: bool,
    /// Timestamp of the puts and deletes (`None` = the time they are applied).
    pub timestamp: Option<i64>,
    /// Write through the WAL (`false` skips it: faster, lost on a crash before a flush).
    pub wal: bool,
}

/// Split a column to write, `family:qualifier`, at the first `:`. The family keeps the
/// column's own buffer (truncated), so only the qualifier is a new allocation.
fn column_for_write(mut col: Vec<u8>) -> Result<(Vec<u8>, Vec<u8>)> {
    match col.iter().position(|&b| b == b':') {
        Some(i) => {
            let qualifier = col[i + 1..].to_vec();
            col.truncate(i);
            Ok((col, qualifier))
        }
        None => Err(Error::invalid(format!(
            "column {:?} must be 'family:qualifier' (a put needs a qualifier, which may be empty: 'family:')",
            String::from_utf8_lossy(&col)
        ))),
    }
}

impl RowMutation {
    /// The core mutations of this row (a put, a delete, both or none), appended to `out`.
    fn into_core(self, out: &mut Vec<Mutation>) -> Result<()> {
        let RowMutation { mut row, puts, deletes, delete_row, timestamp, wal } = self;
        let durability = if wal { Durability::UseDefault } else { Durability::SkipWal };
        let has_delete = delete_row || !deletes.is_empty();
        if !puts.is_empty() {
            let key = if has_delete { row.clone() } else { std::mem::take(&mut row) };
            let mut p = match timestamp {
                Some(t) => Put::new_at(key, t),
                None => Put::new(key),
            };
            p.cells.reserve_exact(puts.len());
            for (col, value) in puts {
                let (f, q) = column_for_write(col)?;
                p = p.add(f, q, value);
            }
            out.push(Mutation::Put(p.durability(durability)));
        }
        if has_delete {
            let mut d = match timestamp {
                Some(t) => Delete::new_at(row, t),
                None => Delete::new(row),
            };
            if !delete_row {
                for col in deletes {
                    d = match col.iter().position(|&b| b == b':') {
                        None => d.family(col),
                        Some(i) => d.columns(col[..i].to_vec(), col[i + 1..].to_vec()),
                    };
                }
            }
            out.push(Mutation::Delete(d.durability(durability)));
        }
        Ok(())
    }
}

impl Table {
    /// Apply many rows' mutations as one core batch (each row atomic). Every row is applied;
    /// the first failed row's error is returned after (HBase's batch semantics). A malformed
    /// column fails the call before anything is applied.
    pub fn mutate(&self, rows: Vec<RowMutation>) -> Result<()> {
        let mut muts = Vec::with_capacity(rows.len());
        for r in rows {
            r.into_core(&mut muts)?;
        }
        if muts.is_empty() {
            return Ok(());
        }
        for r in self.core().batch(muts)? {
            r?;
        }
        Ok(())
    }
}

/// One row's buffered mutations: puts by column (a later put of a column replaces the value,
/// keeping the column's first position), deletes in order, and the WAL flag (off once any
/// mutation of the row skipped it).
struct RowOps {
    row: Vec<u8>,
    puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Column -> index in `puts`, built once a row has many columns.
    index: Option<HashMap<Vec<u8>, usize>>,
    deletes: Vec<Vec<u8>>,
    wal: bool,
}

/// Columns a row may hold before its puts are indexed by a hash map instead of searched.
const LINEAR_COLUMNS: usize = 16;

impl RowOps {
    /// A row first touched by a put of `cells`: the cells' vector becomes the row's puts when
    /// its columns are distinct (the usual case; `cf:q` given as str and as bytes is not),
    /// else they are merged one by one.
    fn with_puts(row: Vec<u8>, cells: Vec<(Vec<u8>, Vec<u8>)>, wal: bool) -> RowOps {
        let distinct = cells.len() <= 1 || (cells.len() <= LINEAR_COLUMNS && cells.iter().enumerate().all(|(i, (c, _))| cells[..i].iter().all(|(d, _)| d != c)));
        if distinct {
            return RowOps { row, puts: cells, index: None, deletes: Vec::new(), wal };
        }
        let mut r = RowOps { row, puts: Vec::new(), index: None, deletes: Vec::new(), wal };
        for (c, v) in cells {
            r.put(c, v);
        }
        r
    }

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
    /// Row key -> index in `rows`, built only once a row comes that does not sort after every
    /// row before it: while rows come in ascending key order (a bulk load's usual order) they
    /// are distinct without a lookup, and a repeat of the last row is that row.
    by_key: Option<HashMap<Vec<u8>, usize>>,
    count: usize,
}

/// Rows a buffer reserves room for after a send of at least `MIN_KEPT_ROWS` rows.
const KEPT_ROWS: usize = 16_384;
const MIN_KEPT_ROWS: usize = 64;

/// Where a row's mutations go in [`Buffered`].
enum Slot {
    /// An existing row, by index.
    At(usize),
    /// A new row, appended.
    New,
}

impl Buffered {
    /// Where `row`'s mutations go (indexing the rows when `row` breaks their ascending order).
    fn slot(&mut self, row: &[u8]) -> Slot {
        if self.by_key.is_none() {
            let Some(last) = self.rows.last() else { return Slot::New };
            match row.cmp(&last.row) {
                std::cmp::Ordering::Greater => return Slot::New,
                std::cmp::Ordering::Equal => return Slot::At(self.rows.len() - 1),
                std::cmp::Ordering::Less => {
                    // Ascending so far, so every row is distinct: index them all once.
                    self.by_key = Some(self.rows.iter().enumerate().map(|(i, r)| (r.row.clone(), i)).collect());
                }
            }
        }
        match self.by_key.as_ref().and_then(|ix| ix.get(row)) {
            Some(&i) => Slot::At(i),
            None => Slot::New,
        }
    }

    /// Append a new row (`slot` said `New`).
    fn push(&mut self, ops: RowOps) -> &mut RowOps {
        if let Some(ix) = &mut self.by_key {
            ix.insert(ops.row.clone(), self.rows.len());
        }
        self.rows.push(ops);
        let last = self.rows.len() - 1;
        &mut self.rows[last]
    }

    fn entry(&mut self, row: Vec<u8>, wal: bool) -> &mut RowOps {
        match self.slot(&row) {
            Slot::At(i) => {
                if !wal {
                    self.rows[i].wal = false;
                }
                &mut self.rows[i]
            }
            Slot::New => self.push(RowOps { row, puts: Vec::new(), index: None, deletes: Vec::new(), wal }),
        }
    }
}

/// A buffer of puts and deletes merged per row (happybase's `Batch`), sent to a table in one
/// core batch. Thread-safe; rows keep the order in which they were first touched.
pub struct MutationBuffer {
    timestamp: Option<i64>,
    inner: Mutex<Buffered>,
}

impl std::fmt::Debug for MutationBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.inner.lock();
        f.debug_struct("MutationBuffer").field("rows", &b.rows.len()).field("mutations", &b.count).finish()
    }
}

impl MutationBuffer {
    /// An empty buffer whose mutations carry `timestamp` (`None` = the time they are applied).
    pub fn new(timestamp: Option<i64>) -> MutationBuffer {
        MutationBuffer { timestamp, inner: Mutex::new(Buffered::default()) }
    }

    /// Buffer puts of `(column, value)` into `row`; returns the number of buffered mutations.
    /// An empty `cells` still buffers the row.
    pub fn put(&self, row: Vec<u8>, cells: Vec<(Vec<u8>, Vec<u8>)>, wal: bool) -> usize {
        let mut b = self.inner.lock();
        let n = cells.len();
        match b.slot(&row) {
            Slot::New => {
                b.push(RowOps::with_puts(row, cells, wal));
            }
            Slot::At(i) => {
                let e = &mut b.rows[i];
                if !wal {
                    e.wal = false;
                }
                for (c, v) in cells {
                    e.put(c, v);
                }
            }
        }
        b.count += n;
        b.count
    }

    /// Buffer deletes of `columns` (`family`, `family:` or `family:qualifier`) in `row`;
    /// returns the number of buffered mutations.
    pub fn delete(&self, row: Vec<u8>, columns: Vec<Vec<u8>>, wal: bool) -> usize {
        let mut b = self.inner.lock();
        let n = columns.len();
        b.entry(row, wal).deletes.extend(columns);
        b.count += n;
        b.count
    }

    /// Drop everything buffered.
    pub fn clear(&self) {
        *self.inner.lock() = Buffered::default();
    }

    /// The number of buffered mutations (cells put plus columns deleted).
    pub fn len(&self) -> usize {
        self.inner.lock().count
    }

    /// Whether no row is buffered (a put without cells buffers its row).
    pub fn is_empty(&self) -> bool {
        self.inner.lock().rows.is_empty()
    }

    /// Empty the buffer, returning its rows' mutations in order.
    pub fn take(&self) -> Vec<RowMutation> {
        let b = {
            let mut g = self.inner.lock();
            // The next batch is likely the same size: its rows' vector starts there (from
            // `MIN_KEPT_ROWS`, so a one-row batch, a single put, allocates nothing more; up to
            // `KEPT_ROWS`, so an idle buffer after a huge batch holds little).
            let n = g.rows.len();
            let rows = if n >= MIN_KEPT_ROWS { Vec::with_capacity(n.min(KEPT_ROWS)) } else { Vec::new() };
            let next = Buffered { rows, ..Buffered::default() };
            std::mem::replace(&mut *g, next)
        };
        b.rows
            .into_iter()
            .map(|r| RowMutation { row: r.row, puts: r.puts, deletes: r.deletes, delete_row: false, timestamp: self.timestamp, wal: r.wal })
            .collect()
    }

    /// Apply everything buffered to `table` with [`Table::mutate`] and empty the buffer (also
    /// when applying fails).
    pub fn send(&self, table: &Table) -> Result<()> {
        let rows = self.take();
        if rows.is_empty() {
            return Ok(());
        }
        table.mutate(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabase::ErrorCode;

    use crate::table::tests::table;

    fn put(row: &str, cols: &[(&str, &str)]) -> RowMutation {
        RowMutation { row: row.into(), puts: cols.iter().map(|(c, v)| (c.as_bytes().to_vec(), v.as_bytes().to_vec())).collect(), wal: true, ..RowMutation::default() }
    }

    #[test]
    fn mutate_puts_then_deletes() {
        let (_e, t) = table();
        t.mutate(vec![put("r", &[("cf:a", "1"), ("cf:b", "2"), ("meta:", "m")])]).unwrap();
        assert_eq!(t.get(b"r").unwrap().unwrap().cells.len(), 3);
        // Put and delete in one row mutation: the delete of cf:a wins, the family delete of meta too.
        let m = RowMutation { deletes: vec![b"cf:a".to_vec(), b"meta".to_vec()], ..put("r", &[("cf:c", "3")]) };
        t.mutate(vec![m]).unwrap();
        let row = t.get(b"r").unwrap().unwrap();
        let cols: Vec<&[u8]> = row.cells.iter().map(|c| c.qualifier.as_slice()).collect();
        assert_eq!(cols, vec![&b"b"[..], &b"c"[..]]);
        t.mutate(vec![RowMutation { row: b"r".to_vec(), delete_row: true, wal: true, ..RowMutation::default() }]).unwrap();
        assert!(t.get(b"r").unwrap().is_none());
        // Explicit timestamps.
        t.mutate(vec![RowMutation { timestamp: Some(42), ..put("ts", &[("cf:a", "x")]) }]).unwrap();
        assert_eq!(t.get(b"ts").unwrap().unwrap().cells[0].timestamp, 42);
    }

    #[test]
    fn mutate_errors() {
        let (_e, t) = table();
        let err = t.mutate(vec![put("r", &[("nocolon", "1")])]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.message().contains("family:qualifier"), "{}", err.message());
        // A bad family fails its row; the other rows are applied.
        let err = t.mutate(vec![put("ok", &[("cf:a", "1")]), put("bad", &[("nope:a", "1")])]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchColumnFamily);
        assert!(t.get(b"ok").unwrap().is_some());
        t.mutate(Vec::new()).unwrap();
    }

    #[test]
    fn buffer_merges_per_row() {
        let (_e, t) = table();
        let b = MutationBuffer::new(None);
        assert!(b.is_empty());
        assert_eq!(b.put(b"r1".to_vec(), vec![(b"cf:a".to_vec(), b"1".to_vec())], true), 1);
        assert_eq!(b.put(b"r2".to_vec(), Vec::new(), true), 1);
        assert!(!b.is_empty());
        assert_eq!(b.put(b"r1".to_vec(), vec![(b"cf:a".to_vec(), b"2".to_vec()), (b"cf:b".to_vec(), b"3".to_vec())], false), 3);
        assert_eq!(b.delete(b"r1".to_vec(), vec![b"cf:b".to_vec()], true), 4);
        assert_eq!(b.len(), 4);
        let rows = b.take();
        assert!(b.is_empty() && b.len() == 0);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].puts, vec![(b"cf:a".to_vec(), b"2".to_vec()), (b"cf:b".to_vec(), b"3".to_vec())]);
        assert!(!rows[0].wal, "one put without the WAL turns it off for the row");
        assert_eq!(rows[0].deletes, vec![b"cf:b".to_vec()]);
        t.mutate(rows).unwrap();
        let r1 = t.get(b"r1").unwrap().unwrap();
        assert_eq!(r1.cells.len(), 1);
        assert_eq!(r1.value("cf", "a"), Some(&b"2"[..]));
    }

    /// Rows in ascending order (no index), a repeat of the last row, then rows out of order
    /// (the index built over the rows so far) and repeats of early rows: merged per row, in
    /// first-touched order, against a plain model of the buffer.
    #[test]
    fn buffer_merges_rows_in_any_order() {
        let b = MutationBuffer::new(None);
        let order: Vec<u32> = vec![1, 2, 3, 3, 5, 8, 2, 4, 1, 9, 9, 0, 5, 10];
        let mut model: Vec<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>)> = Vec::new();
        for (n, k) in order.iter().enumerate() {
            let row = format!("r{k:02}").into_bytes();
            // Every put writes column `a` (replaced) and a column of its own.
            let cells = vec![(b"cf:a".to_vec(), format!("{n}").into_bytes()), (format!("cf:c{n}").into_bytes(), b"v".to_vec())];
            assert_eq!(b.put(row.clone(), cells.clone(), true), 2 * (n + 1));
            match model.iter_mut().find(|(r, _)| *r == row) {
                Some((_, puts)) => {
                    puts[0].1 = cells[0].1.clone();
                    puts.push(cells[1].clone());
                }
                None => model.push((row, cells)),
            }
        }
        let rows = b.take();
        let got: Vec<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>)> = rows.into_iter().map(|r| (r.row, r.puts)).collect();
        assert_eq!(got, model);
        // Emptied and usable again, from ascending order.
        assert_eq!(b.put(b"r00".to_vec(), Vec::new(), true), 0);
        assert_eq!(b.take().len(), 1);
    }

    /// One put naming a column twice (`cf:a` as str and as bytes arrives so) keeps the last
    /// value at the first position, for a new row as for a buffered one.
    #[test]
    fn buffer_merges_repeated_columns_of_one_put() {
        let b = MutationBuffer::new(None);
        let cells = || vec![(b"cf:a".to_vec(), b"1".to_vec()), (b"cf:b".to_vec(), b"2".to_vec()), (b"cf:a".to_vec(), b"3".to_vec())];
        b.put(b"new".to_vec(), cells(), true);
        b.put(b"old".to_vec(), Vec::new(), true);
        b.put(b"old".to_vec(), cells(), true);
        let rows = b.take();
        let want = vec![(b"cf:a".to_vec(), b"3".to_vec()), (b"cf:b".to_vec(), b"2".to_vec())];
        assert_eq!(rows[0].puts, want);
        assert_eq!(rows[1].puts, want);
        // Many distinct columns in one put of a new row: indexed as the row grows.
        let many: Vec<(Vec<u8>, Vec<u8>)> = (0..40).map(|i| (format!("cf:c{i}").into_bytes(), b"x".to_vec())).collect();
        b.put(b"wide".to_vec(), many.clone(), true);
        b.put(b"wide".to_vec(), vec![(b"cf:c39".to_vec(), b"y".to_vec())], true);
        let rows = b.take();
        assert_eq!(rows[0].puts.len(), 40);
        assert_eq!(rows[0].puts[39], (b"cf:c39".to_vec(), b"y".to_vec()));
    }

    #[test]
    fn buffer_many_columns_and_send() {
        let (_e, t) = table();
        let b = MutationBuffer::new(Some(7));
        for round in 0..2 {
            let cells = (0..40).map(|i| (format!("cf:c{i}").into_bytes(), format!("{round}").into_bytes())).collect();
            b.put(b"wide".to_vec(), cells, true);
        }
        assert_eq!(b.len(), 80);
        b.send(&t).unwrap();
        assert!(b.is_empty());
        let row = t.get(b"wide").unwrap().unwrap();
        assert_eq!(row.cells.len(), 40);
        assert!(row.cells.iter().all(|c| c.value == b"1" && c.timestamp == 7));
        b.put(b"x".to_vec(), vec![(b"bad".to_vec(), b"v".to_vec())], true);
        assert_eq!(b.send(&t).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert!(b.is_empty(), "a failed send still empties the buffer");
        b.put(b"y".to_vec(), vec![(b"cf:a".to_vec(), b"v".to_vec())], true);
        b.clear();
        assert!(b.is_empty());
        b.send(&t).unwrap();
    }
}
