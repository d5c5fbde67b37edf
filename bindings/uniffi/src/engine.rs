//! The engine and admin handles.

use std::collections::HashMap;
use std::sync::Arc;

use crate::table::Table;
use crate::topic::{Consumer, Producer};
use crate::Result;

/// A count or partition number from the host (signed there: the JVM has no unsigned types).
pub(crate) fn non_negative(v: i32, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| kabase_sdk::Error::invalid(format!("{what} must not be negative, got {v}")).into())
}

/// An open kabase engine: one data directory (or memory) holding tables and topics.
///
/// Every handle made from it (tables, producers, consumers) fails with `CLOSED` once
/// [`Engine::shutdown`] ran.
#[derive(uniffi::Object)]
pub struct Engine {
    inner: kabase_sdk::Engine,
}

impl Engine {
    /// The facade's engine (for the other modules' exported methods).
    pub(crate) fn sdk(&self) -> &kabase_sdk::Engine {
        &self.inner
    }
}

#[uniffi::export]
impl Engine {
    /// Open (or create) a durable engine in the directory `path`.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { inner: kabase_sdk::Engine::open(&path)? }))
    }

    /// Open an engine that keeps nothing once shut down.
    #[uniffi::constructor]
    pub fn open_in_memory() -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { inner: kabase_sdk::Engine::open_in_memory()? }))
    }

    /// The data directory.
    pub fn path(&self) -> String {
        self.inner.path()
    }

    /// Whether the engine keeps nothing once shut down.
    pub fn is_in_memory(&self) -> bool {
        self.inner.is_in_memory()
    }

    /// Whether [`Engine::shutdown`] ran.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Make everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        Ok(self.inner.sync()?)
    }

    /// Stop background work, persist and release the directory; twice is a no-op. (Named
    /// `shutdown` because the generated Kotlin objects own `close()`, which frees the handle.)
    pub fn shutdown(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }

    /// Create a table with these column families; the name is `table` or `namespace:table`.
    pub fn create_table(&self, name: String, families: Vec<String>) -> Result<()> {
        Ok(self.inner.create_table(&name, &families.iter().map(String::as_str).collect::<Vec<_>>())?)
    }

    /// Delete a table and all its data.
    pub fn delete_table(&self, name: String) -> Result<()> {
        Ok(self.inner.delete_table(&name)?)
    }

    /// Whether the table exists.
    pub fn table_exists(&self, name: String) -> Result<bool> {
        Ok(self.inner.table_exists(&name)?)
    }

    /// Names of every table.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.inner.list_tables()?)
    }

    /// A handle to an existing table (`TABLE_NOT_FOUND` otherwise).
    pub fn table(&self, name: String) -> Result<Arc<Table>> {
        Ok(Arc::new(Table::new(self.inner.table(&name)?)))
    }

    /// Create a topic with default configs.
    pub fn create_topic(&self, name: String, partitions: i32) -> Result<()> {
        Ok(self.inner.create_topic(&name, non_negative(partitions, "partitions")?)?)
    }

    /// Create a topic with configs by Kafka's names (`retention.ms`, `cleanup.policy`, ...).
    pub fn create_topic_with_configs(&self, name: String, partitions: i32, configs: HashMap<String, String>) -> Result<()> {
        Ok(self.inner.create_topic_with(&name, non_negative(partitions, "partitions")?, &crate::configs(configs))?)
    }

    /// Delete a topic.
    pub fn delete_topic(&self, name: String) -> Result<()> {
        Ok(self.inner.delete_topic(&name)?)
    }

    /// Names of every topic.
    pub fn list_topics(&self) -> Result<Vec<String>> {
        Ok(self.inner.list_topics()?)
    }

    /// Number of partitions of a topic.
    pub fn partitions_for(&self, name: String) -> Result<i32> {
        Ok(self.inner.partitions_for(&name)? as i32)
    }

    /// A producer with configs by Kafka's names (`acks`, `linger.ms`, `compression.type`, ...;
    /// an empty map for the defaults).
    pub fn producer(&self, configs: HashMap<String, String>) -> Result<Arc<Producer>> {
        Ok(Arc::new(Producer::new(self.inner.producer(&crate::configs(configs))?)))
    }

    /// A consumer, a member of `group_id` when given (it commits there); configs by Kafka's
    /// names (`auto.offset.reset`, `max.poll.records`, `isolation.level`).
    pub fn consumer(&self, group_id: Option<String>, configs: HashMap<String, String>) -> Result<Arc<Consumer>> {
        Ok(Arc::new(Consumer::new(self.inner.consumer(group_id.as_deref(), &crate::configs(configs))?)))
    }

    /// The admin handle (tables and topics).
    pub fn admin(&self) -> Arc<Admin> {
        Arc::new(Admin { inner: self.inner.admin() })
    }
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
}

