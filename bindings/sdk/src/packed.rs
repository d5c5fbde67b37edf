//! [`PackedRecords`]: a poll's records packed into a few reused buffers, for hosts that copy
//! every record into objects of their own (Python's `ConsumerRecord`s) right after the poll.
//!
//! [`KafkaConsumer::poll`](crate::KafkaConsumer::poll) hands back owned [`Record`]s: a key and a
//! value vector per record, allocated by the poll and freed after the host has copied them. A
//! host that only copies them can poll into a `PackedRecords` instead
//! ([`KafkaConsumer::poll_packed`](crate::KafkaConsumer::poll_packed)): every key, value and
//! header is appended to one byte buffer, each record's own fields (offset, timestamp, lengths) to
//! one vector of fixed entries and what consecutive records share (topic, partition, timestamp
//! type) to one entry per run of them, all kept (with their capacity) from one poll to the next, so a loop of polls
//! allocates nothing per record (a header's key and value, when there are headers, are still
//! owned, kept in one vector of the set's). The poll
//! runs without the host's lock (the GIL), and the host reads [`PackedRecord`]s borrowed from the
//! buffers afterwards.

use std::sync::Arc;

use kabase::log::{Header, RecordView, TimestampType};

use crate::Record;

/// A key's or value's length in [`Entry`], or [`NULL`].
type Len = u32;

/// The length of a null key or value. A record's key and value lengths are 32-bit signed in
/// the batch format (so below 2^31), which leaves this value free.
const NULL: Len = Len::MAX;

/// One record's own fields. What a run of records shares (topic, partition, timestamp type)
/// is kept once per [`Run`]; where its key and value lie is computed from `start` and the
/// lengths (the value follows the key).
#[derive(Debug)]
struct Entry {
    offset: i64,
    timestamp: i64,
    /// Where the record's key (then its value) starts in [`PackedRecords`]'s byte buffer.
    start: usize,
    key_len: Len,
    value_len: Len,
    /// How many headers the record has; they follow the previous records' in
    /// [`PackedRecords`]'s header vector, from `header_start`.
    header_count: u32,
    header_start: usize,
}

/// Consecutive records of one partition with one timestamp type (a fetch hands out a
/// partition's records together): entries `..end` from the previous run's end.
#[derive(Debug)]
struct Run {
    topic: usize,
    partition: u32,
    timestamp_type: TimestampType,
    end: usize,
}

/// Records of one poll packed into reused buffers (see the module documentation). Fill it with
/// [`KafkaConsumer::poll_packed`](crate::KafkaConsumer::poll_packed); read it with
/// [`PackedRecords::get`] or [`PackedRecords::iter`].
#[derive(Debug, Default)]
pub struct PackedRecords {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<Run>,
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

/// Consecutive records of a [`PackedRecords`] that share their topic, partition and timestamp
/// type (see [`PackedRecords::runs`]).
#[derive(Debug, Clone, Copy)]
pub struct PackedRun<'a> {
    set: &'a PackedRecords,
    run: &'a Run,
    topic: &'a Arc<str>,
    entries: &'a [Entry],
}

impl<'a> PackedRun<'a> {
    /// The records' topic.
    pub fn topic(&self) -> &'a Arc<str> {
        self.topic
    }

    /// The topic's number within the set (see [`PackedRecord::topic_index`]).
    pub fn topic_index(&self) -> usize {
        self.run.topic
    }

    /// The records' partition.
    pub fn partition(&self) -> u32 {
        self.run.partition
    }

    /// Number of records (at least 1).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the run holds no record (never, for a run of [`PackedRecords::runs`]).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The run's records in fetch order.
    pub fn records(&self) -> RunRecords<'a> {
        RunRecords { set: self.set, run: self.run, topic: self.topic, entries: self.entries.iter() }
    }
}

