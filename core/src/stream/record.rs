//! The change record: what a table change looks like in a topic.
//!
//! One [`ChangeRecord`] describes one committed row mutation (the default shape, so a row-atomic
//! change arrives as one record, never half of one) or one cell of it ([`RecordShape::PerCell`],
//! the hbase-connectors proxy's shape). The record key in the topic is the row key.
//!
//! # JSON (the default), schema version 1
//!
//! ```json
//! {
//!   "v": 1,                        // schema version
//!   "table": "default:orders",     // full table name
//!   "seq": 42,                     // change sequence number: per stream, dense, commit order
//!   "enc": "utf8",                 // how row/family/qualifier/value are written: "utf8" or "base64"
//!   "row": "order-1",
//!   "op": "put",                   // "put" (only values), "delete" (only delete markers), "mixed"
//!   "cells": [
//!     {"family": "cf", "qualifier": "amount", "ts": 1700000000000,
//!      "kind": "put", "value": "12.50"},
//!     {"family": "cf", "qualifier": "note", "ts": 1700000000000,
//!      "kind": "delete_column", "value": null}
//!   ]
//! }
//! ```
//!
//! `kind` is the HBase cell type: `put`, `delete` (one version), `delete_column` (all versions
//! up to `ts`), `delete_family` (the whole family up to `ts`; a whole-row delete is one per
//! family), `delete_family_version` (the family at exactly `ts`). `value` is `null` for delete
//! markers. `enc` is `"utf8"` when every byte field of the record (row, families, qualifiers,
//! values) is valid UTF-8 and the stream's [`BytesEncoding`] is `Auto`; otherwise every byte field
//! of that record is standard base64 (RFC 4648, padded) and `enc` is `"base64"`. A per-cell record
//! has the same schema with exactly one cell.
//!
//! # Binary, format version 1
//!
//! Compact and exact; integers big-endian, `uv` = unsigned LEB128 varint:
//!
//! ```text
//! 'K' 'C'            magic
//! u8                 format version (1)
//! u8                 flags (0; reserved)
//! u64                seq
//! uv + bytes         table (UTF-8)
//! uv + bytes         row
//! uv                 cell count
//! per cell:
//!   u8               kind (HBase type code: 4 Put, 8 Delete, 10 DeleteFamilyVersion,
//!                    12 DeleteColumn, 14 DeleteFamily)
//!   uv + bytes       family
//!   uv + bytes       qualifier
//!   i64              timestamp
//!   uv + bytes       value
//! ```

use crate::cell::CellKind;
use crate::error::{Error, ErrorCode, Result};

/// One cell of a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeCell {
    /// Column family.
    pub family: Vec<u8>,
    /// Qualifier.
    pub qualifier: Vec<u8>,
    /// Timestamp the cell was written with.
    pub timestamp: i64,
    /// Put or a delete marker.
    pub kind: CellKind,
    /// Value (empty for delete markers).
    pub value: Vec<u8>,
}

/// What a change did, derived from its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Only values were written.
    Put,
    /// Only delete markers were written.
    Delete,
    /// Both.
    Mixed,
}

impl Operation {
    /// `"put"`, `"delete"` or `"mixed"`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Put => "put",
            Operation::Delete => "delete",
            Operation::Mixed => "mixed",
        }
    }
}

/// One committed change of one row (or one cell of it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeRecord {
    /// Full table name, `ns:table`.
    pub table: String,
    /// Row key.
    pub row: Vec<u8>,
    /// Change sequence number (see the module docs).
    pub seq: u64,
    /// The cells, in the order the mutation wrote them.
    pub cells: Vec<ChangeCell>,
}

/// How a change becomes records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecordShape {
    /// One record per row mutation (per destination topic and partition).
    #[default]
    PerRow,
    /// One record per cell.
    PerCell,
}

/// How records are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecordFormat {
    /// The JSON schema of the module docs.
    #[default]
    Json,
    /// The compact binary format of the module docs.
    Binary,
}

