//! `FilterList`: filters combined with AND (`MUST_PASS_ALL`) or OR (`MUST_PASS_ONE`).
//!
//! The return-code merging follows HBase's `FilterListWithAND` ("maximal step": the list moves
//! as far as its most eager member; a member's non-include answer stops the evaluation of later
//! members for that cell, HBASE-20565) and `FilterListWithOR` ("minimal step": the list moves as
//! little as its most cautious member, and remembers each member's last answer so a member that
//! asked to skip a column or family is not shown that column or family again, HBASE-17678 and
//! HBASE-18368). Source: apache/hbase `hbase-client/.../filter/FilterListWithAND.java`,
//! `FilterListWithOR.java`, `FilterListBase.java`.

use std::cmp::Ordering;

use super::driver::compare_cells_reversed;
use super::{Filter, ReturnCode};
use crate::cell::Cell;

/// How a [`FilterList`] combines its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterListOperator {
    /// Every member must pass (AND).
    MustPassAll,
    /// At least one member must pass (OR).
    MustPassOne,
}

/// Filters combined with AND or OR; an empty list passes everything.
#[derive(Debug)]
pub struct FilterList {
    op: FilterListOperator,
    filters: Vec<Box<dyn Filter>>,
    reversed: bool,
    /// Per member: whether it included the current cell (its `transform_cell` then applies).
    included: Vec<bool>,
    /// OR only: each member's previous answer and the cell it answered about.
    prev: Vec<Option<(ReturnCode, Cell)>>,
    /// AND only: members that asked to seek for the current cell.
    seek_hint_members: Vec<usize>,
}

fn is_include(rc: ReturnCode) -> bool {
    matches!(rc, ReturnCode::Include | ReturnCode::IncludeAndNextCol | ReturnCode::IncludeAndSeekNextRow)
}

/// HBase's "maximal step" merge for AND (`FilterListWithAND.mergeReturnCode`).
fn merge_and(rc: ReturnCode, local: ReturnCode) -> ReturnCode {
    use ReturnCode::*;
    if rc == SeekNextUsingHint || local == SeekNextUsingHint {
        return SeekNextUsingHint;
    }
    match local {
        Include => rc,
        IncludeAndNextCol => match rc {
            Include | IncludeAndNextCol => IncludeAndNextCol,
            IncludeAndSeekNextRow => IncludeAndSeekNextRow,
            Skip | NextCol => NextCol,
            NextRow | SeekNextUsingHint => NextRow,
        },
        IncludeAndSeekNextRow => match rc {
            Include | IncludeAndNextCol | IncludeAndSeekNextRow => IncludeAndSeekNextRow,
            _ => NextRow,
        },
        Skip => match rc {
            Include | Skip => Skip,
            IncludeAndNextCol | NextCol => NextCol,
            _ => NextRow,
        },
        NextCol => match rc {
            Include | IncludeAndNextCol | Skip | NextCol => NextCol,
            _ => NextRow,
        },
        NextRow | SeekNextUsingHint => NextRow,
    }
}

/// HBase's "minimal step" merge for OR (`FilterListWithOR.mergeReturnCode`).
fn merge_or(rc: ReturnCode, local: ReturnCode) -> ReturnCode {
    use ReturnCode::*;
    match local {
        Include => Include,
        IncludeAndNextCol => match rc {
            Include | Skip | SeekNextUsingHint => Include,
            _ => IncludeAndNextCol,
        },
        IncludeAndSeekNextRow => match rc {
            Include | Skip | SeekNextUsingHint => Include,
            IncludeAndNextCol | NextCol => IncludeAndNextCol,
            IncludeAndSeekNextRow | NextRow => IncludeAndSeekNextRow,
        },
        Skip => match rc {
            Include | IncludeAndNextCol | IncludeAndSeekNextRow => Include,
            _ => Skip,
        },
        NextCol => match rc {
            Include => Include,
            NextCol | NextRow => NextCol,
            IncludeAndNextCol | IncludeAndSeekNextRow => IncludeAndNextCol,
            Skip | SeekNextUsingHint => Skip,
        },
        NextRow => match rc {
            Skip | SeekNextUsingHint => Skip,
            other => other,
        },
        SeekNextUsingHint => match rc {
            Include | IncludeAndNextCol | IncludeAndSeekNextRow => Include,
            Skip | NextCol | NextRow => Skip,
            SeekNextUsingHint => SeekNextUsingHint,
        },
    }
}

