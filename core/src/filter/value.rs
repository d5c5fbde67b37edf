//! Value filters: `ValueFilter` on every cell, and `SingleColumnValueFilter` (plus its Exclude
//! variant), which keeps or drops whole rows by one column's value. Semantics follow the HBase
//! classes of the same names (apache/hbase `hbase-client/.../filter/`).

use super::parse::{call, compare_call, quote as quoted};
use super::{Comparator, CompareOperator, Filter, ReturnCode};
use crate::cell::Cell;

/// Keeps cells whose value satisfies `value OP comparand` (`ValueFilter(=, 'binary:abc')`).
#[derive(Debug, Clone)]
pub struct ValueFilter {
    op: CompareOperator,
    comparator: Comparator,
}

impl ValueFilter {
    /// A filter keeping cells where `value op comparator` holds.
    pub fn new(op: CompareOperator, comparator: impl Into<Comparator>) -> Self {
        ValueFilter { op, comparator: comparator.into() }
    }
}

impl Filter for ValueFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if !self.op.holds(self.comparator.compare_to(&cell.value)) {
            return ReturnCode::Skip;
        }
        ReturnCode::Include
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        compare_call("ValueFilter", self.op, &self.comparator)
    }
}

/// Keeps whole rows by the value of one column:
/// `SingleColumnValueFilter('cf', 'q', >=, 'binary:5', filterIfMissing, latestVersionOnly)`.
///
/// HBase's rules: the row is kept when the column's value satisfies `value OP comparand`
/// (with `latest_version_only`, the default, only the newest version is tested; otherwise any
/// version that matches keeps the row). A row without the column is kept unless
/// `filter_if_missing` is set (default false). Every other cell of a kept row passes.
#[derive(Debug, Clone)]
pub struct SingleColumnValueFilter {
    family: Vec<u8>,
    qualifier: Vec<u8>,
    op: CompareOperator,
    comparator: Comparator,
    filter_if_missing: bool,
    latest_version_only: bool,
    found_column: bool,
    matched_column: bool,
}

impl SingleColumnValueFilter {
    /// A filter testing `family:qualifier op comparator`; `filter_if_missing` false and
    /// `latest_version_only` true, as HBase's defaults.
    pub fn new(
        family: impl Into<Vec<u8>>,
        qualifier: impl Into<Vec<u8>>,
        op: CompareOperator,
        comparator: impl Into<Comparator>,
    ) -> Self {
        SingleColumnValueFilter {
            family: family.into(),
            qualifier: qualifier.into(),
            op,
            comparator: comparator.into(),
            filter_if_missing: false,
            latest_version_only: true,
            found_column: false,
            matched_column: false,
        }
    }

    /// Drop rows that lack the column (HBase's `setFilterIfMissing`).
    pub fn with_filter_if_missing(mut self, filter_if_missing: bool) -> Self {
        self.filter_if_missing = filter_if_missing;
        self
    }

    /// Test only the newest version (true, the default) or every version
    /// (HBase's `setLatestVersionOnly`).
    pub fn with_latest_version_only(mut self, latest_version_only: bool) -> Self {
        self.latest_version_only = latest_version_only;
        self
    }

    /// The tested family.
    pub fn family(&self) -> &[u8] {
        &self.family
    }

    /// The tested qualifier.
    pub fn qualifier(&self) -> &[u8] {
        &self.qualifier
    }

    fn language(&self, name: &str) -> Option<Vec<u8>> {
        let b = |v: bool| if v { b"true".to_vec() } else { b"false".to_vec() };
        Some(call(
            name,
            &[
                quoted(&self.family),
                quoted(&self.qualifier),
                self.op.symbol()?.as_bytes().to_vec(),
                quoted(&self.comparator.language_form()?),
                b(self.filter_if_missing),
                b(self.latest_version_only),
            ],
        ))
    }
}

