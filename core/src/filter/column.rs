//! Column filters: by family, by qualifier (compare, prefix, prefixes, range) and by column
//! count or page. Semantics follow the HBase classes of the same names (apache/hbase
//! `hbase-client/.../filter/`), including their return codes: `NextRow` from a filter ends the
//! current *family* of the row (HBase's store scanner scope), not the whole row.

use std::collections::BTreeSet;

use super::driver::first_on_row_col;
use super::parse::{call, compare_call, quote as quoted};
use super::{Comparator, CompareOperator, Filter, ReturnCode};
use crate::cell::Cell;
use crate::error::{Error, Result};

/// Keeps cells whose family satisfies `family OP comparand`; a family that fails is skipped for
/// the row (`FamilyFilter(=, 'binary:cf')`).
#[derive(Debug, Clone)]
pub struct FamilyFilter {
    op: CompareOperator,
    comparator: Comparator,
}

impl FamilyFilter {
    /// A filter keeping families where `family op comparator` holds.
    pub fn new(op: CompareOperator, comparator: impl Into<Comparator>) -> Self {
        FamilyFilter { op, comparator: comparator.into() }
    }
}

impl Filter for FamilyFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if !cell.family.is_empty() && !self.op.holds(self.comparator.compare_to(&cell.family)) {
            return ReturnCode::NextRow;
        }
        ReturnCode::Include
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        compare_call("FamilyFilter", self.op, &self.comparator)
    }
}

/// Keeps cells whose qualifier satisfies `qualifier OP comparand` (`QualifierFilter(>=, 'binary:b')`).
#[derive(Debug, Clone)]
pub struct QualifierFilter {
    op: CompareOperator,
    comparator: Comparator,
}

impl QualifierFilter {
    /// A filter keeping cells where `qualifier op comparator` holds.
    pub fn new(op: CompareOperator, comparator: impl Into<Comparator>) -> Self {
        QualifierFilter { op, comparator: comparator.into() }
    }
}

impl Filter for QualifierFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if !self.op.holds(self.comparator.compare_to(&cell.qualifier)) {
            return ReturnCode::Skip;
        }
        ReturnCode::Include
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        compare_call("QualifierFilter", self.op, &self.comparator)
    }
}

/// Keeps cells whose qualifier starts with a prefix (`ColumnPrefixFilter('ab')`), seeking to the
/// prefix and leaving the family once past it.
#[derive(Debug, Clone)]
pub struct ColumnPrefixFilter {
    prefix: Vec<u8>,
}

impl ColumnPrefixFilter {
    /// A filter for this qualifier prefix.
    pub fn new(prefix: impl Into<Vec<u8>>) -> Self {
        ColumnPrefixFilter { prefix: prefix.into() }
    }
}

impl Filter for ColumnPrefixFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        let q = &cell.qualifier;
        let n = q.len().min(self.prefix.len());
        match q[..n].cmp(&self.prefix[..n]) {
            std::cmp::Ordering::Less => ReturnCode::SeekNextUsingHint,
            std::cmp::Ordering::Greater => ReturnCode::NextRow,
            // A shorter qualifier equal to the start of the prefix sorts before it.
            std::cmp::Ordering::Equal if q.len() < self.prefix.len() => ReturnCode::SeekNextUsingHint,
            std::cmp::Ordering::Equal => ReturnCode::Include,
        }
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        Some(first_on_row_col(current, &self.prefix))
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("ColumnPrefixFilter", &[quoted(&self.prefix)]))
    }
}

/// Keeps cells whose qualifier starts with any of several prefixes
/// (`MultipleColumnPrefixFilter('a', 'c')`).
///
/// Follows HBase's algorithm exactly: it checks only the largest prefix not above the
/// qualifier, so with overlapping prefixes (`'a'` and `'ab'`) a qualifier such as `ac` is not
/// kept. No prefix keeps every cell.
#[derive(Debug, Clone)]
pub struct MultipleColumnPrefixFilter {
    prefixes: BTreeSet<Vec<u8>>,
    hint: Option<Vec<u8>>,
}

impl MultipleColumnPrefixFilter {
    /// A filter for these prefixes; duplicates are an error, as in HBase.
    pub fn new<I, P>(prefixes: I) -> Result<Self>
    where
        I: IntoIterator<Item = P>,
        P: Into<Vec<u8>>,
    {
        let mut set = BTreeSet::new();
        for p in prefixes {
            let p = p.into();
            if !set.insert(p.clone()) {
                return Err(Error::invalid(format!(
                    "MultipleColumnPrefixFilter prefixes must be distinct, {:?} is repeated",
                    String::from_utf8_lossy(&p)
                )));
            }
        }
        Ok(MultipleColumnPrefixFilter { prefixes: set, hint: None })
    }
}

