//! Tables: HBase's data model on an LSM (fjall).
//!
//! - Namespaces (`default` and `hbase` built in) and tables named `ns:table` or `table`.
//! - Each column family is one fjall keyspace (`t<table id>f<family id>`), so family options
//!   (LZ4 block compression, bloom filters, block size, pinning) map onto the LSM's own, and a
//!   family can be dropped or truncated by dropping its keyspace. A row change spanning families
//!   is one atomic cross-keyspace batch. Cell keys: see [`codec`].
//! - Table and namespace metadata live in the keyspace `kabase.tables.meta` as versioned JSON
//!   records (`{"v": 1, ...}`):
//!   `ns/<name>` -> namespace, `tb/<ns>:<table>` -> table, `ctr/table_id` -> next table id (u64
//!   BE), `seq/reserved` -> change sequence reservation (u64 BE).
//!
//! Admin calls are methods of [`crate::Engine`] (`create_namespace`, `create_table`, `table`, ...);
//! data calls are methods of the [`Table`] handle.
//!
//! ```
//! use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, Get, Scan};
//! let engine = Engine::open_in_memory()?;
//! engine.create_table(TableDescriptor::new("users").family(FamilyDescriptor::new("cf").versions(3)))?;
//! let t = engine.table("users")?;
//! t.put(Put::new("u1").add("cf", "name", "Ada"))?;
//! assert_eq!(t.get(Get::new("u1"))?.value("cf", "name"), Some(&b"Ada"[..]));
//! let rows: Vec<_> = t.scan(Scan::new())?.collect::<Result<_, _>>()?;
//! assert_eq!(rows.len(), 1);
//! # Ok::<(), kabase::Error>(())
//! ```

pub mod codec;
mod handle;
mod memtables;
mod nvb;
mod plain;
pub mod ops;
mod point;
pub(crate) mod read;
mod scan;
pub mod schema;
pub(crate) mod write;
mod ttl;

pub(crate) use ttl::TtlRegistry;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::Engine;

pub use handle::Table;
pub use ops::{
    Append, CheckAndMutate, CheckAndMutateResult, ColumnSelection, CompareOperator, Condition, Delete, DeleteSpec, Get,
    Increment, Mutation, Put, PutCell, RowMutation, RowMutations, RowResult, Scan, TimeRange,
};
pub use scan::{CellView, RowView, Scanner};
pub use schema::{
    BloomType, Compression, Durability, FamilyDescriptor, KeepDeletedCells, NamespaceDescriptor, RegionInfo,
    TableDescriptor, TableName,
};

const META_KEYSPACE: &str = "kabase.tables.meta";
const META_VERSION: u32 = 1;
const TABLE_ID_KEY: &[u8] = b"ctr/table_id";

/// Persisted table record (`tb/<ns>:<table>`), version 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TableMeta {
    v: u32,
    key_format: u32,
    id: u64,
    descriptor: TableDescriptor,
    /// Keyspace id of each family, same order as `descriptor.families`.
    family_ids: Vec<u32>,
    next_family_id: u32,
    enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NamespaceMeta {
    v: u32,
    ns: NamespaceDescriptor,
}

/// One family of an open table.
pub(crate) struct FamilyRt {
    pub desc: FamilyDescriptor,
    pub ks: fjall::Keyspace,
    /// One more than the id of an active memtable of `ks` seen while no memtable was sealed
    /// (0: none yet): while that memtable stays active, none is sealed
    /// ([`point::collect_row`](point)).
    pub clean_memtable: std::sync::atomic::AtomicU64,
}

/// The current shape of a table (replaced as a whole by admin calls).
pub(crate) struct Shape {
    meta: TableMeta,
    /// Families sorted by name.
    pub families: Vec<FamilyRt>,
    pub family_names: Vec<Vec<u8>>,
    pub keyspaces: Vec<fjall::Keyspace>,
    pub dropped: bool,
}

impl Shape {
    pub(crate) fn id(&self) -> u64 {
        self.meta.id
    }
    pub(crate) fn enabled(&self) -> bool {
        self.meta.enabled
    }
    pub(crate) fn durability(&self) -> Durability {
        self.meta.descriptor.durability
    }
    pub(crate) fn family_index(&self, name: &[u8]) -> Option<usize> {
        self.families.binary_search_by(|f| f.desc.name.as_slice().cmp(name)).ok()
    }
}