/// The records of a [`PackedRun`], in fetch order.
#[derive(Debug, Clone)]
pub struct RunRecords<'a> {
    set: &'a PackedRecords,
    run: &'a Run,
    topic: &'a Arc<str>,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for RunRecords<'a> {
    type Item = PackedRecord<'a>;

    #[inline]
    fn next(&mut self) -> Option<PackedRecord<'a>> {
        let e = self.entries.next()?;
        Some(self.set.view(self.run, self.topic, e))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for RunRecords<'_> {}

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
        self.runs.clear();
        self.topics.clear();
        self.headers.clear();
    }

    /// Record `i` (in fetch order), if there is one.
    pub fn get(&self, i: usize) -> Option<PackedRecord<'_>> {
        let e = self.entries.get(i)?;
        let run = self.runs.get(self.runs.partition_point(|r| r.end <= i))?;
        Some(self.view(run, self.topics.get(run.topic)?, e))
    }

    /// The records in fetch order.
    pub fn iter(&self) -> impl Iterator<Item = PackedRecord<'_>> + '_ {
        self.runs().flat_map(|run| run.records())
    }

    /// The records in fetch order, as runs of consecutive records of one partition (and one
    /// timestamp type), for hosts that do per run what the run's records share: one topic
    /// object, one list per partition. A partition can have several runs in one set.
    pub fn runs(&self) -> impl Iterator<Item = PackedRun<'_>> + '_ {
        let mut first = 0;
        self.runs.iter().filter_map(move |run| {
            let entries = self.entries.get(first..run.end).unwrap_or_default();
            first = run.end;
            Some(PackedRun { set: self, run, topic: self.topics.get(run.topic)?, entries })
        })
    }

    /// The record of entry `e` in `run`, whose topic is `topic`.
    #[inline]
    fn view<'a>(&'a self, run: &Run, topic: &'a Arc<str>, e: &Entry) -> PackedRecord<'a> {
        let key_end = e.start + if e.key_len == NULL { 0 } else { e.key_len as usize };
        let span = |a: usize, len: Len| if len == NULL { None } else { Some(self.bytes.get(a..a + len as usize).unwrap_or_default()) };
        PackedRecord {
            topic,
            topic_index: run.topic,
            partition: run.partition,
            offset: e.offset,
            timestamp: e.timestamp,
            timestamp_type: run.timestamp_type,
            key: span(e.start, e.key_len),
            value: span(key_end, e.value_len),
            headers: if e.header_count == 0 {
                &[]
            } else {
                self.headers.get(e.header_start..e.header_start + e.header_count as usize).unwrap_or_default()
            },
        }
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

    /// Make room for `n` records' entries (not their bytes), so that a poll's first fill does
    /// not regrow the entries as it goes.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }

    /// Append a fetched record.
    #[inline]
    pub(crate) fn push(&mut self, r: &RecordView<'_>) {
        let n = self.entries.len();
        match self.runs.last_mut() {
            // The common case: the previous record's partition (compared first: it is one
            // integer), topic and timestamp type.
            Some(run) if run.partition == r.partition && run.timestamp_type == r.timestamp_type && self.topics.get(run.topic).is_some_and(|t| **t == *r.topic) => {
                run.end = n + 1;
            }
            _ => {
                let topic = match self.topics.iter().position(|t| **t == *r.topic) {
                    Some(i) => i,
                    None => {
                        self.topics.push(Arc::from(r.topic));
                        self.topics.len() - 1
                    }
                };
                self.runs.push(Run { topic, partition: r.partition, timestamp_type: r.timestamp_type, end: n + 1 });
            }
        }
        let start = self.bytes.len();
        // A key or value is at most 2^31 - 1 bytes (its length is a 32-bit signed varint in
        // the batch format), so its length fits a `Len` below `NULL`.
        let key_len = r.key.map_or(NULL, |k| k.len() as Len);
        let value_len = r.value.map_or(NULL, |v| v.len() as Len);
        if let Some(k) = r.key {
            self.bytes.extend_from_slice(k);
        }
        if let Some(v) = r.value {
            self.bytes.extend_from_slice(v);
        }
        let header_start = self.headers.len();
        if r.header_count() != 0 {
            self.headers.extend(r.headers().map(|(k, v)| Header { key: k.to_string(), value: v.map(<[u8]>::to_vec) }));
        }
        // Header counts are 32-bit signed in the batch format, so this fits.
        let header_count = (self.headers.len() - header_start) as u32;
        self.entries.push(Entry { offset: r.offset, timestamp: r.timestamp, start, key_len, value_len, header_count, header_start });
    }
}
