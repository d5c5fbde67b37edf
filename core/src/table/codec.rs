//! Cell key and value codec (key formats 1 and 2).
//!
//! Each column family is one LSM keyspace, so the family is not part of the key. A key is:
//!
//! ```text
//! row-key   = escaped(row) 0x00 0x01          escaped: every 0x00 byte becomes 0x00 0xFF
//! family-marker key = row-key 0x00 inv-ts(8) inv-type(1)
//! column-cell key   = row-key 0x01 escaped(qualifier) 0x00 0x01 inv-ts(8) inv-type(1)
//! inv-ts   = u64::MAX - timestamp, big-endian   (newest version first; timestamps are >= 0)
//! inv-type = 0xFF - HBase type code              (DeleteFamily 14 < DeleteColumn 12 < Delete 8 < Put 4
//!                                                after inversion, so markers sort before a put
//!                                                of the same timestamp, as in HBase)
//! ```
//!
//! The escaping keeps byte order: rows sort ascending exactly like their raw bytes, any binary
//! row (including 0x00 bytes) round-trips, and the keys of one row are contiguous and start with
//! `escaped(row)`, so a row-prefix scan is a key-prefix scan. Family-level markers (DeleteFamily,
//! DeleteFamilyVersion) come first in a row, then columns in qualifier order.
//!
//! A value is `codec(1) payload`: codec 0 = raw, 1 = gzip (deflate stream), 2 = snappy (raw
//! format), 3 = zstd frame. With the codec byte's high bit (0x80) set, an 8-byte big-endian
//! per-cell TTL in milliseconds (`Put::ttl`, HBase's cell TTL tag) follows the codec byte:
//! `codec|0x80 ttl(8) payload`; the cell expires once `ts + ttl < now`. Delete markers have an
//! empty value.
//!
//! In a family with NEW_VERSION_BEHAVIOR, every key ends with the change sequence number of the
//! commit that wrote it (HBase's "mvcc", which orders a marker against puts):
//! `... inv-ts(8) inv-type(1) inv-seq(8)`, inv-seq = `u64::MAX - seq` big-endian, so rewrites of
//! one cell (same row, column, timestamp and type) are distinct cells, newest commit first, as in
//! HBase. Its values have the flag byte's 0x40 bit set (a marker's value is `0x40`): the writer
//! leaves the key's sequence number zero and the commit fills it in ([`stamp_key_seq`]) once the
//! number is handed out. A key without it has sequence number 0.

use crate::cell::CellKind;
use crate::error::{Error, Result};
use crate::table::schema::Compression;
use std::ops::Bound;

/// Version of the key layout above, stored in each table's metadata: 1, or
/// [`KEY_FORMAT_SEQ`] for a table with a NEW_VERSION_BEHAVIOR family (keys that may end with a
/// sequence number), which builds that know only format 1 refuse to open.
pub const KEY_FORMAT: u32 = 1;
/// Key format of tables with a NEW_VERSION_BEHAVIOR family.
pub const KEY_FORMAT_SEQ: u32 = 2;

/// The key format a table with these families is stored in.
pub fn key_format_for(families: &[crate::table::schema::FamilyDescriptor]) -> u32 {
    if families.iter().any(|f| f.new_version_behavior) {
        KEY_FORMAT_SEQ
    } else {
        KEY_FORMAT
    }
}
/// Largest key the LSM accepts (lsm-tree stores a key's length as a `u16` and panics on a longer
/// key, in a write and in a read's bounds alike).
pub const MAX_KEY_LEN: usize = u16::MAX as usize;

/// The fewest bytes a key of a row holds past the row's encoded part ([`row_prefix`]): a family
/// marker's tag, timestamp and kind.
pub const MIN_CELL_SUFFIX: usize = 10;

/// Whether a row whose encoded part ([`row_prefix`]) is `row_enc_len` bytes long can hold any
/// cell: every key of the row is at least [`MIN_CELL_SUFFIX`] bytes longer, and no stored key
/// is longer than [`MAX_KEY_LEN`]. A row of 32,767 bytes (HBase's limit) of 0x00 escapes to
/// twice that, so not every row HBase allows fits.
pub fn row_fits(row_enc_len: usize) -> bool {
    row_enc_len + MIN_CELL_SUFFIX <= MAX_KEY_LEN
}

/// Whether the row `row` can hold any cell ([`row_fits`] of its encoded part), counting its
/// 0x00 bytes only when escaping could make it too long.
pub fn row_can_hold_cells(row: &[u8]) -> bool {
    // Escaping at most doubles a row; the terminator adds two bytes.
    if 2 * row.len() + 2 + MIN_CELL_SUFFIX <= MAX_KEY_LEN {
        return true;
    }
    row_fits(row.len() + row.iter().filter(|&&b| b == 0).count() + 2)
}

/// `(lower, upper)` as bounds the LSM accepts, selecting the same stored keys. A bound longer
/// than [`MAX_KEY_LEN`] (a scan's start row of many 0x00 bytes, a filter's seek hint with a long
/// qualifier) would make the LSM panic. No stored key is that long, so for a bound `k` of more
/// than `MAX_KEY_LEN` bytes and `t` its first `MAX_KEY_LEN` bytes, a stored key `s` is above `k`
/// exactly when it is above `t` (the only stored key in `[t, k)` is `t` itself) and below `k`
/// exactly when it is at most `t`, whether `k` itself is included or not.
pub fn fit_range<'a>(lower: Bound<&'a [u8]>, upper: Bound<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    let lower = match lower {
        Bound::Included(k) | Bound::Excluded(k) if k.len() > MAX_KEY_LEN => Bound::Excluded(&k[..MAX_KEY_LEN]),
        b => b,
    };
    let upper = match upper {
        Bound::Included(k) | Bound::Excluded(k) if k.len() > MAX_KEY_LEN => Bound::Included(&k[..MAX_KEY_LEN]),
        b => b,
    };
    (lower, upper)
}

