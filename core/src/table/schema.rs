//! Table schema: names and their rules, namespace, table and column-family descriptors, regions,
//! durability levels.
//!
//! Name rules follow HBase (apache/hbase `hbase-common/.../TableName.java` and
//! `ColumnFamilyDescriptorBuilder.isLegalColumnFamilyName`): a namespace matches
//! `[a-zA-Z_0-9]+`, a table qualifier `[a-zA-Z_0-9][a-zA-Z_0-9-.]*`; a family name is printable,
//! non-empty, does not start with `.` and holds no `:`, `\`, `/` or control character.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};

/// Longest namespace, table qualifier or family name kabase accepts, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Longest row key, in bytes (HBase's `Short.MAX_VALUE`).
pub const MAX_ROW_LEN: usize = 32_767;
/// The namespace of tables named without one.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The system namespace.
pub const SYSTEM_NAMESPACE: &str = "hbase";

fn name_err(msg: String) -> Error {
    Error::new(ErrorCode::InvalidName, msg)
}

/// Check a namespace name against HBase's rule `[a-zA-Z_0-9]+`.
pub fn validate_namespace(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(name_err("namespace name must not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(name_err(format!("namespace name is {} bytes long; the limit is {MAX_NAME_LEN}", name.len())));
    }
    if let Some((i, c)) = name.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(name_err(format!(
            "namespace name {name:?} has {c:?} at position {i}; only [a-zA-Z_0-9] is allowed"
        )));
    }
    Ok(())
}

/// Check a table qualifier (the part after `ns:`) against `[a-zA-Z_0-9][a-zA-Z_0-9-.]*`.
pub fn validate_table_qualifier(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(name_err("table name must not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(name_err(format!("table name is {} bytes long; the limit is {MAX_NAME_LEN}", name.len())));
    }
    for (i, c) in name.char_indices() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (i > 0 && (c == '-' || c == '.'));
        if !ok {
            let rule = if i == 0 && (c == '-' || c == '.') {
                "a table name must start with [a-zA-Z_0-9]"
            } else {
                "only [a-zA-Z_0-9-.] is allowed in a table name"
            };
            return Err(name_err(format!("table name {name:?} has {c:?} at position {i}: {rule}")));
        }
    }
    Ok(())
}

/// Check a column-family name.
pub fn validate_family(name: &[u8]) -> Result<()> {
    let shown = String::from_utf8_lossy(name);
    if name.is_empty() {
        return Err(name_err("column family name must not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(name_err(format!("column family name is {} bytes long; the limit is {MAX_NAME_LEN}", name.len())));
    }
    if name[0] == b'.' {
        return Err(name_err(format!("column family name {shown:?} must not start with '.'")));
    }
    for (i, &b) in name.iter().enumerate() {
        if b == b':' || b == b'\\' || b == b'/' || b.is_ascii_control() {
            return Err(name_err(format!(
                "column family name {shown:?} has byte 0x{b:02x} at position {i}; ':', '\\\\', '/' and control characters are not allowed"
            )));
        }
    }
    if std::str::from_utf8(name).is_err() {
        return Err(name_err(format!("column family name {shown:?} is not valid UTF-8 (it must be printable)")));
    }
    Ok(())
}

/// A table's full name: namespace and qualifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableName {
    /// The namespace (`default` when the name had none).
    pub namespace: String,
    /// The table name inside its namespace.
    pub qualifier: String,
}

impl TableName {
    /// Parse `ns:table` or `table` (namespace `default`), checking both parts.
    pub fn parse(name: &str) -> Result<TableName> {
        let (ns, q) = match name.split_once(':') {
            Some((ns, q)) => (ns, q),
            None => (DEFAULT_NAMESPACE, name),
        };
        validate_namespace(ns)?;
        validate_table_qualifier(q)?;
        Ok(TableName { namespace: ns.to_string(), qualifier: q.to_string() })
    }

    /// The canonical form: `table` in `default`, else `ns:table`.
    pub fn as_string(&self) -> String {
        if self.namespace == DEFAULT_NAMESPACE {
            self.qualifier.clone()
        } else {
            format!("{}:{}", self.namespace, self.qualifier)
        }
    }

    /// Always `ns:table`.
    pub fn full(&self) -> String {
        format!("{}:{}", self.namespace, self.qualifier)
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// A column family's compression codec (HBase `COMPRESSION`).
///
/// `Lz4` uses the LSM's own LZ4 block compression; `Gz`, `Snappy` and `Zstd` compress each stored
/// value with that codec (the LSM has no block codec for them), keeping the compressed form only
/// when it is smaller. [`FamilyDescriptor::compression_in_force`] says which applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (deflate), per value.
    Gz,
    /// Snappy, per value.
    Snappy,
    /// LZ4, LSM data blocks.
    Lz4,
    /// Zstandard, per value.
    Zstd,
}

impl Compression {
    /// Parse HBase's names (`NONE`, `GZ`, `SNAPPY`, `LZ4`, `ZSTD`; case-insensitive).
    pub fn parse(s: &str) -> Result<Compression> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "NONE" | "" => Compression::None,
            "GZ" | "GZIP" => Compression::Gz,
            "SNAPPY" => Compression::Snappy,
            "LZ4" => Compression::Lz4,
            "ZSTD" => Compression::Zstd,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("unknown compression {other:?}; use NONE, GZ, SNAPPY, LZ4 or ZSTD"),
                ))
            }
        })
    }

    /// HBase's name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "NONE",
            Compression::Gz => "GZ",
            Compression::Snappy => "SNAPPY",
            Compression::Lz4 => "LZ4",
            Compression::Zstd => "ZSTD",
        }
    }
}

