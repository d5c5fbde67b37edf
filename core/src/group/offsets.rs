//! Committed offsets: Kafka's `__consumer_offsets` record formats and the durable log they go to.
//!
//! Records are key/value pairs byte-for-byte as Kafka writes them to its internal compacted
//! topic `__consumer_offsets` (all integers big-endian, STRING = int16 length + UTF-8):
//!
//! ```text
//! OffsetCommitKey   (key version 1):   version int16 = 1 | group STRING | topic STRING | partition int32
//! OffsetCommitValue (value version 3): version int16 = 3 | offset int64 | leader_epoch int32 (-1 = none)
//!                                      | metadata STRING | commit_timestamp int64
//! GroupMetadataKey  (key version 2):   version int16 = 2 | group STRING
//! GroupMetadataValue (value version 3): version int16 = 3 | protocol_type STRING
//!                                      | generation int32 | protocol NULLABLE_STRING
//!                                      | leader NULLABLE_STRING | current_state_timestamp int64
//!                                      | members int32 count, each: member_id STRING
//!                                        | group_instance_id NULLABLE_STRING | client_id STRING
//!                                        | client_host STRING | rebalance_timeout int32
//!                                        | session_timeout int32 | subscription BYTES
//!                                        | assignment BYTES
//! ```
//!
//! A member's `subscription` is a `ConsumerProtocolSubscription` version 1 (`version int16 = 1 |
//! topics [STRING] | user_data NULLABLE_BYTES | owned_partitions [topic STRING | partitions
//! [int32]]`) and its `assignment` a `ConsumerProtocolAssignment` version 0 (`version int16 = 0
//! | assigned_partitions [topic STRING | partitions [int32]] | user_data NULLABLE_BYTES`); arrays
//! are an int32 count then the items, BYTES an int32 length (-1 = null) then the bytes. Source:
//! apache/kafka `GroupMetadataValue.json` and `clients/src/main/resources/common/message/
//! ConsumerProtocol{Subscription,Assignment}.json`.
//!
//! A null value is a tombstone: an `OffsetCommitKey` tombstone deletes one committed offset, a
//! `GroupMetadataKey` tombstone deletes the group. Source: apache/kafka
//! `group-coordinator/src/main/resources/common/message/{OffsetCommitKey,OffsetCommitValue,
//! GroupMetadataKey}.json` (key versions 0-1 are offset keys, 2 is the group key; value
//! version 3 added `leaderEpoch` and dropped `expireTimestamp`).
//!
//! The records go through the [`OffsetLog`] trait. Today [`FileOffsetLog`] keeps them in
//! `<data dir>/groups/offsets.log`; the engine will move them into the `__consumer_offsets` topic
//! once the partition log can host it, without changing the record bytes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::TopicPartition;
use crate::error::{Error, Result};

/// A committed offset with its metadata (Kafka's `OffsetAndMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, if known.
    pub leader_epoch: Option<i32>,
    /// Free-form metadata.
    pub metadata: String,
    /// When the commit was made (ms since the epoch); set by the coordinator.
    pub commit_timestamp: i64,
}

impl OffsetAndMetadata {
    /// An offset with no metadata (the timestamp is set when committed).
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata { offset, leader_epoch: None, metadata: String::new(), commit_timestamp: 0 }
    }
}

/// One raw record of the offsets log: Kafka key bytes and value bytes (`None` = tombstone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetLogRecord {
    /// Record key.
    pub key: Vec<u8>,
    /// Record value; `None` deletes the key.
    pub value: Option<Vec<u8>>,
}

/// A decoded `__consumer_offsets` record that kabase understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRecord {
    /// A committed offset.
    OffsetCommit {
        /// Group id.
        group: String,
        /// Partition.
        tp: TopicPartition,
        /// The commit.
        value: OffsetAndMetadata,
    },
    /// A committed offset was deleted.
    OffsetTombstone {
        /// Group id.
        group: String,
        /// Partition.
        tp: TopicPartition,
    },
    /// The group was deleted.
    GroupTombstone {
        /// Group id.
        group: String,
    },
    /// The group's generation, protocol, leader and members (written when a generation starts).
    GroupMetadata {
        /// Group id.
        group: String,
        /// The value.
        value: GroupMetadataValue,
    },
}