impl Filter for MultipleColumnPrefixFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if self.prefixes.is_empty() {
            return ReturnCode::Include;
        }
        let q = &cell.qualifier;
        let mut at_or_below = self.prefixes.range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(q.as_slice())));
        match at_or_below.next_back() {
            Some(largest) => {
                if q.starts_with(largest) {
                    return ReturnCode::Include;
                }
                let largest = largest.clone();
                let mut above = self.prefixes.range::<[u8], _>((std::ops::Bound::Excluded(largest.as_slice()), std::ops::Bound::Unbounded));
                match above.next() {
                    None => ReturnCode::NextRow,
                    Some(next) => {
                        self.hint = Some(next.clone());
                        ReturnCode::SeekNextUsingHint
                    }
                }
            }
            None => {
                self.hint = self.prefixes.iter().next().cloned();
                ReturnCode::SeekNextUsingHint
            }
        }
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        self.hint.as_ref().map(|h| first_on_row_col(current, h))
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        let args: Vec<Vec<u8>> = self.prefixes.iter().map(|p| quoted(p)).collect();
        Some(call("MultipleColumnPrefixFilter", &args))
    }
}

/// Keeps cells whose qualifier lies in a range, each bound optional and inclusive or not
/// (`ColumnRangeFilter('a', true, 'c', false)`; an empty bound in the language means none).
#[derive(Debug, Clone)]
pub struct ColumnRangeFilter {
    min: Option<Vec<u8>>,
    min_inclusive: bool,
    max: Option<Vec<u8>>,
    max_inclusive: bool,
}

impl ColumnRangeFilter {
    /// A filter for qualifiers between `min` and `max` (`None`: unbounded).
    pub fn new(min: Option<Vec<u8>>, min_inclusive: bool, max: Option<Vec<u8>>, max_inclusive: bool) -> Self {
        ColumnRangeFilter { min, min_inclusive, max, max_inclusive }
    }
}

impl Filter for ColumnRangeFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        use std::cmp::Ordering::*;
        let cmp_min = match &self.min {
            Some(min) => cell.qualifier.as_slice().cmp(min.as_slice()),
            None => Greater,
        };
        if cmp_min == Less {
            return ReturnCode::SeekNextUsingHint;
        }
        if !self.min_inclusive && cmp_min == Equal {
            return ReturnCode::NextCol;
        }
        let Some(max) = &self.max else {
            return ReturnCode::Include;
        };
        let cmp_max = cell.qualifier.as_slice().cmp(max.as_slice());
        if (self.max_inclusive && cmp_max != Greater) || (!self.max_inclusive && cmp_max == Less) {
            return ReturnCode::Include;
        }
        ReturnCode::NextRow
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        self.min.as_ref().map(|m| first_on_row_col(current, m))
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        let b = |v: bool| if v { b"true".to_vec() } else { b"false".to_vec() };
        Some(call(
            "ColumnRangeFilter",
            &[
                quoted(self.min.as_deref().unwrap_or_default()),
                b(self.min_inclusive),
                quoted(self.max.as_deref().unwrap_or_default()),
                b(self.max_inclusive),
            ],
        ))
    }
}

/// Keeps the first `limit` columns of a row (newest version each), meant for gets
/// (`ColumnCountGetFilter(3)`). As in HBase, once a row has more columns the scan ends.
#[derive(Debug, Clone)]
pub struct ColumnCountGetFilter {
    limit: u32,
    count: u64,
}

impl ColumnCountGetFilter {
    /// A filter keeping `limit` columns.
    pub fn new(limit: u32) -> Self {
        ColumnCountGetFilter { limit, count: 0 }
    }
}

impl Filter for ColumnCountGetFilter {
    fn reset(&mut self) {
        self.count = 0;
    }
    fn filter_all_remaining(&mut self) -> bool {
        self.count > u64::from(self.limit)
    }
    fn filter_row_key(&mut self, _row: &[u8]) -> bool {
        self.filter_all_remaining()
    }
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        self.count += 1;
        if self.filter_all_remaining() {
            ReturnCode::NextCol
        } else {
            ReturnCode::IncludeAndNextCol
        }
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("ColumnCountGetFilter", &[self.limit.to_string().into_bytes()]))
    }
}

