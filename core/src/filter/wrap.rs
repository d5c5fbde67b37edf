//! Wrapping filters: `WhileMatchFilter` (the `WHILE` keyword) ends the scan at the first row or
//! cell its inner filter rejects; `SkipFilter` (`SKIP`) drops a whole row when its inner filter
//! rejects any cell of it. Semantics follow the HBase classes of the same names
//! (apache/hbase `hbase-client/.../filter/`).

use super::{Filter, ReturnCode};
use crate::cell::Cell;

/// Ends the whole scan as soon as the inner filter rejects a row key, a cell (any code but
/// `Include`) or a row (`WHILE RowFilter(<, 'binary:m')`).
#[derive(Debug)]
pub struct WhileMatchFilter {
    inner: Box<dyn Filter>,
    filter_all_remaining: bool,
}

impl WhileMatchFilter {
    /// Wrap `inner`.
    pub fn new(inner: Box<dyn Filter>) -> Self {
        WhileMatchFilter { inner, filter_all_remaining: false }
    }

    /// The wrapped filter.
    pub fn inner(&self) -> &dyn Filter {
        self.inner.as_ref()
    }
}

impl Filter for WhileMatchFilter {
    fn reset(&mut self) {
        self.inner.reset();
    }
    fn filter_all_remaining(&mut self) -> bool {
        self.filter_all_remaining || self.inner.filter_all_remaining()
    }
    fn filter_row_key(&mut self, row: &[u8]) -> bool {
        let v = self.inner.filter_row_key(row);
        self.filter_all_remaining |= v;
        v
    }
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        let rc = self.inner.filter_cell(cell);
        self.filter_all_remaining |= rc != ReturnCode::Include;
        rc
    }
    fn transform_cell(&mut self, cell: Cell) -> Cell {
        self.inner.transform_cell(cell)
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        let v = self.inner.filter_row();
        self.filter_all_remaining |= v;
        v
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        self.inner.next_cell_hint(current)
    }
    fn is_family_essential(&self, family: &[u8]) -> bool {
        self.inner.is_family_essential(family)
    }
    fn set_reversed(&mut self, reversed: bool) {
        self.inner.set_reversed(reversed);
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        let mut out = b"WHILE ".to_vec();
        out.extend(self.inner.filter_string()?);
        Some(out)
    }
}

/// Drops a whole row when the inner filter returns anything but `Include` for any of its cells
/// (`SKIP ValueFilter(!=, 'binary:0')`). As in HBase, the inner filter's row-key test is not
/// consulted.
#[derive(Debug)]
pub struct SkipFilter {
    inner: Box<dyn Filter>,
    filter_row: bool,
}

impl SkipFilter {
    /// Wrap `inner`.
    pub fn new(inner: Box<dyn Filter>) -> Self {
        SkipFilter { inner, filter_row: false }
    }

    /// The wrapped filter.
    pub fn inner(&self) -> &dyn Filter {
        self.inner.as_ref()
    }
}

impl Filter for SkipFilter {
    fn reset(&mut self) {
        self.inner.reset();
        self.filter_row = false;
    }
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        let rc = self.inner.filter_cell(cell);
        self.filter_row |= rc != ReturnCode::Include;
        rc
    }
    fn transform_cell(&mut self, cell: Cell) -> Cell {
        self.inner.transform_cell(cell)
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        self.filter_row
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        self.inner.next_cell_hint(current)
    }
    fn is_family_essential(&self, family: &[u8]) -> bool {
        self.inner.is_family_essential(family)
    }
    fn set_reversed(&mut self, reversed: bool) {
        self.inner.set_reversed(reversed);
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        let mut out = b"SKIP ".to_vec();
        out.extend(self.inner.filter_string()?);
        Some(out)
    }
}

display_as_filter_string!(WhileMatchFilter, SkipFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{scan_rows, BinaryComparator, CompareOperator as Op, RowFilter, ValueFilter};

    fn rows(spec: &[(&str, &[&str])]) -> Vec<(Vec<u8>, Vec<Cell>)> {
        spec.iter()
            .map(|(k, vals)| {
                let cells = vals.iter().enumerate().map(|(i, v)| Cell::put(*k, "f", format!("q{i}"), 1, *v)).collect();
                (k.as_bytes().to_vec(), cells)
            })
            .collect()
    }

    fn keys(f: &mut dyn Filter, input: Vec<(Vec<u8>, Vec<Cell>)>) -> Vec<(String, usize)> {
        scan_rows(f, input).map(|(k, cs)| (String::from_utf8_lossy(&k).into_owned(), cs.len())).collect()
    }

    #[test]
    fn while_match_stops_at_first_rejected_row() {
        let mut f = WhileMatchFilter::new(Box::new(RowFilter::new(Op::Less, BinaryComparator::new("c"))));
        let input = rows(&[("a", &["1"]), ("b", &["1"]), ("c", &["1"]), ("a2", &["1"])]);
        assert_eq!(keys(&mut f, input), [("a".into(), 1), ("b".into(), 1)]);
        assert!(f.filter_all_remaining());
    }

    #[test]
    fn while_match_stops_at_first_rejected_cell() {
        let mut f = WhileMatchFilter::new(Box::new(ValueFilter::new(Op::NotEqual, BinaryComparator::new("0"))));
        let input = rows(&[("a", &["1", "2"]), ("b", &["3", "0", "4"]), ("c", &["5"])]);
        // The scan ends inside row b: the cells before the rejected one are returned.
        assert_eq!(keys(&mut f, input), [("a".into(), 2), ("b".into(), 1)]);
    }

    #[test]
    fn skip_drops_rows_with_any_rejected_cell() {
        let mut f = SkipFilter::new(Box::new(ValueFilter::new(Op::NotEqual, BinaryComparator::new("0"))));
        let input = rows(&[("a", &["1", "2"]), ("b", &["3", "0", "4"]), ("c", &["5"])]);
        assert_eq!(keys(&mut f, input), [("a".into(), 2), ("c".into(), 1)]);
    }
}
