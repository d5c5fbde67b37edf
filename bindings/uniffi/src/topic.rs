//! Topics: [`Producer`] and [`Consumer`] handles, records as UniFFI records, sends and polls in
//! batches.

use crate::engine::non_negative;
use crate::Result;

/// A record header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Header {
    /// Header key.
    pub key: String,
    /// Header value (null allowed, as in Kafka).
    #[uniffi(default = None)]
    pub value: Option<Vec<u8>>,
}

/// One record to send; every field but the value has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct OutgoingRecord {
    /// Key (null = null key).
    #[uniffi(default = None)]
    pub key: Option<Vec<u8>>,
    /// Value (null = tombstone).
    pub value: Option<Vec<u8>>,
    /// Partition; null lets the partitioner choose (murmur2 of the key, sticky otherwise).
    #[uniffi(default = None)]
    pub partition: Option<i32>,
    /// Create time in ms since the epoch; null = now.
    #[uniffi(default = None)]
    pub timestamp: Option<i64>,
    /// Headers in order.
    #[uniffi(default = [])]
    pub headers: Vec<Header>,
}

impl OutgoingRecord {
    fn to_sdk(&self) -> Result<kabase_sdk::OutgoingRecord> {
        let partition = match self.partition {
            Some(p) => Some(non_negative(p, "partition")?),
            None => None,
        };
        // A null header value stays null (Kafka allows it), distinct from an empty one.
        let headers = self.headers.iter().map(|h| (h.key.clone(), h.value.clone())).collect();
        Ok(kabase_sdk::OutgoingRecord { partition, key: self.key.clone(), value: self.value.clone(), timestamp: self.timestamp, headers })
    }
}

/// Where a sent record landed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The record's timestamp (create time, or log-append time when the topic says so).
    pub timestamp: i64,
}

fn meta_out(m: kabase_sdk::RecordMetadata) -> RecordMetadata {
    RecordMetadata { topic: m.topic, partition: m.partition as i32, offset: m.offset, timestamp: m.timestamp }
}

/// One consumed record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp, ms since the epoch.
    pub timestamp: i64,
    /// Key (null key = null).
    pub key: Option<Vec<u8>>,
    /// Value (tombstone = null).
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<Header>,
}

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TopicPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// A position: the next offset to read in a topic partition.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PartitionOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next offset to consume.
    pub offset: i64,
}

/// A producer.
#[derive(uniffi::Object)]
pub struct Producer {
    inner: kabase_sdk::Producer,
}

impl Producer {
    pub(crate) fn new(inner: kabase_sdk::Producer) -> Producer {
        Producer { inner }
    }
}

#[uniffi::export]
impl Producer {
    /// Send one record and wait until it is in the log.
    pub fn send(&self, topic: String, record: OutgoingRecord) -> Result<RecordMetadata> {
        Ok(meta_out(self.inner.send(&topic, &record.to_sdk()?)?))
    }

    /// Send many records to one topic in one call (as few log appends as batching allows) and
    /// wait for all of them; the metadata in send order.
    pub fn send_batch(&self, topic: String, records: Vec<OutgoingRecord>) -> Result<Vec<RecordMetadata>> {
        let records = records.iter().map(OutgoingRecord::to_sdk).collect::<Result<Vec<_>>>()?;
        let batch = kabase_sdk::OutgoingBatch { topic, records };
        Ok(self.inner.send_batch(&batch)?.into_iter().map(meta_out).collect())
    }

    /// Wait until everything sent so far is in the log.
    pub fn flush(&self) -> Result<()> {
        Ok(self.inner.flush()?)
    }

    /// Flush and stop; later sends fail with `CLOSED`.
    pub fn shutdown(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }
}

/// A consumer.
#[derive(uniffi::Object)]
pub struct Consumer {
    inner: kabase_sdk::Consumer,
}

impl Consumer {
    pub(crate) fn new(inner: kabase_sdk::Consumer) -> Consumer {
        Consumer { inner }
    }
}

fn timeout(ms: i64) -> Result<u64> {
    u64::try_from(ms).map_err(|_| kabase_sdk::Error::invalid(format!("timeout_ms must not be negative, got {ms}")).into())
}

#[uniffi::export]
impl Consumer {
    /// Subscribe to topics (joining the group when the consumer has one); `from_beginning` reads
    /// partitions without a committed offset from the start, else from the end.
    pub fn subscribe(&self, topics: Vec<String>, from_beginning: bool) -> Result<()> {
        Ok(self.inner.subscribe(&topics, from_beginning)?)
    }

    /// The assigned partitions with their next offsets.
    pub fn assignment(&self) -> Vec<PartitionOffset> {
        self.inner.assignment().into_iter().map(|p| PartitionOffset { topic: p.topic, partition: p.partition as i32, offset: p.offset }).collect()
    }

    /// Up to `max_records` records, waiting up to `timeout_ms` for the first.
    pub fn poll(&self, max_records: i32, timeout_ms: i64) -> Result<Vec<ConsumerRecord>> {
        let batch = self.inner.poll(non_negative(max_records, "max_records")? as usize, timeout(timeout_ms)?)?;
        Ok(batch
            .records
            .into_iter()
            .map(|r| ConsumerRecord {
                topic: r.topic.to_string(),
                partition: r.partition as i32,
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers.into_iter().map(|h| Header { key: h.key, value: h.value }).collect(),
            })
            .collect())
    }