/// An open table: its name and current shape.
pub(crate) struct TableRt {
    pub name: TableName,
    pub shape: RwLock<Arc<Shape>>,
}

struct Catalog {
    namespaces: BTreeMap<String, NamespaceDescriptor>,
    tables: BTreeMap<String, Arc<TableRt>>,
}

/// The engine's tables state; one per open engine.
pub(crate) struct TablesState {
    db: fjall::Database,
    meta: fjall::Keyspace,
    catalog: RwLock<Catalog>,
    admin: Mutex<()>,
    pub(crate) committer: write::Committer,
    ttl: TtlRegistry,
    /// Holds the family keyspaces' memtables so they are freed off fjall's locks.
    memtables: Arc<memtables::MemtableKeeper>,
    /// The background thread ([`write::spawn_background`]).
    flusher: Mutex<Option<(crossbeam_channel::Sender<()>, std::thread::JoinHandle<()>)>>,
    closed: AtomicBool,
}

fn ks_name(table_id: u64, family_id: u32) -> String {
    format!("t{table_id}f{family_id}")
}

/// Whether a keyspace name is a family keyspace (`t<digits>f<digits>`).
pub(crate) fn is_family_keyspace(n: &str) -> bool {
    n.strip_prefix('t').and_then(|r| r.split_once('f')).is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
    })
}

fn ks_options(desc: &FamilyDescriptor) -> fjall::KeyspaceCreateOptions {
    use fjall::config::{BlockSizePolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry, PinningPolicy};
    let mut o = fjall::KeyspaceCreateOptions::default()
        .data_block_compression_policy(match desc.compression {
            Compression::Lz4 => CompressionPolicy::all(fjall::CompressionType::Lz4),
            _ => CompressionPolicy::disabled(),
        })
        .data_block_size_policy(BlockSizePolicy::all(desc.block_size));
    if desc.bloom_filter == BloomType::None {
        o = o.filter_policy(FilterPolicy::all(FilterPolicyEntry::None));
    } else {
        o = o.filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(fjall::config::BloomConstructionPolicy::BitsPerKey(10.0))));
    }
    if desc.in_memory {
        o = o.filter_block_pinning_policy(PinningPolicy::all(true)).index_block_pinning_policy(PinningPolicy::all(true));
    }
    o
}

fn io_json(e: serde_json::Error) -> Error {
    Error::corrupt(format!("table metadata is not valid: {e}"))
}

impl TablesState {
    /// Open or recover the tables of a data directory.
    pub(crate) fn open(_dir: &std::path::Path, db: &fjall::Database, _options: &crate::EngineOptions, ttl: TtlRegistry) -> Result<Self> {
        let meta = db.keyspace(META_KEYSPACE, fjall::KeyspaceCreateOptions::default)?;
        let mut namespaces = BTreeMap::new();
        let mut tables = BTreeMap::new();
        let mut live_ks = std::collections::HashSet::new();
        let memtables = Arc::new(memtables::MemtableKeeper::default());
        for kv in meta.prefix(b"ns/") {
            let (_, v) = kv.into_inner()?;
            let m: NamespaceMeta = serde_json::from_slice(&v).map_err(io_json)?;
            if m.v != META_VERSION {
                return Err(Error::new(ErrorCode::IncompatibleFormat, format!("namespace record version {} is not {META_VERSION}", m.v)));
            }
            namespaces.insert(m.ns.name.clone(), m.ns);
        }
        for ns in [schema::DEFAULT_NAMESPACE, schema::SYSTEM_NAMESPACE] {
            namespaces.entry(ns.to_string()).or_insert_with(|| NamespaceDescriptor::new(ns));
        }
        for kv in meta.prefix(b"tb/") {
            let (_, v) = kv.into_inner()?;
            let m: TableMeta = serde_json::from_slice(&v).map_err(io_json)?;
            if m.v != META_VERSION || (m.key_format != codec::KEY_FORMAT && m.key_format != codec::KEY_FORMAT_SEQ) {
                return Err(Error::new(
                    ErrorCode::IncompatibleFormat,
                    format!(
                        "table {} has record version {} / key format {}; this build reads {META_VERSION} / {} or {}",
                        m.descriptor.name,
                        m.v,
                        m.key_format,
                        codec::KEY_FORMAT,
                        codec::KEY_FORMAT_SEQ
                    ),
                ));
            }
            if m.family_ids.len() != m.descriptor.families.len() {
                return Err(Error::corrupt(format!(
                    "table {} lists {} families but {} family keyspaces",
                    m.descriptor.name,
                    m.descriptor.families.len(),
                    m.family_ids.len()
                )));
            }
            for fid in &m.family_ids {
                live_ks.insert(ks_name(m.id, *fid));
            }
            let name = TableName::parse(&m.descriptor.name)?;
            let shape = Self::build_shape(db, &ttl, &memtables, m)?;
            tables.insert(name.full(), Arc::new(TableRt { name, shape: RwLock::new(Arc::new(shape)) }));
        }
        // Drop keyspaces left behind by a crash between keyspace creation and metadata write
        // (or metadata removal and keyspace deletion).
        for name in db.list_keyspace_names() {
            let n: &str = &name;
            if is_family_keyspace(n) && !live_ks.contains(n) {
                let ks = db.keyspace(n, fjall::KeyspaceCreateOptions::default)?;
                db.delete_keyspace(ks)?;
            }
        }
        let committer = write::Committer::open(db, &meta)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let handle = write::spawn_background(db.clone(), committer.async_pending.clone(), memtables.clone(), rx)
            .map_err(|e| Error::io("start the tables' background thread", e))?;
        Ok(TablesState {
            db: db.clone(),
            meta,
            catalog: RwLock::new(Catalog { namespaces, tables }),
            admin: Mutex::new(()),
            committer,
            ttl,
            memtables,
            flusher: Mutex::new(Some((tx, handle))),
            closed: AtomicBool::new(false),
        })
    }