/// How byte fields are written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BytesEncoding {
    /// UTF-8 text when every byte field of the record is valid UTF-8, else base64.
    #[default]
    Auto,
    /// Always base64.
    Base64,
}

/// The JSON name of a cell kind.
pub fn kind_name(kind: CellKind) -> &'static str {
    match kind {
        CellKind::Put => "put",
        CellKind::Delete => "delete",
        CellKind::DeleteColumn => "delete_column",
        CellKind::DeleteFamily => "delete_family",
        CellKind::DeleteFamilyVersion => "delete_family_version",
    }
}

/// The cell kind with this JSON name.
pub fn kind_from_name(name: &str) -> Option<CellKind> {
    Some(match name {
        "put" => CellKind::Put,
        "delete" => CellKind::Delete,
        "delete_column" => CellKind::DeleteColumn,
        "delete_family" => CellKind::DeleteFamily,
        "delete_family_version" => CellKind::DeleteFamilyVersion,
        _ => return None,
    })
}

/// JSON schema version written by [`ChangeRecord::to_json`].
pub const JSON_VERSION: u64 = 1;
/// Binary format version written by [`ChangeRecord::to_binary`].
pub const BINARY_VERSION: u8 = 1;

impl ChangeRecord {
    /// What the change did.
    pub fn operation(&self) -> Operation {
        let puts = self.cells.iter().filter(|c| c.kind == CellKind::Put).count();
        if puts == self.cells.len() {
            Operation::Put
        } else if puts == 0 {
            Operation::Delete
        } else {
            Operation::Mixed
        }
    }

    /// Split into one record per cell (same table, row and seq).
    pub fn per_cell(&self) -> Vec<ChangeRecord> {
        self.cells
            .iter()
            .map(|c| ChangeRecord { table: self.table.clone(), row: self.row.clone(), seq: self.seq, cells: vec![c.clone()] })
            .collect()
    }

    /// Encode in `format`.
    pub fn encode(&self, format: RecordFormat, bytes: BytesEncoding) -> Vec<u8> {
        match format {
            RecordFormat::Json => self.to_json(bytes),
            RecordFormat::Binary => self.to_binary(),
        }
    }

    /// Decode a record in `format`.
    pub fn decode(format: RecordFormat, buf: &[u8]) -> Result<ChangeRecord> {
        match format {
            RecordFormat::Json => ChangeRecord::from_json(buf),
            RecordFormat::Binary => ChangeRecord::from_binary(buf),
        }
    }

