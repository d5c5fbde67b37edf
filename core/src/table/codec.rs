//! Cell key and value codec (key format 1).
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
//! format), 3 = zstd frame. Delete markers have an empty value.

use crate::cell::CellKind;
use crate::error::{Error, Result};
use crate::table::schema::Compression;

/// Version of the key layout above, stored in each table's metadata.
pub const KEY_FORMAT: u32 = 1;
/// Largest key the LSM accepts.
pub const MAX_KEY_LEN: usize = 65_536;

const TAG_FAMILY: u8 = 0x00;
const TAG_COLUMN: u8 = 0x01;

/// Append `escaped(bytes) 0x00 0x01`.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b == 0 {
            out.extend_from_slice(&[0x00, 0xFF]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Append `escaped(bytes)` without terminator (a prefix of every longer escaped string).
pub fn push_escaped_prefix(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b == 0 {
            out.extend_from_slice(&[0x00, 0xFF]);
        } else {
            out.push(b);
        }
    }
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
    match kind {
        CellKind::DeleteFamily | CellKind::DeleteFamilyVersion => family_marker_key(row, ts, kind),
        _ => column_key(row, qualifier, ts, kind),
    }
}

/// Length of the encoded row part (including the 0x00 0x01 terminator) at the start of `key`.
pub fn row_part_len(key: &[u8]) -> Result<usize> {
    let mut i = 0;
    while i + 1 < key.len() {
        if key[i] == 0 {
            match key[i + 1] {
                0xFF => i += 2,
                0x01 => return Ok(i + 2),
                b => return Err(Error::corrupt(format!("cell key has invalid escape 0x00 0x{b:02x}"))),
            }
        } else {
            i += 1;
        }
    }
    Err(Error::corrupt("cell key has no row terminator"))
}

fn unescape(enc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(enc.len());
    let mut i = 0;
    while i < enc.len() {
        out.push(enc[i]);
        i += if enc[i] == 0 { 2 } else { 1 };
    }
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
}

/// Decode the part of `key` after a row part of `row_len` bytes.
pub fn decode_tail(key: &[u8], row_len: usize) -> Result<KeyTail> {
    let rest = key.get(row_len..).ok_or_else(|| Error::corrupt("cell key shorter than its row"))?;
    let (&tag, rest) = rest.split_first().ok_or_else(|| Error::corrupt("cell key has no tag"))?;
    let (qualifier, rest, family_level) = match tag {
        TAG_FAMILY => (Vec::new(), rest, true),
        TAG_COLUMN => {
            let ql = row_part_len(rest)?;
            (decode_row(&rest[..ql]), &rest[ql..], false)
        }
        t => return Err(Error::corrupt(format!("cell key has unknown tag 0x{t:02x}"))),
    };
    if rest.len() != 9 {
        return Err(Error::corrupt(format!("cell key suffix is {} bytes, expected 9", rest.len())));
    }
    let mut ts_bytes = [0u8; 8];
    ts_bytes.copy_from_slice(&rest[..8]);
    let ts = (u64::MAX - u64::from_be_bytes(ts_bytes)) as i64;
    let code = 0xFF - rest[8];
    let kind = CellKind::from_code(code).ok_or_else(|| Error::corrupt(format!("cell key has unknown type code {code}")))?;
    if family_level != matches!(kind, CellKind::DeleteFamily | CellKind::DeleteFamilyVersion) {
        return Err(Error::corrupt("cell key tag does not match its type"));
    }
    Ok(KeyTail { qualifier, family_level, ts, kind })
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

/// Decode a stored put value.
pub fn decode_value(stored: &[u8]) -> Result<Vec<u8>> {
    let Some((&codec, payload)) = stored.split_first() else {
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

/// The codec byte of a stored value (for tests and describe).
pub fn stored_codec(stored: &[u8]) -> Option<u8> {
    stored.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        // incompressible short values stay raw
        assert_eq!(stored_codec(&encode_value(b"x", Compression::Gz)), Some(0));
        assert!(decode_value(&[9, 1, 2]).is_err());
        assert!(decode_value(&[1, 1, 2]).is_err());
    }
}
