//! [`PackedRecords`]: a poll's records packed into a few reused buffers, for hosts that copy
//! every record into objects of their own (Python's `ConsumerRecord`s) right after the poll.
//!
//! [`KafkaConsumer::poll`](crate::KafkaConsumer::poll) hands back owned [`Record`]s: a key and a
//! value vector per record, allocated by the poll and freed after the host has copied them. A
//! host that only copies them can poll into a `PackedRecords` instead
//! ([`KafkaConsumer::poll_packed`](crate::KafkaConsumer::poll_packed)): every key, value and
//! header is appended to one byte buffer and each record's other fields to one vector of fixed
//! entries, both kept (with their capacity) from one poll to the next, so a loop of polls
//! allocates nothing per record (a header's key and value, when there are headers, are still
//! owned, kept in one vector of the set's). The poll
//! runs without the host's lock (the GIL), and the host reads [`PackedRecord`]s borrowed from the
//! buffers afterwards.

use std::sync::Arc;

use kabase::log::{Header, RecordView, TimestampType};

use crate::Record;

/// Where a key or value lies in [`PackedRecords`]'s byte buffer (`None` for null).
type Span = Option<(usize, usize)>;

/// One record's fields other than its bytes.
#[derive(Debug)]
struct Entry {
    topic: usize,
    partition: u32,
    offset: i64,
    timestamp: i64,
    timestamp_type: TimestampType,
    key: Span,
    value: Span,
    /// Where the record's headers lie in [`PackedRecords`]'s header vector (start, count).
    headers: (usize, usize),
}

/// Records of one poll packed into reused buffers (see the module documentation). Fill it with
/// [`KafkaConsumer::poll_packed`](crate::KafkaConsumer::poll_packed); read it with
/// [`PackedRecords::get`] or [`PackedRecords::iter`].
#[derive(Debug, Default)]
pub struct PackedRecords {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    topics: Vec<Arc<str>>,
    /// Every record's headers, in order (a record without headers adds nothing, and an entry
    /// owns nothing, so clearing the entries is not a loop over them).
    headers: Vec<Header>,
}

/// A record of a [`PackedRecords`], borrowed from its buffers. Same fields as [`Record`].
#[derive(Debug, Clone, Copy)]
pub struct PackedRecord<'a> {
    /// Topic.
    pub topic: &'a Arc<str>,
    /// The topic's number within its [`PackedRecords`] (records with the same number have the
    /// same topic; numbers start at 0 and grow as new topics appear), for hosts that make one
    /// topic object per batch.
    pub topic_index: usize,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// CreateTime or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// Key (`None` = null).
    pub key: Option<&'a [u8]>,
    /// Value (`None` = null).
    pub value: Option<&'a [u8]>,
    /// Headers, in order.
    pub headers: &'a [Header],
}

impl PackedRecord<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: self.timestamp_type,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers.to_vec(),
        }
    }
}

impl PackedRecords {
    /// An empty set (buffers grow on first use).
    pub fn new() -> PackedRecords {
        PackedRecords::default()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes the key and value buffer can hold without growing (what a host keeping this set
    /// between polls keeps allocated).
    pub fn byte_capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Forget every record, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.topics.clear();
        self.headers.clear();
    }

    /// Record `i` (in fetch order), if there is one.
    pub fn get(&self, i: usize) -> Option<PackedRecord<'_>> {
        self.view(self.entries.get(i)?)
    }

    /// The records in fetch order.
    pub fn iter(&self) -> impl Iterator<Item = PackedRecord<'_>> + '_ {
        self.entries.iter().filter_map(move |e| self.view(e))
    }

    /// The record of entry `e` (`None` only if the set were inconsistent, which `push` rules
    /// out).
    #[inline]
    fn view(&self, e: &Entry) -> Option<PackedRecord<'_>> {
        let span = |s: Span| s.map(|(a, b)| self.bytes.get(a..b).unwrap_or_default());
        let (h, n) = e.headers;
        Some(PackedRecord {
            topic: self.topics.get(e.topic)?,
            topic_index: e.topic,
            partition: e.partition,
            offset: e.offset,
            timestamp: e.timestamp,
            timestamp_type: e.timestamp_type,
            key: span(e.key),
            value: span(e.value),
            headers: if n == 0 { &[] } else { self.headers.get(h..h + n).unwrap_or_default() },
        })
    }

    /// Each partition's first offset here, as `(topic, partition, offset)` in order of first
    /// appearance: where a rewind puts the partitions back.
    pub fn first_offsets(&self) -> Vec<(Arc<str>, u32, i64)> {
        let mut first: Vec<(Arc<str>, u32, i64)> = Vec::new();
        for r in self.iter() {
            if !first.iter().any(|(t, p, _)| *p == r.partition && **t == **r.topic) {
                first.push((r.topic.clone(), r.partition, r.offset));
            }
        }
        first
    }

    /// Append a fetched record.
    pub(crate) fn push(&mut self, r: &RecordView<'_>) {
        let topic = match self.topics.last() {
            Some(t) if **t == *r.topic => self.topics.len() - 1,
            _ => match self.topics.iter().position(|t| **t == *r.topic) {
                Some(i) => i,
                None => {
                    self.topics.push(Arc::from(r.topic));
                    self.topics.len() - 1
                }
            },
        };
        let key = self.append(r.key);
        let value = self.append(r.value);
        let start = self.headers.len();
        if r.header_count() != 0 {
            self.headers.extend(r.headers().map(|(k, v)| Header { key: k.to_string(), value: v.map(<[u8]>::to_vec) }));
        }
        let headers = (start, self.headers.len() - start);
        self.entries.push(Entry { topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, timestamp_type: r.timestamp_type, key, value, headers });
    }

    fn append(&mut self, b: Option<&[u8]>) -> Span {
        let b = b?;
        let a = self.bytes.len();
        self.bytes.extend_from_slice(b);
        Some((a, self.bytes.len()))
    }
}
