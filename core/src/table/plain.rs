//! The lean read of a plain scan: forward, no filter, not raw, every column of every family,
//! the whole time range, one version per column, and no NEW_VERSION_BEHAVIOR family
//! ([`is_plain`]). Most rows of such a scan hold no delete marker and columns whose newest
//! entry is an ordinary put, and for those the rules of [`read::read_family`] come down to:
//!
//! - A column whose first entry is a put (no per-cell TTL) in a row without family-level
//!   markers: no marker can mask that put. Markers sort before the puts they may mask (a
//!   DeleteColumn or Delete at a timestamp >= the put's sorts before it, as do family markers,
//!   which come first in the row), so none precedes it and none exists. It is the column's
//!   newest existing version (rank 1, within VERSIONS >= 1) under every KEEP_DELETED_CELLS
//!   setting; it is visible unless the family's TTL has expired it and MIN_VERSIONS is 0, in
//!   which case the whole column is gone (older versions are older still). The read returns it
//!   and skips the rest of the column (one version per column).
//! - Anything else (a family-level marker, a column starting with a marker, a put with its own
//!   TTL, a timestamp outside the range, a key this path does not know) hands the rest of the
//!   family's row to [`read::read_family`], which starts over from that entry with no family
//!   markers seen (there were none, or the row's first entry is one) and a fresh column: exactly
//!   the state the general read has at that point.
//!
//! So the cells returned are those of the general read, which
//! `table::tests::plain_scans_match_general_reads` checks on random data.

use crate::cell::CellKind;
use crate::error::Result;
use crate::table::codec;
use crate::table::handle::ReadPlan;
use crate::table::ops::TimeRange;
use crate::table::read::{self, CellSink, FamilyRead, Found, LazyNow, ReadBufs};
use crate::table::scan::Cursor;
use crate::table::Shape;

/// Whether a forward scan with this plan and no filter may read through [`process_row_plain`].
pub(crate) fn is_plain(shape: &Shape, plan: &ReadPlan) -> bool {
    !plan.raw
        && plan.max_versions == 1
        && plan.fams.iter().all(|fp| {
            let desc = &shape.families[fp.index].desc;
            fp.qualifiers_enc.is_none() && fp.time_range == TimeRange::ALL && !desc.new_version_behavior && desc.max_versions >= 1
        })
}

/// Scratch space of the plain read, kept from row to row.
#[derive(Default)]
pub(crate) struct PlainBufs {
    /// Seek target.
    target: Vec<u8>,
}

/// [`crate::table::handle::process_row`] for a plain scan (see the module docs): reads one row
/// from `sources` (one per family of `plan`, each serving the row) into `out`; true when the
/// row has a cell to return.
#[allow(clippy::too_many_arguments)]
pub(crate) fn process_row_plain<O: CellSink + ?Sized>(
    shape: &Shape,
    plan: &ReadPlan,
    row: &[u8],
    row_enc: &[u8],
    sources: &mut [Cursor],
    now: i64,
    out: &mut O,
    bufs: &mut ReadBufs,
    pbufs: &mut PlainBufs,
) -> Result<bool> {
    let now = LazyNow::new(now);
    for (fp, src) in plan.fams.iter().zip(sources.iter_mut()) {
        let fam = &shape.families[fp.index];
        let fr = FamilyRead {
            desc: &fam.desc,
            qualifiers_enc: None,
            time_range: fp.time_range,
            max_versions: 1,
            raw: false,
            now: &now,
        };
        read_family_plain(&fr, row, row_enc, &fam.desc.name, src, out, bufs, pbufs)?;
    }
    Ok(!out.is_empty())
}

/// One family of one row (see the module docs).
#[allow(clippy::too_many_arguments)]
fn read_family_plain<O: CellSink + ?Sized>(
    read: &FamilyRead<'_>,
    row: &[u8],
    row_enc: &[u8],
    family: &[u8],
    src: &mut Cursor,
    out: &mut O,
    bufs: &mut ReadBufs,
    pbufs: &mut PlainBufs,
) -> Result<()> {
    let row_len = row_enc.len();
    let desc = read.desc;
    // The family's TTL, when it can hide a column's newest version (MIN_VERSIONS 0).
    let ttl = desc.ttl_ms().filter(|_| desc.min_versions == 0);
    loop {
        let Some((key, value)) = src.head_in_row() else {
            return Ok(());
        };
        let parts = codec::column_put_parts(key, row_len).filter(|&(_, ts)| codec::value_is_plain(value) && read.time_range.contains(ts));
        let Some((qualifier_enc, ts)) = parts else {
            return read::read_family(read, row, row_enc, family, src, None, out, bufs);
        };
        let col_len = row_len + 1 + qualifier_enc.len();
        let expired = ttl.is_some_and(|t| ts < read.now.get().saturating_sub(t));
        if !expired {
            let found = Found { row, family, qualifier_enc, ts, kind: CellKind::Put, value, value_slice: Some(value) };
            out.offer(found, None, &mut bufs.spare)?;
        }
        src.skip_head_column(row_len, col_len, &mut pbufs.target)?;
    }
}