/// Bloom filter type (HBase `BLOOMFILTER`). `Row` and `RowCol` build the LSM's bloom filters;
/// `None` disables them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum BloomType {
    /// No bloom filter.
    None,
    /// Bloom filter (HBase's default).
    #[default]
    Row,
    /// Bloom filter on row and column.
    RowCol,
}

impl BloomType {
    /// Parse `NONE`, `ROW`, `ROWCOL`.
    pub fn parse(s: &str) -> Result<BloomType> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "NONE" => BloomType::None,
            "ROW" => BloomType::Row,
            "ROWCOL" => BloomType::RowCol,
            other => {
                return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown bloom filter {other:?}; use NONE, ROW or ROWCOL")))
            }
        })
    }
}

/// HBase's `KEEP_DELETED_CELLS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeepDeletedCells {
    /// Delete markers hide older data for every read, and major compaction drops both.
    #[default]
    False,
    /// Deleted cells stay readable by reads whose time range ends at or before the marker, and
    /// major compaction keeps markers and deleted cells (still bound by VERSIONS and TTL).
    True,
    /// Like `True`, but markers and deleted cells go once the family TTL has passed.
    Ttl,
}

/// How durable a write is when the call returns (HBase's `Durability`).
///
/// - `SkipWal`: the journal record stays in kabase's in-process buffer; a crash of the process
///   (kill -9) may lose it until a later write or [`crate::Engine::sync`] pushes it out. A clean
///   close keeps it.
/// - `AsyncWal`: like `SkipWal` at return, and a background thread hands the journal to the OS
///   within about 50 ms, after which it survives a process crash.
/// - `SyncWal` (the default): the journal record is in the OS page cache before the call returns:
///   survives kill -9 of the process, not a power loss or OS crash.
/// - `FsyncWal`: the journal is fsynced (fdatasync) before the call returns: survives power loss.
///   Concurrent `FsyncWal` writers share one fsync (group commit).
/// - `UseDefault`: the table's durability (for a mutation) or `SyncWal` (for a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Durability {
    /// Use the table's setting.
    #[default]
    UseDefault,
    /// In-process buffer only.
    SkipWal,
    /// Buffer, flushed to the OS in the background.
    AsyncWal,
    /// OS page cache before returning.
    SyncWal,
    /// fsync before returning (group commit).
    FsyncWal,
}

impl Durability {
    /// Parse HBase's names (`USE_DEFAULT`, `SKIP_WAL`, `ASYNC_WAL`, `SYNC_WAL`, `FSYNC_WAL`).
    pub fn parse(s: &str) -> Result<Durability> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "USE_DEFAULT" => Durability::UseDefault,
            "SKIP_WAL" => Durability::SkipWal,
            "ASYNC_WAL" => Durability::AsyncWal,
            "SYNC_WAL" => Durability::SyncWal,
            "FSYNC_WAL" => Durability::FsyncWal,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("unknown durability {other:?}; use USE_DEFAULT, SKIP_WAL, ASYNC_WAL, SYNC_WAL or FSYNC_WAL"),
                ))
            }
        })
    }
}

