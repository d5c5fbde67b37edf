//! Filters: HBase's server-side row and cell filters, their comparators, and a parser for HBase's
//! filter language (`"PrefixFilter('row') AND ValueFilter(=, 'binary:x')"`).
//!
//! The scan loop drives a [`Filter`] exactly as HBase's `RegionScanner` drives
//! `org.apache.hadoop.hbase.filter.Filter`: for each row, `reset`, then `filter_row_key` (true
//! drops the row), then `filter_cell` for every cell that passed the column, time-range and
//! delete checks (before version counting), `transform_cell` on included cells, then
//! `filter_row_cells` on the row's kept cells, then `filter_row` (true drops the row). Before each
//! row and after each, `filter_all_remaining` (true ends the scan).

use crate::cell::Cell;

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
}