const TAG_FAMILY: u8 = 0x00;
pub(crate) const TAG_COLUMN: u8 = 0x01;

/// Append `escaped(bytes) 0x00 0x01`.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    push_escaped_prefix(out, bytes);
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Append `escaped(bytes)` without terminator (a prefix of every longer escaped string).
/// Copies the runs between 0x00 bytes whole (rows and qualifiers rarely hold any).
pub fn push_escaped_prefix(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    if first_zero(bytes).is_none() {
        out.extend_from_slice(bytes);
        return;
    }
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=i]);
        out.push(0xFF);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// The position of the first 0x00 byte of `b`, testing eight bytes at a time (the classic
/// has-zero-byte test: a word has a zero byte iff `(w - 0x01..01) & !w & 0x80..80` is not zero,
/// and the lowest byte it flags is the first zero byte, since a borrow can only flag bytes above
/// a zero byte).
#[inline]
pub(crate) fn first_zero(b: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let t = w.wrapping_sub(LOW) & !w & HIGH;
        if t != 0 {
            return Some(at + (t.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&x| x == 0).map(|p| at + p)
}

/// Overwrite `dst` with `src`. When both are 8 to 16 bytes long and of the same length (a row
/// key or row part after the row before it, mostly) that is two 8-byte copies, overlapping in
/// the middle, instead of a `memcpy` call; otherwise `dst` is cleared and extended.
#[inline(always)]
pub(crate) fn copy_over(dst: &mut Vec<u8>, src: &[u8]) {
    let n = src.len();
    if dst.len() == n && (8..=16).contains(&n) {
        if let (Some(a), Some(b)) = (src.first_chunk::<8>(), src.last_chunk::<8>()) {
            if let Some(d) = dst.first_chunk_mut::<8>() {
                *d = *a;
            }
            if let Some(d) = dst.last_chunk_mut::<8>() {
                *d = *b;
            }
            return;
        }
    }
    dst.clear();
    dst.extend_from_slice(src);
}

/// Append the raw bytes of an escaped string without its terminator (`enc` as cut by
/// [`row_part_len`] minus its last two bytes): every `0x00 x` pair gives one 0x00.
#[inline]
fn push_unescaped(out: &mut Vec<u8>, enc: &[u8]) {
    out.reserve(enc.len());
    let mut rest = enc;
    while let Some(i) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=i]);
        rest = rest.get(i + 2..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
}

/// The key prefix shared by every cell of `row`.
pub fn row_prefix(row: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(row.len() + 2);
    push_escaped(&mut k, row);
    k
}

/// The smallest key greater than every key of `row` (and of no later row).
pub fn after_row(row: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(row.len() + 2);
    push_escaped_prefix(&mut k, row);
    k.extend_from_slice(&[0x00, 0x02]);
    k
}

fn push_ts_type(out: &mut Vec<u8>, ts: i64, kind: CellKind) {
    out.extend_from_slice(&(u64::MAX - ts as u64).to_be_bytes());
    out.push(0xFF - kind.code());
}

/// Key of a column cell (Put, Delete, DeleteColumn).
pub fn column_key(row: &[u8], qualifier: &[u8], ts: i64, kind: CellKind) -> Vec<u8> {
    let mut k = Vec::with_capacity(row.len() + qualifier.len() + 14);
    push_escaped(&mut k, row);
    k.push(TAG_COLUMN);
    push_escaped(&mut k, qualifier);
    push_ts_type(&mut k, ts, kind);
    k
}

/// Key of a family-level marker (DeleteFamily, DeleteFamilyVersion).
pub fn family_marker_key(row: &[u8], ts: i64, kind: CellKind) -> Vec<u8> {
    let mut k = Vec::with_capacity(row.len() + 12);
    push_escaped(&mut k, row);
    k.push(TAG_FAMILY);
    push_ts_type(&mut k, ts, kind);
    k
}

/// The key of `kind` for a cell, whichever layout it needs.
pub fn cell_key(row: &[u8], qualifier: &[u8], ts: i64, kind: CellKind) -> Vec<u8> {
    let mut k = Vec::with_capacity(row.len() + qualifier.len() + 14);
    push_cell_key(&mut k, row, qualifier, ts, kind);
    k
}

/// Append the key of a cell to `out` (see [`cell_key`]).
pub fn push_cell_key(out: &mut Vec<u8>, row: &[u8], qualifier: &[u8], ts: i64, kind: CellKind) {
    push_escaped(out, row);
    match kind {
        CellKind::DeleteFamily | CellKind::DeleteFamilyVersion => out.push(TAG_FAMILY),
        _ => {
            out.push(TAG_COLUMN);
            push_escaped(out, qualifier);
        }
    }
    push_ts_type(out, ts, kind);
}

/// Length of the encoded row part (including the 0x00 0x01 terminator) at the start of `key`.
#[inline]
pub fn row_part_len(key: &[u8]) -> Result<usize> {
    let mut i = 0;
    while let Some(p) = key.get(i..).and_then(|r| r.iter().position(|&b| b == 0)) {
        let z = i + p;
        match key.get(z + 1) {
            Some(0xFF) => i = z + 2,
            Some(0x01) => return Ok(z + 2),
            Some(b) => return Err(Error::corrupt(format!("cell key has invalid escape 0x00 0x{b:02x}"))),
            None => break,
        }
    }
    Err(Error::corrupt("cell key has no row terminator"))
}

/// [`row_part_len`], and whether the row part holds no escaped 0x00 byte: its first 0x00 is its
/// terminator, so the raw row is the part without its last two bytes (no unescaping needed).
#[inline]
pub fn row_part_len_unescaped(key: &[u8]) -> Result<(usize, bool)> {
    match key.iter().position(|&b| b == 0) {
        Some(z) if key.get(z + 1) == Some(&0x01) => Ok((z + 2, true)),
        _ => row_part_len(key).map(|n| (n, false)),
    }
}

fn unescape(enc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_unescaped(&mut out, enc);
    out
}

/// Decode the raw row from the row part of a key (as measured by [`row_part_len`]).
pub fn decode_row(row_part: &[u8]) -> Vec<u8> {
    unescape(&row_part[..row_part.len().saturating_sub(2)])
}

/// A decoded key, without its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTail {
    /// Empty for family-level markers.
    pub qualifier: Vec<u8>,
    /// Whether this is a family-level marker.
    pub family_level: bool,
    /// Timestamp.
    pub ts: i64,
    /// Kind.
    pub kind: CellKind,
    /// Commit sequence number (NEW_VERSION_BEHAVIOR families; 0 for keys without one).
    pub seq: u64,
}