    fn build_shape(db: &fjall::Database, ttl: &TtlRegistry, memtables: &memtables::MemtableKeeper, meta: TableMeta) -> Result<Shape> {
        let mut fams: Vec<FamilyRt> = Vec::with_capacity(meta.descriptor.families.len());
        for (desc, fid) in meta.descriptor.families.iter().zip(meta.family_ids.iter()) {
            let opts = ks_options(desc);
            let name = ks_name(meta.id, *fid);
            ttl.set(&name, if desc.min_versions == 0 { desc.ttl_ms() } else { None });
            let ks = db.keyspace(&name, move || opts)?;
            memtables.watch(&name, &ks);
            fams.push(FamilyRt { desc: desc.clone(), ks, clean_memtable: std::sync::atomic::AtomicU64::new(0) });
        }
        fams.sort_by(|a, b| a.desc.name.cmp(&b.desc.name));
        let family_names = fams.iter().map(|f| f.desc.name.clone()).collect();
        let keyspaces = fams.iter().map(|f| f.ks.clone()).collect();
        Ok(Shape { meta, families: fams, family_names, keyspaces, dropped: false })
    }

    /// Stop background work and persist.
    pub(crate) fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        if let Some((tx, handle)) = self.flusher.lock().take() {
            let _ = tx.send(());
            drop(tx);
            let _ = handle.join();
        }
        self.memtables.clear();
        Ok(())
    }

    fn put_meta(&self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        match value {
            Some(v) => self.meta.insert(key, v)?,
            None => self.meta.remove(key)?,
        }
        self.db.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }

    fn save_table(&self, meta: &TableMeta, full: &str) -> Result<()> {
        let json = serde_json::to_vec(meta).map_err(|e| Error::internal(format!("encode table metadata: {e}")))?;
        self.put_meta(format!("tb/{full}").into_bytes(), Some(json))
    }

    fn next_table_id(&self) -> Result<u64> {
        let cur = match self.meta.get(TABLE_ID_KEY)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| Error::corrupt("ctr/table_id is not 8 bytes"))?),
            None => 1,
        };
        self.put_meta(TABLE_ID_KEY.to_vec(), Some((cur + 1).to_be_bytes().to_vec()))?;
        Ok(cur)
    }

    pub(crate) fn lookup(&self, name: &str) -> Result<Arc<TableRt>> {
        let tn = TableName::parse(name)?;
        self.catalog
            .read()
            .tables
            .get(&tn.full())
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::TableNotFound, format!("table {tn} does not exist")))
    }
}

impl From<&str> for NamespaceDescriptor {
    fn from(s: &str) -> Self {
        NamespaceDescriptor::new(s)
    }
}

impl From<String> for NamespaceDescriptor {
    fn from(s: String) -> Self {
        NamespaceDescriptor::new(s)
    }
}