/// Pages through a row's columns: `limit` columns after skipping `offset` columns
/// (`ColumnPaginationFilter(10, 20)`), or after seeking to a qualifier
/// ([`ColumnPaginationFilter::with_column_offset`]; in the language as
/// `ColumnPaginationFilter(10, 'q')`, a kabase extension). Counts run across families.
#[derive(Debug, Clone)]
pub struct ColumnPaginationFilter {
    limit: u32,
    offset: u32,
    column_offset: Option<Vec<u8>>,
    count: u64,
}

impl ColumnPaginationFilter {
    /// `limit` columns after the first `offset` columns of each row.
    pub fn new(limit: u32, offset: u32) -> Self {
        ColumnPaginationFilter { limit, offset, column_offset: None, count: 0 }
    }

    /// `limit` columns starting at the first qualifier `>= column_offset`.
    pub fn with_column_offset(limit: u32, column_offset: impl Into<Vec<u8>>) -> Self {
        ColumnPaginationFilter { limit, offset: 0, column_offset: Some(column_offset.into()), count: 0 }
    }
}

impl Filter for ColumnPaginationFilter {
    fn reset(&mut self) {
        self.count = 0;
    }
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if let Some(start) = &self.column_offset {
            if self.count >= u64::from(self.limit) {
                return ReturnCode::NextRow;
            }
            // Only the first column of the page is compared with the offset.
            if self.count == 0 && cell.qualifier.as_slice() < start.as_slice() {
                return ReturnCode::SeekNextUsingHint;
            }
            self.count += 1;
            ReturnCode::IncludeAndNextCol
        } else {
            if self.count >= u64::from(self.offset) + u64::from(self.limit) {
                return ReturnCode::NextRow;
            }
            let code = if self.count < u64::from(self.offset) { ReturnCode::NextCol } else { ReturnCode::IncludeAndNextCol };
            self.count += 1;
            code
        }
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        self.column_offset.as_ref().map(|q| first_on_row_col(current, q))
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        let second = match &self.column_offset {
            Some(q) => quoted(q),
            None => self.offset.to_string().into_bytes(),
        };
        Some(call("ColumnPaginationFilter", &[self.limit.to_string().into_bytes(), second]))
    }
}