/// Decode the part of `key` after a row part of `row_len` bytes.
pub fn decode_tail(key: &[u8], row_len: usize) -> Result<KeyTail> {
    let t = decode_tail_ref(key, row_len)?;
    let qualifier = if t.family_level { Vec::new() } else { decode_row(t.qualifier_enc) };
    Ok(KeyTail { qualifier, family_level: t.family_level, ts: t.ts, kind: t.kind, seq: t.seq })
}

/// Decode a key suffix `inv-ts(8) inv-type(1) [inv-seq(8)]` into `(ts, kind, seq)`.
fn decode_suffix(rest: &[u8], family_level: bool) -> Result<(i64, CellKind, u64)> {
    if rest.len() != 9 && rest.len() != 17 {
        return Err(Error::corrupt(format!("cell key suffix is {} bytes, expected 9 or 17", rest.len())));
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&rest[..8]);
    let ts = (u64::MAX - u64::from_be_bytes(b)) as i64;
    let code = 0xFF - rest[8];
    let kind = CellKind::from_code(code).ok_or_else(|| Error::corrupt(format!("cell key has unknown type code {code}")))?;
    if family_level != matches!(kind, CellKind::DeleteFamily | CellKind::DeleteFamilyVersion) {
        return Err(Error::corrupt("cell key tag does not match its type"));
    }
    let seq = match rest.get(9..17) {
        Some(s) => {
            b.copy_from_slice(s);
            u64::MAX - u64::from_be_bytes(b)
        }
        None => 0,
    };
    Ok((ts, kind, seq))
}

/// A decoded key, borrowing the still-escaped qualifier (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTailRef<'k> {
    /// Escaped qualifier with its 0x00 0x01 terminator; empty for family-level markers.
    pub qualifier_enc: &'k [u8],
    /// Whether this is a family-level marker.
    pub family_level: bool,
    /// Timestamp.
    pub ts: i64,
    /// Kind.
    pub kind: CellKind,
    /// Commit sequence number (NEW_VERSION_BEHAVIOR families; 0 for keys without one).
    pub seq: u64,
}

/// Like [`decode_tail`] without allocating: the qualifier stays escaped.
#[inline]
pub fn decode_tail_ref(key: &[u8], row_len: usize) -> Result<KeyTailRef<'_>> {
    let rest = key.get(row_len..).ok_or_else(|| Error::corrupt("cell key shorter than its row"))?;
    let (&tag, rest) = rest.split_first().ok_or_else(|| Error::corrupt("cell key has no tag"))?;
    let (qualifier_enc, rest, family_level) = match tag {
        TAG_FAMILY => (&rest[..0], rest, true),
        TAG_COLUMN => {
            let ql = row_part_len(rest)?;
            (&rest[..ql], &rest[ql..], false)
        }
        t => return Err(Error::corrupt(format!("cell key has unknown tag 0x{t:02x}"))),
    };
    let (ts, kind, seq) = decode_suffix(rest, family_level)?;
    Ok(KeyTailRef { qualifier_enc, family_level, ts, kind, seq })
}

/// The escaped, terminated qualifier and the timestamp of `key` (of a row whose encoded part is
/// `row_len` bytes long) when it is a column Put key without a sequence number (format 1's
/// `row-key 0x01 escaped(qualifier) 0x00 0x01 inv-ts(8) inv-type(1)`), else `None` (a marker,
/// a key with a sequence number, or a malformed key; [`decode_tail_ref`] tells them apart).
/// The plain scan's fast path (`table::plain`) reads the common cell with it.
#[inline]
pub fn column_put_parts(key: &[u8], row_len: usize) -> Option<(&[u8], i64)> {
    let rest = key.get(row_len..)?;
    let (&tag, rest) = rest.split_first()?;
    if tag != TAG_COLUMN {
        return None;
    }
    let ql = row_part_len(rest).ok()?;
    let suffix = rest.get(ql..)?;
    if suffix.len() != 9 || suffix[8] != 0xFF - CellKind::Put.code() {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&suffix[..8]);
    Some((&rest[..ql], (u64::MAX - u64::from_be_bytes(b)) as i64))
}

/// Whether a stored put value carries neither a per-cell TTL nor the NEW_VERSION_BEHAVIOR
/// flag (the plain scan's fast path reads only such values; an empty value is not one).
#[inline]
pub fn value_is_plain(stored: &[u8]) -> bool {
    stored.first().is_some_and(|b| b & (TTL_FLAG | SEQ_FLAG) == 0)
}

/// Append a sequence-number slot (zero until [`stamp_key_seq`] fills it) to a cell key.
pub fn push_seq_slot(out: &mut Vec<u8>) {
    out.extend_from_slice(&u64::MAX.to_be_bytes());
}

