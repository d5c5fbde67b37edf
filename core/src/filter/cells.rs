//! Cell-shape filters: `KeyOnlyFilter` (drop values), `FirstKeyOnlyFilter` (first cell of each
//! row) and `TimestampsFilter` (listed versions only). Semantics follow the HBase classes of the
//! same names (apache/hbase `hbase-client/.../filter/`).

use std::collections::BTreeSet;

use super::parse::call;
use super::{Filter, ReturnCode};
use crate::cell::Cell;
use crate::error::{Error, Result};

/// Returns cells without their values (`KeyOnlyFilter()`); with `len_as_val`
/// (`KeyOnlyFilter(true)`) the value becomes the original value's length as a 4-byte big-endian
/// int, as HBase's `KeyOnlyFilter(true)`.
#[derive(Debug, Clone, Default)]
pub struct KeyOnlyFilter {
    len_as_val: bool,
}

impl KeyOnlyFilter {
    /// A filter stripping values (`len_as_val`: replace them with their length).
    pub fn new(len_as_val: bool) -> Self {
        KeyOnlyFilter { len_as_val }
    }
}

impl Filter for KeyOnlyFilter {
    fn transform_cell(&mut self, mut cell: Cell) -> Cell {
        cell.value = if self.len_as_val {
            // HBase writes the length as a Java int; values longer than i32::MAX cannot exist there.
            let len = i32::try_from(cell.value.len()).unwrap_or(i32::MAX);
            len.to_be_bytes().to_vec()
        } else {
            Vec::new()
        };
        cell
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(if self.len_as_val { call("KeyOnlyFilter", &[b"true".to_vec()]) } else { call("KeyOnlyFilter", &[]) })
    }
}

/// Returns only the first cell of each row (`FirstKeyOnlyFilter()`), e.g. to count rows.
#[derive(Debug, Clone, Default)]
pub struct FirstKeyOnlyFilter {
    found: bool,
}

impl FirstKeyOnlyFilter {
    /// A new filter.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Filter for FirstKeyOnlyFilter {
    fn reset(&mut self) {
        self.found = false;
    }
    fn filter_cell(&mut self, _cell: &Cell) -> ReturnCode {
        if self.found {
            return ReturnCode::NextRow;
        }
        self.found = true;
        ReturnCode::Include
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        Some(call("FirstKeyOnlyFilter", &[]))
    }
}

/// Keeps only cells whose timestamp is in a list (`TimestampsFilter(5, 10, 15)`).
#[derive(Debug, Clone)]
pub struct TimestampsFilter {
    timestamps: BTreeSet<i64>,
    can_hint: bool,
}

impl TimestampsFilter {
    /// A filter for these timestamps; negative ones are an error, as in HBase.
    pub fn new(timestamps: impl IntoIterator<Item = i64>) -> Result<Self> {
        let mut set = BTreeSet::new();
        for ts in timestamps {
            if ts < 0 {
                return Err(Error::invalid(format!("TimestampsFilter timestamps must be >= 0, got {ts}")));
            }
            set.insert(ts);
        }
        Ok(TimestampsFilter { timestamps: set, can_hint: false })
    }

    /// Let the filter seek to the next listed timestamp instead of skipping cell by cell
    /// (HBase's `canHint`).
    pub fn with_hint(mut self, can_hint: bool) -> Self {
        self.can_hint = can_hint;
        self
    }

    /// The timestamps, ascending.
    pub fn timestamps(&self) -> impl Iterator<Item = i64> + '_ {
        self.timestamps.iter().copied()
    }
}

impl Filter for TimestampsFilter {
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        if self.timestamps.contains(&cell.timestamp) {
            ReturnCode::Include
        } else if self.timestamps.first().is_none_or(|min| cell.timestamp < *min) {
            // Versions run newest first: below the smallest listed one, nothing more matches.
            ReturnCode::NextCol
        } else if self.can_hint {
            ReturnCode::SeekNextUsingHint
        } else {
            ReturnCode::Skip
        }
    }
    fn next_cell_hint(&mut self, current: &Cell) -> Option<Cell> {
        if !self.can_hint {
            return None;
        }
        let mut hint = current.clone();
        hint.value.clear();
        match self.timestamps.range(..current.timestamp).next_back() {
            // First position of the next lower listed version of this column.
            Some(ts) => {
                hint.timestamp = *ts;
                hint.kind = crate::cell::CellKind::DeleteFamily;
            }
            // Past the last listed version: the end of this column.
            None => {
                hint.timestamp = i64::MIN;
                hint.kind = crate::cell::CellKind::Put;
            }
        }
        Some(hint)
    }
    fn filter_string(&self) -> Option<Vec<u8>> {
        let args: Vec<Vec<u8>> = self.timestamps.iter().map(|t| t.to_string().into_bytes()).collect();
        Some(call("TimestampsFilter", &args))
    }
}

display_as_filter_string!(KeyOnlyFilter, FirstKeyOnlyFilter, TimestampsFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{apply_row, scan_rows};

    fn row() -> Vec<Cell> {
        vec![
            Cell::put("r", "f", "a", 30, "hello"),
            Cell::put("r", "f", "a", 20, "hi"),
            Cell::put("r", "f", "a", 10, "h"),
            Cell::put("r", "f", "b", 20, ""),
            Cell::put("r", "g", "a", 15, "x"),
        ]
    }

    #[test]
    fn key_only_strips_or_measures_values() {
        let out = apply_row(&mut KeyOnlyFilter::new(false), b"r", row()).unwrap();
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|c| c.value.is_empty()));
        assert_eq!(out[0].qualifier, b"a");
        assert_eq!(out[0].timestamp, 30);
        let out = apply_row(&mut KeyOnlyFilter::new(true), b"r", row()).unwrap();
        assert_eq!(out[0].value, 5i32.to_be_bytes());
        assert_eq!(out[3].value, 0i32.to_be_bytes());
    }

    #[test]
    fn first_key_only_keeps_one_cell_per_row() {
        let mut f = FirstKeyOnlyFilter::new();
        let rows = ["r1", "r2"].map(|k| (k.as_bytes().to_vec(), vec![Cell::put(k, "f", "a", 2, "v"), Cell::put(k, "g", "b", 1, "w")]));
        let out: Vec<_> = scan_rows(&mut f, rows).collect();
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|(_, cs)| cs.len() == 1 && cs[0].family == b"f"));
    }

    #[test]
    fn timestamps_keep_listed_versions() {
        for hint in [false, true] {
            let mut f = TimestampsFilter::new([20, 15]).unwrap().with_hint(hint);
            let out = apply_row(&mut f, b"r", row()).unwrap();
            let got: Vec<_> = out.iter().map(|c| (c.qualifier.clone(), c.timestamp)).collect();
            assert_eq!(got, [(b"a".to_vec(), 20), (b"b".to_vec(), 20), (b"a".to_vec(), 15)], "hint={hint}");
        }
        let mut none = TimestampsFilter::new([]).unwrap();
        assert!(apply_row(&mut none, b"r", row()).is_none());
        assert!(TimestampsFilter::new([1, -1]).is_err());
    }
}