    /// The JSON encoding (schema in the module docs).
    pub fn to_json(&self, bytes: BytesEncoding) -> Vec<u8> {
        let utf8 = bytes == BytesEncoding::Auto
            && std::str::from_utf8(&self.row).is_ok()
            && self.cells.iter().all(|c| {
                std::str::from_utf8(&c.family).is_ok() && std::str::from_utf8(&c.qualifier).is_ok() && std::str::from_utf8(&c.value).is_ok()
            });
        let enc = |b: &[u8]| -> serde_json::Value {
            if utf8 {
                serde_json::Value::String(String::from_utf8_lossy(b).into_owned())
            } else {
                serde_json::Value::String(base64_encode(b))
            }
        };
        let cells: Vec<serde_json::Value> = self
            .cells
            .iter()
            .map(|c| {
                serde_json::json!({
                    "family": enc(&c.family),
                    "qualifier": enc(&c.qualifier),
                    "ts": c.timestamp,
                    "kind": kind_name(c.kind),
                    "value": if c.kind == CellKind::Put { enc(&c.value) } else { serde_json::Value::Null },
                })
            })
            .collect();
        let v = serde_json::json!({
            "v": JSON_VERSION,
            "table": self.table,
            "seq": self.seq,
            "enc": if utf8 { "utf8" } else { "base64" },
            "row": enc(&self.row),
            "op": self.operation().name(),
            "cells": cells,
        });
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// Parse the JSON encoding; any schema violation is [`ErrorCode::Corrupt`] naming the field.
    pub fn from_json(buf: &[u8]) -> Result<ChangeRecord> {
        let bad = |what: &str| Error::corrupt(format!("change record JSON: {what}"));
        let v: serde_json::Value = serde_json::from_slice(buf).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let version = v.get("v").and_then(|x| x.as_u64()).ok_or_else(|| bad("missing \"v\""))?;
        if version != JSON_VERSION {
            return Err(Error::new(ErrorCode::IncompatibleFormat, format!("change record JSON version {version}; this build reads {JSON_VERSION}")));
        }
        let base64 = match v.get("enc").and_then(|x| x.as_str()) {
            Some("utf8") => false,
            Some("base64") => true,
            _ => return Err(bad("\"enc\" must be \"utf8\" or \"base64\"")),
        };
        let field = |obj: &serde_json::Value, name: &str| -> Result<Vec<u8>> {
            let s = obj.get(name).and_then(|x| x.as_str()).ok_or_else(|| bad(&format!("missing string \"{name}\"")))?;
            if base64 {
                base64_decode(s).map_err(|e| bad(&format!("\"{name}\": {}", e.message())))
            } else {
                Ok(s.as_bytes().to_vec())
            }
        };
        let table = v.get("table").and_then(|x| x.as_str()).ok_or_else(|| bad("missing \"table\""))?.to_string();
        let seq = v.get("seq").and_then(|x| x.as_u64()).ok_or_else(|| bad("missing \"seq\""))?;
        let row = field(&v, "row")?;
        let arr = v.get("cells").and_then(|x| x.as_array()).ok_or_else(|| bad("missing \"cells\" array"))?;
        let mut cells = Vec::with_capacity(arr.len());
        for c in arr {
            let kind_s = c.get("kind").and_then(|x| x.as_str()).ok_or_else(|| bad("cell without \"kind\""))?;
            let kind = kind_from_name(kind_s).ok_or_else(|| bad(&format!("unknown cell kind {kind_s:?}")))?;
            let value = if kind == CellKind::Put { field(c, "value")? } else { Vec::new() };
            cells.push(ChangeCell {
                family: field(c, "family")?,
                qualifier: field(c, "qualifier")?,
                timestamp: c.get("ts").and_then(|x| x.as_i64()).ok_or_else(|| bad("cell without integer \"ts\""))?,
                kind,
                value,
            });
        }
        Ok(ChangeRecord { table, row, seq, cells })
    }

    /// The binary encoding (format in the module docs).
    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.table.len() + self.row.len() + self.cells.len() * 24);
        out.extend_from_slice(b"KC");
        out.push(BINARY_VERSION);
        out.push(0);
        out.extend_from_slice(&self.seq.to_be_bytes());
        put_bytes(&mut out, self.table.as_bytes());
        put_bytes(&mut out, &self.row);
        put_uvarint(&mut out, self.cells.len() as u64);
        for c in &self.cells {
            out.push(c.kind.code());
            put_bytes(&mut out, &c.family);
            put_bytes(&mut out, &c.qualifier);
            out.extend_from_slice(&c.timestamp.to_be_bytes());
            put_bytes(&mut out, &c.value);
        }
        out
    }

    /// Parse the binary encoding; truncation, bad magic or trailing bytes are
    /// [`ErrorCode::Corrupt`], another version [`ErrorCode::IncompatibleFormat`].
    pub fn from_binary(buf: &[u8]) -> Result<ChangeRecord> {
        let mut r = Reader { buf, pos: 0 };
        if r.take(2)? != b"KC" {
            return Err(Error::corrupt("binary change record: bad magic (want \"KC\")"));
        }
        let version = r.u8()?;
        if version != BINARY_VERSION {
            return Err(Error::new(ErrorCode::IncompatibleFormat, format!("binary change record version {version}; this build reads {BINARY_VERSION}")));
        }
        let _flags = r.u8()?;
        let seq = r.u64()?;
        let table = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| Error::corrupt("binary change record: table name is not UTF-8"))?;
        let row = r.bytes()?.to_vec();
        let n = r.uvarint()?;
        // Every cell takes at least 12 bytes: bound the allocation by what the buffer can hold.
        if n > (buf.len() as u64) / 12 + 1 {
            return Err(Error::corrupt(format!("binary change record: {n} cells cannot fit in {} bytes", buf.len())));
        }
        let mut cells = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let code = r.u8()?;
            let kind = CellKind::from_code(code).ok_or_else(|| Error::corrupt(format!("binary change record: unknown cell type {code}")))?;
            let family = r.bytes()?.to_vec();
            let qualifier = r.bytes()?.to_vec();
            let timestamp = r.u64()? as i64;
            let value = r.bytes()?.to_vec();
            cells.push(ChangeCell { family, qualifier, timestamp, kind, value });
        }
        if r.pos != buf.len() {
            return Err(Error::corrupt(format!("binary change record: {} trailing bytes", buf.len() - r.pos)));
        }
        Ok(ChangeRecord { table, row, seq, cells })
    }
}