/// A copy of `key` (which ends with a sequence-number slot, see [`push_seq_slot`]) carrying
/// `seq`.
pub fn stamp_key_seq(key: &[u8], seq: u64) -> fjall::Slice {
    let mut k = key.to_vec();
    let n = k.len();
    if let Some(slot) = k.get_mut(n.saturating_sub(8)..) {
        slot.copy_from_slice(&(u64::MAX - seq).to_be_bytes());
    }
    fjall::Slice::from(k)
}

/// The key of the same cell in the other layout: with a sequence number (0 when `key` has none,
/// so it sorts after every rewrite of the cell) when `with_seq`, else without one. `None` when
/// `key` is already in that layout.
pub fn convert_key_layout(key: &[u8], with_seq: bool) -> Result<Option<Vec<u8>>> {
    let n = row_part_len(key)?;
    let t = decode_tail_ref(key, n)?;
    let has_seq = key.len() - n - 1 - t.qualifier_enc.len() == 17;
    Ok(match (has_seq, with_seq) {
        (false, true) => {
            let mut k = key.to_vec();
            push_seq_slot(&mut k);
            Some(k)
        }
        (true, false) => Some(key[..key.len() - 8].to_vec()),
        _ => None,
    })
}

/// Whether an escaped, terminated string encodes `raw`.
pub fn escaped_eq(enc: &[u8], raw: &[u8]) -> bool {
    let mut i = 0;
    for &b in raw {
        if b == 0 {
            if enc.get(i..i + 2) != Some(&[0x00, 0xFF][..]) {
                return false;
            }
            i += 2;
        } else {
            if enc.get(i) != Some(&b) {
                return false;
            }
            i += 1;
        }
    }
    enc.get(i..) == Some(&[0x00, 0x01][..])
}

const CODEC_RAW: u8 = 0;
const CODEC_GZ: u8 = 1;
const CODEC_SNAPPY: u8 = 2;
const CODEC_ZSTD: u8 = 3;

/// Encode a put value with the family's per-value codec (LZ4 and NONE store raw: LZ4 is applied
/// by the LSM to whole blocks). A compressed form is kept only when smaller.
pub fn encode_value(value: &[u8], compression: Compression) -> Vec<u8> {
    let compressed = match compression {
        Compression::None | Compression::Lz4 => None,
        Compression::Gz => {
            use std::io::Write;
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(value).ok().and_then(|_| enc.finish().ok()).map(|v| (CODEC_GZ, v))
        }
        Compression::Snappy => snap::raw::Encoder::new().compress_vec(value).ok().map(|v| (CODEC_SNAPPY, v)),
        Compression::Zstd => zstd::bulk::compress(value, 3).ok().map(|v| (CODEC_ZSTD, v)),
    };
    match compressed {
        Some((codec, c)) if c.len() < value.len() => {
            let mut out = Vec::with_capacity(c.len() + 1);
            out.push(codec);
            out.extend_from_slice(&c);
            out
        }
        _ => {
            let mut out = Vec::with_capacity(value.len() + 1);
            out.push(CODEC_RAW);
            out.extend_from_slice(value);
            out
        }
    }
}

/// Longest raw value [`encode_value_slice`] lays out in its scratch buffer (which therefore
/// never grows past twice this).
pub const VALUE_SCRATCH_MAX: usize = 4096;

/// [`encode_value`] straight into the LSM's slice type (one allocation for raw values). A raw
/// value of up to [`VALUE_SCRATCH_MAX`] bytes is laid out in `buf` (scratch space, left holding
/// it) and copied into the slice once: cheaper than filling the slice through a chained reader
/// (callgrind, a 100-byte value: 498 instructions that way, 443 this way, 370 of them the
/// slice's allocation and copy), which longer values still use (no copy through `buf`, whose
/// size stays bounded).
pub fn encode_value_slice(value: &[u8], compression: Compression, buf: &mut Vec<u8>) -> fjall::Slice {
    if matches!(compression, Compression::None | Compression::Lz4) {
        if value.len() <= VALUE_SCRATCH_MAX {
            buf.clear();
            buf.reserve(value.len() + 1);
            buf.push(CODEC_RAW);
            buf.extend_from_slice(value);
            return fjall::Slice::from(buf.as_slice());
        }
        use std::io::Read;
        let mut src = (&[CODEC_RAW][..]).chain(value);
        if let Ok(s) = fjall::Slice::from_reader(&mut src, value.len() + 1) {
            return s;
        }
    }
    fjall::Slice::from(encode_value(value, compression))
}

const TTL_FLAG: u8 = 0x80;
const SEQ_FLAG: u8 = 0x40;
const CODEC_MASK: u8 = !(TTL_FLAG | SEQ_FLAG);

/// Split a stored value into `(codec, per-cell TTL, payload)`; `None` for an empty value.
fn split_value(stored: &[u8]) -> Result<Option<(u8, Option<i64>, &[u8])>> {
    let Some((&first, rest)) = stored.split_first() else {
        return Ok(None);
    };
    if first & TTL_FLAG == 0 {
        return Ok(Some((first & CODEC_MASK, None, rest)));
    }
    if rest.len() < 8 {
        return Err(Error::corrupt("value with a TTL flag is shorter than its TTL"));
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&rest[..8]);
    Ok(Some((first & CODEC_MASK, Some(i64::from_be_bytes(b)), &rest[8..])))
}

/// Mark an encoded value (or an empty marker value) as written to a NEW_VERSION_BEHAVIOR
/// family: its key has a sequence-number slot for the commit to fill.
pub fn with_seq_flag(mut encoded: Vec<u8>) -> Vec<u8> {
    if encoded.is_empty() {
        encoded.push(0);
    }
    encoded[0] |= SEQ_FLAG;
    encoded
}

/// Whether a value to write is marked by [`with_seq_flag`].
pub fn has_seq_flag(value: &[u8]) -> bool {
    value.first().is_some_and(|b| b & SEQ_FLAG != 0)
}