impl FilterList {
    /// A list of `filters` combined with `op`.
    pub fn new(op: FilterListOperator, filters: Vec<Box<dyn Filter>>) -> Self {
        let n = filters.len();
        FilterList {
            op,
            filters,
            reversed: false,
            included: vec![op == FilterListOperator::MustPassAll; n],
            prev: vec![None; n],
            seek_hint_members: Vec::new(),
        }
    }

    /// AND of `filters`.
    pub fn and(filters: Vec<Box<dyn Filter>>) -> Self {
        Self::new(FilterListOperator::MustPassAll, filters)
    }

    /// OR of `filters`.
    pub fn or(filters: Vec<Box<dyn Filter>>) -> Self {
        Self::new(FilterListOperator::MustPassOne, filters)
    }

    /// Append a member.
    pub fn add(&mut self, mut filter: Box<dyn Filter>) {
        filter.set_reversed(self.reversed);
        self.filters.push(filter);
        self.included.push(self.op == FilterListOperator::MustPassAll);
        self.prev.push(None);
    }

    /// The operator.
    pub fn operator(&self) -> FilterListOperator {
        self.op
    }

    /// The members.
    pub fn filters(&self) -> &[Box<dyn Filter>] {
        &self.filters
    }

    fn cmp(&self, a: &Cell, b: &Cell) -> Ordering {
        compare_cells_reversed(a, b, self.reversed)
    }

    /// OR: what a member would answer for `current` given its previous answer, without asking it
    /// (`None`: it must be asked).
    fn answer_from_prev(&mut self, i: usize, current: &Cell) -> Option<ReturnCode> {
        let (prev_rc, prev_cell) = self.prev.get(i)?.as_ref()?;
        let (prev_rc, prev_cell) = (*prev_rc, prev_cell.clone());
        match prev_rc {
            ReturnCode::Include | ReturnCode::Skip => None,
            ReturnCode::SeekNextUsingHint => {
                let hint = self.filters.get_mut(i)?.next_cell_hint(&prev_cell)?;
                (self.cmp(current, &hint) == Ordering::Less).then_some(ReturnCode::SeekNextUsingHint)
            }
            ReturnCode::NextCol | ReturnCode::IncludeAndNextCol => {
                (prev_cell.family == current.family && prev_cell.qualifier == current.qualifier).then_some(ReturnCode::NextCol)
            }
            ReturnCode::NextRow | ReturnCode::IncludeAndSeekNextRow => {
                (prev_cell.family == current.family).then_some(ReturnCode::NextRow)
            }
        }
    }

    fn filter_cell_and(&mut self, cell: &Cell) -> ReturnCode {
        let mut rc = ReturnCode::Include;
        self.seek_hint_members.clear();
        for i in 0..self.filters.len() {
            let f = &mut self.filters[i];
            if f.filter_all_remaining() {
                return ReturnCode::NextRow;
            }
            let local = f.filter_cell(cell);
            if local == ReturnCode::SeekNextUsingHint {
                self.seek_hint_members.push(i);
            }
            rc = merge_and(rc, local);
            if !is_include(rc) {
                return rc;
            }
        }
        if !self.seek_hint_members.is_empty() {
            return ReturnCode::SeekNextUsingHint;
        }
        rc
    }

