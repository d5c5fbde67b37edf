//! Per-topic configuration by Kafka's names, with Kafka's defaults.
//!
//! Overrides are kept as strings (what the user set); [`TopicConfig`] is the effective, parsed
//! view. Source for names and defaults: Kafka's `TopicConfig` / `LogConfig` docs
//! (kafka.apache.org/documentation/#topicconfigs).

use std::collections::BTreeMap;

use super::batch::TimestampType;
use super::compression::Compression;
use crate::error::{Error, ErrorCode, Result};

/// Every topic config key kabase understands, with its default value as Kafka prints it.
pub const TOPIC_CONFIG_DEFAULTS: &[(&str, &str)] = &[
    ("cleanup.policy", "delete"),
    ("compression.type", "producer"),
    ("delete.retention.ms", "86400000"),
    ("file.delete.delay.ms", "60000"),
    ("flush.messages", "9223372036854775807"),
    ("flush.ms", "9223372036854775807"),
    ("index.interval.bytes", "4096"),
    ("max.message.bytes", "1048588"),
    ("message.timestamp.type", "CreateTime"),
    ("min.cleanable.dirty.ratio", "0.5"),
    ("min.compaction.lag.ms", "0"),
    ("retention.bytes", "-1"),
    ("retention.ms", "604800000"),
    ("segment.bytes", "1073741824"),
    ("segment.index.bytes", "10485760"),
    ("segment.ms", "604800000"),
];

/// Keys accepted besides the defaults table (they fold into `retention.ms`).
const ALIASES: &[&str] = &["retention.minutes", "retention.hours"];

/// The effective configuration of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// `segment.bytes`: roll when the active segment would exceed this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `segment.index.bytes`: the size the offset and time indexes are preallocated to; the
    /// segment rolls when one is full.
    pub segment_index_bytes: u64,
    /// `retention.ms` (finest of ms / minutes / hours); -1 = forever.
    pub retention_ms: i64,
    /// `retention.bytes`; -1 = no size limit.
    pub retention_bytes: i64,
    /// `cleanup.policy` contains `delete`.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `index.interval.bytes`.
    pub index_interval_bytes: u64,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `compression.type`; `None` = `producer` (keep the producer's codec).
    pub compression: Option<Compression>,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: usize,
    /// `flush.messages`: fsync after this many messages.
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the oldest unflushed message is this old.
    pub flush_ms: i64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        // The defaults table parses; a failure here is a bug caught by the tests below.
        TopicConfig::from_overrides(&BTreeMap::new()).unwrap_or(TopicConfig {
            segment_bytes: 1 << 30,
            segment_ms: 604_800_000,
            segment_index_bytes: 10 * 1024 * 1024,
            retention_ms: 604_800_000,
            retention_bytes: -1,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: 86_400_000,
            index_interval_bytes: 4096,
            timestamp_type: TimestampType::CreateTime,
            compression: None,
            max_message_bytes: 1_048_588,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            min_compaction_lag_ms: 0,
        })
    }
}

fn bad(key: &str, value: &str, rule: &str) -> Error {
    Error::new(ErrorCode::InvalidConfig, format!("invalid value {value:?} for topic config {key}: {rule}"))
}

fn long(key: &str, value: &str, min: i64) -> Result<i64> {
    let v: i64 = value.trim().parse().map_err(|_| bad(key, value, "expected an integer"))?;
    if v < min {
        return Err(bad(key, value, &format!("must be at least {min}")));
    }
    Ok(v)
}

/// Check one key/value pair (the key must be known, the value must parse).
pub fn validate_entry(key: &str, value: &str) -> Result<()> {
    if !TOPIC_CONFIG_DEFAULTS.iter().any(|(k, _)| *k == key) && !ALIASES.contains(&key) {
        return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown topic config {key:?}")));
    }
    let mut m = BTreeMap::new();
    m.insert(key.to_string(), value.to_string());
    TopicConfig::from_overrides(&m).map(|_| ())
}