/// [`encode_value`] with a per-cell TTL (ms) when `ttl` is set.
pub fn encode_value_ttl(value: &[u8], compression: Compression, ttl: Option<i64>) -> Vec<u8> {
    let mut v = encode_value(value, compression);
    if let Some(t) = ttl {
        v[0] |= TTL_FLAG;
        v.splice(1..1, t.to_be_bytes());
    }
    v
}

/// The per-cell TTL (ms) of a stored value, if it has one.
pub fn value_ttl(stored: &[u8]) -> Result<Option<i64>> {
    match stored.first() {
        Some(b) if b & TTL_FLAG != 0 => Ok(split_value(stored)?.and_then(|(_, t, _)| t)),
        _ => Ok(None),
    }
}

/// Re-encode a stored value with another family compression, keeping its per-cell TTL, and
/// set or clear the NEW_VERSION_BEHAVIOR flag. A marker value stays empty or `0x40`.
pub fn recode_value(stored: &[u8], compression: Compression, seq_flag: bool) -> Result<Vec<u8>> {
    let marker = stored.is_empty() || stored == [SEQ_FLAG];
    let v = if marker { Vec::new() } else { encode_value_ttl(&decode_value(stored)?, compression, value_ttl(stored)?) };
    Ok(if seq_flag { with_seq_flag(v) } else { v })
}

/// Decode a stored put value.
pub fn decode_value(stored: &[u8]) -> Result<Vec<u8>> {
    let Some((codec, _, payload)) = split_value(stored)? else {
        return Ok(Vec::new());
    };
    match codec {
        CODEC_RAW => Ok(payload.to_vec()),
        CODEC_GZ => {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(payload)
                .read_to_end(&mut out)
                .map_err(|e| Error::corrupt(format!("gzip value does not decode: {e}")))?;
            Ok(out)
        }
        CODEC_SNAPPY => snap::raw::Decoder::new()
            .decompress_vec(payload)
            .map_err(|e| Error::corrupt(format!("snappy value does not decode: {e}"))),
        CODEC_ZSTD => {
            zstd::stream::decode_all(payload).map_err(|e| Error::corrupt(format!("zstd value does not decode: {e}")))
        }
        c => Err(Error::corrupt(format!("value has unknown codec {c}"))),
    }
}

/// [`decode_value`] into `out` (cleared first), reusing its buffer for raw values; the common
/// value (raw codec, no flag) is told by its first byte, without splitting it.
#[inline]
pub fn decode_value_into(stored: &[u8], out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    if let Some((&CODEC_RAW, payload)) = stored.split_first() {
        out.extend_from_slice(payload);
        return Ok(());
    }
    match split_value(stored)? {
        None => Ok(()),
        Some((CODEC_RAW, _, payload)) => {
            out.extend_from_slice(payload);
            Ok(())
        }
        Some(_) => {
            *out = decode_value(stored)?;
            Ok(())
        }
    }
}

/// Where a stored put value's payload starts when it is stored uncompressed (`stored[offset..]`
/// is the value, no copy needed); `None` when it is compressed and must be decoded
/// ([`decode_value`]).
pub fn raw_payload_offset(stored: &[u8]) -> Result<Option<usize>> {
    match split_value(stored)? {
        None => Ok(Some(stored.len())),
        Some((CODEC_RAW, _, payload)) => Ok(Some(stored.len() - payload.len())),
        Some(_) => Ok(None),
    }
}

/// [`raw_payload_offset`], answering the common value (raw codec, no flag: first byte 0) without
/// splitting it.
#[inline]
pub fn raw_payload_offset_fast(stored: &[u8]) -> Result<Option<usize>> {
    match stored.first() {
        Some(&CODEC_RAW) => Ok(Some(1)),
        _ => raw_payload_offset(stored),
    }
}

/// Append an escaped, terminated string (a row part or an escaped qualifier) unescaped to
/// `out` (not cleared).
#[inline]
pub fn push_decoded(enc: &[u8], out: &mut Vec<u8>) {
    push_unescaped(out, &enc[..enc.len().saturating_sub(2)]);
}

/// Unescape an escaped, terminated string (a row part or an escaped qualifier) into `out`
/// (cleared first).
#[inline]
pub fn decode_row_into(enc: &[u8], out: &mut Vec<u8>) {
    out.clear();
    push_unescaped(out, &enc[..enc.len().saturating_sub(2)]);
}

/// Whether `key` (a key of the row whose encoded part is `row_len` bytes long) is a cell of the
/// column with the escaped, terminated qualifier `qualifier_enc`: the column's cells are exactly
/// the keys starting with `row 0x01 qualifier_enc`, and they are contiguous.
pub fn in_column(key: &[u8], row_len: usize, qualifier_enc: &[u8]) -> bool {
    key.get(row_len) == Some(&TAG_COLUMN) && key.get(row_len + 1..).is_some_and(|r| r.starts_with(qualifier_enc))
}

/// Whether `key` (of a row whose encoded part is `row_len` bytes long) is a family-level marker
/// key (tag 0x00); a key too short for a tag is not (decoding it reports the corruption).
pub fn is_family_level(key: &[u8], row_len: usize) -> bool {
    key.get(row_len) == Some(&TAG_FAMILY)
}

/// Seek keys inside one row of one family, from the row part `row_enc` (with its terminator)
/// and an escaped, terminated qualifier `qualifier_enc`:
///
/// - [`column_start_key`]: before every cell of the column (`row 0x01 qualifier_enc`);
/// - [`column_end_key`]: after every cell of the column and before the next column
///   (`qualifier_enc`'s final 0x01 becomes 0x02);
/// - [`row_end_key`]: after every key of the row (the row part's final 0x01 becomes 0x02,
///   [`after_row`]'s form).
pub fn column_start_key(out: &mut Vec<u8>, row_enc: &[u8], qualifier_enc: &[u8]) {
    out.clear();
    out.extend_from_slice(row_enc);
    out.push(TAG_COLUMN);
    out.extend_from_slice(qualifier_enc);
}