/// Kafka's `GroupMetadataValue` (version 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// `"consumer"`.
    pub protocol_type: String,
    /// The generation.
    pub generation: i32,
    /// The assignor chosen (`None` while the group is empty).
    pub protocol: Option<String>,
    /// The leader's member id.
    pub leader: Option<String>,
    /// When the group entered its state (ms since the epoch).
    pub current_state_timestamp: i64,
    /// The members.
    pub members: Vec<MemberMetadata>,
}

/// One member in a [`GroupMetadataValue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberMetadata {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout (ms).
    pub rebalance_timeout: i32,
    /// Session timeout (ms).
    pub session_timeout: i32,
    /// `ConsumerProtocolSubscription` bytes.
    pub subscription: Vec<u8>,
    /// `ConsumerProtocolAssignment` bytes.
    pub assignment: Vec<u8>,
}

fn put_nullable_string(out: &mut Vec<u8>, s: Option<&str>) -> Result<()> {
    match s {
        Some(s) => put_string(out, s),
        None => {
            out.extend_from_slice(&(-1i16).to_be_bytes());
            Ok(())
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn put_partitions(out: &mut Vec<u8>, tps: &[TopicPartition]) -> Result<()> {
    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> = std::collections::BTreeMap::new();
    for tp in tps {
        by_topic.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    out.extend_from_slice(&(by_topic.len() as i32).to_be_bytes());
    for (t, ps) in by_topic {
        put_string(out, t)?;
        out.extend_from_slice(&(ps.len() as i32).to_be_bytes());
        for p in ps {
            out.extend_from_slice(&p.to_be_bytes());
        }
    }
    Ok(())
}

/// `ConsumerProtocolSubscription` version 1 bytes.
pub fn encode_subscription(topics: &[String], user_data: Option<&[u8]>, owned: &[TopicPartition]) -> Result<Vec<u8>> {
    let mut out = 1i16.to_be_bytes().to_vec();
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        put_string(&mut out, t)?;
    }
    put_bytes(&mut out, user_data);
    put_partitions(&mut out, owned)?;
    Ok(out)
}

/// `ConsumerProtocolAssignment` version 0 bytes (no user data).
pub fn encode_assignment(partitions: &[TopicPartition]) -> Result<Vec<u8>> {
    let mut out = 0i16.to_be_bytes().to_vec();
    put_partitions(&mut out, partitions)?;
    put_bytes(&mut out, None);
    Ok(out)
}

impl GroupMetadataValue {
    fn encode(&self) -> Result<Vec<u8>> {
        let mut v = 3i16.to_be_bytes().to_vec();
        put_string(&mut v, &self.protocol_type)?;
        v.extend_from_slice(&self.generation.to_be_bytes());
        put_nullable_string(&mut v, self.protocol.as_deref())?;
        put_nullable_string(&mut v, self.leader.as_deref())?;
        v.extend_from_slice(&self.current_state_timestamp.to_be_bytes());
        v.extend_from_slice(&(self.members.len() as i32).to_be_bytes());
        for m in &self.members {
            put_string(&mut v, &m.member_id)?;
            put_nullable_string(&mut v, m.group_instance_id.as_deref())?;
            put_string(&mut v, &m.client_id)?;
            put_string(&mut v, &m.client_host)?;
            v.extend_from_slice(&m.rebalance_timeout.to_be_bytes());
            v.extend_from_slice(&m.session_timeout.to_be_bytes());
            put_bytes(&mut v, Some(&m.subscription));
            put_bytes(&mut v, Some(&m.assignment));
        }
        Ok(v)
    }

    /// Decode value versions 0-3.
    fn decode(b: &[u8]) -> Result<GroupMetadataValue> {
        let mut c = Cursor { b, pos: 0 };
        let version = c.i16()?;
        if !(0..=3).contains(&version) {
            return Err(Error::corrupt(format!("group metadata value version {version} is not one kabase reads (0-3)")));
        }
        let protocol_type = c.string()?;
        let generation = c.i32()?;
        let protocol = c.nullable_string()?;
        let leader = c.nullable_string()?;
        let current_state_timestamp = if version >= 2 { c.i64()? } else { -1 };
        let n = c.i32()?;
        if n < 0 {
            return Err(Error::corrupt("group metadata value has a negative member count"));
        }
        let mut members = Vec::new();
        for _ in 0..n {
            let member_id = c.string()?;
            let group_instance_id = if version >= 3 { c.nullable_string()? } else { None };
            let client_id = c.string()?;
            let client_host = c.string()?;
            let rebalance_timeout = if version >= 1 { c.i32()? } else { -1 };
            let session_timeout = c.i32()?;
            let subscription = c.bytes()?;
            let assignment = c.bytes()?;
            members.push(MemberMetadata { member_id, group_instance_id, client_id, client_host, rebalance_timeout, session_timeout, subscription, assignment });
        }
        Ok(GroupMetadataValue { protocol_type, generation, protocol, leader, current_state_timestamp, members })
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) -> Result<()> {
    let len = i16::try_from(s.len()).map_err(|_| Error::invalid(format!("string of {} bytes is longer than 32767", s.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or_else(|| Error::corrupt(format!("offsets record truncated at byte {}", self.pos)))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn nullable_string(&mut self) -> Result<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        self.pos -= 2;
        self.string().map(Some)
    }
    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(Vec::new());
        }
        Ok(self.take(n as usize)?.to_vec())
    }
    fn string(&mut self) -> Result<String> {
        let n = self.i16()?;
        if n < 0 {
            return Err(Error::corrupt("offsets record holds a null string where one is required"));
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::corrupt("offsets record string is not UTF-8"))
    }
}

impl GroupRecord {
    /// Encode as Kafka's key and value bytes.
    pub fn encode(&self) -> Result<OffsetLogRecord> {
        let mut key = Vec::new();
        match self {
            GroupRecord::OffsetCommit { group, tp, value } => {
                key.extend_from_slice(&1i16.to_be_bytes());
                put_string(&mut key, group)?;
                put_string(&mut key, &tp.topic)?;
                key.extend_from_slice(&tp.partition.to_be_bytes());
                let mut v = Vec::new();
                v.extend_from_slice(&3i16.to_be_bytes());
                v.extend_from_slice(&value.offset.to_be_bytes());
                v.extend_from_slice(&value.leader_epoch.unwrap_or(-1).to_be_bytes());
                put_string(&mut v, &value.metadata)?;
                v.extend_from_slice(&value.commit_timestamp.to_be_bytes());
                Ok(OffsetLogRecord { key, value: Some(v) })
            }
            GroupRecord::OffsetTombstone { group, tp } => {
                key.extend_from_slice(&1i16.to_be_bytes());
                put_string(&mut key, group)?;
                put_string(&mut key, &tp.topic)?;
                key.extend_from_slice(&tp.partition.to_be_bytes());
                Ok(OffsetLogRecord { key, value: None })
            }
            GroupRecord::GroupTombstone { group } => {
                key.extend_from_slice(&2i16.to_be_bytes());
                put_string(&mut key, group)?;
                Ok(OffsetLogRecord { key, value: None })
            }
            GroupRecord::GroupMetadata { group, value } => {
                key.extend_from_slice(&2i16.to_be_bytes());
                put_string(&mut key, group)?;
                Ok(OffsetLogRecord { key, value: Some(value.encode()?) })
            }
        }
    }

    /// Decode Kafka's key and value bytes. Returns `None` for record kinds kabase does not keep
    /// (unknown key versions), which replay skips.
    pub fn decode(rec: &OffsetLogRecord) -> Result<Option<GroupRecord>> {
        let mut k = Cursor { b: &rec.key, pos: 0 };
        let version = k.i16()?;
        match version {
            0 | 1 => {
                let group = k.string()?;
                let topic = k.string()?;
                let partition = k.i32()?;
                let tp = TopicPartition::new(topic, partition);
                let Some(value) = &rec.value else { return Ok(Some(GroupRecord::OffsetTombstone { group, tp })) };
                let mut v = Cursor { b: value, pos: 0 };
                let vv = v.i16()?;
                let offset = v.i64()?;
                let leader_epoch = if vv >= 3 { v.i32()? } else { -1 };
                let metadata = v.string()?;
                let commit_timestamp = v.i64()?;
                if vv == 1 {
                    v.i64()?; // expire_timestamp
                }
                if !(0..=3).contains(&vv) {
                    return Err(Error::corrupt(format!("offset commit value version {vv} is not one kabase reads (0-3)")));
                }
                let leader_epoch = if leader_epoch < 0 { None } else { Some(leader_epoch) };
                Ok(Some(GroupRecord::OffsetCommit { group, tp, value: OffsetAndMetadata { offset, leader_epoch, metadata, commit_timestamp } }))
            }
            2 => {
                let group = k.string()?;
                match &rec.value {
                    None => Ok(Some(GroupRecord::GroupTombstone { group })),
                    Some(v) => Ok(Some(GroupRecord::GroupMetadata { group, value: GroupMetadataValue::decode(v)? })),
                }
            }
            _ => Ok(None),
        }
    }
}

/// Where committed offsets are stored. Implementations must make an `append` durable before
/// returning `Ok` (a commit acknowledged to a consumer survives a crash).
pub trait OffsetLog: Send {
    /// Append records in order, durably.
    fn append(&mut self, records: &[OffsetLogRecord]) -> Result<()>;
    /// Every record in append order (called once, when the engine opens).
    fn replay(&mut self) -> Result<Vec<OffsetLogRecord>>;
    /// Replace the whole log by `records` (compaction); used when most records are stale. A
    /// log that compacts itself (the `__consumer_offsets` topic with `cleanup.policy=compact`)
    /// may do nothing here.
    fn rewrite(&mut self, records: &[OffsetLogRecord]) -> Result<()>;
    /// The partition of the `__consumer_offsets` topic that holds `group`'s records, for a log
    /// that can hold transactional records (`None`, the default, when it cannot).
    fn txn_partition(&mut self, _group: &str) -> Result<Option<crate::log::TopicPartition>> {
        Ok(None)
    }
    /// Append one group's records durably as pending records of the transactional producer
    /// `(producer_id, epoch)`: they count only once a COMMIT marker of that producer follows.
    fn append_transactional(&mut self, _records: &[OffsetLogRecord], _producer_id: i64, _epoch: i16) -> Result<()> {
        Err(Error::new(crate::ErrorCode::Unsupported, "this offset log cannot hold transactional records"))
    }
}

const FILE_MAGIC: &[u8; 4] = b"KBOL";
const FILE_VERSION: u32 = 1;
const HEADER_LEN: u64 = 8;

/// The file-backed [`OffsetLog`]: `<data dir>/groups/offsets.log`.
///
/// ```text
/// header:  magic "KBOL" | version u32 BE (= 1)
/// record:  payload_len u32 BE | crc32c(payload) u32 BE | payload
/// payload: key_len i32 BE | key | value_len i32 BE (-1 = null) | value
/// ```
///
/// Each append is written and fsynced. On replay a record cut short at the end of the file (a
/// torn write) is dropped and the file truncated there; a bad checksum anywhere else is
/// reported as [`crate::ErrorCode::Corrupt`].
pub struct FileOffsetLog {
    path: PathBuf,
    file: File,
}

impl FileOffsetLog {
    /// Open or create the log under `groups_dir`.
    pub fn open(groups_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(groups_dir).map_err(|e| Error::io(format_args!("create {}", groups_dir.display()), e))?;
        let path = groups_dir.join("offsets.log");
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format_args!("open {}", path.display()), e))?;
        let len = file.metadata().map_err(|e| Error::io(format_args!("stat {}", path.display()), e))?.len();
        if len < HEADER_LEN {
            // New, or torn while writing the header: nothing was ever committed to it.
            file.set_len(0).map_err(|e| Error::io(format_args!("truncate {}", path.display()), e))?;
            file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek offsets log", e))?;
            let mut h = Vec::with_capacity(8);
            h.extend_from_slice(FILE_MAGIC);
            h.extend_from_slice(&FILE_VERSION.to_be_bytes());
            file.write_all(&h).map_err(|e| Error::io(format_args!("write {}", path.display()), e))?;
            file.sync_all().map_err(|e| Error::io(format_args!("sync {}", path.display()), e))?;
            if !existed {
                crate::util::sync_dir(groups_dir)?;
            }
        } else {
            let mut h = [0u8; 8];
            file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek offsets log", e))?;
            file.read_exact(&mut h).map_err(|e| Error::io(format_args!("read {}", path.display()), e))?;
            if &h[0..4] != FILE_MAGIC {
                return Err(Error::corrupt(format!("{} does not start with the offsets log magic", path.display())));
            }
            let v = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            if v != FILE_VERSION {
                return Err(Error::new(
                    crate::ErrorCode::IncompatibleFormat,
                    format!("{} has format version {v}; this build reads {FILE_VERSION}", path.display()),
                ));
            }
        }
        Ok(FileOffsetLog { path, file })
    }

    fn frame(out: &mut Vec<u8>, r: &OffsetLogRecord) -> Result<()> {
        let mut payload = Vec::with_capacity(r.key.len() + 16);
        let kl = i32::try_from(r.key.len()).map_err(|_| Error::invalid("offsets record key too large"))?;
        payload.extend_from_slice(&kl.to_be_bytes());
        payload.extend_from_slice(&r.key);
        match &r.value {
            Some(v) => {
                let vl = i32::try_from(v.len()).map_err(|_| Error::invalid("offsets record value too large"))?;
                payload.extend_from_slice(&vl.to_be_bytes());
                payload.extend_from_slice(v);
            }
            None => payload.extend_from_slice(&(-1i32).to_be_bytes()),
        }
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&crate::log::crc::crc32c(&payload).to_be_bytes());
        out.extend_from_slice(&payload);
        Ok(())
    }

    fn parse_payload(p: &[u8]) -> Option<OffsetLogRecord> {
        let kl = i32::from_be_bytes(p.get(0..4)?.try_into().ok()?);
        let kl = usize::try_from(kl).ok()?;
        let key = p.get(4..4 + kl)?.to_vec();
        let vl = i32::from_be_bytes(p.get(4 + kl..8 + kl)?.try_into().ok()?);
        let value = if vl < 0 {
            None
        } else {
            let vl = vl as usize;
            Some(p.get(8 + kl..8 + kl + vl)?.to_vec())
        };
        Some(OffsetLogRecord { key, value })
    }
}

impl OffsetLog for FileOffsetLog {
    fn append(&mut self, records: &[OffsetLogRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            Self::frame(&mut buf, r)?;
        }
        self.file.seek(SeekFrom::End(0)).map_err(|e| Error::io("seek offsets log", e))?;
        self.file.write_all(&buf).map_err(|e| Error::io(format_args!("append to {}", self.path.display()), e))?;
        self.file.sync_data().map_err(|e| Error::io(format_args!("sync {}", self.path.display()), e))
    }

    fn replay(&mut self) -> Result<Vec<OffsetLogRecord>> {
        let mut all = Vec::new();
        self.file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek offsets log", e))?;
        self.file.read_to_end(&mut all).map_err(|e| Error::io(format_args!("read {}", self.path.display()), e))?;
        let mut out = Vec::new();
        let mut pos = HEADER_LEN as usize;
        while pos < all.len() {
            let Some(h) = all.get(pos..pos + 8) else {
                return self.truncate_at(pos, out);
            };
            let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let crc = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            let end = pos + 8 + len;
            let Some(payload) = all.get(pos + 8..end) else {
                return self.truncate_at(pos, out);
            };
            if crate::log::crc::crc32c(payload) != crc {
                if end == all.len() {
                    return self.truncate_at(pos, out);
                }
                return Err(Error::corrupt(format!("{}: record at byte {pos} fails its CRC-32C", self.path.display())));
            }
            let rec = Self::parse_payload(payload)
                .ok_or_else(|| Error::corrupt(format!("{}: record at byte {pos} is malformed", self.path.display())))?;
            out.push(rec);
            pos = end;
        }
        Ok(out)
    }

    fn rewrite(&mut self, records: &[OffsetLogRecord]) -> Result<()> {
        let mut buf = Vec::new();
        buf.extend_from_slice(FILE_MAGIC);
        buf.extend_from_slice(&FILE_VERSION.to_be_bytes());
        for r in records {
            Self::frame(&mut buf, r)?;
        }
        crate::util::write_atomic(&self.path, &buf)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::io(format_args!("reopen {}", self.path.display()), e))?;
        Ok(())
    }
}