fn validate_descriptor(desc: &TableDescriptor) -> Result<()> {
    if desc.families.is_empty() {
        return Err(Error::invalid(format!("table {} needs at least one column family", desc.name)));
    }
    let mut names = std::collections::HashSet::new();
    for f in &desc.families {
        f.validate()?;
        if !names.insert(f.name.clone()) {
            return Err(Error::invalid(format!("column family {} is listed twice", f.name_str())));
        }
    }
    Ok(())
}

/// Admin operations (HBase `Admin`).
impl Engine {
    fn tables(&self) -> Result<&TablesState> {
        self.check_open()?;
        Ok(&self.inner.tables)
    }

    /// Create a namespace. Fails with [`ErrorCode::NamespaceExists`] if it exists and
    /// [`ErrorCode::InvalidName`] if the name breaks `[a-zA-Z_0-9]+`.
    ///
    /// ```
    /// let e = kabase::Engine::open_in_memory()?;
    /// e.create_namespace("analytics")?;
    /// assert!(e.list_namespaces()?.iter().any(|n| n.name == "analytics"));
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn create_namespace(&self, desc: impl Into<NamespaceDescriptor>) -> Result<()> {
        let desc = desc.into();
        schema::validate_namespace(&desc.name)?;
        let ts = self.tables()?;
        let _g = ts.admin.lock();
        if ts.catalog.read().namespaces.contains_key(&desc.name) {
            return Err(Error::new(ErrorCode::NamespaceExists, format!("namespace {} already exists", desc.name)));
        }
        let rec = NamespaceMeta { v: META_VERSION, ns: desc.clone() };
        let json = serde_json::to_vec(&rec).map_err(|e| Error::internal(format!("encode namespace: {e}")))?;
        ts.put_meta(format!("ns/{}", desc.name).into_bytes(), Some(json))?;
        ts.catalog.write().namespaces.insert(desc.name.clone(), desc);
        Ok(())
    }

    /// Every namespace, by name.
    pub fn list_namespaces(&self) -> Result<Vec<NamespaceDescriptor>> {
        Ok(self.tables()?.catalog.read().namespaces.values().cloned().collect())
    }

