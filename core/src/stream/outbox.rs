//! The outbox: committed changes waiting for a stream's relay, stored in the LSM in the same
//! atomic batch as the table mutation they describe.
//!
//! # Key, 16 bytes
//!
//! ```text
//! u64 BE   stream id
//! u64 BE   outbox sequence number (per stream, dense from 0, in commit order)
//! ```
//!
//! Big-endian numbers make the LSM's key order the commit order of one stream, so the relay reads
//! a stream's pending changes with one prefix scan.
//!
//! # Value, format version 1
//!
//! ```text
//! u8       format version (1)
//! u8       flags: bit 0 = part of an atomic multi-row group
//! [bit 0:  u64 BE first outbox seq of the group, u32 BE number of entries in the group;
//!          the group's entries have consecutive seqs and were committed in one batch]
//! i64 BE   commit time, ms since the epoch (the records' timestamp)
//! ...      the change, in the binary change-record format (record.rs), its seq = the key's
//! ```

use crate::error::{Error, ErrorCode, Result};
use crate::stream::record::{ChangeRecord, Reader};

/// Format version of outbox values.
pub const OUTBOX_VERSION: u8 = 1;

/// An atomic multi-row group: the outbox seqs `[first, first + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Group {
    /// First seq of the group.
    pub first: u64,
    /// Number of entries.
    pub len: u32,
}

impl Group {
    /// The seq after the group's last entry.
    pub fn end(&self) -> u64 {
        self.first + u64::from(self.len)
    }
}

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Stream id.
    pub stream: u64,
    /// Outbox seq (= `change.seq`).
    pub seq: u64,
    /// The atomic group the entry belongs to, if any.
    pub group: Option<Group>,
    /// Commit time, ms.
    pub time_ms: i64,
    /// The change.
    pub change: ChangeRecord,
}

/// The key of entry `seq` of `stream`.
pub fn key(stream: u64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&stream.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The key prefix of every entry of `stream`.
pub fn prefix(stream: u64) -> [u8; 8] {
    stream.to_be_bytes()
}

/// Split a key into `(stream, seq)`.
pub fn parse_key(k: &[u8]) -> Result<(u64, u64)> {
    let mut r = Reader { buf: k, pos: 0 };
    let s = r.u64()?;
    let q = r.u64()?;
    if k.len() != 16 {
        return Err(Error::corrupt(format!("outbox key of {} bytes (want 16)", k.len())));
    }
    Ok((s, q))
}

impl OutboxEntry {
    /// The LSM key.
    pub fn key(&self) -> [u8; 16] {
        key(self.stream, self.seq)
    }

    /// The LSM value (format above).
    pub fn value(&self) -> Vec<u8> {
        let change = self.change.to_binary();
        let mut out = Vec::with_capacity(22 + change.len());
        out.push(OUTBOX_VERSION);
        match self.group {
            Some(g) => {
                out.push(1);
                out.extend_from_slice(&g.first.to_be_bytes());
                out.extend_from_slice(&g.len.to_be_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.extend_from_slice(&change);
        out
    }

    /// Parse a key and value read back from the LSM.
    pub fn decode(k: &[u8], v: &[u8]) -> Result<OutboxEntry> {
        let (stream, seq) = parse_key(k)?;
        let mut r = Reader { buf: v, pos: 0 };
        let version = r.u8()?;
        if version != OUTBOX_VERSION {
            return Err(Error::new(ErrorCode::IncompatibleFormat, format!("outbox entry version {version}; this build reads {OUTBOX_VERSION}")));
        }
        let flags = r.u8()?;
        if flags & !1 != 0 {
            return Err(Error::corrupt(format!("outbox entry {stream}/{seq}: unknown flags {flags:#04x}")));
        }
        let group = if flags & 1 == 1 {
            let first = r.u64()?;
            let len = r.u32()?;
            if len == 0 || seq < first || seq >= first + u64::from(len) {
                return Err(Error::corrupt(format!("outbox entry {stream}/{seq}: group [{first}, +{len}) does not contain it")));
            }
            Some(Group { first, len })
        } else {
            None
        };
        let time_ms = r.u64()? as i64;
        let change = ChangeRecord::from_binary(v.get(r.pos..).unwrap_or_default())?;
        if change.seq != seq {
            return Err(Error::corrupt(format!("outbox entry {stream}/{seq} holds change seq {}", change.seq)));
        }
        Ok(OutboxEntry { stream, seq, group, time_ms, change })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::CellKind;
    use crate::stream::record::ChangeCell;

    fn entry(group: Option<Group>) -> OutboxEntry {
        OutboxEntry {
            stream: 3,
            seq: 10,
            group,
            time_ms: 1_700_000_000_123,
            change: ChangeRecord {
                table: "default:t".into(),
                row: b"r".to_vec(),
                seq: 10,
                cells: vec![ChangeCell { family: b"cf".to_vec(), qualifier: b"q".to_vec(), timestamp: 5, kind: CellKind::Put, value: b"v".to_vec() }],
            },
        }
    }

    #[test]
    fn round_trip_and_order() {
        for g in [None, Some(Group { first: 9, len: 3 })] {
            let e = entry(g);
            assert_eq!(OutboxEntry::decode(&e.key(), &e.value()).unwrap(), e);
        }
        // Key order is (stream, seq) order.
        assert!(key(1, 255) < key(1, 256));
        assert!(key(1, u64::MAX) < key(2, 0));
        assert!(key(7, 1).starts_with(&prefix(7)));
        let v = entry(None).value();
        assert_eq!(v[0], 1);
        assert_eq!(v[1], 0);
        assert_eq!(&v[2..10], &1_700_000_000_123i64.to_be_bytes());
        assert_eq!(&v[10..12], b"KC");
    }

    #[test]
    fn damaged_entries_are_errors() {
        let e = entry(Some(Group { first: 9, len: 3 }));
        let v = e.value();
        for cut in 0..v.len() {
            assert!(OutboxEntry::decode(&e.key(), &v[..cut]).is_err());
        }
        let mut bad = v.clone();
        bad[0] = 9;
        assert_eq!(OutboxEntry::decode(&e.key(), &bad).unwrap_err().code(), ErrorCode::IncompatibleFormat);
        let outside = entry(Some(Group { first: 11, len: 3 }));
        assert_eq!(OutboxEntry::decode(&outside.key(), &outside.value()).unwrap_err().code(), ErrorCode::Corrupt);
        assert_eq!(OutboxEntry::decode(&key(3, 11), &e.value()).unwrap_err().code(), ErrorCode::Corrupt);
        assert!(parse_key(&[0; 15]).is_err());
        assert!(parse_key(&[0; 17]).is_err());
    }
}
