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
use crate::table::schema::FamilyDescriptor;
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

/// What the plain read needs of one family of the plan, decided once per scan.
pub(crate) struct PlainFamily {
    /// Its index in [`Shape::families`].
    index: usize,
    /// The family's TTL (ms) when it can hide a column's newest version (MIN_VERSIONS 0).
    ttl: Option<i64>,
}

/// The [`PlainFamily`]s of `plan`'s families, in its order.
pub(crate) fn plain_families(shape: &Shape, plan: &ReadPlan) -> Vec<PlainFamily> {
    plan.fams
        .iter()
        .filter_map(|fp| {
            let desc = &shape.families.get(fp.index)?.desc;
            Some(PlainFamily { index: fp.index, ttl: desc.ttl_ms().filter(|_| desc.min_versions == 0) })
        })
        .collect()
}

/// Scratch space of the plain read, kept from row to row.
#[derive(Default)]
pub(crate) struct PlainBufs {
    /// Seek target.
    target: Vec<u8>,
    /// The row part handed to the general read.
    row_enc: Vec<u8>,
}

/// [`crate::table::handle::process_row`] for a plain scan (see the module docs): reads one row
/// (`row`, the row key) from `sources` (one per family of the plan, `fams` from
/// [`plain_families`], each serving the row's encoded part, [`Cursor::served_row`]) into
/// `out`; true when the row has a cell to return.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn process_row_plain<O: CellSink + ?Sized>(
    shape: &Shape,
    fams: &[PlainFamily],
    row: &[u8],
    sources: &mut [Cursor],
    now: i64,
    out: &mut O,
    bufs: &mut ReadBufs,
    pbufs: &mut PlainBufs,
) -> Result<bool> {
    let now = LazyNow::new(now);
    for (pf, src) in fams.iter().zip(sources.iter_mut()) {
        let fam = &shape.families[pf.index];
        read_family_plain(&fam.desc, pf.index, pf.ttl, &now, row, src, out, bufs, pbufs)?;
    }
    Ok(!out.is_empty())
}

/// The qualifier (escaped, terminated) and timestamp of `key` when it is an ordinary put's key
/// without a sequence number in a row whose encoded part is `row_len` bytes long:
/// [`codec::column_put_parts`], finding the qualifier's end eight bytes at a time. Always
/// inlined (one caller, once per cell).
#[inline(always)]
fn put_parts(key: &[u8], row_len: usize) -> Option<(&[u8], i64)> {
    let rest = key.get(row_len..)?;
    let (&tag, rest) = rest.split_first()?;
    if tag != codec::TAG_COLUMN {
        return None;
    }
    // The first 0x00 ends an unescaped qualifier; any other case (an escaped 0x00 in the
    // qualifier) is left to the codec.
    let ql = match codec::first_zero(rest) {
        Some(z) if rest.get(z + 1) == Some(&0x01) => z + 2,
        _ => return codec::column_put_parts(key, row_len),
    };
    let suffix: &[u8; 9] = rest.get(ql..)?.try_into().ok()?;
    if suffix[8] != 0xFF - CellKind::Put.code() {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&suffix[..8]);
    Some((&rest[..ql], (u64::MAX - u64::from_be_bytes(b)) as i64))
}

