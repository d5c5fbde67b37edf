//! Reading a row: HBase's masking, version, TTL and filter rules applied to the raw cells of one
//! row, and the classification major compaction uses to drop what no read can see.
//!
//! What exists (independent of the query) is what a major compaction would keep, so VERSIONS,
//! TTL and MIN_VERSIONS hold on every read whether or not a compaction ran:
//!
//! - Walking a column newest first, a put is *masked* by a DeleteFamily marker with ts >= its ts,
//!   a DeleteFamilyVersion or Delete marker at exactly its ts, or a DeleteColumn marker with
//!   ts >= its ts. Masking ignores write order, so a delete hides puts written later with an
//!   older timestamp until a major compaction removes the marker (HBase's "deletes mask puts").
//! - With KEEP_DELETED_CELLS=FALSE masked puts do not exist (and do not count as versions);
//!   otherwise they exist and count, and a read sees them when the marker lies outside its time
//!   range (HBase counts a marker for such families only when it is inside the read's range).
//! - Of the remaining puts, only the newest VERSIONS exist; of those, a put older than TTL exists
//!   only while it is among the newest MIN_VERSIONS.
//!
//! Then the read applies its time range, its filter (`filter_cell` before version counting, as
//! HBase's `ScanQueryMatcher`), and its max versions.

use fjall::Slice;

use crate::cell::{Cell, CellKind};
use crate::error::Result;
use crate::filter::{Filter, ReturnCode};
use crate::table::codec;
use crate::table::ops::TimeRange;
use crate::table::schema::{FamilyDescriptor, KeepDeletedCells};

/// Raw `(key, value)` entries of one row in one family, in key order.
pub(crate) type Entries = Vec<(Slice, Slice)>;

/// A read's parameters for one family.
pub(crate) struct FamilyRead<'a> {
    pub desc: &'a FamilyDescriptor,
    /// Qualifiers wanted; `None` = all (sorted ascending when given).
    pub qualifiers: Option<&'a [Vec<u8>]>,
    pub time_range: TimeRange,
    pub max_versions: u32,
    pub now: i64,
}

#[derive(Default)]
struct FamilyMarkers {
    /// Highest DeleteFamily ts (all markers / markers the read counts).
    all_family: Option<i64>,
    read_family: Option<i64>,
    all_versions: Vec<i64>,
    read_versions: Vec<i64>,
}

fn expired(desc: &FamilyDescriptor, ts: i64, now: i64) -> bool {
    match desc.ttl_ms() {
        Some(ttl) => ts < now.saturating_sub(ttl),
        None => false,
    }
}

/// Whether a marker at `ts` counts for a read with `tr` in a family with `kdc`.
fn read_counts_marker(kdc: KeepDeletedCells, tr: &TimeRange, ts: i64) -> bool {
    match kdc {
        KeepDeletedCells::False => true,
        KeepDeletedCells::True | KeepDeletedCells::Ttl => tr.contains(ts),
    }
}

/// One parsed entry.
struct Parsed {
    qualifier: Vec<u8>,
    family_level: bool,
    ts: i64,
    kind: CellKind,
}

fn parse(key: &[u8], row_len: usize) -> Result<Parsed> {
    let t = codec::decode_tail(key, row_len)?;
    Ok(Parsed { qualifier: t.qualifier, family_level: t.family_level, ts: t.ts, kind: t.kind })
}

/// Result of reading one family of a row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FamilyOutcome {
    /// Go on with the next family.
    Continue,
    /// The filter asked to skip the rest of the row.
    NextRow,
}

