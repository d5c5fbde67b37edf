//! The streaming scanner: reads `caching` rows at a time, each chunk through one fjall snapshot
//! (so every row returned is a complete row that existed at some point; the scan as a whole is
//! "read committed", like HBase's), merging the family keyspaces row by row.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use fjall::{Readable, Slice};

use crate::error::Result;
use crate::filter::Filter;
use crate::table::codec;
use crate::table::handle::{plan, process_row, ReadPlan, Table};
use crate::table::ops::{RowResult, Scan};
use crate::table::read::Entries;
use crate::table::Shape;

/// An iterator over the rows of a scan. Rows are fetched lazily in chunks of
/// [`Scan::caching`] rows; with [`Scan::batch`] a row may come as several results.
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
    pub(crate) buffer: VecDeque<RowResult>,
    rows_returned: u64,
    done: bool,
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

struct Cursor {
    iter: Box<dyn Iterator<Item = fjall::Guard>>,
    head: Option<(Slice, Slice, usize)>,
}

impl Cursor {
    fn advance(&mut self) -> Result<()> {
        self.head = match self.iter.next() {
            Some(g) => {
                let (k, v) = g.into_inner()?;
                let n = codec::row_part_len(&k)?;
                Some((k, v, n))
            }
            None => None,
        };
        Ok(())
    }
    fn row(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|(k, _, n)| &k[..*n])
    }
}

impl Scanner {
    pub(crate) fn new(table: Table, shape: Arc<Shape>, scan: Scan) -> Result<Scanner> {
        let plan = plan(&shape, &scan.columns, scan.time_range, scan.max_versions)?;
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
        Ok(Scanner {
            table,
            shape,
            plan,
            reversed: scan.reversed,
            lower,
            upper,
            limit: scan.limit,
            batch: scan.batch as usize,
            caching: scan.caching.max(1) as usize,
            filter: scan.filter,
            buffer: VecDeque::new(),
            rows_returned: 0,
            done: false,
        })
    }

    fn empty_range(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Bound::Included(l), Bound::Excluded(u)) => l >= u,
            _ => false,
        }
    }

    /// Read the next chunk of rows into the buffer.
    fn fill(&mut self) -> Result<()> {
        // Fail once the engine closes or the table is disabled or deleted.
        let _ = self.table.shape()?;
        if self.empty_range() {
            self.done = true;
            return Ok(());
        }
        let snap = self.table.engine().inner.tables.db_snapshot();
        let range = (self.lower.clone(), self.upper.clone());
        let mut cursors = Vec::with_capacity(self.plan.fams.len());
        for (fi, _) in &self.plan.fams {
            let it = snap.range(&self.shape.families[*fi].ks, range.clone());
            let iter: Box<dyn Iterator<Item = fjall::Guard>> = if self.reversed { Box::new(it.rev()) } else { Box::new(it) };
            let mut c = Cursor { iter, head: None };
            c.advance()?;
            cursors.push(c);
        }
        let now = crate::now_ms();
        let mut examined = 0usize;
        let has_filter_row = self.filter.as_ref().is_some_and(|f| f.has_filter_row());
        loop {
            if examined >= self.caching {
                return Ok(());
            }
            if self.limit.is_some_and(|l| self.rows_returned >= l) {
                self.done = true;
                return Ok(());
            }
            // The next row: smallest (forward) or largest (reversed) head row.
            let mut cur: Option<Vec<u8>> = None;
            for c in &cursors {
                if let Some(r) = c.row() {
                    let better = match &cur {
                        None => true,
                        Some(x) => if self.reversed { r > x.as_slice() } else { r < x.as_slice() },
                    };
                    if better {
                        cur = Some(r.to_vec());
                    }
                }
            }
            let Some(row_enc) = cur else {
                self.done = true;
                return Ok(());
            };
            let mut entries: Vec<Entries> = Vec::with_capacity(cursors.len());
            for c in cursors.iter_mut() {
                let mut e = Vec::new();
                while c.row() == Some(row_enc.as_slice()) {
                    if let Some((k, v, _)) = c.head.take() {
                        e.push((k, v));
                    }
                    c.advance()?;
                }
                if self.reversed {
                    e.reverse();
                }
                entries.push(e);
            }
            examined += 1;
            // Move the bounds past this row so the next chunk resumes after it.
            if self.reversed {
                self.upper = Bound::Excluded(row_enc.clone());
            } else {
                let mut after = row_enc[..row_enc.len() - 2].to_vec();
                after.extend_from_slice(&[0x00, 0x02]);
                self.lower = Bound::Included(after);
            }
            let row = codec::decode_row(&row_enc);
            let (cells, end) = process_row(&self.shape, &self.plan, &row, &entries, now, self.filter.as_deref_mut())?;
            if let Some(cells) = cells {
                self.rows_returned += 1;
                if self.batch > 0 && !has_filter_row && cells.len() > self.batch {
                    let mut it = cells.into_iter().peekable();
                    while it.peek().is_some() {
                        let part: Vec<_> = it.by_ref().take(self.batch).collect();
                        self.buffer.push_back(RowResult { row: row.clone(), cells: part });
                    }
                } else {
                    self.buffer.push_back(RowResult { row, cells });
                }
            }
            if end {
                self.done = true;
                return Ok(());
            }
        }
    }
}

impl Iterator for Scanner {
    type Item = Result<RowResult>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.buffer.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}
