//! The reference scan loop: how a scanner drives a [`Filter`] over one row and over a run of
//! rows, following HBase's `RegionScannerImpl.nextInternal`, `StoreScanner.next` and
//! `UserScanQueryMatcher.mergeFilterResponse` (apache/hbase `hbase-server/.../regionserver/`).
//!
//! Per row: `reset`; stop if `filter_all_remaining`; drop the row if `filter_row_key`; then for
//! each cell (in HBase order: family, qualifier ascending, timestamp descending) stop the scan if
//! `filter_all_remaining`, else act on `filter_cell`'s code; `transform_cell` on kept cells; then
//! `filter_row_cells` and `filter_row` (the latter only for a non-empty row); an empty row is
//! dropped; `reset`, and the scan ends if `filter_all_remaining`.
//!
//! Return codes act within the cell's *family*, as HBase's per-family store scanners do:
//! `NextCol` skips the rest of the column, `NextRow` the rest of the family in this row,
//! `SeekNextUsingHint` the family's cells before `next_cell_hint` (or acts as `Skip` without a
//! usable hint). With a version limit, included cells are counted per column after the filter,
//! as HBase 2 does (`versionsAfterFilter`).

use std::cmp::Ordering;

use super::{Filter, ReturnCode};
use crate::cell::{Cell, CellKind};

/// HBase's cell order: row, family, qualifier ascending; timestamp descending; then type code
/// descending (markers before puts at the same timestamp).
pub fn compare_cells(a: &Cell, b: &Cell) -> Ordering {
    compare_cells_reversed(a, b, false)
}

/// [`compare_cells`] with rows in descending order when `reversed` (cells within a row keep
/// their order, as in a reversed scan).
pub(crate) fn compare_cells_reversed(a: &Cell, b: &Cell, reversed: bool) -> Ordering {
    let rows = a.row.cmp(&b.row);
    let rows = if reversed { rows.reverse() } else { rows };
    rows.then_with(|| a.family.cmp(&b.family))
        .then_with(|| a.qualifier.cmp(&b.qualifier))
        .then_with(|| b.timestamp.cmp(&a.timestamp))
        .then_with(|| b.kind.code().cmp(&a.kind.code()))
}

/// The first possible position of column `qualifier` in `cell`'s row and family (HBase's
/// `createFirstOnRowCol`): newest timestamp and the highest type code, so it sorts before every
/// real cell of that column.
pub(crate) fn first_on_row_col(cell: &Cell, qualifier: &[u8]) -> Cell {
    Cell {
        row: cell.row.clone(),
        family: cell.family.clone(),
        qualifier: qualifier.to_vec(),
        timestamp: i64::MAX,
        kind: CellKind::DeleteFamily,
        value: Vec::new(),
    }
}

/// What [`filter_one_row`] decided for a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowOutcome {
    /// The row's kept (and transformed) cells, or `None` when the row is dropped.
    pub cells: Option<Vec<Cell>>,
    /// True when the scan must end after this row.
    pub stop_scan: bool,
}