/// See [`column_start_key`].
pub fn column_end_key(out: &mut Vec<u8>, row_enc: &[u8], qualifier_enc: &[u8]) {
    column_start_key(out, row_enc, qualifier_enc);
    if let Some(last) = out.last_mut() {
        *last = 0x02;
    }
}

/// See [`column_start_key`].
pub fn row_end_key(out: &mut Vec<u8>, row_enc: &[u8]) {
    out.clear();
    out.extend_from_slice(row_enc);
    if let Some(last) = out.last_mut() {
        *last = 0x02;
    }
}

/// The position of a cell `(qualifier_enc, ts, kind)` in a row, as a key: the cell's own key
/// when it exists, else where it would sort (a seek target for filter hints).
pub fn column_position_key(out: &mut Vec<u8>, row_enc: &[u8], qualifier_enc: &[u8], ts: i64, kind: CellKind) {
    column_start_key(out, row_enc, qualifier_enc);
    push_ts_type(out, ts.max(0), kind);
}

/// Escape and terminate `raw` into `out` (cleared first).
pub fn escape_into(out: &mut Vec<u8>, raw: &[u8]) {
    out.clear();
    push_escaped(out, raw);
}

/// The codec byte of a stored value (for tests and describe).
pub fn stored_codec(stored: &[u8]) -> Option<u8> {
    stored.first().map(|b| b & CODEC_MASK)
}