    fn filter_cell_or(&mut self, cell: &Cell) -> ReturnCode {
        let mut rc: Option<ReturnCode> = None;
        for i in 0..self.filters.len() {
            self.included[i] = false;
            if self.filters[i].filter_all_remaining() {
                continue;
            }
            let local = match self.answer_from_prev(i, cell) {
                Some(rc) => rc,
                None => self.filters[i].filter_cell(cell),
            };
            self.prev[i] = match local {
                ReturnCode::Include | ReturnCode::Skip => None,
                other => Some((other, cell.clone())),
            };
            rc = Some(match rc {
                None => local,
                Some(prev) => merge_or(prev, local),
            });
            self.included[i] = is_include(local);
        }
        rc.unwrap_or(ReturnCode::Skip)
    }
}

impl Filter for FilterList {
    fn reset(&mut self) {
        for f in &mut self.filters {
            f.reset();
        }
        if self.op == FilterListOperator::MustPassOne {
            self.included.iter_mut().for_each(|b| *b = false);
            self.prev.iter_mut().for_each(|p| *p = None);
        }
        self.seek_hint_members.clear();
    }

    fn filter_all_remaining(&mut self) -> bool {
        if self.filters.is_empty() {
            return false;
        }
        match self.op {
            FilterListOperator::MustPassAll => self.filters.iter_mut().any(|f| f.filter_all_remaining()),
            FilterListOperator::MustPassOne => self.filters.iter_mut().all(|f| f.filter_all_remaining()),
        }
    }

    fn filter_row_key(&mut self, row: &[u8]) -> bool {
        if self.filters.is_empty() {
            return false;
        }
        // Every member sees the row key (row-tracking members such as PrefixFilter need it).
        match self.op {
            FilterListOperator::MustPassAll => {
                let mut drop = false;
                for f in &mut self.filters {
                    if f.filter_all_remaining() || f.filter_row_key(row) {
                        drop = true;
                    }
                }
                drop
            }
            FilterListOperator::MustPassOne => {
                let mut drop = true;
                for f in &mut self.filters {
                    if !f.filter_all_remaining() && !f.filter_row_key(row) {
                        drop = false;
                    }
                }
                drop
            }
        }
    }

    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if self.filters.is_empty() {
            return ReturnCode::Include;
        }
        match self.op {
            FilterListOperator::MustPassAll => self.filter_cell_and(cell),
            FilterListOperator::MustPassOne => self.filter_cell_or(cell),
        }
    }

    fn transform_cell(&mut self, cell: Cell) -> Cell {
        let mut out = cell;
        for (f, included) in self.filters.iter_mut().zip(&self.included) {
            if *included {
                out = f.transform_cell(out);
            }
        }
        out
    }

    fn filter_row_cells(&mut self, cells: &mut Vec<Cell>) {
        for f in &mut self.filters {
            f.filter_row_cells(cells);
        }
    }

    fn has_filter_row(&self) -> bool {
        self.filters.iter().any(|f| f.has_filter_row())
    }

    fn filter_row(&mut self) -> bool {
        if self.filters.is_empty() {
            return false;
        }
        match self.op {
            // Stops at the first member that drops the row, as HBase does.
            FilterListOperator::MustPassAll => self.filters.iter_mut().any(|f| f.filter_row()),
            FilterListOperator::MustPassOne => self.filters.iter_mut().all(|f| f.filter_row()),
        }
    }

    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        match self.op {
            FilterListOperator::MustPassAll => {
                // The farthest hint of the members that asked to seek.
                let mut best: Option<Cell> = None;
                for i in self.seek_hint_members.clone() {
                    let Some(f) = self.filters.get_mut(i) else { continue };
                    if f.filter_all_remaining() {
                        continue;
                    }
                    if let Some(h) = f.next_cell_hint(current) {
                        if best.as_ref().is_none_or(|b| self.cmp(b, &h) == Ordering::Less) {
                            best = Some(h);
                        }
                    }
                }
                best
            }
            FilterListOperator::MustPassOne => {
                // The nearest hint; any live member without one means no hint.
                let mut best: Option<Cell> = None;
                for i in 0..self.filters.len() {
                    if self.filters[i].filter_all_remaining() {
                        continue;
                    }
                    let h = self.filters[i].next_cell_hint(current)?;
                    if best.as_ref().is_none_or(|b| self.cmp(b, &h) == Ordering::Greater) {
                        best = Some(h);
                    }
                }
                best
            }
        }
    }

    fn is_family_essential(&self, family: &[u8]) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| f.is_family_essential(family))
    }

    fn set_reversed(&mut self, reversed: bool) {
        self.reversed = reversed;
        for f in &mut self.filters {
            f.set_reversed(reversed);
        }
    }

    fn filter_string(&self) -> Option<Vec<u8>> {
        if self.filters.is_empty() {
            return None;
        }
        let sep: &[u8] = match self.op {
            FilterListOperator::MustPassAll => b" AND ",
            FilterListOperator::MustPassOne => b" OR ",
        };
        let mut out = b"(".to_vec();
        for (i, f) in self.filters.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(sep);
            }
            out.extend(f.filter_string()?);
        }
        out.push(b')');
        Some(out)
    }
}