impl FileOffsetLog {
    fn truncate_at(&mut self, pos: usize, out: Vec<OffsetLogRecord>) -> Result<Vec<OffsetLogRecord>> {
        self.file.set_len(pos as u64).map_err(|e| Error::io(format_args!("truncate {}", self.path.display()), e))?;
        self.file.sync_all().map_err(|e| Error::io(format_args!("sync {}", self.path.display()), e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(group: &str, topic: &str, p: i32, off: i64) -> GroupRecord {
        GroupRecord::OffsetCommit {
            group: group.into(),
            tp: TopicPartition::new(topic, p),
            value: OffsetAndMetadata { offset: off, leader_epoch: Some(5), metadata: "m".into(), commit_timestamp: 1_700_000_000_000 },
        }
    }

    #[test]
    fn kafka_byte_layout() {
        let r = commit("g", "t", 2, 42).encode().unwrap();
        // key: version 1, "g", "t", partition 2
        assert_eq!(r.key, [0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2]);
        let v = r.value.clone().unwrap();
        let mut want = vec![0, 3];
        want.extend_from_slice(&42i64.to_be_bytes());
        want.extend_from_slice(&5i32.to_be_bytes());
        want.extend_from_slice(&[0, 1, b'm']);
        want.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        assert_eq!(v, want);
        assert_eq!(GroupRecord::decode(&r).unwrap(), Some(commit("g", "t", 2, 42)));
        let g = GroupRecord::GroupTombstone { group: "grp".into() }.encode().unwrap();
        assert_eq!(g.key, [0, 2, 0, 3, b'g', b'r', b'p']);
        assert_eq!(g.value, None);
        assert_eq!(GroupRecord::decode(&g).unwrap(), Some(GroupRecord::GroupTombstone { group: "grp".into() }));
        // Value version 1 (with expire timestamp) still decodes.
        let mut v1 = vec![0, 1];
        v1.extend_from_slice(&7i64.to_be_bytes());
        v1.extend_from_slice(&[0, 0]);
        v1.extend_from_slice(&9i64.to_be_bytes());
        v1.extend_from_slice(&10i64.to_be_bytes());
        let d = GroupRecord::decode(&OffsetLogRecord { key: r.key.clone(), value: Some(v1) }).unwrap();
        assert!(matches!(d, Some(GroupRecord::OffsetCommit { value: OffsetAndMetadata { offset: 7, leader_epoch: None, commit_timestamp: 9, .. }, .. })));
        assert_eq!(GroupRecord::decode(&OffsetLogRecord { key: vec![0, 1, 0], value: None }).unwrap_err().code(), crate::ErrorCode::Corrupt);
    }

    #[test]
    fn group_metadata_value_layout_and_round_trip() {
        let sub = encode_subscription(&["t".to_string()], None, &[]).unwrap();
        // version 1 | 1 topic "t" | null user data | 0 owned topics
        assert_eq!(sub, [0, 1, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let asg = encode_assignment(&[TopicPartition::new("t", 0), TopicPartition::new("t", 2)]).unwrap();
        // version 0 | 1 topic: "t" [0, 2] | null user data
        assert_eq!(asg, [0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff]);
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp: 99,
            members: vec![MemberMetadata {
                member_id: "m-1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "h".into(),
                rebalance_timeout: 300_000,
                session_timeout: 45_000,
                subscription: sub.clone(),
                assignment: asg.clone(),
            }],
        };
        let r = GroupRecord::GroupMetadata { group: "g".into(), value: value.clone() }.encode().unwrap();
        assert_eq!(r.key, [0, 2, 0, 1, b'g']);
        let v = r.value.clone().unwrap();
        let mut want = vec![0, 3, 0, 8];
        want.extend_from_slice(b"consumer");
        want.extend_from_slice(&7i32.to_be_bytes());
        want.extend_from_slice(&[0, 5]);
        want.extend_from_slice(b"range");
        want.extend_from_slice(&[0, 3]);
        want.extend_from_slice(b"m-1");
        want.extend_from_slice(&99i64.to_be_bytes());
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&[0, 3]);
        want.extend_from_slice(b"m-1");
        want.extend_from_slice(&[0xff, 0xff, 0, 1, b'c', 0, 1, b'h']);
        want.extend_from_slice(&300_000i32.to_be_bytes());
        want.extend_from_slice(&45_000i32.to_be_bytes());
        want.extend_from_slice(&(sub.len() as i32).to_be_bytes());
        want.extend_from_slice(&sub);
        want.extend_from_slice(&(asg.len() as i32).to_be_bytes());
        want.extend_from_slice(&asg);
        assert_eq!(v, want);
        assert_eq!(GroupRecord::decode(&r).unwrap(), Some(GroupRecord::GroupMetadata { group: "g".into(), value }));
        let bad = OffsetLogRecord { key: r.key.clone(), value: Some(vec![0, 9]) };
        assert_eq!(GroupRecord::decode(&bad).unwrap_err().code(), crate::ErrorCode::Corrupt);
    }

    #[test]
    fn file_log_survives_reopen_and_drops_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let recs: Vec<OffsetLogRecord> = (0..5).map(|i| commit("g", "t", 0, i).encode().unwrap()).collect();
        {
            let mut log = FileOffsetLog::open(d.path()).unwrap();
            assert!(log.replay().unwrap().is_empty());
            log.append(&recs[..3]).unwrap();
            log.append(&recs[3..]).unwrap();
        }
        let path = d.path().join("offsets.log");
        let full = std::fs::metadata(&path).unwrap().len();
        {
            let mut log = FileOffsetLog::open(d.path()).unwrap();
            assert_eq!(log.replay().unwrap(), recs);
        }
        // Tear the last record: it is dropped, the rest survives, appends go after it.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(full - 3).unwrap();
        drop(f);
        let mut log = FileOffsetLog::open(d.path()).unwrap();
        assert_eq!(log.replay().unwrap(), recs[..4].to_vec());
        log.append(&recs[4..]).unwrap();
        drop(log);
        let mut log = FileOffsetLog::open(d.path()).unwrap();
        assert_eq!(log.replay().unwrap(), recs);
    }

    #[test]
    fn corruption_in_the_middle_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let recs: Vec<OffsetLogRecord> = (0..3).map(|i| commit("g", "t", 0, i).encode().unwrap()).collect();
        let mut log = FileOffsetLog::open(d.path()).unwrap();
        log.append(&recs).unwrap();
        drop(log);
        let path = d.path().join("offsets.log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER_LEN as usize + 12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let mut log = FileOffsetLog::open(d.path()).unwrap();
        assert_eq!(log.replay().unwrap_err().code(), crate::ErrorCode::Corrupt);
        std::fs::write(&path, b"XXXXXXXXXXXX").unwrap();
        assert_eq!(FileOffsetLog::open(d.path()).err().map(|e| e.code()), Some(crate::ErrorCode::Corrupt));
    }
}
