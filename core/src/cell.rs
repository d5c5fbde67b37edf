//! The cell: HBase's unit of data, shared by tables, filters and change streams.

/// The kind of a cell, with HBase's `KeyValue.Type` codes.
///
/// Source: apache/hbase `hbase-common/src/main/java/org/apache/hadoop/hbase/KeyValue.java`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CellKind {
    /// A value.
    Put = 4,
    /// Deletes exactly one version of one column.
    Delete = 8,
    /// Deletes every column of a family at exactly one timestamp.
    DeleteFamilyVersion = 10,
    /// Deletes every version of one column up to a timestamp.
    DeleteColumn = 12,
    /// Deletes every column of a family up to a timestamp.
    DeleteFamily = 14,
}

impl CellKind {
    /// The HBase type code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind with this HBase type code.
    pub fn from_code(code: u8) -> Option<CellKind> {
        Some(match code {
            4 => CellKind::Put,
            8 => CellKind::Delete,
            10 => CellKind::DeleteFamilyVersion,
            12 => CellKind::DeleteColumn,
            14 => CellKind::DeleteFamily,
            _ => return None,
        })
    }

    /// Whether this is a delete marker.
    pub fn is_delete(self) -> bool {
        self != CellKind::Put
    }
}

/// One cell: `(row, family:qualifier, timestamp, kind) -> value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cell {
    /// Row key.
    pub row: Vec<u8>,
    /// Column family name.
    pub family: Vec<u8>,
    /// Column qualifier (any bytes, may be empty).
    pub qualifier: Vec<u8>,
    /// Version, milliseconds since the epoch by default.
    pub timestamp: i64,
    /// Put or one of the delete markers.
    pub kind: CellKind,
    /// The value (empty for delete markers).
    pub value: Vec<u8>,
}

impl Cell {
    /// A put cell.
    pub fn put(row: impl Into<Vec<u8>>, family: impl Into<Vec<u8>>, qualifier: impl Into<Vec<u8>>, timestamp: i64, value: impl Into<Vec<u8>>) -> Cell {
        Cell { row: row.into(), family: family.into(), qualifier: qualifier.into(), timestamp, kind: CellKind::Put, value: value.into() }
    }

    /// `family:qualifier` as bytes.
    pub fn column(&self) -> Vec<u8> {
        let mut c = Vec::with_capacity(self.family.len() + 1 + self.qualifier.len());
        c.extend_from_slice(&self.family);
        c.push(b':');
        c.extend_from_slice(&self.qualifier);
        c
    }
}