display_as_filter_string!(
    FamilyFilter,
    QualifierFilter,
    ColumnPrefixFilter,
    MultipleColumnPrefixFilter,
    ColumnRangeFilter,
    ColumnCountGetFilter,
    ColumnPaginationFilter,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{apply_row, scan_rows, BinaryComparator, BinaryPrefixComparator, SubstringComparator};

    /// Cells of row "r": (family, qualifier, ts), value "v".
    fn cells(spec: &[(&str, &str, i64)]) -> Vec<Cell> {
        spec.iter().map(|(f, q, ts)| Cell::put("r", *f, *q, *ts, "v")).collect()
    }

    fn cols(f: &mut dyn Filter, spec: &[(&str, &str, i64)]) -> Vec<String> {
        apply_row(f, b"r", cells(spec))
            .unwrap_or_default()
            .iter()
            .map(|c| format!("{}:{}@{}", String::from_utf8_lossy(&c.family), String::from_utf8_lossy(&c.qualifier), c.timestamp))
            .collect()
    }

    const ROW: &[(&str, &str, i64)] = &[
        ("a", "a", 2),
        ("a", "ab", 2),
        ("a", "ab", 1),
        ("a", "b", 1),
        ("a", "c", 1),
        ("b", "a", 1),
        ("b", "abc", 1),
        ("b", "d", 1),
    ];

    #[test]
    fn family_filter_skips_whole_families() {
        let mut f = FamilyFilter::new(CompareOperator::Equal, BinaryComparator::new("b"));
        assert_eq!(cols(&mut f, ROW), ["b:a@1", "b:abc@1", "b:d@1"]);
        let mut f = FamilyFilter::new(CompareOperator::Less, BinaryComparator::new("b"));
        assert_eq!(cols(&mut f, ROW).len(), 5);
    }

    #[test]
    fn qualifier_filter_compares_qualifiers() {
        let mut f = QualifierFilter::new(CompareOperator::GreaterOrEqual, BinaryComparator::new("b"));
        assert_eq!(cols(&mut f, ROW), ["a:b@1", "a:c@1", "b:d@1"]);
        let mut f = QualifierFilter::new(CompareOperator::Equal, BinaryPrefixComparator::new("ab"));
        assert_eq!(cols(&mut f, ROW), ["a:ab@2", "a:ab@1", "b:abc@1"]);
        let mut f = QualifierFilter::new(CompareOperator::NotEqual, SubstringComparator::new("B"));
        assert_eq!(cols(&mut f, ROW), ["a:a@2", "a:c@1", "b:a@1", "b:d@1"]);
    }

    #[test]
    fn column_prefix_per_family() {
        let mut f = ColumnPrefixFilter::new("ab");
        assert_eq!(cols(&mut f, ROW), ["a:ab@2", "a:ab@1", "b:abc@1"]);
        let mut f = ColumnPrefixFilter::new("");
        assert_eq!(cols(&mut f, ROW).len(), ROW.len());
        // A qualifier shorter than the prefix but equal to its start sorts before it.
        let mut f = ColumnPrefixFilter::new("abc");
        assert_eq!(cols(&mut f, ROW), ["b:abc@1"]);
    }

    #[test]
    fn multiple_column_prefix() {
        let mut f = MultipleColumnPrefixFilter::new(["c", "a"]).unwrap();
        assert_eq!(cols(&mut f, ROW), ["a:a@2", "a:ab@2", "a:ab@1", "a:c@1", "b:a@1", "b:abc@1"]);
        let mut f = MultipleColumnPrefixFilter::new(["b", "d"]).unwrap();
        assert_eq!(cols(&mut f, ROW), ["a:b@1", "b:d@1"]);
        // HBase's quirk with overlapping prefixes: "ac" is checked against "ab" only.
        let mut f = MultipleColumnPrefixFilter::new(["a", "ab"]).unwrap();
        assert_eq!(cols(&mut f, &[("f", "a", 1), ("f", "ab", 1), ("f", "ac", 1)]), ["f:a@1", "f:ab@1"]);
        let mut f = MultipleColumnPrefixFilter::new(Vec::<Vec<u8>>::new()).unwrap();
        assert_eq!(cols(&mut f, ROW).len(), ROW.len());
        assert!(MultipleColumnPrefixFilter::new(["a", "a"]).is_err());
    }

    #[test]
    fn column_range_bounds() {
        let v = |s: &str| Some(s.as_bytes().to_vec());
        let mut f = ColumnRangeFilter::new(v("ab"), true, v("c"), false);
        assert_eq!(cols(&mut f, ROW), ["a:ab@2", "a:ab@1", "a:b@1", "b:abc@1"]);
        let mut f = ColumnRangeFilter::new(v("ab"), false, v("c"), true);
        assert_eq!(cols(&mut f, ROW), ["a:b@1", "a:c@1", "b:abc@1"]);
        let mut f = ColumnRangeFilter::new(None, true, v("a"), true);
        assert_eq!(cols(&mut f, ROW), ["a:a@2", "b:a@1"]);
        let mut f = ColumnRangeFilter::new(v("c"), true, None, true);
        assert_eq!(cols(&mut f, ROW), ["a:c@1", "b:d@1"]);
    }

    #[test]
    fn column_count_get_keeps_first_columns_newest_version() {
        let mut f = ColumnCountGetFilter::new(2);
        assert_eq!(cols(&mut f, ROW), ["a:a@2", "a:ab@2"]);
        // With exactly limit+1 columns the scan goes on; with more it ends (HBase's DONE_SCAN).
        let mut f = ColumnCountGetFilter::new(1);
        let rows = |n: usize| (0..3).map(move |i| {
            let key = format!("r{i}");
            let cs = (0..n).map(|q| Cell::put(key.clone(), "f", format!("q{q}"), 1, "v")).collect();
            (key.into_bytes(), cs)
        });
        assert_eq!(scan_rows(&mut f, rows(2)).count(), 3);
        let mut f = ColumnCountGetFilter::new(1);
        let out: Vec<_> = scan_rows(&mut f, rows(3)).collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.len(), 1);
    }

    #[test]
    fn column_pagination_by_offset_and_by_column() {
        let mut f = ColumnPaginationFilter::new(2, 1);
        assert_eq!(cols(&mut f, ROW), ["a:ab@2", "a:b@1"]);
        let mut f = ColumnPaginationFilter::new(3, 4);
        assert_eq!(cols(&mut f, ROW), ["b:a@1", "b:abc@1", "b:d@1"]);
        let mut f = ColumnPaginationFilter::with_column_offset(2, "b");
        assert_eq!(cols(&mut f, ROW), ["a:b@1", "a:c@1"]);
        let mut f = ColumnPaginationFilter::with_column_offset(3, "b");
        assert_eq!(cols(&mut f, ROW), ["a:b@1", "a:c@1", "b:a@1"], "later families are not offset");
        let mut f = ColumnPaginationFilter::new(0, 0);
        assert!(cols(&mut f, ROW).is_empty());
    }
}
