//! Filters: HBase's server-side row and cell filters, their comparators, and a parser for HBase's
//! filter language (`"PrefixFilter('row') AND ValueFilter(=, 'binary:x')"`).
//!
//! The scan loop drives a [`Filter`] exactly as HBase's `RegionScanner` drives
//! `org.apache.hadoop.hbase.filter.Filter`: for each row, `reset`, then `filter_row_key` (true
//! drops the row), then `filter_cell` for every cell that passed the column, time-range and
//! delete checks (before version counting), `transform_cell` on included cells, then
//! `filter_row_cells` on the row's kept cells, then `filter_row` (true drops the row). Before each
//! row and after each, `filter_all_remaining` (true ends the scan).
//!
//! Build filters from the structs here, or from HBase's filter language with [`parse()`]:
//!
//! ```
//! use kabase::filter::{self, Filter};
//! use kabase::Cell;
//!
//! let mut f = filter::parse("PrefixFilter('row') AND ValueFilter(=, 'binary:yes')").unwrap();
//! let cells = vec![Cell::put("row1", "cf", "a", 1, "yes"), Cell::put("row1", "cf", "b", 1, "no")];
//! let kept = filter::apply_row(f.as_mut(), b"row1", cells).unwrap();
//! assert_eq!(kept.len(), 1);
//! assert_eq!(kept[0].qualifier, b"a");
//! assert!(filter::apply_row(f.as_mut(), b"other", vec![Cell::put("other", "cf", "a", 1, "yes")]).is_none());
//! ```
//!
//! For a table scanner: call [`Filter::set_reversed`] for reversed scans; run each row through
//! [`filter_one_row`] (or the same call order, documented in `driver`) and stop when it says
//! so; apply `NextCol`, `NextRow`, `IncludeAndSeekNextRow` and seek hints within the cell's
//! *family* (HBase's per-family store scanners: `NextRow` ends the family, not the row, and the
//! row's other families are still filtered); count versions *after* the filter (HBase 2's rule, `max_versions` there); do not split a
//! row into partial results (batch) when [`Filter::has_filter_row`] is true. A check-and-mutate
//! guarded by a filter passes when [`apply_row`] keeps any cell of the row.
//!
//! The table's gets and scans do all of this over the LSM itself (`table::read`): each family
//! is read by its own cursor, `NextCol`, `NextRow` and hints to a later column seek in the LSM
//! (after a few plain steps), a hint inside the current column is walked to so that the column's
//! delete markers still apply, and the filter's state (ColumnPagination, ColumnCountGet) carries
//! from one family to the next within the row. Reversed scans read each row into memory and
//! apply the same codes there.
//!
//! Modules: [`compare_op`] (the operators), [`comparator`] (binary, binaryprefix, regexstring,
//! substring, long, bit), `row` (row-key and paging filters), `column` (family and qualifier
//! filters), `value` (value filters), `cells` (key-only, first-key, timestamps), `wrap`
//! (WhileMatch and Skip), `list` (FilterList), [`mod@parse`] (the language), `driver` (the
//! reference scan loop: [`apply_row`], [`scan_rows`]).

use crate::cell::Cell;

/// `Display` for filters: their filter-language text, or their `Debug` form when the language
/// cannot express them.
macro_rules! display_as_filter_string {
    ($($t:ty),* $(,)?) => {
        $(impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match $crate::filter::Filter::filter_string(self) {
                    Some(b) => f.write_str(&String::from_utf8_lossy(&b)),
                    None => write!(f, "{:?}", self),
                }
            }
        })*
    };
}

pub mod comparator;
pub mod compare_op;
mod cells;
mod column;
mod driver;
mod list;
pub mod parse;
mod row;
mod value;
mod wrap;

