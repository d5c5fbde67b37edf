//! UniFFI bindings of kabase: the `kabase-sdk` facade exported with UniFFI proc-macros, for
//! Kotlin, Swift and Python. A thin shim: every method calls the facade; errors carry the core's
//! stable code number and name.

use std::sync::Arc;

uniffi::setup_scaffolding!();

/// The one error type: the core's stable code number and name, and the message.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KabaseError {
    /// Any failure of the engine.
    #[error("{code_name} ({code}): {message}")]
    Failed {
        /// Stable number (e.g. 203).
        code: i32,
        /// Stable name (e.g. `TABLE_NOT_FOUND`).
        code_name: String,
        /// What went wrong.
        message: String,
    },
}

impl From<kabase_sdk::Error> for KabaseError {
    fn from(e: kabase_sdk::Error) -> Self {
        KabaseError::Failed { code: e.code().as_i32(), code_name: e.code().name().to_string(), message: e.message().to_string() }
    }
}

type Result<T> = std::result::Result<T, KabaseError>;

/// The kabase version.
#[uniffi::export]
pub fn version() -> String {
    kabase_sdk::VERSION.to_string()
}

/// One column value to write: `family:qualifier` and the value.
#[derive(uniffi::Record)]
pub struct ColumnValue {
    /// `family:qualifier`.
    pub column: String,
    /// The value.
    pub value: Vec<u8>,
}

/// One cell read back.
#[derive(uniffi::Record)]
pub struct Cell {
    /// Family.
    pub family: String,
    /// Qualifier.
    pub qualifier: String,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Value.
    pub value: Vec<u8>,
}

/// A row read back.
#[derive(uniffi::Record)]
pub struct Row {
    /// Row key.
    pub row: Vec<u8>,
    /// Cells: family, then qualifier, ascending.
    pub cells: Vec<Cell>,
}

/// Where a sent record landed.
#[derive(uniffi::Record)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
}

/// One consumed record.
#[derive(uniffi::Record)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// Key (null key = None).
    pub key: Option<Vec<u8>>,
    /// Value (tombstone = None).
    pub value: Option<Vec<u8>>,
}

fn row_out(r: kabase_sdk::Row) -> Row {
    Row {
        row: r.row,
        cells: r
            .cells
            .into_iter()
            .map(|c| Cell {
                family: String::from_utf8_lossy(&c.family).into_owned(),
                qualifier: String::from_utf8_lossy(&c.qualifier).into_owned(),
                timestamp: c.timestamp,
                value: c.value,
            })
            .collect(),
    }
}

/// An open engine.
#[derive(uniffi::Object)]
pub struct Engine {
    inner: kabase_sdk::Engine,
}

#[uniffi::export]
impl Engine {
    /// Open (or create) an engine in `path`.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { inner: kabase_sdk::Engine::open(&path)? }))
    }

    /// Open an engine that keeps nothing once closed.
    #[uniffi::constructor]
    pub fn open_in_memory() -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { inner: kabase_sdk::Engine::open_in_memory()? }))
    }

    /// Close the engine.
    pub fn close(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }

    /// Create a table with column families.
    pub fn create_table(&self, name: String, families: Vec<String>) -> Result<()> {
        Ok(self.inner.create_table(&name, &families.iter().map(String::as_str).collect::<Vec<_>>())?)
    }

    /// Delete a table.
    pub fn delete_table(&self, name: String) -> Result<()> {
        Ok(self.inner.delete_table(&name)?)
    }

    /// A table handle.
    pub fn table(&self, name: String) -> Result<Arc<Table>> {
        Ok(Arc::new(Table { inner: self.inner.table(&name)? }))
    }

    /// Create a topic.
    pub fn create_topic(&self, name: String, partitions: u32) -> Result<()> {
        Ok(self.inner.create_topic(&name, partitions)?)
    }

    /// A producer with default settings.
    pub fn producer(&self) -> Result<Arc<Producer>> {
        Ok(Arc::new(Producer { inner: self.inner.producer(&[])? }))
    }

    /// A consumer, in a group when `group_id` is given.
    pub fn consumer(&self, group_id: Option<String>) -> Result<Arc<Consumer>> {
        Ok(Arc::new(Consumer { inner: self.inner.consumer(group_id.as_deref(), &[])? }))
    }
}

/// A table handle.
#[derive(uniffi::Object)]
pub struct Table {
    inner: kabase_sdk::Table,
}

#[uniffi::export]
impl Table {
    /// Write columns of one row atomically.
    pub fn put(&self, row: Vec<u8>, columns: Vec<ColumnValue>) -> Result<()> {
        let cols = columns.into_iter().map(|c| kabase_sdk::ColumnValue::parse(c.column.as_bytes(), c.value)).collect::<kabase_sdk::Result<Vec<_>>>()?;
        Ok(self.inner.put(&row, &cols)?)
    }

    /// The newest version of every column of a row.
    pub fn get(&self, row: Vec<u8>) -> Result<Option<Row>> {
        Ok(self.inner.get(&row)?.map(row_out))
    }

    /// Delete a row.
    pub fn delete(&self, row: Vec<u8>) -> Result<()> {
        Ok(self.inner.delete(&row)?)
    }

    /// Rows from `start` (inclusive) to `stop` (exclusive), at most `limit` (0 = all).
    pub fn scan(&self, start: Vec<u8>, stop: Vec<u8>, limit: u64) -> Result<Vec<Row>> {
        let opts = kabase_sdk::ScanOptions { start, stop, limit: if limit == 0 { None } else { Some(limit) }, ..Default::default() };
        Ok(self.inner.scan(&opts)?.rows.into_iter().map(row_out).collect())
    }
}

/// A producer.
#[derive(uniffi::Object)]
pub struct Producer {
    inner: kabase_sdk::Producer,
}

#[uniffi::export]
impl Producer {
    /// Send one record and wait until it is in the log.
    pub fn send(&self, topic: String, key: Option<Vec<u8>>, value: Option<Vec<u8>>) -> Result<RecordMetadata> {
        let m = self.inner.send(&topic, &kabase_sdk::OutgoingRecord { key, value, ..Default::default() })?;
        Ok(RecordMetadata { topic: m.topic, partition: m.partition, offset: m.offset })
    }

    /// Flush and stop.
    pub fn close(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }
}

/// A consumer.
#[derive(uniffi::Object)]
pub struct Consumer {
    inner: kabase_sdk::Consumer,
}

#[uniffi::export]
impl Consumer {
    /// Subscribe to topics.
    pub fn subscribe(&self, topics: Vec<String>, from_beginning: bool) -> Result<()> {
        Ok(self.inner.subscribe(&topics, from_beginning)?)
    }

    /// Up to `max_records` records, waiting up to `timeout_ms` for the first.
    pub fn poll(&self, max_records: u32, timeout_ms: u64) -> Result<Vec<Record>> {
        Ok(self
            .inner
            .poll(max_records as usize, timeout_ms)?
            .records
            .into_iter()
            .map(|r| Record { topic: r.topic.to_string(), partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value })
            .collect())
    }

    /// Commit the current positions to the group.
    pub fn commit(&self) -> Result<()> {
        Ok(self.inner.commit()?)
    }

    /// The group's committed next offset of a partition.
    pub fn committed(&self, topic: String, partition: u32) -> Result<Option<i64>> {
        Ok(self.inner.committed(&[(topic, partition)])?.into_iter().next().flatten())
    }

    /// Leave the group and stop.
    pub fn close(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }
}