    /// Move the position of an assigned partition.
    pub fn seek(&self, topic: String, partition: i32, offset: i64) -> Result<()> {
        Ok(self.inner.seek(&topic, non_negative(partition, "partition")?, offset)?)
    }

    /// Commit the current positions to the group.
    pub fn commit(&self) -> Result<()> {
        Ok(self.inner.commit()?)
    }

    /// Commit these positions to the group.
    pub fn commit_offsets(&self, offsets: Vec<PartitionOffset>) -> Result<()> {
        let offsets = offsets
            .into_iter()
            .map(|p| Ok(kabase_sdk::PartitionOffset { topic: p.topic, partition: non_negative(p.partition, "partition")?, offset: p.offset }))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.inner.commit_offsets(&offsets)?)
    }

    /// The group's committed next offsets of these partitions (null where none), in order.
    pub fn committed(&self, partitions: Vec<TopicPartition>) -> Result<Vec<Option<i64>>> {
        let parts = partitions.into_iter().map(|p| Ok((p.topic, non_negative(p.partition, "partition")?))).collect::<Result<Vec<_>>>()?;
        Ok(self.inner.committed(&parts)?)
    }

    /// Leave the group and stop; later calls fail with `CLOSED`.
    pub fn shutdown(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{Engine, KabaseError};

    fn code<T>(r: Result<T>) -> String {
        match r {
            Err(KabaseError::Failed { code_name, .. }) => code_name,
            Ok(_) => "OK".into(),
        }
    }

    fn value(v: &str) -> OutgoingRecord {
        OutgoingRecord { value: Some(v.as_bytes().to_vec()), ..Default::default() }
    }

    #[test]
    fn send_batch_poll_commit_in_a_group() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("t".into(), 1).unwrap();
        let p = e.producer(HashMap::new()).unwrap();
        let hs = vec![Header { key: "h".into(), value: Some(b"v".to_vec()) }, Header { key: "null".into(), value: None }, Header { key: "empty".into(), value: Some(vec![]) }];
        let one = OutgoingRecord { key: Some(b"k".to_vec()), headers: hs.clone(), ..value("first") };
        let m = p.send("t".into(), one).unwrap();
        assert_eq!((m.topic.as_str(), m.partition, m.offset), ("t", 0, 0));
        let ms = p.send_batch("t".into(), (1..5).map(|i| value(&i.to_string())).collect()).unwrap();
        assert_eq!(ms.iter().map(|m| m.offset).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        p.flush().unwrap();
        let c = e.consumer(Some("g".into()), HashMap::new()).unwrap();
        c.subscribe(vec!["t".into()], true).unwrap();
        let mut got = Vec::new();
        for _ in 0..50 {
            got.extend(c.poll(100, 100).unwrap());
            if got.len() >= 5 {
                break;
            }
        }
        assert_eq!(got.len(), 5);
        assert_eq!(got[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(got[0].headers, hs);
        assert_eq!(got[4].value.as_deref(), Some(&b"4"[..]));
        assert_eq!(c.assignment(), vec![PartitionOffset { topic: "t".into(), partition: 0, offset: 5 }]);
        c.commit().unwrap();
        assert_eq!(c.committed(vec![TopicPartition { topic: "t".into(), partition: 0 }]).unwrap(), vec![Some(5)]);
        c.commit_offsets(vec![PartitionOffset { topic: "t".into(), partition: 0, offset: 2 }]).unwrap();
        assert_eq!(c.committed(vec![TopicPartition { topic: "t".into(), partition: 0 }]).unwrap(), vec![Some(2)]);
        c.seek("t".into(), 0, 3).unwrap();
        let again = c.poll(100, 1000).unwrap();
        assert_eq!(again.first().map(|r| r.offset), Some(3));
        c.shutdown().unwrap();
        p.shutdown().unwrap();
        assert!(matches!(p.send("t".into(), value("x")), Err(KabaseError::Failed { code: 104, .. })));
    }

    #[test]
    fn bad_records_and_arguments_are_errors() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("t".into(), 1).unwrap();
        let p = e.producer(HashMap::new()).unwrap();
        assert_eq!(code(p.send("bad topic!".into(), value("x"))), "INVALID_NAME");
        assert_eq!(code(p.send_batch("bad topic!".into(), vec![value("x")])), "INVALID_NAME");
        assert_eq!(code(p.send("t".into(), OutgoingRecord { partition: Some(-1), ..value("x") })), "INVALID_ARGUMENT");
        assert_eq!(code(p.send("t".into(), OutgoingRecord { partition: Some(7), ..value("x") })), "UNKNOWN_PARTITION");
        let c = e.consumer(None, HashMap::new()).unwrap();
        assert!(matches!(c.poll(-1, 0), Err(KabaseError::Failed { code: 103, .. })));
        assert!(matches!(c.poll(1, -5), Err(KabaseError::Failed { code: 103, .. })));
    }
}
