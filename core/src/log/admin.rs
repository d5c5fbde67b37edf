//! Topic administration on [`crate::Engine`]: create, delete, add partitions, describe,
//! describe/alter configs, delete records.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::config::TOPIC_CONFIG_DEFAULTS;
use super::partition::SegmentInfo;
use super::{TopicPartition, TopicsShared};
use crate::error::Result;

/// A topic to create: name, partition count, config overrides by Kafka's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: u32,
    /// Config overrides (`retention.ms`, `cleanup.policy`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and default configs.
    pub fn new(name: impl Into<String>, partitions: u32) -> NewTopic {
        NewTopic { name: name.into(), partitions, configs: BTreeMap::new() }
    }
    /// Set one config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// One partition as described by [`crate::Engine::describe_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// Partition number.
    pub partition: u32,
    /// First offset still in the log.
    pub log_start_offset: i64,
    /// Offset the next record gets.
    pub log_end_offset: i64,
    /// High watermark (= LEO: one replica).
    pub high_watermark: i64,
    /// Last stable offset (first offset of the earliest open transaction, else HW).
    pub last_stable_offset: i64,
    /// Segments, oldest first.
    pub segments: Vec<SegmentInfo>,
}

/// A topic as described by [`crate::Engine::describe_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Kafka-style topic id (base64 of 16 random bytes).
    pub topic_id: String,
    /// Partitions in order.
    pub partitions: Vec<PartitionDescription>,
}

/// One config value of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Kafka's name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Whether it is the default (not overridden on the topic).
    pub is_default: bool,
}

impl crate::Engine {
    pub(crate) fn topics(&self) -> Result<&Arc<TopicsShared>> {
        self.check_open()?;
        Ok(&self.inner.topics.shared)
    }

    /// Create a topic.
    ///
    /// ```
    /// use kabase::log::NewTopic;
    /// let engine = kabase::Engine::open_in_memory().unwrap();
    /// engine.create_topic(NewTopic::new("orders", 3).config("cleanup.policy", "compact")).unwrap();
    /// assert_eq!(engine.describe_topic("orders").unwrap().partitions.len(), 3);
    /// let err = engine.create_topic(NewTopic::new("orders", 1)).unwrap_err();
    /// assert_eq!(err.code(), kabase::ErrorCode::TopicExists);
    /// ```
    pub fn create_topic(&self, topic: NewTopic) -> Result<()> {
        if super::is_internal_topic(&topic.name) {
            return Err(super::internal_topic_error(&topic.name, "create"));
        }
        self.topics()?.create_topic(&topic)
    }