display_as_filter_string!(FilterList);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{
        apply_row, scan_rows, BinaryComparator, ColumnPaginationFilter, ColumnPrefixFilter, ColumnRangeFilter, CompareOperator as Op,
        FirstKeyOnlyFilter, KeyOnlyFilter, PageFilter, PrefixFilter, QualifierFilter, SingleColumnValueFilter, ValueFilter,
    };
    use ReturnCode::*;

    const ALL: [ReturnCode; 7] = [Include, IncludeAndNextCol, IncludeAndSeekNextRow, Skip, NextCol, NextRow, SeekNextUsingHint];

    /// Steps from HBase's ordering: INCLUDE < SKIP < INCLUDE_AND_NEXT_COL < NEXT_COL <
    /// INCLUDE_AND_SEEK_NEXT_ROW < NEXT_ROW < SEEK_NEXT_USING_HINT.
    fn step(rc: ReturnCode) -> u8 {
        match rc {
            Include => 0,
            Skip => 1,
            IncludeAndNextCol => 2,
            NextCol => 3,
            IncludeAndSeekNextRow => 4,
            NextRow => 5,
            SeekNextUsingHint => 6,
        }
    }

    /// How far a code moves, and whether it includes.
    fn shape(rc: ReturnCode) -> (u8, bool) {
        let dist = match rc {
            Include | Skip => 0,
            IncludeAndNextCol | NextCol => 1,
            IncludeAndSeekNextRow | NextRow => 2,
            SeekNextUsingHint => 3,
        };
        (dist, is_include(rc))
    }

    #[test]
    fn and_merge_is_the_maximal_step_and_includes_only_if_both_do() {
        for a in ALL {
            for b in ALL {
                let m = merge_and(a, b);
                if a == SeekNextUsingHint || b == SeekNextUsingHint {
                    assert_eq!(m, SeekNextUsingHint);
                    continue;
                }
                assert_eq!(shape(m).0, shape(a).0.max(shape(b).0), "{a:?} {b:?}");
                assert_eq!(is_include(m), is_include(a) && is_include(b), "{a:?} {b:?}");
                assert!(step(m) >= step(a).max(step(b)) || is_include(m), "{a:?} {b:?} -> {m:?}");
            }
        }
        // Spot checks from HBase's table.
        assert_eq!(merge_and(IncludeAndNextCol, Skip), NextCol);
        assert_eq!(merge_and(IncludeAndSeekNextRow, NextCol), NextRow);
        assert_eq!(merge_and(Include, IncludeAndNextCol), IncludeAndNextCol);
    }

    #[test]
    fn or_merge_is_the_minimal_step_and_includes_if_either_does() {
        for a in ALL {
            for b in ALL {
                let m = merge_or(a, b);
                assert_eq!(is_include(m), is_include(a) || is_include(b), "{a:?} {b:?}");
                if a == SeekNextUsingHint && b == SeekNextUsingHint {
                    assert_eq!(m, SeekNextUsingHint);
                } else {
                    let dist = |rc: ReturnCode| if rc == SeekNextUsingHint { 0 } else { shape(rc).0 };
                    assert_eq!(shape(m).0, dist(a).min(dist(b)), "{a:?} {b:?} -> {m:?}");
                }
                assert_eq!(m, merge_or(b, a), "OR merge is symmetric");
            }
        }
        assert_eq!(merge_or(NextRow, IncludeAndNextCol), IncludeAndNextCol);
        assert_eq!(merge_or(SeekNextUsingHint, NextCol), Skip);
    }

    fn b(f: impl Filter + 'static) -> Box<dyn Filter> {
        Box::new(f)
    }

    fn row() -> Vec<Cell> {
        vec![
            Cell::put("r", "f", "a", 2, "1"),
            Cell::put("r", "f", "a", 1, "0"),
            Cell::put("r", "f", "b", 1, "1"),
            Cell::put("r", "f", "c", 1, "2"),
            Cell::put("r", "g", "a", 1, "1"),
        ]
    }

    fn names(cells: Option<Vec<Cell>>) -> Vec<String> {
        cells
            .unwrap_or_default()
            .iter()
            .map(|c| format!("{}:{}@{}", String::from_utf8_lossy(&c.family), String::from_utf8_lossy(&c.qualifier), c.timestamp))
            .collect()
    }

    #[test]
    fn and_requires_every_member() {
        let mut f = FilterList::and(vec![
            b(QualifierFilter::new(Op::LessOrEqual, BinaryComparator::new("b"))),
            b(ValueFilter::new(Op::Equal, BinaryComparator::new("1"))),
        ]);
        assert_eq!(names(apply_row(&mut f, b"r", row())), ["f:a@2", "f:b@1", "g:a@1"]);
    }

    #[test]
    fn or_requires_any_member() {
        let mut f = FilterList::or(vec![
            b(QualifierFilter::new(Op::Equal, BinaryComparator::new("c"))),
            b(ValueFilter::new(Op::Equal, BinaryComparator::new("0"))),
        ]);
        assert_eq!(names(apply_row(&mut f, b"r", row())), ["f:a@1", "f:c@1"]);
    }

    #[test]
    fn or_does_not_show_a_member_a_column_it_skipped() {
        // ColumnRange answers NEXT_ROW at f:b and is not asked again within family f (f:c is
        // kept by ColumnPrefix alone), but it is asked again for family g. ColumnPrefix's seek
        // hint (f:c) answers for f:a@1 and f:b without asking it.
        let mut f = FilterList::or(vec![
            b(ColumnRangeFilter::new(None, true, Some(b"a".to_vec()), true)),
            b(ColumnPrefixFilter::new("c")),
        ]);
        assert_eq!(names(apply_row(&mut f, b"r", row())), ["f:a@2", "f:a@1", "f:c@1", "g:a@1"]);
    }

    #[test]
    fn and_with_row_members_and_transforms() {
        let mut f = FilterList::and(vec![b(PrefixFilter::new("r")), b(KeyOnlyFilter::new(false)), b(FirstKeyOnlyFilter::new())]);
        let out = apply_row(&mut f, b"r", row()).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].value.is_empty(), "the member's transform applies");
        assert!(apply_row(&mut f, b"s", vec![Cell::put("s", "f", "a", 1, "v")]).is_none());
    }

    #[test]
    fn or_transform_applies_only_for_members_that_included() {
        let mut f = FilterList::or(vec![
            b(FilterList::and(vec![b(QualifierFilter::new(Op::Equal, BinaryComparator::new("a"))), b(KeyOnlyFilter::new(false))])),
            b(ValueFilter::new(Op::Equal, BinaryComparator::new("2"))),
        ]);
        let out = apply_row(&mut f, b"r", row()).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = out.iter().map(|c| (c.qualifier.clone(), c.value.clone())).collect();
        let e = |q: &str, v: &str| (q.as_bytes().to_vec(), v.as_bytes().to_vec());
        assert_eq!(got, [e("a", ""), e("a", ""), e("c", "2"), e("a", "")]);
    }

    #[test]
    fn scvf_or_keeps_rows_matching_either_column() {
        let rows = vec![
            (b"r1".to_vec(), vec![Cell::put("r1", "f", "x", 1, "1"), Cell::put("r1", "f", "y", 1, "0")]),
            (b"r2".to_vec(), vec![Cell::put("r2", "f", "x", 1, "0"), Cell::put("r2", "f", "y", 1, "1")]),
            (b"r3".to_vec(), vec![Cell::put("r3", "f", "x", 1, "0"), Cell::put("r3", "f", "y", 1, "0")]),
        ];
        let mut f = FilterList::or(vec![
            b(SingleColumnValueFilter::new("f", "x", Op::Equal, BinaryComparator::new("1"))),
            b(SingleColumnValueFilter::new("f", "y", Op::Equal, BinaryComparator::new("1"))),
        ]);
        let got: Vec<_> = scan_rows(&mut f, rows.clone()).map(|(k, cs)| (k, cs.len())).collect();
        assert_eq!(got, [(b"r1".to_vec(), 2), (b"r2".to_vec(), 2)]);
        let mut f = FilterList::and(vec![
            b(SingleColumnValueFilter::new("f", "x", Op::Equal, BinaryComparator::new("0"))),
            b(SingleColumnValueFilter::new("f", "y", Op::Equal, BinaryComparator::new("0"))),
        ]);
        let got: Vec<_> = scan_rows(&mut f, rows).map(|(k, _)| k).collect();
        assert_eq!(got, [b"r3".to_vec()]);
    }

    #[test]
    fn page_in_and_list_ends_the_scan() {
        let rows = (0..5).map(|i| {
            let k = format!("r{i}");
            (k.clone().into_bytes(), vec![Cell::put(k, "f", "q", 1, "v")])
        });
        let mut f = FilterList::and(vec![b(PrefixFilter::new("r")), b(PageFilter::new(2).unwrap())]);
        assert_eq!(scan_rows(&mut f, rows).count(), 2);
        assert!(f.filter_all_remaining());
    }

    #[test]
    fn or_remembers_answers_of_stateful_members() {
        // HBASE-17678: ColumnPagination(1, 1) said NEXT_COL for f:a@2; it must not be asked about
        // f:a@1 (it would count it as the second column and include it).
        let mut f = FilterList::or(vec![
            b(ColumnPaginationFilter::new(1, 1)),
            b(ValueFilter::new(Op::Equal, BinaryComparator::new("2"))),
        ]);
        assert_eq!(names(apply_row(&mut f, b"r", row())), ["f:b@1", "f:c@1"]);
    }

    #[test]
    fn and_stops_asking_after_a_rejection() {
        // HBASE-20565: a cell rejected by the first member must not advance the second's count.
        let cells = vec![Cell::put("r", "f", "x", 1, "0"), Cell::put("r", "f", "y", 1, "1")];
        let mut f = FilterList::and(vec![
            b(ValueFilter::new(Op::Equal, BinaryComparator::new("1"))),
            b(ColumnPaginationFilter::new(1, 0)),
        ]);
        assert_eq!(names(apply_row(&mut f, b"r", cells)), ["f:y@1"]);
    }

    #[test]
    fn reversed_reaches_members() {
        let rows = ["c", "b2", "b1", "a"].map(|k| (k.as_bytes().to_vec(), vec![Cell::put(k, "f", "q", 1, "v")]));
        let mut f = FilterList::and(vec![b(PrefixFilter::new("b"))]);
        f.set_reversed(true);
        let mut pulled = 0;
        let got: Vec<_> = scan_rows(&mut f, rows.into_iter().inspect(|_| pulled += 1)).map(|(k, _)| k).collect();
        assert_eq!(got, [b"b2".to_vec(), b"b1".to_vec()]);
        assert_eq!(pulled, 4, "the reversed scan ends at \"a\", below the prefix");
        assert!(f.filter_all_remaining());
        let mut late = FilterList::or(vec![]);
        late.set_reversed(true);
        late.add(b(PrefixFilter::new("b")));
        assert!(late.filter_row_key(b"a"));
        assert!(late.filter_all_remaining(), "a member added later is reversed too");
    }

    #[test]
    fn empty_list_passes_everything() {
        let mut f = FilterList::and(vec![]);
        assert_eq!(apply_row(&mut f, b"r", row()).unwrap().len(), 5);
        let mut f = FilterList::or(vec![]);
        assert_eq!(apply_row(&mut f, b"r", row()).unwrap().len(), 5);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::filter::{apply_row, BinaryComparator, CompareOperator, FamilyFilter, QualifierFilter, ValueFilter};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn op() -> impl Strategy<Value = CompareOperator> {
        prop::sample::select(CompareOperator::ALL.to_vec())
    }

    /// A sorted row of cells over small alphabets so comparisons hit every branch.
    fn row() -> impl Strategy<Value = Vec<Cell>> {
        prop::collection::btree_set((0u8..2, 0u8..4, 0i64..3, 0u8..4), 0..16).prop_map(|set| {
            let mut cells: Vec<Cell> = set
                .into_iter()
                .map(|(f, q, ts, v)| Cell::put("r", vec![b'f' + f], vec![b'a' + q], ts, vec![b'0' + v]))
                .collect();
            cells.sort_by(crate::filter::compare_cells);
            cells.dedup_by(|a, b| a.family == b.family && a.qualifier == b.qualifier && a.timestamp == b.timestamp);
            cells
        })
    }

    type Key = (Vec<u8>, Vec<u8>, i64);

    fn kept(f: &mut dyn Filter, cells: &[Cell]) -> BTreeSet<Key> {
        apply_row(f, b"r", cells.to_vec())
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.family, c.qualifier, c.timestamp))
            .collect()
    }

    fn members(o1: CompareOperator, v: u8, o2: CompareOperator, q: u8, o3: CompareOperator, fam: u8) -> Vec<Box<dyn Filter>> {
        vec![
            Box::new(ValueFilter::new(o1, BinaryComparator::new(vec![b'0' + v]))),
            Box::new(QualifierFilter::new(o2, BinaryComparator::new(vec![b'a' + q]))),
            Box::new(FamilyFilter::new(o3, BinaryComparator::new(vec![b'f' + fam]))),
        ]
    }

    proptest! {
        /// For cell-local members (Value, Qualifier, Family), AND keeps the intersection and OR
        /// the union of what each member keeps alone.
        #[test]
        fn and_is_intersection_or_is_union(cells in row(), o1 in op(), v in 0u8..4, o2 in op(), q in 0u8..4, o3 in op(), fam in 0u8..2) {
            let alone: Vec<BTreeSet<Key>> = members(o1, v, o2, q, o3, fam).into_iter().map(|mut f| kept(f.as_mut(), &cells)).collect();
            let inter: BTreeSet<Key> = alone[0].iter().filter(|k| alone[1].contains(*k) && alone[2].contains(*k)).cloned().collect();
            let union: BTreeSet<Key> = alone.iter().flatten().cloned().collect();
            let mut and = FilterList::and(members(o1, v, o2, q, o3, fam));
            let mut or = FilterList::or(members(o1, v, o2, q, o3, fam));
            prop_assert_eq!(kept(&mut and, &cells), inter);
            prop_assert_eq!(kept(&mut or, &cells), union);
        }
    }
}
