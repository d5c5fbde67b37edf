//! Row-level filters: they decide on the row key (Prefix, Row, InclusiveStop, RandomRow) or count
//! whole rows (Page). Semantics follow the HBase classes of the same names
//! (apache/hbase `hbase-client/.../filter/`).

use std::cmp::Ordering;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::parse::{call, compare_call, quote as quoted};
use super::{Comparator, CompareOperator, Filter, ReturnCode};
use crate::cell::Cell;
use crate::error::{Error, Result};

/// Keeps rows whose key starts with a prefix, and ends the scan once rows sort past it
/// (`PrefixFilter('p')`).
#[derive(Debug, Clone)]
pub struct PrefixFilter {
    prefix: Vec<u8>,
    passed_prefix: bool,
    filter_row: bool,
    reversed: bool,
}

impl PrefixFilter {
    /// A filter for this prefix (empty keeps every row).
    pub fn new(prefix: impl Into<Vec<u8>>) -> Self {
        PrefixFilter { prefix: prefix.into(), passed_prefix: false, filter_row: true, reversed: false }
    }

    /// The prefix.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }
}

impl Filter for PrefixFilter {
    fn reset(&mut self) {
        self.filter_row = true;
    }
    fn filter_all_remaining(&mut self) -> bool {
        self.passed_prefix
    }
    fn filter_row_key(&mut self, row: &[u8]) -> bool {
        if self.passed_prefix {
            return true;
        }
        // Compare the row's first prefix.len() bytes; a shorter row that is itself a prefix of
        // the prefix sorts before every row carrying the prefix.
        let n = row.len().min(self.prefix.len());
        let cmp = row[..n].cmp(&self.prefix[..n]).then(if row.len() < self.prefix.len() {
            Ordering::Less
        } else {
            Ordering::Equal
        });
        if (!self.reversed && cmp == Ordering::Greater) || (self.reversed && cmp == Ordering::Less) {
            self.passed_prefix = true;
        }
        self.filter_row = cmp != Ordering::Equal;
        self.filter_row
    }
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        if self.filter_row {
            ReturnCode::NextRow
        } else {
            ReturnCode::Include
        }
    }
    fn filter_row(&mut self) -> bool {
        self.filter_row
    }
    fn set_reversed(&mut self, reversed: bool) {
        self.reversed = reversed;
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("PrefixFilter", &[quoted(&self.prefix)]))
    }
}

/// Keeps rows whose key satisfies `key OP comparand` (`RowFilter(<=, 'binary:r5')`).
#[derive(Debug, Clone)]
pub struct RowFilter {
    op: CompareOperator,
    comparator: Comparator,
    filter_out_row: bool,
}

impl RowFilter {
    /// A filter keeping rows where `row_key op comparator` holds.
    pub fn new(op: CompareOperator, comparator: impl Into<Comparator>) -> Self {
        RowFilter { op, comparator: comparator.into(), filter_out_row: false }
    }
}

impl Filter for RowFilter {
    fn reset(&mut self) {
        self.filter_out_row = false;
    }
    fn filter_row_key(&mut self, row: &[u8]) -> bool {
        if !self.op.holds(self.comparator.compare_to(row)) {
            self.filter_out_row = true;
        }
        self.filter_out_row
    }
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        if self.filter_out_row {
            ReturnCode::NextRow
        } else {
            ReturnCode::Include
        }
    }
    fn filter_row(&mut self) -> bool {
        self.filter_out_row
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        compare_call("RowFilter", self.op, &self.comparator)
    }
}

/// Keeps rows up to and including a stop row, then ends the scan (`InclusiveStopFilter('r9')`).
#[derive(Debug, Clone)]
pub struct InclusiveStopFilter {
    stop_row: Vec<u8>,
    done: bool,
    reversed: bool,
}

impl InclusiveStopFilter {
    /// A filter stopping after `stop_row`.
    pub fn new(stop_row: impl Into<Vec<u8>>) -> Self {
        InclusiveStopFilter { stop_row: stop_row.into(), done: false, reversed: false }
    }
}