    /// One namespace.
    pub fn describe_namespace(&self, name: &str) -> Result<NamespaceDescriptor> {
        self.tables()?
            .catalog
            .read()
            .namespaces
            .get(name)
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::NamespaceNotFound, format!("namespace {name} does not exist")))
    }

    /// Whether a namespace exists.
    pub fn namespace_exists(&self, name: &str) -> Result<bool> {
        Ok(self.tables()?.catalog.read().namespaces.contains_key(name))
    }

    /// Delete an empty namespace. `default` and `hbase` cannot be deleted.
    pub fn delete_namespace(&self, name: &str) -> Result<()> {
        let ts = self.tables()?;
        let _g = ts.admin.lock();
        if name == schema::DEFAULT_NAMESPACE || name == schema::SYSTEM_NAMESPACE {
            return Err(Error::invalid(format!("namespace {name} is built in and cannot be deleted")));
        }
        {
            let cat = ts.catalog.read();
            if !cat.namespaces.contains_key(name) {
                return Err(Error::new(ErrorCode::NamespaceNotFound, format!("namespace {name} does not exist")));
            }
            let n = cat.tables.values().filter(|t| t.name.namespace == name).count();
            if n > 0 {
                return Err(Error::new(ErrorCode::NamespaceNotEmpty, format!("namespace {name} still holds {n} table(s)")));
            }
        }
        ts.put_meta(format!("ns/{name}").into_bytes(), None)?;
        ts.catalog.write().namespaces.remove(name);
        Ok(())
    }

    /// Create a table. Split keys become region boundaries ([`Engine::table_regions`]).
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Compression};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t")
    ///     .family(FamilyDescriptor::new("cf").versions(3).compression(Compression::Gz))
    ///     .split_keys(vec![b"m".to_vec()]))?;
    /// assert_eq!(e.table_regions("t")?.len(), 2);
    /// assert_eq!(e.describe_table("t")?.families[0].max_versions, 3);
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn create_table(&self, desc: TableDescriptor) -> Result<()> {
        let tn = TableName::parse(&desc.name)?;
        validate_descriptor(&desc)?;
        let splits = schema::normalize_splits(desc.split_keys.clone())?;
        let ts = self.tables()?;
        let _g = ts.admin.lock();
        {
            let cat = ts.catalog.read();
            if !cat.namespaces.contains_key(&tn.namespace) {
                return Err(Error::new(ErrorCode::NamespaceNotFound, format!("namespace {} does not exist", tn.namespace)));
            }
            if cat.tables.contains_key(&tn.full()) {
                return Err(Error::new(ErrorCode::TableExists, format!("table {tn} already exists")));
            }
        }
        let id = ts.next_table_id()?;
        let n = desc.families.len() as u32;
        let mut descriptor = desc;
        descriptor.name = tn.as_string();
        descriptor.split_keys = splits;
        let meta = TableMeta {
            v: META_VERSION,
            key_format: codec::key_format_for(&descriptor.families),
            id,
            descriptor,
            family_ids: (0..n).collect(),
            next_family_id: n,
            enabled: true,
        };
        // Keyspaces first, then the record: a crash in between leaves orphans that open() drops.
        let shape = TablesState::build_shape(&ts.db, &ts.ttl, &ts.memtables, meta.clone())?;
        ts.save_table(&meta, &tn.full())?;
        ts.catalog.write().tables.insert(tn.full(), Arc::new(TableRt { name: tn, shape: RwLock::new(Arc::new(shape)) }));
        Ok(())
    }

    /// Every table's name (`table` for the default namespace, else `ns:table`), sorted by
    /// `ns:table`.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.tables()?.catalog.read().tables.values().map(|t| t.name.as_string()).collect())
    }

    /// Tables of one namespace.
    pub fn list_tables_in_namespace(&self, ns: &str) -> Result<Vec<String>> {
        let ts = self.tables()?;
        let cat = ts.catalog.read();
        if !cat.namespaces.contains_key(ns) {
            return Err(Error::new(ErrorCode::NamespaceNotFound, format!("namespace {ns} does not exist")));
        }
        Ok(cat.tables.values().filter(|t| t.name.namespace == ns).map(|t| t.name.as_string()).collect())
    }

    /// Whether a table exists.
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        let tn = TableName::parse(name)?;
        Ok(self.tables()?.catalog.read().tables.contains_key(&tn.full()))
    }

    /// The table's descriptor (families with the options in force; see
    /// [`FamilyDescriptor::compression_in_force`]).
    pub fn describe_table(&self, name: &str) -> Result<TableDescriptor> {
        let rt = self.tables()?.lookup(name)?;
        let shape = rt.shape.read().clone();
        Ok(shape.meta.descriptor.clone())
    }

    /// The table's regions (from its split keys).
    pub fn table_regions(&self, name: &str) -> Result<Vec<RegionInfo>> {
        let rt = self.tables()?.lookup(name)?;
        let shape = rt.shape.read().clone();
        Ok(schema::regions_for(&rt.name.as_string(), &shape.meta.descriptor.split_keys))
    }

    /// A handle to a table (cheap to clone, thread-safe).
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put};
    /// let e = Engine::open_in_memory()?;
    /// e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")))?;
    /// let t = e.table("t")?;
    /// t.put(Put::new("r").add("cf", "q", "v"))?;
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn table(&self, name: &str) -> Result<Table> {
        let rt = self.tables()?.lookup(name)?;
        Ok(Table::new(self.clone(), rt))
    }

    /// Whether the table is enabled.
    pub fn is_table_enabled(&self, name: &str) -> Result<bool> {
        let rt = self.tables()?.lookup(name)?;
        let enabled = rt.shape.read().enabled();
        Ok(enabled)
    }

    fn update_meta(&self, name: &str, f: impl FnOnce(&mut TableMeta, &Shape) -> Result<()>) -> Result<()> {
        let ts = self.tables()?;
        let _g = ts.admin.lock();
        let rt = ts.lookup(name)?;
        let old = rt.shape.read().clone();
        let mut meta = old.meta.clone();
        f(&mut meta, &old)?;
        meta.key_format = codec::key_format_for(&meta.descriptor.families);
        let shape = TablesState::build_shape(&ts.db, &ts.ttl, &ts.memtables, meta.clone())?;
        ts.save_table(&meta, &rt.name.full())?;
        *rt.shape.write() = Arc::new(shape);
        // Drop keyspaces of removed families.
        for (desc, fid) in old.meta.descriptor.families.iter().zip(old.meta.family_ids.iter()) {
            let still = meta.family_ids.contains(fid);
            if !still {
                if let Some(f) = old.families.iter().find(|f| f.desc.name == desc.name) {
                    ts.memtables.forget(&ks_name(old.meta.id, *fid));
                    ts.db.delete_keyspace(f.ks.clone())?;
                }
            }
        }
        Ok(())
    }

    /// Disable a table: reads and writes fail with [`ErrorCode::TableDisabled`].
    pub fn disable_table(&self, name: &str) -> Result<()> {
        self.update_meta(name, |m, _| {
            if !m.enabled {
                return Err(Error::new(ErrorCode::TableDisabled, format!("table {} is already disabled", m.descriptor.name)));
            }
            m.enabled = false;
            Ok(())
        })
    }

    /// Enable a disabled table.
    pub fn enable_table(&self, name: &str) -> Result<()> {
        self.update_meta(name, |m, _| {
            if m.enabled {
                return Err(Error::new(ErrorCode::TableNotDisabled, format!("table {} is already enabled", m.descriptor.name)));
            }
            m.enabled = true;
            Ok(())
        })
    }

    /// Add a column family (online).
    pub fn add_family(&self, name: &str, family: FamilyDescriptor) -> Result<()> {
        family.validate()?;
        self.update_meta(name, |m, _| {
            if m.descriptor.get_family(&family.name).is_some() {
                return Err(Error::invalid(format!("table {} already has family {}", m.descriptor.name, family.name_str())));
            }
            m.descriptor.families.push(family);
            m.family_ids.push(m.next_family_id);
            m.next_family_id += 1;
            Ok(())
        })
    }

    /// Remove a column family and all its data. A table keeps at least one family.
    pub fn delete_family(&self, name: &str, family: impl AsRef<[u8]>) -> Result<()> {
        let family = family.as_ref();
        self.update_meta(name, |m, _| {
            let i = m.descriptor.families.iter().position(|f| f.name == family).ok_or_else(|| {
                Error::new(ErrorCode::NoSuchColumnFamily, format!("table {} has no family {}", m.descriptor.name, String::from_utf8_lossy(family)))
            })?;
            if m.descriptor.families.len() == 1 {
                return Err(Error::invalid(format!("family {} is the last one of table {}", String::from_utf8_lossy(family), m.descriptor.name)));
            }
            m.descriptor.families.remove(i);
            m.family_ids.remove(i);
            Ok(())
        })
    }

    /// Change a family's options. VERSIONS, MIN_VERSIONS, TTL and KEEP_DELETED_CELLS apply at
    /// once to every read; a change of the per-value codec (NONE, GZ, SNAPPY, ZSTD) applies to
    /// new writes (stored values keep their own codec byte). Changes that need a different LSM
    /// keyspace layout (to or from LZ4, BLOOMFILTER, BLOCKSIZE, IN_MEMORY) or key layout
    /// (NEW_VERSION_BEHAVIOR: cells written before it was turned on count as older than every
    /// later write; turning it off keeps the newest write of each cell) rewrite the family into a
    /// new keyspace and need the table disabled first.
    pub fn modify_family(&self, name: &str, family: FamilyDescriptor) -> Result<()> {
        family.validate()?;
        let ts = self.tables()?;
        let db = ts.db.clone();
        self.update_meta(name, |m, old| {
            let i = m.descriptor.families.iter().position(|f| f.name == family.name).ok_or_else(|| {
                Error::new(ErrorCode::NoSuchColumnFamily, format!("table {} has no family {}", m.descriptor.name, family.name_str()))
            })?;
            let cur = &m.descriptor.families[i];
            let layout_changed = (cur.compression == Compression::Lz4) != (family.compression == Compression::Lz4)
                || cur.bloom_filter != family.bloom_filter
                || cur.block_size != family.block_size
                || cur.in_memory != family.in_memory
                || cur.new_version_behavior != family.new_version_behavior;
            if layout_changed {
                if m.enabled {
                    return Err(Error::new(
                        ErrorCode::TableNotDisabled,
                        format!("changing the block compression, BLOOMFILTER, BLOCKSIZE, IN_MEMORY or NEW_VERSION_BEHAVIOR of family {} rewrites it; disable table {} first", family.name_str(), m.descriptor.name),
                    ));
                }
                let new_id = m.next_family_id;
                m.next_family_id += 1;
                let opts = ks_options(&family);
                let new_ks = db.keyspace(&ks_name(m.id, new_id), move || opts)?;
                let old_ks = old
                    .families
                    .iter()
                    .find(|f| f.desc.name == family.name)
                    .map(|f| f.ks.clone())
                    .ok_or_else(|| Error::internal("family missing from shape"))?;
                let mut batch = db.batch();
                let mut n = 0;
                let nvb = family.new_version_behavior;
                // Without sequence numbers, the rewrites of a cell (adjacent, newest first)
                // become one: the first is kept.
                let mut last: Option<Vec<u8>> = None;
                for kv in old_ks.iter() {
                    let (k, v) = kv.into_inner()?;
                    let k = match codec::convert_key_layout(&k, nvb)? {
                        Some(c) => fjall::Slice::from(c),
                        None => k,
                    };
                    if !nvb {
                        if last.as_deref() == Some(&k[..]) {
                            continue;
                        }
                        last = Some(k.to_vec());
                    }
                    let v = codec::recode_value(&v, family.compression, nvb)?;
                    batch.insert(&new_ks, k, v);
                    n += 1;
                    if n % 10_000 == 0 {
                        std::mem::replace(&mut batch, db.batch()).commit()?;
                    }
                }
                batch.commit()?;
                db.persist(fjall::PersistMode::SyncAll)?;
                m.family_ids[i] = new_id;
            }
            m.descriptor.families[i] = family;
            Ok(())
        })
    }

    /// Set the table's default durability.
    pub fn set_table_durability(&self, name: &str, durability: Durability) -> Result<()> {
        self.update_meta(name, |m, _| {
            m.descriptor.durability = durability;
            Ok(())
        })
    }

    /// Remove every row, keeping families, options and split keys. As in HBase the table must be
    /// disabled first; it is enabled afterwards.
    pub fn truncate_table(&self, name: &str) -> Result<()> {
        self.update_meta(name, |m, _| {
            if m.enabled {
                return Err(Error::new(ErrorCode::TableNotDisabled, format!("disable table {} before truncating it", m.descriptor.name)));
            }
            for fid in m.family_ids.iter_mut() {
                *fid = m.next_family_id;
                m.next_family_id += 1;
            }
            m.enabled = true;
            Ok(())
        })
    }

    /// Delete a disabled table and all its data.
    pub fn delete_table(&self, name: &str) -> Result<()> {
        let ts = self.tables()?;
        let _g = ts.admin.lock();
        let rt = ts.lookup(name)?;
        let old = rt.shape.read().clone();
        if old.enabled() {
            return Err(Error::new(ErrorCode::TableNotDisabled, format!("disable table {} before deleting it", rt.name)));
        }
        ts.put_meta(format!("tb/{}", rt.name.full()).into_bytes(), None)?;
        ts.catalog.write().tables.remove(&rt.name.full());
        {
            let mut w = rt.shape.write();
            let meta = old.meta.clone();
            *w = Arc::new(Shape { meta, families: Vec::new(), family_names: Vec::new(), keyspaces: Vec::new(), dropped: true });
        }
        for fid in &old.meta.family_ids {
            ts.memtables.forget(&ks_name(old.meta.id, *fid));
        }
        for f in &old.families {
            ts.db.delete_keyspace(f.ks.clone())?;
        }
        Ok(())
    }

    /// Write the table's memtables to disk segments.
    pub fn flush_table(&self, name: &str) -> Result<()> {
        let rt = self.tables()?.lookup(name)?;
        let shape = rt.shape.read().clone();
        for f in &shape.families {
            f.ks.rotate_memtable_and_wait()?;
        }
        Ok(())
    }

    /// Major compaction: drop every cell no read can see any more (beyond VERSIONS, expired by
    /// TTL beyond MIN_VERSIONS, masked by delete markers) and the markers themselves (unless
    /// KEEP_DELETED_CELLS), then compact the LSM so the space is reclaimed. After it, puts with
    /// timestamps older than a former delete marker are visible again (HBase's behaviour);
    /// with NEW_VERSION_BEHAVIOR they were visible before it too, and no result changes.
    pub fn major_compact_table(&self, name: &str) -> Result<()> {
        let rt = self.tables()?.lookup(name)?;
        let shape = rt.shape.read().clone();
        handle::compact_shape(self, &shape)?;
        for f in &shape.families {
            f.ks.rotate_memtable_and_wait()?;
            f.ks.major_compact()?;
        }
        Ok(())
    }
}