impl TopicConfig {
    /// Parse the effective config from user overrides (missing keys take Kafka's defaults).
    pub fn from_overrides(overrides: &BTreeMap<String, String>) -> Result<TopicConfig> {
        for k in overrides.keys() {
            if !TOPIC_CONFIG_DEFAULTS.iter().any(|(d, _)| d == k) && !ALIASES.contains(&k.as_str()) {
                return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown topic config {k:?}")));
            }
        }
        let get = |k: &str| -> String {
            overrides
                .get(k)
                .cloned()
                .or_else(|| TOPIC_CONFIG_DEFAULTS.iter().find(|(d, _)| *d == k).map(|(_, v)| (*v).to_string()))
                .unwrap_or_default()
        };
        let policy = get("cleanup.policy");
        let mut cleanup_delete = false;
        let mut cleanup_compact = false;
        for p in policy.split(',').map(str::trim) {
            match p {
                "delete" => cleanup_delete = true,
                "compact" => cleanup_compact = true,
                _ => return Err(bad("cleanup.policy", &policy, "expected delete, compact or both")),
            }
        }
        // retention: ms beats minutes beats hours (LogConfig: the finest unit set wins).
        let retention_ms = if let Some(v) = overrides.get("retention.ms") {
            long("retention.ms", v, -1)?
        } else if let Some(v) = overrides.get("retention.minutes") {
            let m = long("retention.minutes", v, -1)?;
            if m < 0 { -1 } else { m.saturating_mul(60_000) }
        } else if let Some(v) = overrides.get("retention.hours") {
            let h = long("retention.hours", v, -1)?;
            if h < 0 { -1 } else { h.saturating_mul(3_600_000) }
        } else {
            604_800_000
        };
        let ts = get("message.timestamp.type");
        let timestamp_type = match ts.as_str() {
            "CreateTime" => TimestampType::CreateTime,
            "LogAppendTime" => TimestampType::LogAppendTime,
            _ => return Err(bad("message.timestamp.type", &ts, "expected CreateTime or LogAppendTime")),
        };
        let comp = get("compression.type");
        let compression = if comp == "producer" { None } else { Some(Compression::parse(&comp).map_err(|_| bad("compression.type", &comp, "expected producer, none, gzip, snappy, lz4 or zstd"))?) };
        let ratio = get("min.cleanable.dirty.ratio");
        let r: f64 = ratio.parse().map_err(|_| bad("min.cleanable.dirty.ratio", &ratio, "expected a number"))?;
        if !(0.0..=1.0).contains(&r) {
            return Err(bad("min.cleanable.dirty.ratio", &ratio, "must be between 0 and 1"));
        }
        long("file.delete.delay.ms", &get("file.delete.delay.ms"), 0)?;
        Ok(TopicConfig {
            segment_bytes: long("segment.bytes", &get("segment.bytes"), 14)? as u64,
            segment_ms: long("segment.ms", &get("segment.ms"), 1)?,
            segment_index_bytes: long("segment.index.bytes", &get("segment.index.bytes"), 4)?.min(i32::MAX as i64) as u64,
            retention_ms,
            retention_bytes: long("retention.bytes", &get("retention.bytes"), -1)?,
            cleanup_delete,
            cleanup_compact,
            delete_retention_ms: long("delete.retention.ms", &get("delete.retention.ms"), 0)?,
            index_interval_bytes: long("index.interval.bytes", &get("index.interval.bytes"), 0)? as u64,
            timestamp_type,
            compression,
            max_message_bytes: long("max.message.bytes", &get("max.message.bytes"), 0)?.min(i32::MAX as i64) as usize,
            flush_messages: long("flush.messages", &get("flush.messages"), 1)?,
            flush_ms: long("flush.ms", &get("flush.ms"), 0)?,
            min_compaction_lag_ms: long("min.compaction.lag.ms", &get("min.compaction.lag.ms"), 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = TopicConfig::from_overrides(&BTreeMap::new()).unwrap();
        assert_eq!(c, TopicConfig::default());
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(c.segment_ms, 7 * 24 * 3_600_000);
        assert_eq!(c.retention_ms, 7 * 24 * 3_600_000);
        assert_eq!(c.index_interval_bytes, 4096);
        assert_eq!(c.max_message_bytes, 1_048_588);
        assert!(c.cleanup_delete && !c.cleanup_compact);
        assert_eq!(c.compression, None);
    }

    #[test]
    fn finest_retention_unit_wins() {
        let c = TopicConfig::from_overrides(&m(&[("retention.hours", "2"), ("retention.minutes", "3")])).unwrap();
        assert_eq!(c.retention_ms, 180_000);
        let c = TopicConfig::from_overrides(&m(&[("retention.hours", "2"), ("retention.minutes", "3"), ("retention.ms", "5")])).unwrap();
        assert_eq!(c.retention_ms, 5);
        let c = TopicConfig::from_overrides(&m(&[("retention.hours", "2")])).unwrap();
        assert_eq!(c.retention_ms, 7_200_000);
        let c = TopicConfig::from_overrides(&m(&[("retention.ms", "-1")])).unwrap();
        assert_eq!(c.retention_ms, -1);
    }

    #[test]
    fn policies_and_types() {
        let c = TopicConfig::from_overrides(&m(&[("cleanup.policy", "compact,delete"), ("message.timestamp.type", "LogAppendTime"), ("compression.type", "zstd")])).unwrap();
        assert!(c.cleanup_compact && c.cleanup_delete);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(c.compression, Some(Compression::Zstd));
    }

    #[test]
    fn bad_values_are_rejected_with_the_rule() {
        for (k, v) in [("segment.bytes", "10"), ("segment.bytes", "x"), ("cleanup.policy", "keep"), ("message.timestamp.type", "Now"), ("compression.type", "brotli"), ("retention.ms", "-2"), ("no.such.key", "1"), ("min.cleanable.dirty.ratio", "2")] {
            let e = validate_entry(k, v).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{k}={v}");
            assert!(e.message().contains(k), "{}", e.message());
        }
        validate_entry("retention.minutes", "5").unwrap();
    }
}