/// A column family and its options (HBase `ColumnFamilyDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyDescriptor {
    /// The family name.
    pub name: Vec<u8>,
    /// Versions kept per column (`VERSIONS`, default 1).
    pub max_versions: u32,
    /// Versions kept even when older than TTL (`MIN_VERSIONS`, default 0).
    pub min_versions: u32,
    /// Time to live in seconds (`TTL`); `None` = forever.
    pub ttl_seconds: Option<u64>,
    /// `KEEP_DELETED_CELLS`.
    pub keep_deleted_cells: KeepDeletedCells,
    /// `COMPRESSION`.
    pub compression: Compression,
    /// `BLOOMFILTER`.
    pub bloom_filter: BloomType,
    /// `IN_MEMORY`: pin the family's index and filter blocks in memory.
    pub in_memory: bool,
    /// `BLOCKSIZE` in bytes: the LSM data block size, 1 KiB to 1 MiB. Default 4 KiB, the LSM's
    /// recommendation for point reads (HBase defaults to 64 KiB; larger blocks favour scans).
    pub block_size: u32,
    /// `NEW_VERSION_BEHAVIOR` (HBase 2, HBASE-15968; default false): a delete marker masks only
    /// the puts committed before it, not later puts with older timestamps, and a version once
    /// pushed out of VERSIONS by newer ones stays out even if they are deleted later (deleting a
    /// version no longer brings older ones back). Every cell of the family then carries its
    /// commit's sequence number (8 bytes more per cell). Turning it on for a family with data
    /// orders the cells written before as older than every later one.
    #[serde(default)]
    pub new_version_behavior: bool,
}

impl FamilyDescriptor {
    /// A family with HBase's defaults (1 version, no TTL, no compression, ROW bloom).
    pub fn new(name: impl Into<Vec<u8>>) -> FamilyDescriptor {
        FamilyDescriptor {
            name: name.into(),
            max_versions: 1,
            min_versions: 0,
            ttl_seconds: None,
            keep_deleted_cells: KeepDeletedCells::False,
            compression: Compression::None,
            bloom_filter: BloomType::Row,
            in_memory: false,
            block_size: 4096,
            new_version_behavior: false,
        }
    }
    /// Set `VERSIONS`.
    pub fn versions(mut self, n: u32) -> Self {
        self.max_versions = n;
        self
    }
    /// Set `MIN_VERSIONS`.
    pub fn min_versions(mut self, n: u32) -> Self {
        self.min_versions = n;
        self
    }
    /// Set `TTL` in seconds.
    pub fn ttl(mut self, seconds: u64) -> Self {
        self.ttl_seconds = Some(seconds);
        self
    }
    /// Set `KEEP_DELETED_CELLS`.
    pub fn keep_deleted_cells(mut self, k: KeepDeletedCells) -> Self {
        self.keep_deleted_cells = k;
        self
    }
    /// Set `COMPRESSION`.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Set `BLOOMFILTER`.
    pub fn bloom_filter(mut self, b: BloomType) -> Self {
        self.bloom_filter = b;
        self
    }
    /// Set `IN_MEMORY`.
    pub fn in_memory(mut self, b: bool) -> Self {
        self.in_memory = b;
        self
    }
    /// Set `BLOCKSIZE` in bytes.
    pub fn block_size(mut self, bytes: u32) -> Self {
        self.block_size = bytes;
        self
    }
    /// Set `NEW_VERSION_BEHAVIOR`.
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Get, Delete};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").new_version_behavior(true)))?;
    /// let t = e.table("t")?;
    /// t.delete(Delete::new("r").columns_at("cf", "q", 100))?;
    /// t.put(Put::new("r").add_at("cf", "q", 50, "after the delete"))?;
    /// // Without the option the marker would hide this put until a major compaction.
    /// assert_eq!(t.get(Get::new("r"))?.value("cf", "q"), Some(&b"after the delete"[..]));
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn new_version_behavior(mut self, on: bool) -> Self {
        self.new_version_behavior = on;
        self
    }

    /// The name as text (family names are printable).
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// How the compression is applied: `"NONE"`, `"LZ4 (LSM data blocks)"`, `"GZ (per value)"`…
    pub fn compression_in_force(&self) -> String {
        match self.compression {
            Compression::None => "NONE".into(),
            Compression::Lz4 => "LZ4 (LSM data blocks)".into(),
            c => format!("{} (per value)", c.name()),
        }
    }

    /// Check every option; errors name the option and the rule.
    pub fn validate(&self) -> Result<()> {
        validate_family(&self.name)?;
        let f = self.name_str();
        if self.max_versions == 0 {
            return Err(Error::new(ErrorCode::InvalidConfig, format!("family {f}: VERSIONS must be at least 1")));
        }
        if self.min_versions > 0 && self.min_versions >= self.max_versions {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!("family {f}: MIN_VERSIONS ({}) must be less than VERSIONS ({})", self.min_versions, self.max_versions),
            ));
        }
        if self.ttl_seconds == Some(0) {
            return Err(Error::new(ErrorCode::InvalidConfig, format!("family {f}: TTL must be at least 1 second")));
        }
        if self.ttl_seconds.is_some_and(|t| t > (i64::MAX as u64) / 1000) {
            return Err(Error::new(ErrorCode::InvalidConfig, format!("family {f}: TTL is too large")));
        }
        if !(1024..=1 << 20).contains(&self.block_size) {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!("family {f}: BLOCKSIZE {} is outside 1024..=1048576", self.block_size),
            ));
        }
        Ok(())
    }

    /// TTL in milliseconds, if any.
    pub(crate) fn ttl_ms(&self) -> Option<i64> {
        self.ttl_seconds.map(|s| (s as i64).saturating_mul(1000))
    }
}