impl Filter for InclusiveStopFilter {
    fn filter_all_remaining(&mut self) -> bool {
        self.done
    }
    fn filter_row_key(&mut self, row: &[u8]) -> bool {
        let cmp = row.cmp(&self.stop_row);
        self.done = if self.reversed { cmp == Ordering::Less } else { cmp == Ordering::Greater };
        self.done
    }
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        if self.done {
            ReturnCode::NextRow
        } else {
            ReturnCode::Include
        }
    }
    fn set_reversed(&mut self, reversed: bool) {
        self.reversed = reversed;
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("InclusiveStopFilter", &[quoted(&self.stop_row)]))
    }
}

/// Keeps each row with probability `chance` (HBase's `RandomRowFilter`; `chance < 0` keeps none,
/// `chance > 1` keeps all). In the filter language as `RandomRowFilter(0.25)` (a kabase
/// extension: HBase's parser does not register it).
#[derive(Debug, Clone)]
pub struct RandomRowFilter {
    chance: f32,
    rng: StdRng,
    filter_out_row: bool,
}

impl RandomRowFilter {
    /// A filter with this chance, seeded from the operating system. NaN is an error.
    pub fn new(chance: f32) -> Result<Self> {
        Self::with_seed(chance, rand::rng().random())
    }

    /// A filter with this chance and a fixed seed (reproducible choices).
    pub fn with_seed(chance: f32, seed: u64) -> Result<Self> {
        if chance.is_nan() {
            return Err(Error::invalid("RandomRowFilter chance must be a number, got NaN"));
        }
        Ok(RandomRowFilter { chance, rng: StdRng::seed_from_u64(seed), filter_out_row: false })
    }

    /// The chance.
    pub fn chance(&self) -> f32 {
        self.chance
    }
}

impl Filter for RandomRowFilter {
    fn reset(&mut self) {
        self.filter_out_row = false;
    }
    fn filter_row_key(&mut self, _row: &[u8]) -> bool {
        self.filter_out_row = if self.chance < 0.0 {
            true
        } else if self.chance > 1.0 {
            false
        } else {
            self.rng.random::<f32>() >= self.chance
        };
        self.filter_out_row
    }
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        if self.filter_out_row {
            ReturnCode::NextRow
        } else {
            ReturnCode::Include
        }
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        self.filter_out_row
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("RandomRowFilter", &[format!("{:?}", self.chance).into_bytes()]))
    }
}

/// Returns at most `page_size` non-empty rows, then ends the scan (`PageFilter(10)`). As in
/// HBase, the limit holds per region scanner; kabase has one per scan.
#[derive(Debug, Clone)]
pub struct PageFilter {
    page_size: i64,
    rows_accepted: i64,
}

impl PageFilter {
    /// A filter returning at most `page_size` rows; negative sizes are an error.
    pub fn new(page_size: i64) -> Result<Self> {
        if page_size < 0 {
            return Err(Error::invalid(format!("PageFilter page size must be >= 0, got {page_size}")));
        }
        Ok(PageFilter { page_size, rows_accepted: 0 })
    }

    /// The page size.
    pub fn page_size(&self) -> i64 {
        self.page_size
    }
}

impl Filter for PageFilter {
    fn filter_all_remaining(&mut self) -> bool {
        self.rows_accepted >= self.page_size
    }
    fn filter_row_key(&mut self, _row: &[u8]) -> bool {
        self.rows_accepted >= self.page_size
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        self.rows_accepted += 1;
        self.rows_accepted > self.page_size
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("PageFilter", &[self.page_size.to_string().into_bytes()]))
    }
}