/// Append an unsigned LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append a varint length and the bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A bounds-checked cursor over a byte buffer; every failure is [`ErrorCode::Corrupt`].
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(|| {
            Error::corrupt(format!("truncated: need {n} bytes at offset {}, have {}", self.pos, self.buf.len().saturating_sub(self.pos)))
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    pub(crate) fn uvarint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt("varint longer than 10 bytes"))
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.uvarint()?;
        let n = usize::try_from(n).map_err(|_| Error::corrupt("length does not fit in memory"))?;
        self.take(n)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode standard padded base64; any other input is [`ErrorCode::InvalidArgument`].
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return Err(Error::invalid(format!("base64 length {} is not a multiple of 4", b.len())));
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let quads = b.len() / 4;
    for (qi, q) in b.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && qi + 1 != quads) {
            return Err(Error::invalid("base64 padding in the wrong place"));
        }
        let mut n: u32 = 0;
        for (i, c) in q.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { val(*c).ok_or_else(|| Error::invalid(format!("{:?} is not a base64 character", *c as char)))? };
            n = (n << 6) | v;
        }
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChangeRecord {
        ChangeRecord {
            table: "default:orders".into(),
            row: b"order-1".to_vec(),
            seq: 42,
            cells: vec![
                ChangeCell { family: b"cf".to_vec(), qualifier: b"amount".to_vec(), timestamp: 1_700_000_000_000, kind: CellKind::Put, value: b"12.50".to_vec() },
                ChangeCell { family: b"cf".to_vec(), qualifier: b"note".to_vec(), timestamp: 1_700_000_000_000, kind: CellKind::DeleteColumn, value: Vec::new() },
            ],
        }
    }

    #[test]
    fn base64_rfc4648_vectors() {
        // RFC 4648 section 10.
        let v = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, enc) in v {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        assert!(base64_decode("Zg=").is_err());
        assert!(base64_decode("Z===").is_err());
        assert!(base64_decode("Zg==Zg==").is_err());
        assert!(base64_decode("Z!==").is_err());
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
    }

    #[test]
    fn json_schema_is_as_documented() {
        let r = sample();
        let j: serde_json::Value = serde_json::from_slice(&r.to_json(BytesEncoding::Auto)).unwrap();
        assert_eq!(j["v"], 1);
        assert_eq!(j["table"], "default:orders");
        assert_eq!(j["seq"], 42);
        assert_eq!(j["enc"], "utf8");
        assert_eq!(j["row"], "order-1");
        assert_eq!(j["op"], "mixed");
        assert_eq!(j["cells"][0]["family"], "cf");
        assert_eq!(j["cells"][0]["qualifier"], "amount");
        assert_eq!(j["cells"][0]["ts"], 1_700_000_000_000i64);
        assert_eq!(j["cells"][0]["kind"], "put");
        assert_eq!(j["cells"][0]["value"], "12.50");
        assert_eq!(j["cells"][1]["kind"], "delete_column");
        assert!(j["cells"][1]["value"].is_null());
        assert_eq!(ChangeRecord::from_json(&r.to_json(BytesEncoding::Auto)).unwrap(), r);
    }

    #[test]
    fn json_falls_back_to_base64_for_binary_bytes() {
        let mut r = sample();
        r.cells[0].value = vec![0xff, 0x00, 0x80];
        let j: serde_json::Value = serde_json::from_slice(&r.to_json(BytesEncoding::Auto)).unwrap();
        assert_eq!(j["enc"], "base64");
        assert_eq!(j["row"], base64_encode(b"order-1"));
        assert_eq!(j["cells"][0]["value"], "/wCA");
        assert_eq!(ChangeRecord::from_json(&r.to_json(BytesEncoding::Auto)).unwrap(), r);
        let forced: serde_json::Value = serde_json::from_slice(&sample().to_json(BytesEncoding::Base64)).unwrap();
        assert_eq!(forced["enc"], "base64");
        assert_eq!(ChangeRecord::from_json(&sample().to_json(BytesEncoding::Base64)).unwrap(), sample());
    }

    #[test]
    fn operations_and_per_cell() {
        let r = sample();
        assert_eq!(r.operation(), Operation::Mixed);
        let parts = r.per_cell();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].operation(), Operation::Put);
        assert_eq!(parts[1].operation(), Operation::Delete);
        assert!(parts.iter().all(|p| p.seq == 42 && p.row == b"order-1"));
        for k in [CellKind::Put, CellKind::Delete, CellKind::DeleteColumn, CellKind::DeleteFamily, CellKind::DeleteFamilyVersion] {
            assert_eq!(kind_from_name(kind_name(k)), Some(k));
        }
    }

    #[test]
    fn binary_round_trip_and_layout() {
        let r = sample();
        let b = r.to_binary();
        assert_eq!(&b[0..4], &[b'K', b'C', 1, 0]);
        assert_eq!(&b[4..12], &42u64.to_be_bytes());
        assert_eq!(b[12], 14); // table length
        assert_eq!(&b[13..27], b"default:orders");
        assert_eq!(ChangeRecord::from_binary(&b).unwrap(), r);
        assert_eq!(ChangeRecord::decode(RecordFormat::Binary, &r.encode(RecordFormat::Binary, BytesEncoding::Auto)).unwrap(), r);
        assert!(b.len() < r.to_json(BytesEncoding::Auto).len());
    }

    #[test]
    fn bad_binary_is_an_error_not_a_panic() {
        let b = sample().to_binary();
        for cut in 0..b.len() {
            assert_eq!(ChangeRecord::from_binary(&b[..cut]).unwrap_err().code(), ErrorCode::Corrupt, "cut at {cut}");
        }
        let mut v2 = b.clone();
        v2[2] = 2;
        assert_eq!(ChangeRecord::from_binary(&v2).unwrap_err().code(), ErrorCode::IncompatibleFormat);
        let mut trailing = b.clone();
        trailing.push(0);
        assert_eq!(ChangeRecord::from_binary(&trailing).unwrap_err().code(), ErrorCode::Corrupt);
        let mut huge = b"KC\x01\x00".to_vec();
        huge.extend_from_slice(&[0; 8]);
        huge.extend_from_slice(&[0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(ChangeRecord::from_binary(&huge).unwrap_err().code(), ErrorCode::Corrupt);
    }

    #[test]
    fn bad_json_is_an_error() {
        assert_eq!(ChangeRecord::from_json(b"{").unwrap_err().code(), ErrorCode::Corrupt);
        assert_eq!(ChangeRecord::from_json(br#"{"v":2}"#).unwrap_err().code(), ErrorCode::IncompatibleFormat);
        let e = ChangeRecord::from_json(br#"{"v":1,"enc":"utf8","table":"t","seq":1,"row":"r","cells":[{"kind":"nope"}]}"#).unwrap_err();
        assert!(e.message().contains("nope"));
    }
}