/// A table: name, families, split keys, durability (HBase `TableDescriptor`).
///
/// ```
/// use kabase::{TableDescriptor, FamilyDescriptor, Compression};
/// let d = TableDescriptor::new("ns1:users")
///     .family(FamilyDescriptor::new("cf").versions(3).compression(Compression::Gz))
///     .split_keys(vec![b"m".to_vec()]);
/// assert_eq!(d.families.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDescriptor {
    /// `ns:table` or `table`.
    pub name: String,
    /// Column families.
    pub families: Vec<FamilyDescriptor>,
    /// Split keys (each starts a region).
    pub split_keys: Vec<Vec<u8>>,
    /// Default durability of the table's mutations.
    pub durability: Durability,
}

impl TableDescriptor {
    /// A descriptor with no families yet.
    pub fn new(name: impl Into<String>) -> TableDescriptor {
        TableDescriptor { name: name.into(), families: Vec::new(), split_keys: Vec::new(), durability: Durability::UseDefault }
    }
    /// Add a family.
    pub fn family(mut self, f: FamilyDescriptor) -> Self {
        self.families.push(f);
        self
    }
    /// Set the split keys.
    pub fn split_keys(mut self, keys: Vec<Vec<u8>>) -> Self {
        self.split_keys = keys;
        self
    }
    /// Set the default durability.
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }
    /// The family with this name.
    pub fn get_family(&self, name: &[u8]) -> Option<&FamilyDescriptor> {
        self.families.iter().find(|f| f.name == name)
    }
}

/// A namespace and its properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceDescriptor {
    /// The name.
    pub name: String,
    /// Free-form properties.
    pub properties: BTreeMap<String, String>,
}

impl NamespaceDescriptor {
    /// A namespace with no properties.
    pub fn new(name: impl Into<String>) -> NamespaceDescriptor {
        NamespaceDescriptor { name: name.into(), properties: BTreeMap::new() }
    }
    /// Add a property.
    pub fn property(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.properties.insert(k.into(), v.into());
        self
    }
}

/// One region of a table: `[start_key, end_key)`, empty meaning unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// Index of the region in key order.
    pub id: u64,
    /// Region name, HBase style: `table,start_key,id`.
    pub name: String,
    /// First row (inclusive); empty = table start.
    pub start_key: Vec<u8>,
    /// End row (exclusive); empty = table end.
    pub end_key: Vec<u8>,
}