/// One family of one row (see the module docs).
#[allow(clippy::too_many_arguments)]
#[inline]
fn read_family_plain<O: CellSink + ?Sized>(
    desc: &FamilyDescriptor,
    family_index: usize,
    ttl: Option<i64>,
    now: &LazyNow,
    row: &[u8],
    src: &mut Cursor,
    out: &mut O,
    bufs: &mut ReadBufs,
    pbufs: &mut PlainBufs,
) -> Result<()> {
    let row_len = src.served_row().len();
    let family = &desc.name[..];
    loop {
        let Some((key, value)) = src.head_in_row_mut() else {
            return Ok(());
        };
        // A plain scan reads the whole time range (`is_plain`), so the test is a constant's.
        let parts = if codec::value_is_plain(value) { put_parts(key, row_len).filter(|&(_, ts)| TimeRange::ALL.contains(ts)) } else { None };
        let Some((qualifier_enc, ts)) = parts else {
            return read_rest_general(desc, now, row, src, out, bufs, pbufs);
        };
        let col_len = row_len + 1 + qualifier_enc.len();
        let expired = ttl.is_some_and(|t| ts < now.get().saturating_sub(t));
        if !expired {
            if O::KEEPS_SLICES {
                // The value is handed over: the head is left holding an empty slice, and
                // `skip_head_column` only needs its key.
                let value = std::mem::take(value);
                out.offer_put_slice(row, family_index, family, qualifier_enc, ts, value, &mut bufs.spare)?;
            } else {
                let value = &*value;
                let found = Found { row, family, qualifier_enc, ts, kind: CellKind::Put, value, value_slice: Some(value) };
                out.offer(found, None, &mut bufs.spare)?;
            }
        }
        src.skip_head_column(row_len, col_len, &mut pbufs.target)?;
    }
}

/// The rest of one family of one row through the general [`read::read_family`], from the
/// cursor's head (see the module docs). Out of line: kept out of the reading loops the plain
/// read is inlined into, it leaves them fewer values to keep on the stack (15 instructions
/// fewer per `next_view` row).
#[inline(never)]
fn read_rest_general<O: CellSink + ?Sized>(
    desc: &FamilyDescriptor,
    now: &LazyNow,
    row: &[u8],
    src: &mut Cursor,
    out: &mut O,
    bufs: &mut ReadBufs,
    pbufs: &mut PlainBufs,
) -> Result<()> {
    let read = FamilyRead { desc, qualifiers_enc: None, time_range: TimeRange::ALL, max_versions: 1, raw: false, now };
    // The general read takes the row part apart from the cursor serving it.
    let mut row_enc = std::mem::take(&mut pbufs.row_enc);
    row_enc.clear();
    row_enc.extend_from_slice(src.served_row());
    let r = read::read_family(&read, row, &row_enc, &desc.name, src, None, out, bufs);
    pbufs.row_enc = row_enc;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `put_parts` reads exactly what `codec::column_put_parts` reads: over put keys and delete
    /// markers' keys with qualifiers of every length (escaped 0x00s in them, or none), keys with
    /// a sequence number slot, family markers, cut keys and the zero-search cases as keys.
    #[test]
    fn put_parts_match_the_codecs() {
        let mut keys = Vec::new();
        for row in [&b"r"[..], b"row-0000000042", b"a\x00b", b""] {
            let row_len = codec::row_prefix(row).len();
            for q in codec::zero_search_cases().into_iter().filter(|q| q.len() < 20) {
                for kind in [CellKind::Put, CellKind::Delete, CellKind::DeleteColumn] {
                    for ts in [0, 1, 1_700_000_000_000, i64::MAX] {
                        let k = codec::column_key(row, &q, ts, kind);
                        let mut with_seq = k.clone();
                        codec::push_seq_slot(&mut with_seq);
                        for n in [k.len(), k.len().saturating_sub(1), row_len + 2] {
                            keys.push((k[..n.min(k.len())].to_vec(), row_len));
                        }
                        keys.push((with_seq, row_len));
                    }
                }
            }
            keys.push((codec::family_marker_key(row, 5, CellKind::DeleteFamily), row_len));
        }
        for b in codec::zero_search_cases() {
            keys.push((b.clone(), 0));
            keys.push((b, 1));
        }
        let mut puts = 0;
        for (k, row_len) in &keys {
            let got = put_parts(k, *row_len);
            assert_eq!(got, codec::column_put_parts(k, *row_len), "{k:?} {row_len}");
            puts += usize::from(got.is_some());
        }
        assert!(puts > 1_000, "the cases hold puts ({puts})");
    }
}