    /// Delete a topic and its data. Internal topics (`__consumer_offsets`) cannot be deleted.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        if super::is_internal_topic(name) {
            return Err(super::internal_topic_error(name, "delete"));
        }
        self.topics()?.delete_topic(name)
    }

    /// Grow a topic to `total` partitions. Internal topics keep their count (a group's offsets
    /// partition is a function of it).
    pub fn create_partitions(&self, name: &str, total: u32) -> Result<()> {
        if super::is_internal_topic(name) {
            return Err(super::internal_topic_error(name, "add partitions to"));
        }
        self.topics()?.create_partitions(name, total)
    }

    /// Names of every user topic, sorted; internal topics (`__consumer_offsets`) are left out
    /// (see [`crate::Engine::list_topics_with_internal`]).
    ///
    /// ```
    /// use kabase::log::NewTopic;
    /// let engine = kabase::Engine::open_in_memory().unwrap();
    /// engine.create_topic(NewTopic::new("orders", 1)).unwrap();
    /// assert_eq!(engine.list_topics().unwrap(), ["orders"]);
    /// engine.close().unwrap();
    /// ```
    pub fn list_topics(&self) -> Result<Vec<String>> {
        Ok(self.topics()?.topics.read().keys().filter(|k| !super::is_internal_topic(k)).cloned().collect())
    }

    /// Names of every topic, internal ones included, sorted.
    pub fn list_topics_with_internal(&self) -> Result<Vec<String>> {
        Ok(self.topics()?.topics.read().keys().cloned().collect())
    }

    /// Number of partitions of a topic.
    pub fn partitions_for(&self, name: &str) -> Result<u32> {
        Ok(self.topics()?.topic(name)?.num_partitions())
    }

    /// Per partition: log start, LEO, HW, LSO, segments and their sizes.
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let t = self.topics()?.topic(name)?;
        let parts = t.partitions.read().clone();
        let partitions = parts
            .iter()
            .map(|p| {
                let (log_start_offset, log_end_offset, high_watermark, last_stable_offset) = p.offsets();
                PartitionDescription { partition: p.partition, log_start_offset, log_end_offset, high_watermark, last_stable_offset, segments: p.segment_infos() }
            })
            .collect();
        Ok(TopicDescription { name: t.name.clone(), topic_id: t.id.clone(), partitions })
    }

    /// Every config of a topic with its effective value.
    pub fn describe_configs(&self, name: &str) -> Result<Vec<ConfigEntry>> {
        let t = self.topics()?.topic(name)?;
        let o = t.overrides.read();
        let c = t.config.read();
        let mut out = Vec::new();
        for (k, d) in TOPIC_CONFIG_DEFAULTS {
            let (value, is_default) = match (o.get(*k), *k) {
                (Some(v), _) => (v.clone(), false),
                (None, "retention.ms") if o.contains_key("retention.minutes") || o.contains_key("retention.hours") => (c.retention_ms.to_string(), false),
                (None, _) => ((*d).to_string(), true),
            };
            out.push(ConfigEntry { name: (*k).to_string(), value, is_default });
        }
        for k in ["retention.minutes", "retention.hours"] {
            if let Some(v) = o.get(k) {
                out.push(ConfigEntry { name: k.to_string(), value: v.clone(), is_default: false });
            }
        }
        Ok(out)
    }

    /// Incrementally alter topic configs: `Some(value)` sets, `None` reverts to the default.
    pub fn alter_configs(&self, name: &str, changes: &[(&str, Option<&str>)]) -> Result<()> {
        let ch: Vec<(String, Option<String>)> = changes.iter().map(|(k, v)| ((*k).to_string(), v.map(str::to_string))).collect();
        self.topics()?.alter_configs(name, &ch)
    }

    /// Move a partition's log start offset to `before_offset` (-1 = the high watermark),
    /// deleting whole segments below it. Returns the new log start offset (low watermark).
    pub fn delete_records(&self, tp: &TopicPartition, before_offset: i64) -> Result<i64> {
        let p = self.topics()?.partition(tp)?;
        let r = p.delete_records(before_offset)?;
        self.topics()?.write_checkpoints()?;
        Ok(r)
    }

    /// Apply `retention.ms` / `retention.bytes` now (the background thread does this every
    /// retention check interval). Returns the number of segments deleted.
    pub fn run_retention(&self) -> Result<usize> {
        let s = self.topics()?;
        let n = s.run_retention()?;
        s.write_checkpoints()?;
        Ok(n)
    }

    /// Set how often the background thread applies retention (Kafka's
    /// `log.retention.check.interval.ms`, default 300000).
    pub fn set_retention_check_interval_ms(&self, ms: u64) -> Result<()> {
        self.topics()?.retention_interval_ms.store(ms.max(1), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Start a new segment in a partition now.
    pub fn roll_segment(&self, tp: &TopicPartition) -> Result<()> {
        self.topics()?.partition(tp)?.force_roll()
    }

    /// Fsync every partition with its indexes and advance the recovery points.
    pub fn flush_topics(&self) -> Result<()> {
        let s = self.topics()?;
        for p in s.all_partitions() {
            p.flush_all()?;
        }
        s.write_checkpoints()
    }
}