/// Admin calls for tables and topics.
#[derive(uniffi::Object)]
pub struct Admin {
    inner: kabase_sdk::Admin,
}

#[uniffi::export]
impl Admin {
    /// Create topics; stops at the first failure.
    pub fn create_topics(&self, topics: Vec<NewTopic>) -> Result<()> {
        let topics = topics.into_iter().map(|t| Ok((t.name, non_negative(t.partitions, "partitions")?))).collect::<Result<Vec<_>>>()?;
        Ok(self.inner.create_topics(&topics)?)
    }

    /// Delete topics; stops at the first failure.
    pub fn delete_topics(&self, names: Vec<String>) -> Result<()> {
        Ok(self.inner.delete_topics(&names)?)
    }

    /// Names of every topic.
    pub fn list_topics(&self) -> Result<Vec<String>> {
        Ok(self.inner.list_topics()?)
    }

    /// Create a table with these column families.
    pub fn create_table(&self, name: String, families: Vec<String>) -> Result<()> {
        Ok(self.inner.create_table(&name, &families.iter().map(String::as_str).collect::<Vec<_>>())?)
    }

    /// Delete a table.
    pub fn delete_table(&self, name: String) -> Result<()> {
        Ok(self.inner.delete_table(&name)?)
    }

    /// Names of every table.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.inner.list_tables()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T>(r: Result<T>) -> String {
        match r {
            Err(crate::KabaseError::Failed { code_name, .. }) => code_name,
            Ok(_) => "OK".into(),
        }
    }

    #[test]
    fn admin_and_engine_share_one_catalog() {
        let e = Engine::open_in_memory().unwrap();
        let admin = e.admin();
        admin.create_topics(vec![NewTopic { name: "a".into(), partitions: 2 }]).unwrap();
        admin.create_table("t".into(), vec!["cf".into()]).unwrap();
        assert_eq!(e.partitions_for("a".into()).unwrap(), 2);
        assert!(e.table_exists("t".into()).unwrap());
        assert_eq!(admin.list_tables().unwrap(), e.list_tables().unwrap());
        admin.delete_topics(vec!["a".into()]).unwrap();
        assert_eq!(code(e.partitions_for("a".into())), "TOPIC_NOT_FOUND");
        e.shutdown().unwrap();
        assert!(e.is_closed());
        assert_eq!(code(e.list_topics()), "CLOSED");
    }

    #[test]
    fn negative_counts_are_invalid_arguments() {
        let e = Engine::open_in_memory().unwrap();
        assert_eq!(code(e.create_topic("t".into(), -1)), "INVALID_ARGUMENT");
        assert_eq!(code(e.admin().create_topics(vec![NewTopic { name: "t".into(), partitions: -3 }])), "INVALID_ARGUMENT");
    }

    #[test]
    fn bad_names_and_missing_tables_keep_their_codes() {
        let e = Engine::open_in_memory().unwrap();
        assert_eq!(code(e.create_table("bad name!".into(), vec!["cf".into()])), "INVALID_NAME");
        assert_eq!(code(e.table("missing".into())), "TABLE_NOT_FOUND");
        assert_eq!(code(e.producer(HashMap::from([("acks".into(), "sometimes".into())]))), "INVALID_CONFIG");
    }
}