impl Filter for SingleColumnValueFilter {
    fn reset(&mut self) {
        self.found_column = false;
        self.matched_column = false;
    }
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if self.matched_column {
            return ReturnCode::Include;
        } else if self.latest_version_only && self.found_column {
            // The newest version was seen and did not match: the rest of this family goes.
            return ReturnCode::NextRow;
        }
        if cell.family != self.family || cell.qualifier != self.qualifier {
            return ReturnCode::Include;
        }
        self.found_column = true;
        if !self.op.holds(self.comparator.compare_to(&cell.value)) {
            return if self.latest_version_only { ReturnCode::NextRow } else { ReturnCode::Include };
        }
        self.matched_column = true;
        ReturnCode::Include
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        if self.found_column {
            !self.matched_column
        } else {
            self.filter_if_missing
        }
    }
    fn is_family_essential(&self, family: &[u8]) -> bool {
        !self.filter_if_missing || family == self.family.as_slice()
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        self.language("SingleColumnValueFilter")
    }
}

/// [`SingleColumnValueFilter`] that also removes the tested column from the rows it keeps
/// (`SingleColumnValueExcludeFilter('cf', 'q', =, 'binary:x')`).
#[derive(Debug, Clone)]
pub struct SingleColumnValueExcludeFilter {
    inner: SingleColumnValueFilter,
}

impl SingleColumnValueExcludeFilter {
    /// See [`SingleColumnValueFilter::new`].
    pub fn new(
        family: impl Into<Vec<u8>>,
        qualifier: impl Into<Vec<u8>>,
        op: CompareOperator,
        comparator: impl Into<Comparator>,
    ) -> Self {
        SingleColumnValueExcludeFilter { inner: SingleColumnValueFilter::new(family, qualifier, op, comparator) }
    }

    /// See [`SingleColumnValueFilter::with_filter_if_missing`].
    pub fn with_filter_if_missing(mut self, v: bool) -> Self {
        self.inner = self.inner.with_filter_if_missing(v);
        self
    }

    /// See [`SingleColumnValueFilter::with_latest_version_only`].
    pub fn with_latest_version_only(mut self, v: bool) -> Self {
        self.inner = self.inner.with_latest_version_only(v);
        self
    }
}

impl Filter for SingleColumnValueExcludeFilter {
    fn reset(&mut self) {
        self.inner.reset();
    }
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        self.inner.filter_cell(cell)
    }
    fn filter_row_cells(&mut self, cells: &mut Vec<Cell>) {
        let (f, q) = (&self.inner.family, &self.inner.qualifier);
        cells.retain(|c| c.family != *f || c.qualifier != *q);
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        self.inner.filter_row()
    }
    fn is_family_essential(&self, family: &[u8]) -> bool {
        self.inner.is_family_essential(family)
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        self.inner.language("SingleColumnValueExcludeFilter")
    }
}