/// Run `filter` over one row. `cells` are the row's visible put cells in HBase order (delete
/// markers are ignored); `max_versions` caps the kept versions per column after the filter
/// (`usize::MAX`: no cap). This is the loop a table scanner runs per row.
pub fn filter_one_row(filter: &mut dyn Filter, row: &[u8], cells: Vec<Cell>, max_versions: usize) -> RowOutcome {
    if cells.iter().all(|c| c.kind.is_delete()) {
        // A row with no visible cell does not exist for the scan: the filter never sees it.
        return RowOutcome { cells: None, stop_scan: filter.filter_all_remaining() };
    }
    filter.reset();
    if filter.filter_all_remaining() {
        return RowOutcome { cells: None, stop_scan: true };
    }
    if filter.filter_row_key(row) {
        filter.reset();
        let stop_scan = filter.filter_all_remaining();
        return RowOutcome { cells: None, stop_scan };
    }

    let mut kept: Vec<Cell> = Vec::new();
    let mut done_scan = false;
    // Skip state, all scoped to one family as HBase's store scanners are.
    let mut skip_family: Option<Vec<u8>> = None;
    let mut skip_column: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut seek: Option<Cell> = None;
    // Versions kept so far for the current column.
    let mut version_col: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut versions = 0usize;

    for cell in cells {
        if cell.kind.is_delete() {
            continue;
        }
        if let Some(f) = &skip_family {
            if *f == cell.family {
                continue;
            }
            skip_family = None;
        }
        if let Some((f, q)) = &skip_column {
            if *f == cell.family && *q == cell.qualifier {
                continue;
            }
            skip_column = None;
        }
        if let Some(h) = &seek {
            if h.family == cell.family && compare_cells(&cell, h) == Ordering::Less {
                continue;
            }
            seek = None;
        }
        if filter.filter_all_remaining() {
            // HBase's DONE_SCAN: the rest of the row is not read and the scan ends.
            done_scan = true;
            break;
        }
        let rc = filter.filter_cell(&cell);
        let include = match rc {
            ReturnCode::Include => true,
            ReturnCode::IncludeAndNextCol => {
                skip_column = Some((cell.family.clone(), cell.qualifier.clone()));
                true
            }
            ReturnCode::IncludeAndSeekNextRow => {
                skip_family = Some(cell.family.clone());
                true
            }
            ReturnCode::Skip => false,
            ReturnCode::NextCol => {
                skip_column = Some((cell.family.clone(), cell.qualifier.clone()));
                false
            }
            ReturnCode::NextRow => {
                skip_family = Some(cell.family.clone());
                false
            }
            ReturnCode::SeekNextUsingHint => {
                if let Some(h) = filter.next_cell_hint(&cell) {
                    // Only a hint ahead of the cell makes progress; otherwise act as Skip.
                    if compare_cells(&h, &cell) == Ordering::Greater {
                        if h.row != cell.row || h.family != cell.family {
                            // Past this family in this row.
                            skip_family = Some(cell.family.clone());
                        } else {
                            seek = Some(h);
                        }
                    }
                }
                false
            }
        };
        if !include {
            continue;
        }
        let same_col = version_col.as_ref().is_some_and(|(f, q)| *f == cell.family && *q == cell.qualifier);
        if !same_col {
            version_col = Some((cell.family.clone(), cell.qualifier.clone()));
            versions = 0;
        }
        versions += 1;
        if versions > max_versions {
            skip_column = Some((cell.family.clone(), cell.qualifier.clone()));
            continue;
        }
        kept.push(filter.transform_cell(cell));
    }

    if filter.has_filter_row() {
        filter.filter_row_cells(&mut kept);
        if !kept.is_empty() && filter.filter_row() {
            kept.clear();
        }
    } else if !kept.is_empty() && filter.filter_row() {
        kept.clear();
    }
    filter.reset();
    let stop_scan = done_scan || filter.filter_all_remaining();
    RowOutcome { cells: if kept.is_empty() { None } else { Some(kept) }, stop_scan }
}

/// Run `filter` over one row with no version cap: the kept cells, or `None` when the row is
/// dropped. See [`filter_one_row`].
pub fn apply_row(filter: &mut dyn Filter, row: &[u8], cells: Vec<Cell>) -> Option<Vec<Cell>> {
    filter_one_row(filter, row, cells, usize::MAX).cells
}

/// [`apply_row`] keeping at most `max_versions` versions per column after the filter.
pub fn apply_row_with_versions(filter: &mut dyn Filter, row: &[u8], cells: Vec<Cell>, max_versions: usize) -> Option<Vec<Cell>> {
    filter_one_row(filter, row, cells, max_versions).cells
}