/// Byte strings for tests of zero-byte searches: every length up to 40, a zero at every position
/// (or none), other bytes that trip the word test's borrows (0x01, 0x80, 0xFF) around it, and a
/// second zero after it.
#[cfg(test)]
pub(crate) fn zero_search_cases() -> Vec<Vec<u8>> {
    let mut cases = Vec::new();
    for len in 0..40 {
        for fill in [0x01u8, 0x80, 0xFF, 0x7F, b'r'] {
            for zero in (0..len).map(Some).chain([None]) {
                let mut b = vec![fill; len];
                if let Some(z) = zero {
                    b[z] = 0;
                    if z + 3 < len {
                        b[z + 3] = 0;
                    }
                }
                cases.push(b);
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `copy_over` leaves exactly `src` in `dst`, from every length to every length (the
    /// two-word copy for equal lengths 8 to 16 included).
    #[test]
    fn copy_over_copies_every_length() {
        for from in 0..24usize {
            for to in 0..24usize {
                let mut dst: Vec<u8> = (0..from).map(|i| 200 + i as u8).collect();
                let src: Vec<u8> = (0..to).map(|i| i as u8 + 1).collect();
                copy_over(&mut dst, &src);
                assert_eq!(dst, src, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn first_zero_finds_the_first_zero_byte() {
        for b in zero_search_cases() {
            assert_eq!(first_zero(&b), b.iter().position(|&x| x == 0), "{b:?}");
        }
    }

    #[test]
    fn binary_rows_round_trip() {
        for row in [&b""[..], b"\x00", b"a\x00b", b"\x00\x00\x01", b"\xff\x00"] {
            let k = column_key(row, b"q\x00", 5, CellKind::Put);
            let n = row_part_len(&k).unwrap();
            assert_eq!(decode_row(&k[..n]), row);
            let t = decode_tail(&k, n).unwrap();
            assert_eq!((t.qualifier.as_slice(), t.ts, t.kind), (&b"q\x00"[..], 5, CellKind::Put));
            assert!(k.starts_with(&row_prefix(row)));
        }
        let k = family_marker_key(b"r", 9, CellKind::DeleteFamily);
        let t = decode_tail(&k, row_part_len(&k).unwrap()).unwrap();
        assert!(t.family_level);
        assert_eq!(t.kind, CellKind::DeleteFamily);
    }

    #[test]
    fn order_is_row_qualifier_ts_desc_markers_first() {
        let a = column_key(b"a", b"q", 10, CellKind::Put);
        let b = column_key(b"a", b"q", 5, CellKind::Put);
        let c = column_key(b"a", b"q", 5, CellKind::DeleteColumn);
        let d = column_key(b"a", b"q\x00", 100, CellKind::Put);
        let e = column_key(b"a", b"qa", 100, CellKind::Put);
        let f = column_key(b"a\x00", b"", 1, CellKind::Put);
        let g = column_key(b"ab", b"", 1, CellKind::Put);
        let m = family_marker_key(b"a", 1, CellKind::DeleteFamily);
        assert!(m < a && a < c && c < b && b < d && d < e && e < f && f < g);
        assert!(column_key(b"a", b"q", 5, CellKind::Delete) < b);
        assert!(after_row(b"a") > e && after_row(b"a") < f);
    }

    proptest! {
        #[test]
        fn key_order_matches_raw_order(r1 in proptest::collection::vec(any::<u8>(), 0..6),
                                       r2 in proptest::collection::vec(any::<u8>(), 0..6),
                                       q1 in proptest::collection::vec(any::<u8>(), 0..4),
                                       q2 in proptest::collection::vec(any::<u8>(), 0..4),
                                       t1 in 0i64..1000, t2 in 0i64..1000) {
            let k1 = column_key(&r1, &q1, t1, CellKind::Put);
            let k2 = column_key(&r2, &q2, t2, CellKind::Put);
            let raw = (r1.clone(), q1.clone(), std::cmp::Reverse(t1)).cmp(&(r2.clone(), q2.clone(), std::cmp::Reverse(t2)));
            prop_assert_eq!(k1.cmp(&k2), raw);
        }
    }

    #[test]
    fn borrowed_tail_and_escaped_eq() {
        let k = column_key(b"r", b"a\x00b", 7, CellKind::Delete);
        let t = decode_tail_ref(&k, row_part_len(&k).unwrap()).unwrap();
        assert_eq!((t.ts, t.kind, t.family_level), (7, CellKind::Delete, false));
        assert!(escaped_eq(t.qualifier_enc, b"a\x00b"));
        assert!(!escaped_eq(t.qualifier_enc, b"a\x00"));
        assert!(!escaped_eq(t.qualifier_enc, b"a\x00bc"));
        assert_eq!(decode_row(t.qualifier_enc), b"a\x00b");
        assert!(escaped_eq(&row_prefix(b""), b""));
    }

    #[test]
    fn seek_keys_bound_columns_and_rows() {
        let row_enc = row_prefix(b"r");
        let mut q = Vec::new();
        escape_into(&mut q, b"q");
        let (mut start, mut end, mut row_end, mut pos) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        column_start_key(&mut start, &row_enc, &q);
        column_end_key(&mut end, &row_enc, &q);
        row_end_key(&mut row_end, &row_enc);
        column_position_key(&mut pos, &row_enc, &q, 5, CellKind::DeleteFamily);
        let newest = column_key(b"r", b"q", i64::MAX - 1, CellKind::DeleteColumn);
        let at5 = column_key(b"r", b"q", 5, CellKind::DeleteColumn);
        let oldest = column_key(b"r", b"q", 0, CellKind::Put);
        assert!(family_marker_key(b"r", 0, CellKind::DeleteFamilyVersion) < start);
        assert!(start < newest && pos < at5 && column_key(b"r", b"q", 6, CellKind::Put) < pos);
        assert!(oldest < end && end < column_key(b"r", b"q\x00", 9, CellKind::Put));
        assert!(end < column_key(b"r", b"qa", 9, CellKind::Put));
        assert!(column_key(b"r", b"\xff\xff", 0, CellKind::Put) < row_end && row_end < row_prefix(b"r\x00"));
        assert_eq!(row_end, after_row(b"r"));
        let mut raw = Vec::new();
        decode_row_into(&q, &mut raw);
        assert_eq!(raw, b"q");
        let mut v = vec![1, 2, 3];
        decode_value_into(&encode_value(b"abc", Compression::None), &mut v).unwrap();
        assert_eq!(v, b"abc");
        decode_value_into(&encode_value(&b"abc".repeat(40), Compression::Zstd), &mut v).unwrap();
        assert_eq!(v, b"abc".repeat(40));
    }

    #[test]
    fn values_carry_a_per_cell_ttl() {
        let v = b"abc abc abc abc abc abc abc abc abc abc".repeat(4);
        for c in [Compression::None, Compression::Zstd] {
            let e = encode_value_ttl(&v, c, Some(1500));
            assert_eq!(value_ttl(&e).unwrap(), Some(1500));
            assert_eq!(decode_value(&e).unwrap(), v);
            let mut out = Vec::new();
            decode_value_into(&e, &mut out).unwrap();
            assert_eq!(out, v);
            let r = recode_value(&e, Compression::Gz, false).unwrap();
            assert_eq!((value_ttl(&r).unwrap(), decode_value(&r).unwrap()), (Some(1500), v.clone()));
            assert_eq!(stored_codec(&r), Some(CODEC_GZ));
        }
        assert_eq!(value_ttl(&encode_value(b"x", Compression::None)).unwrap(), None);
        assert_eq!(encode_value_ttl(b"x", Compression::None, None), encode_value(b"x", Compression::None));
        // A flagged value too short for its TTL is corrupt, not a panic.
        assert!(decode_value(&[0x80, 1, 2]).is_err());
        assert!(value_ttl(&[0x80]).is_err());
    }

    #[test]
    fn escaping_runs_round_trip() {
        for raw in [&b""[..], b"\x00", b"\x00\x00", b"ab\x00", b"\x00ab", b"a\x00\x00b\x00c", b"plain"] {
            let mut enc = Vec::new();
            push_escaped(&mut enc, raw);
            let byte_wise: Vec<u8> = raw.iter().flat_map(|&b| if b == 0 { vec![0, 0xFF] } else { vec![b] }).chain([0, 1]).collect();
            assert_eq!(enc, byte_wise);
            assert_eq!(row_part_len(&enc).unwrap(), enc.len());
            let mut out = vec![9];
            decode_row_into(&enc, &mut out);
            assert_eq!(out, raw);
            assert_eq!(decode_row(&enc), raw);
        }
        // A lone 0x00 at the end has no terminator.
        assert!(row_part_len(b"ab\x00").is_err());
        assert!(row_part_len(b"\x00\xff\x00").is_err());
    }

    #[test]
    fn column_membership_and_marker_tags() {
        let row_enc = row_prefix(b"r");
        let n = row_enc.len();
        let mut q = Vec::new();
        escape_into(&mut q, b"q");
        assert!(in_column(&column_key(b"r", b"q", 5, CellKind::Put), n, &q));
        assert!(in_column(&column_key(b"r", b"q", 5, CellKind::DeleteColumn), n, &q));
        assert!(!in_column(&column_key(b"r", b"q\x00", 5, CellKind::Put), n, &q));
        assert!(!in_column(&column_key(b"r", b"qa", 5, CellKind::Put), n, &q));
        assert!(!in_column(&column_key(b"r", b"", 5, CellKind::Put), n, &q));
        assert!(!in_column(&family_marker_key(b"r", 5, CellKind::DeleteFamily), n, &q));
        assert!(!in_column(&row_enc, n, &q));
        assert!(is_family_level(&family_marker_key(b"r", 5, CellKind::DeleteFamilyVersion), n));
        assert!(!is_family_level(&column_key(b"r", b"", 5, CellKind::Put), n));
        assert!(!is_family_level(&row_enc, n));
    }

    #[test]
    fn keys_carry_a_sequence_number() {
        let mut k = column_key(b"r", b"q", 7, CellKind::Delete);
        let plain = k.clone();
        push_seq_slot(&mut k);
        let t = decode_tail_ref(&k, row_part_len(&k).unwrap()).unwrap();
        assert_eq!((t.ts, t.kind, t.seq), (7, CellKind::Delete, 0));
        let k1 = stamp_key_seq(&k, 41);
        let k2 = stamp_key_seq(&k, 42);
        assert_eq!(decode_tail(&k2, row_part_len(&k2).unwrap()).unwrap().seq, 42);
        // Rewrites of a cell: newest commit first, all after the layout without a number and
        // before the next timestamp.
        assert!(plain[..] < k2[..] && k2[..] < k1[..] && k1[..] < k[..] && k[..] < column_key(b"r", b"q", 6, CellKind::Put)[..]);
        let mut f = family_marker_key(b"r", 3, CellKind::DeleteFamily);
        push_seq_slot(&mut f);
        let f = stamp_key_seq(&f, 9);
        let t = decode_tail(&f, row_part_len(&f).unwrap()).unwrap();
        assert_eq!((t.family_level, t.seq), (true, 9));
        // Converting between layouts: a key without a number gets 0, one with loses it.
        assert_eq!(convert_key_layout(&plain, true).unwrap().as_deref(), Some(&k[..]));
        assert_eq!(convert_key_layout(&k2, false).unwrap().as_deref(), Some(&plain[..]));
        assert_eq!(convert_key_layout(&plain, false).unwrap(), None);
        assert_eq!(convert_key_layout(&k2, true).unwrap(), None);
        // Values of such families are flagged; the flag changes nothing else.
        let v = b"abc abc abc abc abc abc abc abc abc abc".repeat(4);
        for (c, ttl) in [(Compression::None, None), (Compression::Zstd, Some(1500))] {
            let flagged = with_seq_flag(encode_value_ttl(&v, c, ttl));
            assert!(has_seq_flag(&flagged));
            assert_eq!((decode_value(&flagged).unwrap(), value_ttl(&flagged).unwrap()), (v.clone(), ttl));
            let mut out = Vec::new();
            decode_value_into(&flagged, &mut out).unwrap();
            assert_eq!(out, v);
            let r = recode_value(&flagged, Compression::Snappy, true).unwrap();
            assert!(has_seq_flag(&r));
            assert_eq!((value_ttl(&r).unwrap(), decode_value(&r).unwrap()), (ttl, v.clone()));
            assert_eq!(stored_codec(&r), Some(CODEC_SNAPPY));
            assert!(!has_seq_flag(&recode_value(&flagged, Compression::None, false).unwrap()));
        }
        assert_eq!(with_seq_flag(Vec::new()), [0x40]);
        assert_eq!(recode_value(&[0x40], Compression::Zstd, false).unwrap(), b"");
        assert_eq!(recode_value(b"", Compression::Zstd, true).unwrap(), [0x40]);
        assert!(!has_seq_flag(&encode_value_ttl(b"x", Compression::None, Some(5))) && !has_seq_flag(b""));
        // A suffix of another length is corrupt.
        let mut bad = k.clone();
        bad.pop();
        assert!(decode_tail(&bad, row_part_len(&bad).unwrap()).is_err());
    }

    #[test]
    fn corrupt_keys_are_errors() {
        assert!(row_part_len(b"abc").is_err());
        assert!(row_part_len(b"a\x00\x05").is_err());
        let mut k = column_key(b"r", b"q", 1, CellKind::Put);
        k.pop();
        assert!(decode_tail(&k, row_part_len(&k).unwrap()).is_err());
        let mut k = column_key(b"r", b"q", 1, CellKind::Put);
        *k.last_mut().unwrap() = 0;
        assert!(decode_tail(&k, row_part_len(&k).unwrap()).is_err());
    }

    #[test]
    fn values_round_trip_every_codec() {
        let v = b"hello hello hello hello hello hello hello".repeat(10);
        for c in [Compression::None, Compression::Gz, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let e = encode_value(&v, c);
            assert_eq!(decode_value(&e).unwrap(), v);
            if matches!(c, Compression::Gz | Compression::Snappy | Compression::Zstd) {
                assert!(e.len() < v.len() / 2, "{c:?} did not compress");
                assert_ne!(stored_codec(&e), Some(0));
            }
        }
        let mut buf = b"left over".to_vec();
        for c in [Compression::None, Compression::Gz, Compression::Lz4, Compression::Snappy, Compression::Zstd] {
            let long = vec![3u8; VALUE_SCRATCH_MAX + 1];
            for v in [&v[..], b"", b"x", &[0u8; 20][..], &[7u8; 21][..], &long[..VALUE_SCRATCH_MAX], &long[..]] {
                assert_eq!(&*encode_value_slice(v, c, &mut buf), encode_value(v, c).as_slice());
                assert!(buf.capacity() <= 2 * (VALUE_SCRATCH_MAX + 1));
            }
        }
        assert_eq!(cell_key(b"r", b"q", 3, CellKind::DeleteFamily), family_marker_key(b"r", 3, CellKind::DeleteFamily));
        assert_eq!(cell_key(b"r", b"q", 3, CellKind::Delete), column_key(b"r", b"q", 3, CellKind::Delete));
        // incompressible short values stay raw
        assert_eq!(stored_codec(&encode_value(b"x", Compression::Gz)), Some(0));
        assert!(decode_value(&[9, 1, 2]).is_err());
        assert!(decode_value(&[1, 1, 2]).is_err());
    }
}