display_as_filter_string!(ValueFilter, SingleColumnValueFilter, SingleColumnValueExcludeFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{apply_row, BinaryComparator, RegexStringComparator, SubstringComparator};
    use CompareOperator as Op;

    fn c(f: &str, q: &str, ts: i64, v: &str) -> Cell {
        Cell::put("r", f, q, ts, v)
    }

    fn run(f: &mut dyn Filter, cells: Vec<Cell>) -> Option<Vec<String>> {
        apply_row(f, b"r", cells).map(|cs| {
            cs.iter()
                .map(|c| format!("{}:{}@{}={}", String::from_utf8_lossy(&c.family), String::from_utf8_lossy(&c.qualifier), c.timestamp, String::from_utf8_lossy(&c.value)))
                .collect()
        })
    }

    #[test]
    fn value_filter_compares_values() {
        let row = vec![c("f", "a", 1, "abc"), c("f", "b", 1, "abd"), c("f", "c", 1, "xyz")];
        let mut f = ValueFilter::new(Op::Equal, BinaryComparator::new("abc"));
        assert_eq!(run(&mut f, row.clone()).unwrap(), ["f:a@1=abc"]);
        let mut f = ValueFilter::new(Op::Greater, BinaryComparator::new("abc"));
        assert_eq!(run(&mut f, row.clone()).unwrap(), ["f:b@1=abd", "f:c@1=xyz"]);
        let mut f = ValueFilter::new(Op::Equal, SubstringComparator::new("Y"));
        assert_eq!(run(&mut f, row.clone()).unwrap(), ["f:c@1=xyz"]);
        let mut f = ValueFilter::new(Op::NotEqual, RegexStringComparator::new("^ab").unwrap());
        assert_eq!(run(&mut f, row.clone()).unwrap(), ["f:c@1=xyz"]);
        let mut f = ValueFilter::new(Op::Less, BinaryComparator::new("a"));
        assert_eq!(run(&mut f, row), None, "no cell left drops the row");
    }

    fn row5() -> Vec<Cell> {
        vec![c("f", "a", 1, "x"), c("f", "age", 3, "7"), c("f", "age", 2, "4"), c("f", "z", 1, "y"), c("g", "a", 1, "w")]
    }

    #[test]
    fn scvf_keeps_or_drops_the_whole_row() {
        let mut f = SingleColumnValueFilter::new("f", "age", Op::GreaterOrEqual, BinaryComparator::new("5"));
        assert_eq!(run(&mut f, row5()).unwrap().len(), 5, "newest 7 >= 5 keeps every cell");
        let mut f = SingleColumnValueFilter::new("f", "age", Op::Less, BinaryComparator::new("5"));
        assert_eq!(run(&mut f, row5()), None, "newest 7 < 5 fails; the old 4 is not considered");
        let mut f = SingleColumnValueFilter::new("f", "age", Op::Less, BinaryComparator::new("5")).with_latest_version_only(false);
        assert_eq!(
            run(&mut f, row5()).unwrap(),
            ["f:a@1=x", "f:age@3=7", "f:age@2=4", "f:z@1=y", "g:a@1=w"],
            "any version matching keeps the row"
        );
    }

    #[test]
    fn scvf_missing_column() {
        let row = vec![c("f", "a", 1, "x")];
        let mut f = SingleColumnValueFilter::new("f", "age", Op::Equal, BinaryComparator::new("1"));
        assert_eq!(run(&mut f, row.clone()).unwrap().len(), 1, "kept by default");
        let mut f = f.with_filter_if_missing(true);
        assert_eq!(run(&mut f, row), None);
        assert!(f.is_family_essential(b"f"));
        assert!(!f.is_family_essential(b"g"));
    }

    #[test]
    fn scvf_state_resets_between_rows() {
        let mut f = SingleColumnValueFilter::new("f", "q", Op::Equal, BinaryComparator::new("yes"));
        assert!(run(&mut f, vec![c("f", "q", 1, "yes")]).is_some());
        assert!(run(&mut f, vec![c("f", "q", 1, "no")]).is_none());
        assert!(run(&mut f, vec![c("f", "q", 1, "yes")]).is_some());
    }

    #[test]
    fn scvef_removes_the_tested_column() {
        let mut f = SingleColumnValueExcludeFilter::new("f", "age", Op::Equal, BinaryComparator::new("7"));
        assert_eq!(run(&mut f, row5()).unwrap(), ["f:a@1=x", "f:z@1=y", "g:a@1=w"]);
        let mut f = SingleColumnValueExcludeFilter::new("f", "age", Op::Equal, BinaryComparator::new("4"));
        assert_eq!(run(&mut f, row5()), None);
        let mut f = SingleColumnValueExcludeFilter::new("f", "age", Op::Equal, BinaryComparator::new("4")).with_latest_version_only(false);
        assert_eq!(run(&mut f, row5()).unwrap().len(), 3);
        let mut f = SingleColumnValueExcludeFilter::new("f", "nope", Op::Equal, BinaryComparator::new("4")).with_filter_if_missing(true);
        assert_eq!(run(&mut f, row5()), None);
    }
}