/// Regions for sorted, distinct, non-empty split keys.
pub(crate) fn regions_for(table: &str, splits: &[Vec<u8>]) -> Vec<RegionInfo> {
    let mut out = Vec::with_capacity(splits.len() + 1);
    let mut start: Vec<u8> = Vec::new();
    for (i, s) in splits.iter().chain(std::iter::once(&Vec::new())).enumerate() {
        out.push(RegionInfo {
            id: i as u64,
            name: format!("{table},{},{i}", String::from_utf8_lossy(&start)),
            start_key: start.clone(),
            end_key: s.clone(),
        });
        start = s.clone();
    }
    out
}

/// Sort and check split keys: non-empty, distinct.
pub(crate) fn normalize_splits(mut keys: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
    if keys.iter().any(|k| k.is_empty()) {
        return Err(Error::invalid("split keys must not be empty"));
    }
    if let Some(k) = keys.iter().find(|k| k.len() > MAX_ROW_LEN) {
        return Err(Error::invalid(format!("split key is {} bytes long; rows are limited to {MAX_ROW_LEN}", k.len())));
    }
    keys.sort();
    let n = keys.len();
    keys.dedup();
    if keys.len() != n {
        return Err(Error::invalid("split keys must be distinct"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rules() {
        assert!(validate_namespace("ns_1").is_ok());
        let e = validate_namespace("bad-ns").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidName);
        assert!(e.message().contains("'-'") && e.message().contains("[a-zA-Z_0-9]"), "{}", e.message());
        assert!(validate_namespace("").unwrap_err().message().contains("empty"));
    }

    #[test]
    fn table_rules() {
        assert!(TableName::parse("t-1.x").is_ok());
        let e = TableName::parse("-t").unwrap_err();
        assert!(e.message().contains("must start with"), "{}", e.message());
        let e = TableName::parse("t x").unwrap_err();
        assert!(e.message().contains("' '"), "{}", e.message());
        let e = TableName::parse("a:b:c").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidName);
        let t = TableName::parse("ns:t").unwrap();
        assert_eq!((t.namespace.as_str(), t.qualifier.as_str()), ("ns", "t"));
        assert_eq!(TableName::parse("t").unwrap().full(), "default:t");
        assert_eq!(TableName::parse("default:t").unwrap().as_string(), "t");
        assert!(TableName::parse(&"x".repeat(256)).unwrap_err().message().contains("limit"));
    }

    #[test]
    fn family_rules() {
        assert!(validate_family(b"cf").is_ok());
        assert!(validate_family(b".cf").unwrap_err().message().contains("start with '.'"));
        assert!(validate_family(b"c:f").unwrap_err().message().contains("position 1"));
        assert!(validate_family(b"").is_err());
        let e = FamilyDescriptor::new("cf").versions(2).min_versions(2).validate().unwrap_err();
        assert!(e.message().contains("MIN_VERSIONS"));
        assert!(FamilyDescriptor::new("cf").versions(0).validate().is_err());
        assert!(FamilyDescriptor::new("cf").block_size(10).validate().unwrap_err().message().contains("BLOCKSIZE"));
    }

    #[test]
    fn parse_options() {
        assert_eq!(Compression::parse("gz").unwrap(), Compression::Gz);
        assert_eq!(Compression::parse("bzip").unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(Durability::parse("FSYNC_WAL").unwrap(), Durability::FsyncWal);
        assert_eq!(BloomType::parse("rowcol").unwrap(), BloomType::RowCol);
        assert_eq!(FamilyDescriptor::new("f").compression(Compression::Zstd).compression_in_force(), "ZSTD (per value)");
    }

    #[test]
    fn regions_from_splits() {
        let s = normalize_splits(vec![b"m".to_vec(), b"c".to_vec()]).unwrap();
        let r = regions_for("t", &s);
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].start_key.as_slice(), r[0].end_key.as_slice()), (&b""[..], &b"c"[..]));
        assert_eq!((r[2].start_key.as_slice(), r[2].end_key.as_slice()), (&b"m"[..], &b""[..]));
        assert!(normalize_splits(vec![b"a".to_vec(), b"a".to_vec()]).is_err());
        assert!(normalize_splits(vec![vec![]]).is_err());
    }
}