/// Apply the rules to one family of one row, appending visible cells to `out`.
pub(crate) fn read_family(
    read: &FamilyRead<'_>,
    row: &[u8],
    family: &[u8],
    entries: &[(Slice, Slice)],
    mut filter: Option<&mut (dyn Filter + '_)>,
    out: &mut Vec<Cell>,
) -> Result<FamilyOutcome> {
    let Some((first, _)) = entries.first() else {
        return Ok(FamilyOutcome::Continue);
    };
    let row_len = codec::row_part_len(first)?;
    let desc = read.desc;
    let kdc = desc.keep_deleted_cells;
    let tr = read.time_range;
    let mut fm = FamilyMarkers::default();

    let mut i = 0;
    // Family-level markers come first in the row.
    while i < entries.len() {
        let p = parse(&entries[i].0, row_len)?;
        if !p.family_level {
            break;
        }
        let counts = read_counts_marker(kdc, &tr, p.ts);
        match p.kind {
            CellKind::DeleteFamily => {
                fm.all_family = fm.all_family.max(Some(p.ts));
                if counts {
                    fm.read_family = fm.read_family.max(Some(p.ts));
                }
            }
            _ => {
                fm.all_versions.push(p.ts);
                if counts {
                    fm.read_versions.push(p.ts);
                }
            }
        }
        i += 1;
    }

    // Column walk state.
    let mut cur_q: Option<Vec<u8>> = None;
    let mut col_all_del: Option<i64> = None;
    let mut col_read_del: Option<i64> = None;
    let mut col_all_ver: Vec<i64> = Vec::new();
    let mut col_read_ver: Vec<i64> = Vec::new();
    let mut rank: u32 = 0;
    let mut returned: u32 = 0;
    let mut skip_col = false;

    while i < entries.len() {
        let (key, value) = &entries[i];
        i += 1;
        let p = parse(key, row_len)?;
        if p.family_level {
            return Err(crate::error::Error::corrupt("family marker after column cells"));
        }
        if cur_q.as_deref() != Some(p.qualifier.as_slice()) {
            col_all_del = None;
            col_read_del = None;
            col_all_ver.clear();
            col_read_ver.clear();
            rank = 0;
            returned = 0;
            skip_col = match read.qualifiers {
                Some(qs) => !qs.iter().any(|q| *q == p.qualifier),
                None => false,
            };
            cur_q = Some(p.qualifier.clone());
        }
        if skip_col {
            continue;
        }
        match p.kind {
            CellKind::DeleteColumn => {
                col_all_del = col_all_del.max(Some(p.ts));
                if read_counts_marker(kdc, &tr, p.ts) {
                    col_read_del = col_read_del.max(Some(p.ts));
                }
                continue;
            }
            CellKind::Delete => {
                col_all_ver.push(p.ts);
                if read_counts_marker(kdc, &tr, p.ts) {
                    col_read_ver.push(p.ts);
                }
                continue;
            }
            CellKind::Put => {}
            _ => return Err(crate::error::Error::corrupt("family marker kind in a column key")),
        }
        let ts = p.ts;
        let masked_all = fm.all_family.is_some_and(|d| d >= ts)
            || col_all_del.is_some_and(|d| d >= ts)
            || fm.all_versions.contains(&ts)
            || col_all_ver.contains(&ts);
        if masked_all && kdc == KeepDeletedCells::False {
            continue;
        }
        rank += 1;
        if rank > desc.max_versions {
            skip_col = true;
            continue;
        }
        if expired(desc, ts, read.now) && rank > desc.min_versions {
            // Older versions are expired too (timestamps only decrease along the column).
            skip_col = true;
            continue;
        }
        let masked_read = masked_all
            && (fm.read_family.is_some_and(|d| d >= ts)
                || col_read_del.is_some_and(|d| d >= ts)
                || fm.read_versions.contains(&ts)
                || col_read_ver.contains(&ts));
        if masked_read || !tr.contains(ts) {
            continue;
        }
        let cell = Cell {
            row: row.to_vec(),
            family: family.to_vec(),
            qualifier: p.qualifier,
            timestamp: ts,
            kind: CellKind::Put,
            value: codec::decode_value(value)?,
        };
        let code = match filter.as_deref_mut() {
            Some(f) => f.filter_cell(&cell),
            None => ReturnCode::Include,
        };
        let (include, after) = match code {
            ReturnCode::Include => (true, None),
            ReturnCode::IncludeAndNextCol => (true, Some(false)),
            ReturnCode::IncludeAndSeekNextRow => (true, Some(true)),
            ReturnCode::Skip | ReturnCode::SeekNextUsingHint => (false, None),
            ReturnCode::NextCol => (false, Some(false)),
            ReturnCode::NextRow => (false, Some(true)),
        };
        if include {
            returned += 1;
            let cell = match filter.as_deref_mut() {
                Some(f) => f.transform_cell(cell),
                None => cell,
            };
            out.push(cell);
            if returned >= read.max_versions {
                skip_col = true;
            }
        }
        match after {
            Some(true) => return Ok(FamilyOutcome::NextRow),
            Some(false) => skip_col = true,
            None => {}
        }
    }
    Ok(FamilyOutcome::Continue)
}

/// Which entries of one family of one row a major compaction keeps (`true` = keep).
pub(crate) fn compaction_keep(desc: &FamilyDescriptor, entries: &[(Slice, Slice)], now: i64) -> Result<Vec<bool>> {
    let mut keep = vec![true; entries.len()];
    let Some((first, _)) = entries.first() else {
        return Ok(keep);
    };
    let row_len = codec::row_part_len(first)?;
    let kdc = desc.keep_deleted_cells;
    let keep_marker = |ts: i64| match kdc {
        KeepDeletedCells::False => false,
        KeepDeletedCells::True => true,
        KeepDeletedCells::Ttl => !expired(desc, ts, now),
    };
    let mut fam_del: Option<i64> = None;
    let mut fam_ver: Vec<i64> = Vec::new();
    let mut cur_q: Option<Vec<u8>> = None;
    let mut col_del: Option<i64> = None;
    let mut col_ver: Vec<i64> = Vec::new();
    let mut rank = 0u32;
    for (i, (key, _)) in entries.iter().enumerate() {
        let p = parse(key, row_len)?;
        if p.family_level {
            if p.kind == CellKind::DeleteFamily {
                fam_del = fam_del.max(Some(p.ts));
            } else {
                fam_ver.push(p.ts);
            }
            keep[i] = keep_marker(p.ts);
            continue;
        }
        if cur_q.as_deref() != Some(p.qualifier.as_slice()) {
            col_del = None;
            col_ver.clear();
            rank = 0;
            cur_q = Some(p.qualifier.clone());
        }
        match p.kind {
            CellKind::DeleteColumn => {
                col_del = col_del.max(Some(p.ts));
                keep[i] = keep_marker(p.ts);
                continue;
            }
            CellKind::Delete => {
                col_ver.push(p.ts);
                keep[i] = keep_marker(p.ts);
                continue;
            }
            _ => {}
        }
        let ts = p.ts;
        let masked = fam_del.is_some_and(|d| d >= ts)
            || col_del.is_some_and(|d| d >= ts)
            || fam_ver.contains(&ts)
            || col_ver.contains(&ts);
        if masked && kdc == KeepDeletedCells::False {
            keep[i] = false;
            continue;
        }
        rank += 1;
        if rank > desc.max_versions || (expired(desc, ts, now) && rank > desc.min_versions) {
            keep[i] = false;
        }
    }
    Ok(keep)
}