/// Run `filter` over rows `(key, cells)` in scan order, yielding the kept rows and ending (without
/// pulling further rows) once the filter says the scan is over.
pub fn scan_rows<'f, I>(filter: &'f mut dyn Filter, rows: I) -> ScanRows<'f, I::IntoIter>
where
    I: IntoIterator<Item = (Vec<u8>, Vec<Cell>)>,
{
    ScanRows { filter, rows: rows.into_iter(), done: false }
}

/// The iterator of [`scan_rows`].
pub struct ScanRows<'f, I> {
    filter: &'f mut dyn Filter,
    rows: I,
    done: bool,
}

impl<I> Iterator for ScanRows<'_, I>
where
    I: Iterator<Item = (Vec<u8>, Vec<Cell>)>,
{
    type Item = (Vec<u8>, Vec<Cell>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (key, cells) = self.rows.next()?;
            let out = filter_one_row(self.filter, &key, cells, usize::MAX);
            self.done = out.stop_scan;
            if let Some(cells) = out.cells {
                return Some((key, cells));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{FirstKeyOnlyFilter, PageFilter, ValueFilter, BinaryComparator, CompareOperator};

    /// A filter that answers from a script, to test how the driver acts on each code.
    #[derive(Debug)]
    struct Scripted {
        codes: Vec<ReturnCode>,
        seen: Vec<String>,
        hint: Option<Vec<u8>>,
    }

    impl Filter for Scripted {
        fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
            self.seen.push(format!("{}:{}@{}", String::from_utf8_lossy(&cell.family), String::from_utf8_lossy(&cell.qualifier), cell.timestamp));
            if self.codes.is_empty() {
                ReturnCode::Include
            } else {
                self.codes.remove(0)
            }
        }
        fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
            self.hint.as_ref().map(|q| first_on_row_col(current, q))
        }
    }

    fn row() -> Vec<Cell> {
        vec![
            Cell::put("r", "f", "a", 3, "1"),
            Cell::put("r", "f", "a", 2, "2"),
            Cell::put("r", "f", "b", 1, "3"),
            Cell::put("r", "f", "c", 1, "4"),
            Cell::put("r", "g", "a", 1, "5"),
        ]
    }

    fn run(codes: &[ReturnCode], hint: Option<&str>) -> (Vec<String>, usize) {
        let mut f = Scripted { codes: codes.to_vec(), seen: vec![], hint: hint.map(|h| h.as_bytes().to_vec()) };
        let kept = apply_row(&mut f, b"r", row()).map_or(0, |c| c.len());
        (f.seen, kept)
    }

    #[test]
    fn next_col_skips_the_column() {
        let (seen, kept) = run(&[ReturnCode::NextCol], None);
        assert_eq!(seen, ["f:a@3", "f:b@1", "f:c@1", "g:a@1"]);
        assert_eq!(kept, 3);
        let (seen, kept) = run(&[ReturnCode::IncludeAndNextCol], None);
        assert_eq!(seen, ["f:a@3", "f:b@1", "f:c@1", "g:a@1"]);
        assert_eq!(kept, 4);
    }

    #[test]
    fn next_row_skips_only_the_family() {
        let (seen, kept) = run(&[ReturnCode::NextRow], None);
        assert_eq!(seen, ["f:a@3", "g:a@1"]);
        assert_eq!(kept, 1);
        let (seen, kept) = run(&[ReturnCode::IncludeAndSeekNextRow], None);
        assert_eq!(seen, ["f:a@3", "g:a@1"]);
        assert_eq!(kept, 2);
    }

    #[test]
    fn seek_uses_the_hint_within_the_family() {
        let (seen, kept) = run(&[ReturnCode::SeekNextUsingHint], Some("c"));
        assert_eq!(seen, ["f:a@3", "f:c@1", "g:a@1"]);
        assert_eq!(kept, 2);
        // A hint behind the cell cannot move backwards: it acts as Skip.
        let (seen, _) = run(&[ReturnCode::Include, ReturnCode::Include, ReturnCode::SeekNextUsingHint], Some("a"));
        assert_eq!(seen.len(), 5);
        // No hint at all: Skip.
        let (seen, kept) = run(&[ReturnCode::SeekNextUsingHint], None);
        assert_eq!((seen.len(), kept), (5, 4));
    }

    #[test]
    fn delete_markers_are_not_shown_to_filters() {
        let mut f = Scripted { codes: vec![], seen: vec![], hint: None };
        let mut cells = row();
        cells.insert(0, Cell { kind: CellKind::DeleteColumn, ..Cell::put("r", "f", "a", 9, "") });
        assert_eq!(apply_row(&mut f, b"r", cells).unwrap().len(), 5);
        assert_eq!(f.seen.len(), 5);
    }

    #[test]
    fn versions_are_counted_after_the_filter() {
        // The filter drops the newest version; the cap of 1 then keeps the next one.
        let mut f = ValueFilter::new(CompareOperator::NotEqual, BinaryComparator::new("1"));
        let out = apply_row_with_versions(&mut f, b"r", row(), 1).unwrap();
        let got: Vec<_> = out.iter().map(|c| c.value.clone()).collect();
        assert_eq!(got, [b"2".to_vec(), b"3".to_vec(), b"4".to_vec(), b"5".to_vec()]);
        let mut none = FirstKeyOnlyFilter::new();
        assert_eq!(apply_row_with_versions(&mut none, b"r", row(), 1).unwrap().len(), 1);
    }

    #[test]
    fn rows_without_visible_cells_are_not_shown_to_filters() {
        // WHILE RowFilter(< "m"): the empty row "z" must not end the scan, as HBase never sees it.
        let mut f = crate::filter::parse("WHILE RowFilter(<, 'binary:m')").unwrap();
        let marker = Cell { kind: CellKind::DeleteFamily, ..Cell::put("z", "f", "", 5, "") };
        let rows = vec![
            (b"a".to_vec(), vec![Cell::put("a", "f", "q", 1, "v")]),
            (b"z".to_vec(), vec![marker]),
            (b"b".to_vec(), vec![Cell::put("b", "f", "q", 1, "v")]),
            (b"n".to_vec(), vec![Cell::put("n", "f", "q", 1, "v")]),
            (b"c".to_vec(), vec![Cell::put("c", "f", "q", 1, "v")]),
        ];
        let keys: Vec<_> = scan_rows(f.as_mut(), rows).map(|(k, _)| k).collect();
        assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn scan_rows_stops_pulling_rows() {
        let mut pulled = 0;
        let rows = (0..100).map(|i| {
            pulled += 1;
            let k = format!("r{i:03}");
            (k.clone().into_bytes(), vec![Cell::put(k, "f", "q", 1, "v")])
        });
        let mut f = PageFilter::new(3).unwrap();
        assert_eq!(scan_rows(&mut f, rows).count(), 3);
        assert_eq!(pulled, 3);
    }

    #[test]
    fn cell_order_is_hbase_order() {
        let mut cells = row();
        cells.reverse();
        cells.push(Cell { kind: CellKind::Delete, ..Cell::put("r", "f", "a", 2, "") });
        cells.sort_by(compare_cells);
        let order: Vec<_> = cells.iter().map(|c| (c.family.clone(), c.qualifier.clone(), c.timestamp, c.kind)).collect();
        assert_eq!(order[0], (b"f".to_vec(), b"a".to_vec(), 3, CellKind::Put));
        assert_eq!(order[1], (b"f".to_vec(), b"a".to_vec(), 2, CellKind::Delete));
        assert_eq!(order[2], (b"f".to_vec(), b"a".to_vec(), 2, CellKind::Put));
        assert_eq!(order[5].0, b"g".to_vec());
        let hint = first_on_row_col(&cells[0], b"a");
        assert_eq!(compare_cells(&hint, &cells[0]), Ordering::Less);
    }
}