pub use cells::{FirstKeyOnlyFilter, KeyOnlyFilter, TimestampsFilter};
pub use column::{
    ColumnCountGetFilter, ColumnPaginationFilter, ColumnPrefixFilter, ColumnRangeFilter, FamilyFilter,
    MultipleColumnPrefixFilter, QualifierFilter,
};
pub use comparator::{
    BinaryComparator, BinaryPrefixComparator, BitComparator, BitOperator, Comparator, LongComparator,
    RegexStringComparator, SubstringComparator,
};
pub use compare_op::CompareOperator;
pub use driver::{apply_row, apply_row_with_versions, compare_cells, filter_one_row, scan_rows, RowOutcome, ScanRows};
pub use list::{FilterList, FilterListOperator};
pub use parse::{parse, parse_bytes};
pub use row::{InclusiveStopFilter, PageFilter, PrefixFilter, RandomRowFilter, RowFilter};
pub use value::{SingleColumnValueExcludeFilter, SingleColumnValueFilter, ValueFilter};
pub use wrap::{SkipFilter, WhileMatchFilter};

/// What to do with a cell, HBase's `Filter.ReturnCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnCode {
    /// Include the cell.
    Include,
    /// Include the cell and skip to the next column.
    IncludeAndNextCol,
    /// Include the cell and skip to the next row.
    IncludeAndSeekNextRow,
    /// Skip the cell.
    Skip,
    /// Skip to the next column.
    NextCol,
    /// Skip to the next row.
    NextRow,
    /// Skip to the hint given by `next_cell_hint` (treated as `Skip` by scanners that cannot seek).
    SeekNextUsingHint,
}

/// A filter over rows and cells. See the module documentation for the call order.
pub trait Filter: Send + std::fmt::Debug {
    /// Called before each row.
    fn reset(&mut self) {}
    /// True when the whole rest of the scan can be skipped.
    fn filter_all_remaining(&mut self) -> bool {
        false
    }
    /// True drops the row, given its key.
    fn filter_row_key(&mut self, _row: &[u8]) -> bool {
        false
    }
    /// Decide about one cell.
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        ReturnCode::Include
    }
    /// Rewrite an included cell (KeyOnlyFilter strips values).
    fn transform_cell(&mut self, cell: Cell) -> Cell {
        cell
    }
    /// Edit the row's kept cells as a whole.
    fn filter_row_cells(&mut self, _cells: &mut Vec<Cell>) {}
    /// Whether `filter_row` (and `filter_row_cells`) do anything; a scanner must not split a row
    /// into partial results when this is true.
    fn has_filter_row(&self) -> bool {
        false
    }
    /// True drops the row after its cells were seen.
    fn filter_row(&mut self) -> bool {
        false
    }
    /// A cell to seek to for `ReturnCode::SeekNextUsingHint`.
    fn next_cell_hint(&mut self, _current: &Cell) -> Option<Cell> {
        None
    }
    /// Whether cells of `family` must be read for this filter to decide (HBase's
    /// `isFamilyEssential`). Default true.
    fn is_family_essential(&self, _family: &[u8]) -> bool {
        true
    }
    /// Tell the filter the scan runs in reverse row order (HBase's `setReversed`); row-order
    /// filters (Prefix, InclusiveStop) then end the scan on the other side. Lists pass it on.
    fn set_reversed(&mut self, _reversed: bool) {}
    /// The filter in HBase's filter language (bytes, since arguments are bytes), when the language
    /// can express it; [`parse_bytes`] of it builds an equal filter.
    fn filter_string(&self) -> Option<Vec<u8>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_filter_language() {
        assert_eq!(PrefixFilter::new("a'b").to_string(), "PrefixFilter('a''b')");
        assert_eq!(
            ValueFilter::new(CompareOperator::GreaterOrEqual, BinaryComparator::new("5")).to_string(),
            "ValueFilter(>=, 'binary:5')"
        );
        let list = FilterList::or(vec![Box::new(KeyOnlyFilter::new(true)), Box::new(SkipFilter::new(Box::new(PageFilter::new(3).unwrap())))]);
        assert_eq!(list.to_string(), "(KeyOnlyFilter(true) OR SKIP PageFilter(3))");
        // Not expressible in the language: Debug form instead.
        let long = ValueFilter::new(CompareOperator::Equal, LongComparator::new(7));
        assert!(long.filter_string().is_none());
        assert!(long.to_string().starts_with("ValueFilter {"));
        let noop = RowFilter::new(CompareOperator::NoOp, BinaryComparator::new("x"));
        assert!(noop.filter_string().is_none());
    }

    #[test]
    fn boxed_filters_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let f = parse("PrefixFilter('a') AND WHILE ValueFilter(=, 'regexstring:x')").unwrap();
        assert_send(&f);
    }
}