display_as_filter_string!(PrefixFilter, RowFilter, InclusiveStopFilter, RandomRowFilter, PageFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{apply_row, scan_rows, BinaryComparator, RegexStringComparator};

    fn row(key: &str) -> (Vec<u8>, Vec<Cell>) {
        (key.as_bytes().to_vec(), vec![Cell::put(key, "cf", "q", 1, "v")])
    }

    fn keys(rows: &[(Vec<u8>, Vec<Cell>)]) -> Vec<String> {
        rows.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect()
    }

    fn scan(f: &mut dyn Filter, ks: &[&str]) -> Vec<String> {
        keys(&scan_rows(f, ks.iter().map(|k| row(k))).collect::<Vec<_>>())
    }

    #[test]
    fn prefix_keeps_matching_rows_and_stops_after() {
        let mut f = PrefixFilter::new("ab");
        assert_eq!(scan(&mut f, &["a", "aa", "ab", "ab1", "abz", "ac", "ab2"]), ["ab", "ab1", "abz"]);
        assert!(f.filter_all_remaining(), "passing the prefix ends the scan");
    }

    #[test]
    fn prefix_reversed_stops_before() {
        let mut f = PrefixFilter::new("ab");
        f.set_reversed(true);
        assert_eq!(scan(&mut f, &["b", "ac", "abz", "ab", "aa", "ab0"]), ["abz", "ab"]);
    }

    #[test]
    fn empty_prefix_keeps_everything() {
        let mut f = PrefixFilter::new("");
        assert_eq!(scan(&mut f, &["", "a", "\u{7f}"]), ["", "a", "\u{7f}"]);
    }

    #[test]
    fn row_filter_compares_the_key() {
        let mut f = RowFilter::new(CompareOperator::LessOrEqual, BinaryComparator::new("r2"));
        assert_eq!(scan(&mut f, &["r1", "r2", "r3"]), ["r1", "r2"]);
        let mut f = RowFilter::new(CompareOperator::Equal, RegexStringComparator::new("^r[13]$").unwrap());
        assert_eq!(scan(&mut f, &["r1", "r2", "r3", "r33"]), ["r1", "r3"]);
        let mut f = RowFilter::new(CompareOperator::NoOp, BinaryComparator::new("r1"));
        assert!(scan(&mut f, &["r1", "r2"]).is_empty(), "NO_OP drops everything, as HBase");
    }

    #[test]
    fn inclusive_stop_includes_the_stop_row() {
        let mut f = InclusiveStopFilter::new("r2");
        let mut pulled = 0;
        let rows: Vec<_> = scan_rows(&mut f, ["r1", "r2", "r3", "r4"].iter().map(|k| {
            pulled += 1;
            row(k)
        }))
        .collect();
        assert_eq!(keys(&rows), ["r1", "r2"]);
        assert_eq!(pulled, 3, "the scan ends at the first row past the stop row");
        let mut f = InclusiveStopFilter::new("r2");
        f.set_reversed(true);
        assert_eq!(scan(&mut f, &["r4", "r2", "r1"]), ["r4", "r2"]);
    }

    #[test]
    fn page_filter_counts_only_non_empty_rows() {
        let mut f = PageFilter::new(2).unwrap();
        assert_eq!(scan(&mut f, &["a", "b", "c", "d"]), ["a", "b"]);
        let mut f = PageFilter::new(0).unwrap();
        assert!(scan(&mut f, &["a"]).is_empty());
        assert!(PageFilter::new(-1).is_err());
        // An empty row does not use up the page.
        let mut f = PageFilter::new(1).unwrap();
        assert!(apply_row(&mut f, b"x", vec![]).is_none());
        assert!(apply_row(&mut f, b"y", vec![Cell::put("y", "cf", "q", 1, "v")]).is_some());
        assert!(f.filter_all_remaining());
    }

    #[test]
    fn random_row_filter_extremes_and_rate() {
        let ks: Vec<String> = (0..2000).map(|i| format!("r{i:05}")).collect();
        let refs: Vec<&str> = ks.iter().map(|s| s.as_str()).collect();
        let mut none = RandomRowFilter::with_seed(-0.5, 1).unwrap();
        assert!(scan(&mut none, &refs).is_empty());
        let mut all = RandomRowFilter::with_seed(1.5, 1).unwrap();
        assert_eq!(scan(&mut all, &refs).len(), 2000);
        let mut half = RandomRowFilter::with_seed(0.5, 7).unwrap();
        let n = scan(&mut half, &refs).len();
        assert!((800..1200).contains(&n), "about half the rows, got {n}");
        let mut again = RandomRowFilter::with_seed(0.5, 7).unwrap();
        assert_eq!(scan(&mut again, &refs).len(), n, "a seed makes it reproducible");
        assert!(RandomRowFilter::new(f32::NAN).is_err());
    }
}
