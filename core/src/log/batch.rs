//! Kafka RecordBatch v2 (magic 2): the bytes of every `.log` segment.
//!
//! Source: Apache Kafka `docs/implementation/message-format.md` and
//! `clients/.../common/record/DefaultRecordBatch.java` (see `/work/shared/facts/kafka.md` §1).
//!
//! ```text
//! off size field                 (big-endian)
//!   0   8  baseOffset            int64
//!   8   4  batchLength           int32   bytes after this field (total = batchLength + 12)
//!  12   4  partitionLeaderEpoch  int32   not covered by the CRC
//!  16   1  magic                 int8    = 2
//!  17   4  crc                   uint32  CRC-32C (Castagnoli) of bytes 21..end
//!  21   2  attributes            int16   bits 0-2 codec, 3 LogAppendTime, 4 transactional,
//!                                        5 control, 6 hasDeleteHorizonMs
//!  23   4  lastOffsetDelta       int32
//!  27   8  baseTimestamp         int64
//!  35   8  maxTimestamp          int64
//!  43   8  producerId            int64   -1 = none
//!  51   2  producerEpoch         int16   -1 = none
//!  53   4  baseSequence          int32   -1 = none
//!  57   4  recordsCount          int32
//!  61   .  records               (compressed as a whole when codec != 0)
//! ```
//!
//! Each record:
//!
//! ```text
//! length varint | attributes int8 (0) | timestampDelta varlong | offsetDelta varint |
//! keyLength varint | key | valueLength varint | value | headersCount varint |
//! headers[ headerKeyLength varint | headerKey utf-8 | headerValueLength varint | value ]
//! ```
//!
//! Varints are protobuf zig-zag varints (32-bit for varint, 64-bit for varlong); a length of -1
//! is null. A control batch holds exactly one record whose key is `version int16 (0) | type
//! int16 (0 ABORT, 1 COMMIT)` and whose value is EndTxnMarker `version int16 (0) |
//! coordinator_epoch int32`.

use crate::error::{Error, ErrorCode, Result};

pub use super::compression::Compression;

/// Size of the batch header before the records.
pub const HEADER_SIZE: usize = 61;
/// Bytes before `batchLength`'s payload: baseOffset + batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The only magic this engine writes and reads.
pub const MAGIC: i8 = 2;
/// Offset of the CRC field.
const CRC_OFFSET: usize = 17;
/// The CRC covers bytes from here (attributes) to the end.
const ATTRIBUTES_OFFSET: usize = 21;

const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;
const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// Where a record's timestamp comes from (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// The producer's timestamp.
    #[default]
    CreateTime,
    /// The time the log appended the batch (the batch's maxTimestamp).
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's name: `CreateTime` or `LogAppendTime`.
    pub fn name(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// A record header: a non-null UTF-8 key and a nullable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key.
    pub key: String,
    /// Header value; `None` is null.
    pub value: Option<Vec<u8>>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Header {
        Header { key: key.into(), value: Some(value.into()) }
    }
}

/// One decoded record of a batch, with its absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (batch base offset + offset delta).
    pub offset: i64,
    /// Absolute timestamp (base timestamp + delta, or the batch max timestamp under
    /// LogAppendTime).
    pub timestamp: i64,
    /// Key; `None` is null.
    pub key: Option<Vec<u8>>,
    /// Value; `None` is null (a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<Header>,
}

/// The fixed fields of a batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// First offset of the batch.
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch (not covered by the CRC).
    pub partition_leader_epoch: i32,
    /// Magic byte (2).
    pub magic: i8,
    /// Stored CRC-32C.
    pub crc: u32,
    /// Raw attributes.
    pub attributes: i16,
    /// last offset - base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (the append time under LogAppendTime).
    pub max_timestamp: i64,
    /// Producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

impl BatchHeader {
    /// Total bytes of the batch on disk.
    pub fn size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }
    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }
    /// Offset after the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    /// Sequence of the last record (wrapping as Kafka's `DefaultRecordBatch.incrementSequence`).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
    /// The compression codec.
    pub fn compression(&self) -> Result<Compression> {
        Compression::from_id(self.attributes & 0x7)
    }
    /// CreateTime or LogAppendTime.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    /// Whether the batch is a control batch (transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
    /// Whether baseTimestamp holds a delete horizon (compaction, Kafka 3.x+).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }
    /// Whether the batch carries a producer id.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// `seq + delta` wrapping at `i32::MAX` to 0, as Kafka does.
pub fn increment_sequence(seq: i32, delta: i32) -> i32 {
    if seq > i32::MAX - delta {
        delta - (i32::MAX - seq) - 1
    } else {
        seq + delta
    }
}

// ---------------------------------------------------------------------------------------------
// varints

/// Append a zig-zag varint (32-bit).
#[inline]
pub fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_uvarint(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

/// Append a zig-zag varlong (64-bit).
#[inline]
pub fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn put_uvarint(out: &mut Vec<u8>, mut u: u64) {
    if u < 0x80 {
        out.push(u as u8);
        return;
    }
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

#[inline]
fn zigzag32(v: i32) -> u64 {
    ((v << 1) ^ (v >> 31)) as u32 as u64
}

#[inline]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Write an unsigned varint at the start of `buf` (which must have room: 10 bytes for any
/// value); returns the bytes written.
#[inline]
fn uvarint_into(buf: &mut [u8], mut u: u64) -> usize {
    let mut i = 0;
    while u >= 0x80 {
        buf[i] = (u as u8) | 0x80;
        u >>= 7;
        i += 1;
    }
    buf[i] = u as u8;
    i + 1
}

/// Bytes a zig-zag varint takes.
#[inline]
pub fn varint_size(v: i32) -> usize {
    uvarint_size(((v << 1) ^ (v >> 31)) as u32 as u64)
}

/// Bytes a zig-zag varlong takes.
#[inline]
pub fn varlong_size(v: i64) -> usize {
    uvarint_size(((v << 1) ^ (v >> 63)) as u64)
}

#[inline]
fn uvarint_size(u: u64) -> usize {
    // 7 bits a byte: bits used (at least 1), rounded up to a multiple of 7.
    (70 - (u | 1).leading_zeros() as usize) / 7
}

/// A cursor over a records section.
#[derive(Debug, Clone)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::CorruptRecord, msg)
}

impl<'a> Reader<'a> {
    /// One- and two-byte varints are the common case on the hot path.
    #[inline]
    fn uvarint(&mut self, max_bytes: usize) -> Result<u64> {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
            if let Some(&c) = self.buf.get(self.pos + 1) {
                if c < 0x80 {
                    self.pos += 2;
                    return Ok(u64::from(b & 0x7f) | (u64::from(c) << 7));
                }
            }
        }
        self.uvarint_slow(max_bytes)
    }
    #[cold]
    fn uvarint_slow(&mut self, max_bytes: usize) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..max_bytes {
            let b = *self.buf.get(self.pos).ok_or_else(|| bad("record ends inside a varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad(format!("varint longer than {max_bytes} bytes")))
    }
    #[inline]
    fn varint(&mut self) -> Result<i32> {
        let u = self.uvarint(5)?;
        if u > u64::from(u32::MAX) {
            return Err(bad("varint overflows 32 bits"));
        }
        let u = u as u32;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }
    #[inline]
    fn varlong(&mut self) -> Result<i64> {
        let u = self.uvarint(10)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    #[inline]
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| bad("record field runs past its end"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    #[inline]
    fn nullable(&mut self) -> Result<Option<&'a [u8]>> {
        let n = self.varint()?;
        if n < -1 {
            return Err(bad(format!("negative length {n}")));
        }
        if n == -1 {
            return Ok(None);
        }
        Ok(Some(self.bytes(n as usize)?))
    }
}

/// Decode a zig-zag varint from the start of `buf`; returns the value and the bytes used.
pub fn get_varint(buf: &[u8]) -> Result<(i32, usize)> {
    let mut r = Reader { buf, pos: 0 };
    let v = r.varint()?;
    Ok((v, r.pos))
}

/// Decode a zig-zag varlong from the start of `buf`; returns the value and the bytes used.
pub fn get_varlong(buf: &[u8]) -> Result<(i64, usize)> {
    let mut r = Reader { buf, pos: 0 };
    let v = r.varlong()?;
    Ok((v, r.pos))
}

// ---------------------------------------------------------------------------------------------
// encoding

/// A record to put into a batch: offset and timestamp are given relative to nothing yet; the
/// builder turns them into deltas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordInput {
    /// Offset delta within the batch (its index, unless a compacted batch keeps gaps).
    pub offset_delta: i32,
    /// Absolute timestamp.
    pub timestamp: i64,
    /// Key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// Value (`None` = null).
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<Header>,
}

/// The batch-level fields to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpec {
    /// Base offset (the log rewrites it on append).
    pub base_offset: i64,
    /// Partition leader epoch.
    pub partition_leader_epoch: i32,
    /// Codec.
    pub compression: Compression,
    /// Timestamp type.
    pub timestamp_type: TimestampType,
    /// Transactional bit.
    pub transactional: bool,
    /// Control bit.
    pub control: bool,
    /// Producer id or -1.
    pub producer_id: i64,
    /// Producer epoch or -1.
    pub producer_epoch: i16,
    /// Base sequence or -1.
    pub base_sequence: i32,
    /// lastOffsetDelta when it must differ from the last record's (compacted batches).
    pub last_offset_delta: Option<i32>,
    /// maxTimestamp override (LogAppendTime, or an empty compacted batch).
    pub max_timestamp: Option<i64>,
    /// baseTimestamp override (an empty compacted batch, or a delete horizon).
    pub base_timestamp: Option<i64>,
    /// Set the hasDeleteHorizonMs bit.
    pub delete_horizon: bool,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            base_offset: 0,
            partition_leader_epoch: 0,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            transactional: false,
            control: false,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            last_offset_delta: None,
            max_timestamp: None,
            base_timestamp: None,
            delete_horizon: false,
        }
    }
}

/// Encode one record body (everything after its length varint would start) into `out`, length
/// prefix included.
fn put_record(out: &mut Vec<u8>, r: &RecordInput, base_timestamp: i64) {
    put_record_parts(out, r.offset_delta, r.timestamp.wrapping_sub(base_timestamp), r.key.as_deref(), r.value.as_deref(), &r.headers);
}

/// Encode one record (length prefix included) from borrowed parts.
///
/// The fields before the key (and, for a null key, the value's length too) are at most 31
/// bytes: they are written into a 32-byte stack buffer that is appended whole (a fixed-size
/// copy, no call) and then cut to their length when the buffer has that much room to spare
/// (it never grows for it), so a record costs the copies of its key and value and a few
/// stores.
#[inline]
fn put_record_parts(out: &mut Vec<u8>, offset_delta: i32, ts_delta: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) {
    let key_len = key.map_or(-1, |k| k.len() as i32);
    let val_len = value.map_or(-1, |v| v.len() as i32);
    let (z_ts, z_delta, z_key, z_val) = (zigzag64(ts_delta), zigzag32(offset_delta), zigzag32(key_len), zigzag32(val_len));
    let mut body = 1 + uvarint_size(z_ts) + uvarint_size(z_delta);
    body += uvarint_size(z_key) + key.map_or(0, <[u8]>::len);
    body += uvarint_size(z_val) + value.map_or(0, <[u8]>::len);
    body += varint_size(headers.len() as i32);
    for h in headers {
        body += varint_size(h.key.len() as i32) + h.key.len();
        let hl = h.value.as_ref().map_or(-1, |v| v.len() as i32);
        body += varint_size(hl) + h.value.as_ref().map_or(0, Vec::len);
    }
    let z_body = zigzag32(body as i32);
    out.reserve(uvarint_size(z_body) + body);
    // length (5) | attributes (1) | timestampDelta (10) | offsetDelta (5) | keyLength (5) |
    // valueLength (5, when the key is null): at most 31 bytes.
    let mut pre = [0u8; 32];
    let mut n = uvarint_into(&mut pre, z_body);
    pre[n] = 0;
    n += 1;
    n += uvarint_into(&mut pre[n..], z_ts);
    n += uvarint_into(&mut pre[n..], z_delta);
    n += uvarint_into(&mut pre[n..], z_key);
    if key.is_none() {
        n += uvarint_into(&mut pre[n..], z_val);
    }
    append_cut(out, &pre, n);
    if let Some(k) = key {
        out.extend_from_slice(k);
        let mut len = [0u8; 8];
        let m = uvarint_into(&mut len, z_val);
        append_cut(out, &len, m);
    }
    if let Some(v) = value {
        out.extend_from_slice(v);
    }
    if headers.is_empty() {
        out.push(0);
        return;
    }
    put_varint(out, headers.len() as i32);
    for h in headers {
        put_varint(out, h.key.len() as i32);
        out.extend_from_slice(h.key.as_bytes());
        match &h.value {
            Some(v) => {
                put_varint(out, v.len() as i32);
                out.extend_from_slice(v);
            }
            None => put_varint(out, -1),
        }
    }
}

/// Append `buf[..n]`: all of `buf` (a copy of a constant size) then cut back to `n` when the
/// vector has room for it, else the `n` bytes alone.
#[inline(always)]
fn append_cut<const N: usize>(out: &mut Vec<u8>, buf: &[u8; N], n: usize) {
    let at = out.len();
    if out.capacity() - at >= N {
        out.extend_from_slice(buf);
        out.truncate(at + n);
    } else {
        out.extend_from_slice(&buf[..n]);
    }
}

/// The batch-level values computed from the records.
struct HeaderValues {
    records_count: i32,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

fn attributes_of(spec: &BatchSpec) -> i16 {
    let mut attributes = spec.compression.id();
    if spec.timestamp_type == TimestampType::LogAppendTime {
        attributes |= TIMESTAMP_TYPE_BIT;
    }
    if spec.transactional {
        attributes |= TRANSACTIONAL_BIT;
    }
    if spec.control {
        attributes |= CONTROL_BIT;
    }
    if spec.delete_horizon {
        attributes |= DELETE_HORIZON_BIT;
    }
    attributes
}

/// Write the 61 header bytes (CRC zero) for a batch of `total` bytes into `out[..HEADER_SIZE]`.
fn write_header(out: &mut [u8], spec: &BatchSpec, v: &HeaderValues, total: usize) -> Result<()> {
    if total - LOG_OVERHEAD > i32::MAX as usize {
        return Err(Error::new(ErrorCode::RecordTooLarge, format!("batch of {total} bytes exceeds the format's 2 GiB limit")));
    }
    let out = &mut out[..HEADER_SIZE];
    out[0..8].copy_from_slice(&spec.base_offset.to_be_bytes());
    out[8..12].copy_from_slice(&((total - LOG_OVERHEAD) as i32).to_be_bytes());
    out[12..16].copy_from_slice(&spec.partition_leader_epoch.to_be_bytes());
    out[16] = MAGIC as u8;
    out[17..21].copy_from_slice(&[0; 4]);
    out[21..23].copy_from_slice(&attributes_of(spec).to_be_bytes());
    out[23..27].copy_from_slice(&v.last_offset_delta.to_be_bytes());
    out[27..35].copy_from_slice(&v.base_timestamp.to_be_bytes());
    out[35..43].copy_from_slice(&v.max_timestamp.to_be_bytes());
    out[43..51].copy_from_slice(&spec.producer_id.to_be_bytes());
    out[51..53].copy_from_slice(&spec.producer_epoch.to_be_bytes());
    out[53..57].copy_from_slice(&spec.base_sequence.to_be_bytes());
    out[57..61].copy_from_slice(&v.records_count.to_be_bytes());
    Ok(())
}

/// Header + (compressed) records section → complete batch with its CRC. `buf` holds
/// `HEADER_SIZE` placeholder bytes followed by the uncompressed records section.
fn seal_buffer(spec: &BatchSpec, v: &HeaderValues, mut buf: Vec<u8>) -> Result<Vec<u8>> {
    if spec.compression != Compression::None {
        let body = super::compression::compress(spec.compression, &buf[HEADER_SIZE..])?;
        buf.truncate(HEADER_SIZE);
        buf.extend_from_slice(&body);
    }
    let total = buf.len();
    write_header(&mut buf, spec, v, total)?;
    refresh_crc(&mut buf);
    Ok(buf)
}

/// Encode a whole batch: header, records (compressed if asked), CRC.
pub fn encode_batch(spec: &BatchSpec, records: &[RecordInput]) -> Result<Vec<u8>> {
    let base_timestamp = spec.base_timestamp.or_else(|| records.first().map(|r| r.timestamp)).unwrap_or(-1);
    let max_timestamp = spec.max_timestamp.unwrap_or_else(|| records.iter().map(|r| r.timestamp).max().unwrap_or(-1));
    let last_offset_delta = spec.last_offset_delta.unwrap_or_else(|| records.last().map_or(0, |r| r.offset_delta));
    let mut buf = Vec::with_capacity(HEADER_SIZE + records.len() * 32);
    buf.resize(HEADER_SIZE, 0);
    for r in records {
        put_record(&mut buf, r, base_timestamp);
    }
    let v = HeaderValues { records_count: records.len() as i32, last_offset_delta, base_timestamp, max_timestamp };
    seal_buffer(spec, &v, buf)
}

/// Builds one batch record by record straight into its final buffer (the producer's open
/// batch): no per-record allocation. Offset deltas are the record indexes; the base timestamp
/// is the first record's. [`BatchBuilder::finish`] gives the same bytes as [`encode_batch`] for
/// the same records.
///
/// A builder made by [`BatchBuilder::checksumming`] also checksums the records section as it
/// grows, [`CRC_RUN`] bytes at a time while they are still in the CPU cache, so sealing an
/// uncompressed batch checksums only its 40 header bytes and combines the two CRCs
/// (`log::crc`); the thread that appends records pays for their checksum instead of the
/// thread that writes the batch. A compressed batch is checksummed whole when sealed (the CRC
/// covers the compressed bytes).
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// `(CRC-32C of buf[HEADER_SIZE..upto], upto)` when checksumming as records arrive.
    running_crc: Option<(u32, usize)>,
    /// `(records' length, crc::shift_for(it))` from [`BatchBuilder::fold_crc`]; used by
    /// `finish` only while the length still matches.
    shift: Option<(usize, u32)>,
}

/// Bytes of new records a checksumming [`BatchBuilder`] lets accumulate before it folds them
/// into its running CRC (small enough to still be in the L1 cache, large enough that the
/// per-call cost of the CRC routine does not matter). On the benchmarks' AMD EPYC (Zen 4) VM,
/// `crc-fast`'s AVX-512 VPCLMULQDQ path appending runs of 1, 4, 8, 16 and 64 KiB took 43, 23,
/// 18, 19 and 18 ns per KiB (docs/benchmarks.md, Topics, session 9).
pub const CRC_RUN: usize = 8192;

impl BatchBuilder {
    /// An empty batch whose buffer can take `capacity` bytes of records without growing.
    pub fn with_capacity(capacity: usize) -> BatchBuilder {
        Self::with_buffer(Vec::new(), capacity)
    }
    /// An empty batch reusing `buf` (its contents are dropped, its allocation kept).
    pub fn with_buffer(mut buf: Vec<u8>, capacity: usize) -> BatchBuilder {
        buf.clear();
        buf.reserve(HEADER_SIZE + capacity);
        buf.resize(HEADER_SIZE, 0);
        BatchBuilder { buf, count: 0, base_timestamp: -1, max_timestamp: -1, running_crc: None, shift: None }
    }
    /// [`BatchBuilder::with_buffer`] that checksums records as they are appended (for batches
    /// that will be sealed uncompressed; a compressed seal still works, checksumming again).
    pub fn checksumming(buf: Vec<u8>, capacity: usize) -> BatchBuilder {
        let mut b = Self::with_buffer(buf, capacity);
        b.running_crc = Some((0, HEADER_SIZE));
        b
    }
    /// Append one record; returns its offset delta.
    pub fn push(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> i32 {
        if self.count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        let delta = self.count;
        put_record_parts(&mut self.buf, delta, timestamp.wrapping_sub(self.base_timestamp), key, value, headers);
        self.count += 1;
        if let Some((crc, upto)) = &mut self.running_crc {
            if self.buf.len() - *upto >= CRC_RUN {
                *crc = super::crc::crc32c_append(*crc, &self.buf[*upto..]);
                *upto = self.buf.len();
            }
        }
        delta
    }
    /// Checksum the records not yet folded into a checksumming builder's running CRC and
    /// prepare the factor that joins it to the header's CRC, so that `finish` only checksums
    /// the 40 header bytes. The producer calls it when it seals a batch, on the thread that
    /// appended the records (their bytes still in its cache), leaving less to the thread that
    /// writes the batch. Records pushed afterwards are still counted (`finish` checksums them
    /// and recomputes the factor). No effect on a builder that is not checksumming.
    ///
    /// `last` is the caller's `(length, factor)` of the previous fold: reused when this batch's
    /// records have the same length (batches of equal records often do), else replaced.
    pub fn fold_crc(&mut self, last: &mut Option<(usize, u32)>) {
        if let Some((crc, upto)) = &mut self.running_crc {
            if *upto < self.buf.len() {
                *crc = super::crc::crc32c_append(*crc, &self.buf[*upto..]);
                *upto = self.buf.len();
            }
            let len = self.buf.len() - HEADER_SIZE;
            let shift = match *last {
                Some((l, shift)) if l == len => shift,
                _ => super::crc::shift_for(len),
            };
            *last = Some((len, shift));
            self.shift = Some((len, shift));
        }
    }
    /// Records so far.
    pub fn records(&self) -> i32 {
        self.count
    }
    /// Encoded bytes so far (header included, before compression).
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }
    /// The complete batch: header fields from `spec` (its offset and timestamp overrides are
    /// ignored), records compressed with `spec.compression`, CRC.
    pub fn finish(self, spec: &BatchSpec) -> Result<Vec<u8>> {
        let v = HeaderValues {
            records_count: self.count,
            last_offset_delta: (self.count - 1).max(0),
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
        };
        match self.running_crc {
            Some((crc, upto)) if spec.compression == Compression::None => {
                let mut buf = self.buf;
                let records_crc = super::crc::crc32c_append(crc, &buf[upto..]);
                let total = buf.len();
                write_header(&mut buf, spec, &v, total)?;
                let header_crc = super::crc::crc32c(&buf[ATTRIBUTES_OFFSET..HEADER_SIZE]);
                let crc = match self.shift {
                    Some((len, shift)) if len == total - HEADER_SIZE => super::crc::combine_shifted(header_crc, records_crc, shift),
                    _ => super::crc::combine(header_crc, records_crc, total - HEADER_SIZE),
                };
                buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
                Ok(buf)
            }
            _ => seal_buffer(spec, &v, self.buf),
        }
    }
}

/// Recompute and store the CRC of a complete batch in `buf`.
pub fn refresh_crc(buf: &mut [u8]) {
    if buf.len() < HEADER_SIZE {
        return;
    }
    let crc = super::crc::crc32c(&buf[ATTRIBUTES_OFFSET..]);
    buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Rewrite the base offset of an encoded batch (not covered by the CRC).
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) {
    if buf.len() >= 8 {
        buf[..8].copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Rewrite the base sequence of an encoded batch, then the CRC (which covers it).
pub fn set_base_sequence(buf: &mut [u8], base_sequence: i32) {
    if buf.len() < HEADER_SIZE {
        return;
    }
    buf[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    refresh_crc(buf);
}

/// Set LogAppendTime: the timestamp-type bit and maxTimestamp, then the CRC (as Kafka's
/// `DefaultRecordBatch.setMaxTimestamp`).
pub fn set_log_append_time(buf: &mut [u8], now: i64) {
    if buf.len() < HEADER_SIZE {
        return;
    }
    let attrs = i16::from_be_bytes([buf[21], buf[22]]) | TIMESTAMP_TYPE_BIT;
    buf[21..23].copy_from_slice(&attrs.to_be_bytes());
    buf[35..43].copy_from_slice(&now.to_be_bytes());
    refresh_crc(buf);
}

/// The key of a control record: `version int16 (0) | type int16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// Transaction aborted (type 0).
    Abort,
    /// Transaction committed (type 1).
    Commit,
}

/// Encode a control batch (one record) ending a transaction: key `0i16 | type i16`, value
/// EndTxnMarker `0i16 | coordinator_epoch i32`.
pub fn encode_control_batch(
    base_offset: i64,
    producer_id: i64,
    producer_epoch: i16,
    kind: ControlType,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Result<Vec<u8>> {
    let mut key = vec![0, 0];
    key.extend_from_slice(&(if kind == ControlType::Commit { 1i16 } else { 0 }).to_be_bytes());
    let mut value = vec![0, 0];
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let spec = BatchSpec {
        base_offset,
        producer_id,
        producer_epoch,
        transactional: true,
        control: true,
        ..BatchSpec::default()
    };
    encode_batch(&spec, &[RecordInput { offset_delta: 0, timestamp, key: Some(key), value: Some(value), headers: vec![] }])
}

/// Parse the control type from a control record's key.
pub fn parse_control_key(key: &[u8]) -> Result<ControlType> {
    if key.len() < 4 {
        return Err(bad(format!("control record key has {} bytes; needs 4", key.len())));
    }
    let version = i16::from_be_bytes([key[0], key[1]]);
    if version != 0 {
        return Err(bad(format!("control record key version {version} is not 0")));
    }
    match i16::from_be_bytes([key[2], key[3]]) {
        0 => Ok(ControlType::Abort),
        1 => Ok(ControlType::Commit),
        t => Err(bad(format!("unknown control record type {t}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// decoding

/// Parse the 61-byte header at the start of `buf` (no CRC check).
pub fn parse_header(buf: &[u8]) -> Result<BatchHeader> {
    if buf.len() < HEADER_SIZE {
        return Err(bad(format!("batch header needs {HEADER_SIZE} bytes, found {}", buf.len())));
    }
    let i64_at = |o: usize| i64::from_be_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3], buf[o + 4], buf[o + 5], buf[o + 6], buf[o + 7]]);
    let i32_at = |o: usize| i32::from_be_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
    let i16_at = |o: usize| i16::from_be_bytes([buf[o], buf[o + 1]]);
    let h = BatchHeader {
        base_offset: i64_at(0),
        batch_length: i32_at(8),
        partition_leader_epoch: i32_at(12),
        magic: buf[16] as i8,
        crc: i32_at(17) as u32,
        attributes: i16_at(21),
        last_offset_delta: i32_at(23),
        base_timestamp: i64_at(27),
        max_timestamp: i64_at(35),
        producer_id: i64_at(43),
        producer_epoch: i16_at(51),
        base_sequence: i32_at(53),
        records_count: i32_at(57),
    };
    if h.magic != MAGIC {
        return Err(bad(format!("batch at offset {} has magic {}; only magic 2 is supported", h.base_offset, h.magic)));
    }
    if (h.batch_length as i64) < (HEADER_SIZE - LOG_OVERHEAD) as i64 {
        return Err(bad(format!("batch at offset {} has length {} below the header size", h.base_offset, h.batch_length)));
    }
    if h.last_offset_delta < 0 || h.records_count < 0 {
        return Err(bad(format!("batch at offset {} has a negative lastOffsetDelta or record count", h.base_offset)));
    }
    Ok(h)
}

/// Check the size and CRC of the batch at the start of `buf` (Kafka's `ensureValid`); returns
/// its header.
pub fn validate(buf: &[u8]) -> Result<BatchHeader> {
    let h = parse_header(buf)?;
    let size = h.size();
    if buf.len() < size {
        return Err(bad(format!("batch at offset {} needs {size} bytes, only {} remain", h.base_offset, buf.len())));
    }
    let crc = super::crc::crc32c(&buf[ATTRIBUTES_OFFSET..size]);
    if crc != h.crc {
        return Err(bad(format!("batch at offset {} fails its CRC: stored {:#010x}, computed {crc:#010x}", h.base_offset, h.crc)));
    }
    Ok(h)
}

/// Decode every record of a complete batch, checking its size and CRC first.
pub fn decode_records(buf: &[u8]) -> Result<(BatchHeader, Vec<Record>)> {
    let h = validate(buf)?;
    decode_body(h, buf)
}

/// Decode the records of a batch whose size and CRC were already checked (by [`validate`] or
/// [`batches`]); `buf` must hold the whole batch.
pub fn decode_validated(h: BatchHeader, buf: &[u8]) -> Result<(BatchHeader, Vec<Record>)> {
    if buf.len() < h.size() {
        return Err(bad(format!("batch at offset {} needs {} bytes, only {} given", h.base_offset, h.size(), buf.len())));
    }
    decode_body(h, buf)
}

fn decode_body(h: BatchHeader, buf: &[u8]) -> Result<(BatchHeader, Vec<Record>)> {
    let mut out = Vec::with_capacity(h.records_count as usize);
    for_each_record(&h, buf, |r| {
        out.push(r.to_record());
        true
    })?;
    Ok((h, out))
}

/// One record borrowed from a batch buffer (see [`for_each_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Absolute timestamp (the batch max timestamp under LogAppendTime).
    pub timestamp: i64,
    /// Key; `None` is null.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is null.
    pub value: Option<&'a [u8]>,
    /// The encoded headers section (already checked).
    headers: &'a [u8],
    header_count: i32,
}

impl<'a> RecordRef<'a> {
    /// Number of headers.
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }
    /// The headers in order as `(key, value)`.
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter { r: Reader { buf: self.headers, pos: 0 }, left: self.header_count }
    }
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.owned_headers(),
        }
    }
    /// Owned copies of the headers.
    pub fn owned_headers(&self) -> Vec<Header> {
        if self.header_count == 0 {
            return Vec::new();
        }
        self.headers().map(|(k, v)| Header { key: k.to_string(), value: v.map(<[u8]>::to_vec) }).collect()
    }
}

/// Iterator over the headers of a [`RecordRef`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    r: Reader<'a>,
    left: i32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, Option<&'a [u8]>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left <= 0 {
            return None;
        }
        self.left -= 1;
        // The section was checked when the record was read, so these cannot fail.
        let k = self.r.nullable().ok()??;
        let k = std::str::from_utf8(k).ok()?;
        let v = self.r.nullable().ok()?;
        Some((k, v))
    }
}

/// Call `f` for each record of a complete batch whose size and CRC were already checked
/// (`buf` holds the whole batch), decompressing once if needed and borrowing keys, values and
/// headers from the batch; `f` returns `false` to stop early. Every record is checked for
/// well-formedness before `f` sees it.
pub fn for_each_record(h: &BatchHeader, buf: &[u8], mut f: impl FnMut(RecordRef<'_>) -> bool) -> Result<()> {
    if buf.len() < h.size() || h.size() < HEADER_SIZE {
        return Err(bad(format!("batch at offset {} needs {} bytes, only {} given", h.base_offset, h.size(), buf.len())));
    }
    let body = &buf[HEADER_SIZE..h.size()];
    let decompressed;
    let body: &[u8] = match h.compression()? {
        Compression::None => body,
        c => {
            decompressed = super::compression::decompress(c, body)?;
            &decompressed[..]
        }
    };
    let log_append = h.timestamp_type() == TimestampType::LogAppendTime;
    let mut r = Reader { buf: body, pos: 0 };
    for _ in 0..h.records_count {
        let len = r.varint()?;
        if len < 0 {
            return Err(bad(format!("record length {len} is negative")));
        }
        let rec = r.bytes(len as usize)?;
        let mut rr = Reader { buf: rec, pos: 0 };
        let _attributes = rr.bytes(1)?;
        let ts_delta = rr.varlong()?;
        let off_delta = rr.varint()?;
        let key = rr.nullable()?;
        let value = rr.nullable()?;
        let nh = rr.varint()?;
        if nh < 0 {
            return Err(bad(format!("negative header count {nh}")));
        }
        let hstart = rr.pos;
        for _ in 0..nh {
            let k = rr.nullable()?.ok_or_else(|| bad("header key is null"))?;
            std::str::from_utf8(k).map_err(|_| bad("header key is not UTF-8"))?;
            rr.nullable()?;
        }
        if rr.pos != rec.len() {
            return Err(bad(format!("record at offset delta {off_delta} has {} trailing bytes", rec.len() - rr.pos)));
        }
        let timestamp = if log_append { h.max_timestamp } else { h.base_timestamp.wrapping_add(ts_delta) };
        let rref = RecordRef { offset: h.base_offset + i64::from(off_delta), timestamp, key, value, headers: &rec[hstart..], header_count: nh };
        if !f(rref) {
            return Ok(());
        }
    }
    if r.pos != body.len() {
        return Err(bad(format!("batch at offset {} has {} bytes after its {} records", h.base_offset, body.len() - r.pos, h.records_count)));
    }
    Ok(())
}

/// Iterate over the complete batches of a buffer without checking CRCs (for bytes the log
/// already checked when it read them); stops with an error at a bad header and silently at a
/// trailing partial batch.
pub fn batches_unchecked(buf: &[u8]) -> BatchIter<'_> {
    BatchIter { buf, pos: 0, check_crc: false }
}

/// Iterate over the complete batches of a buffer, validating each; stops (with an error) at the
/// first one that fails, and silently at a trailing partial batch.
pub fn batches(buf: &[u8]) -> BatchIter<'_> {
    BatchIter { buf, pos: 0, check_crc: true }
}

/// Iterator returned by [`batches`]: `(header, batch bytes)`.
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    check_crc: bool,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<(BatchHeader, &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.len() < HEADER_SIZE {
            return None;
        }
        let h = match parse_header(rest) {
            Ok(h) => h,
            Err(e) => {
                self.pos = self.buf.len();
                return Some(Err(e));
            }
        };
        let size = h.size();
        if rest.len() < size {
            return None;
        }
        if !self.check_crc {
            self.pos += size;
            return Some(Ok((h, &rest[..size])));
        }
        match validate(rest) {
            Ok(h) => {
                self.pos += size;
                Some(Ok((h, &rest[..size])))
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(d: i32, ts: i64, k: Option<&[u8]>, v: Option<&[u8]>) -> RecordInput {
        RecordInput { offset_delta: d, timestamp: ts, key: k.map(<[u8]>::to_vec), value: v.map(<[u8]>::to_vec), headers: vec![] }
    }

    #[test]
    fn varints_match_protobuf_zigzag() {
        // Zig-zag table from the protobuf encoding guide: 0→0, -1→1, 1→2, -2→3, 2147483647→4294967294.
        let cases: [(i32, &[u8]); 6] = [
            (0, &[0]),
            (-1, &[1]),
            (1, &[2]),
            (-2, &[3]),
            (300, &[0xd8, 0x04]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (v, bytes) in cases {
            let mut out = vec![];
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(get_varint(bytes).unwrap(), (v, bytes.len()));
            assert_eq!(varint_size(v), bytes.len());
        }
        let mut out = vec![];
        put_varlong(&mut out, i64::MIN);
        assert_eq!(out, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(get_varlong(&out).unwrap(), (i64::MIN, 10));
        assert!(get_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).is_err());
        assert!(get_varint(&[0x80]).is_err());
    }

    /// A batch built by hand from the format table (facts/kafka.md §1) and compared byte for byte.
    ///
    /// One record, key "k", value "v", no headers, base offset 5, timestamp 1000, producer id 7,
    /// epoch 1, base sequence 3, CreateTime, no compression.
    /// Record body: attributes 00 | tsDelta varlong(0)=00 | offsetDelta varint(0)=00 |
    /// keyLen varint(1)=02 | 'k'=6b | valueLen varint(1)=02 | 'v'=76 | headers varint(0)=00
    /// = 8 bytes, so the length prefix is varint(8) = 10. Records section: 9 bytes.
    /// batchLength = 61 - 12 + 9 = 58 = 0x3a.
    #[test]
    fn fixed_byte_vector() {
        let spec = BatchSpec { base_offset: 5, producer_id: 7, producer_epoch: 1, base_sequence: 3, ..BatchSpec::default() };
        let got = encode_batch(&spec, &[rec(0, 1000, Some(b"k"), Some(b"v"))]).unwrap();
        let mut want: Vec<u8> = vec![];
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]); // baseOffset
        want.extend_from_slice(&[0, 0, 0, 0x3a]); // batchLength 58
        want.extend_from_slice(&[0, 0, 0, 0]); // partitionLeaderEpoch
        want.push(2); // magic
        want.extend_from_slice(&[0, 0, 0, 0]); // crc, filled below
        want.extend_from_slice(&[0, 0]); // attributes
        want.extend_from_slice(&[0, 0, 0, 0]); // lastOffsetDelta
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x03, 0xe8]); // baseTimestamp 1000
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x03, 0xe8]); // maxTimestamp 1000
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]); // producerId
        want.extend_from_slice(&[0, 1]); // producerEpoch
        want.extend_from_slice(&[0, 0, 0, 3]); // baseSequence
        want.extend_from_slice(&[0, 0, 0, 1]); // recordsCount
        want.extend_from_slice(&[0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00]);
        assert_eq!(want.len(), 70);
        // CRC-32C over attributes..end, computed independently of the encoder.
        let crc = crc32c::crc32c(&want[21..]);
        want[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(got, want);
        // Known CRC-32C check value ("123456789" → 0xE3069283, RFC 3720 appendix B.4) so the
        // crate is the Castagnoli polynomial.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let (h, recs) = decode_records(&got).unwrap();
        assert_eq!((h.base_offset, h.last_offset(), h.producer_id, h.producer_epoch, h.base_sequence), (5, 5, 7, 1, 3));
        assert_eq!(recs[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(recs[0].timestamp, 1000);
    }

    /// A null key and value are encoded as varint(-1) = 01; a null header value likewise.
    #[test]
    fn fixed_bytes_nulls_and_headers() {
        let r = RecordInput {
            offset_delta: 1,
            timestamp: 1001,
            key: None,
            value: None,
            headers: vec![Header { key: "h".into(), value: None }, Header::new("x", b"yz".to_vec())],
        };
        let mut out = vec![];
        put_record(&mut out, &r, 1000);
        // body: 00 | ts varlong(1)=02 | off varint(1)=02 | key 01 | value 01 | hc varint(2)=04 |
        // "h": 02 68 01 | "x": 02 78 04 79 7a  → 14 bytes → prefix varint(14)=1c
        assert_eq!(out, [0x1c, 0, 2, 2, 1, 1, 4, 2, b'h', 1, 2, b'x', 4, b'y', b'z']);
    }

    #[test]
    fn round_trip_all_codecs_and_flags() {
        let recs: Vec<RecordInput> = (0..50)
            .map(|i| RecordInput {
                offset_delta: i,
                timestamp: 1_700_000_000_000 + i64::from(i % 7) * 13 - 20,
                key: if i % 5 == 0 { None } else { Some(format!("key-{i}").into_bytes()) },
                value: if i % 9 == 0 { None } else { Some(vec![i as u8; i as usize * 3]) },
                headers: (0..(i % 3)).map(|j| Header { key: format!("h{j}"), value: if j == 1 { None } else { Some(vec![j as u8]) } }).collect(),
            })
            .collect();
        for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let spec = BatchSpec { base_offset: 100, compression: c, transactional: true, producer_id: 9, producer_epoch: 2, base_sequence: 40, ..BatchSpec::default() };
            let buf = encode_batch(&spec, &recs).unwrap();
            let (h, got) = decode_records(&buf).unwrap();
            assert_eq!(h.compression().unwrap(), c);
            assert!(h.is_transactional() && !h.is_control());
            assert_eq!(h.records_count, 50);
            assert_eq!(h.last_offset(), 149);
            assert_eq!(h.max_timestamp, recs.iter().map(|r| r.timestamp).max().unwrap());
            assert_eq!(h.last_sequence(), 89);
            for (a, b) in recs.iter().zip(&got) {
                assert_eq!(b.offset, 100 + i64::from(a.offset_delta));
                assert_eq!(b.timestamp, a.timestamp);
                assert_eq!((&b.key, &b.value, &b.headers), (&a.key, &a.value, &a.headers));
            }
        }
    }

    #[test]
    fn log_append_time_and_base_offset_rewrite() {
        let mut buf = encode_batch(&BatchSpec::default(), &[rec(0, 5, None, Some(b"a")), rec(1, 6, None, Some(b"b"))]).unwrap();
        set_base_offset(&mut buf, 42);
        set_log_append_time(&mut buf, 999);
        let (h, recs) = decode_records(&buf).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(recs.iter().map(|r| (r.offset, r.timestamp)).collect::<Vec<_>>(), [(42, 999), (43, 999)]);
    }

    #[test]
    fn control_batch_bytes() {
        let buf = encode_control_batch(10, 77, 3, ControlType::Commit, 5, 123).unwrap();
        let (h, recs) = decode_records(&buf).unwrap();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!((h.producer_id, h.producer_epoch), (77, 3));
        assert_eq!(recs[0].key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(recs[0].value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 5][..]));
        assert_eq!(parse_control_key(&[0, 0, 0, 0]).unwrap(), ControlType::Abort);
        assert_eq!(parse_control_key(&[0, 0, 0, 1]).unwrap(), ControlType::Commit);
        assert!(parse_control_key(&[0, 1, 0, 1]).is_err());
        assert!(parse_control_key(&[0, 0]).is_err());
    }

    #[test]
    fn corruption_is_detected() {
        let buf = encode_batch(&BatchSpec::default(), &[rec(0, 1, Some(b"key"), Some(b"value"))]).unwrap();
        for i in 21..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x40;
            assert_eq!(validate(&b).unwrap_err().code(), ErrorCode::CorruptRecord, "byte {i}");
        }
        // The leader epoch is outside the CRC, as in Kafka.
        let mut b = buf.clone();
        b[13] ^= 1;
        assert!(validate(&b).is_ok());
        assert!(validate(&buf[..buf.len() - 1]).is_err());
        let mut b = buf.clone();
        b[16] = 1;
        assert!(parse_header(&b).unwrap_err().message().contains("magic"));
    }

    #[test]
    fn batch_iterator_stops_at_partial_tail() {
        let a = encode_batch(&BatchSpec::default(), &[rec(0, 1, None, Some(b"x"))]).unwrap();
        let mut b = encode_batch(&BatchSpec { base_offset: 1, ..BatchSpec::default() }, &[rec(0, 1, None, Some(b"y"))]).unwrap();
        let mut buf = a.clone();
        buf.append(&mut b);
        buf.extend_from_slice(&a[..30]);
        let got: Vec<_> = batches(&buf).map(|r| r.unwrap().0.base_offset).collect();
        assert_eq!(got, [0, 1]);
    }

    /// The producer's builder writes exactly the bytes `encode_batch` writes, for every codec,
    /// and the borrowing reader sees the same records as the owning one.
    #[test]
    fn builder_matches_encode_batch_and_views_match_records() {
        let recs: Vec<RecordInput> = (0..40)
            .map(|i| RecordInput {
                offset_delta: i,
                timestamp: 1_700_000_000_000 + i64::from(i % 5) * 7 - 9,
                key: if i % 4 == 0 { None } else { Some(format!("k{i}").into_bytes()) },
                value: if i % 11 == 0 { None } else { Some(vec![i as u8; (i * 5) as usize]) },
                headers: (0..(i % 3)).map(|j| Header { key: format!("h{j}"), value: if j == 1 { None } else { Some(vec![j as u8, 1]) } }).collect(),
            })
            .collect();
        for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let spec = BatchSpec { compression: c, producer_id: 3, producer_epoch: 1, base_sequence: 17, transactional: true, ..BatchSpec::default() };
            let mut b = BatchBuilder::with_capacity(16);
            for r in &recs {
                b.push(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
            }
            assert_eq!(b.records(), 40);
            let built = b.finish(&spec).unwrap();
            assert_eq!(built, encode_batch(&spec, &recs).unwrap(), "{c:?}");
            let (h, owned) = decode_records(&built).unwrap();
            let mut seen = 0;
            for_each_record(&h, &built, |r| {
                let o = &owned[seen];
                assert_eq!((r.offset, r.timestamp, r.key, r.value), (o.offset, o.timestamp, o.key.as_deref(), o.value.as_deref()));
                let hs: Vec<(String, Option<Vec<u8>>)> = r.headers().map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec))).collect();
                assert_eq!(hs, o.headers.iter().map(|x| (x.key.clone(), x.value.clone())).collect::<Vec<_>>());
                assert_eq!(r.header_count(), o.headers.len());
                seen += 1;
                seen < 25
            })
            .unwrap();
            assert_eq!(seen, 25, "stops when the callback says so");
        }
        // the unchecked iterator skips the CRC, the checked one does not
        let mut bad = encode_batch(&BatchSpec::default(), &recs[..3]).unwrap();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(batches(&bad).next().unwrap().is_err());
        assert!(batches_unchecked(&bad).next().unwrap().is_ok());
    }

    /// A checksumming builder (CRC folded in as records arrive, combined with the header's at
    /// seal time) writes the same bytes as `encode_batch`, for record runs below, at and far
    /// past `CRC_RUN`, uncompressed and compressed; and its CRC is the one `validate` checks.
    #[test]
    fn checksumming_builder_matches_encode_batch() {
        for (n, size) in [(1usize, 0usize), (1, 10), (3, 1000), (5, CRC_RUN), (64, 1024), (200, 100), (2, 70_000), (40, 4095)] {
            let recs: Vec<RecordInput> = (0..n)
                .map(|i| RecordInput {
                    offset_delta: i as i32,
                    timestamp: 1_700_000_000_000 + (i as i64 % 7) * 3,
                    key: if i % 3 == 0 { None } else { Some(format!("key-{i}").into_bytes()) },
                    value: Some((0..size).map(|j| (i * 31 + j) as u8).collect()),
                    headers: if i % 5 == 1 { vec![Header::new("h", vec![1, 2, 3])] } else { Vec::new() },
                })
                .collect();
            for c in [Compression::None, Compression::Lz4] {
                let spec = BatchSpec { compression: c, producer_id: 9, producer_epoch: 2, base_sequence: 5, ..BatchSpec::default() };
                let mut b = BatchBuilder::checksumming(vec![0xAB; 10], 16);
                for r in &recs {
                    b.push(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
                }
                let built = b.finish(&spec).unwrap();
                assert_eq!(built, encode_batch(&spec, &recs).unwrap(), "{n} records of {size} bytes, {c:?}");
                validate(&built).unwrap();
            }
        }
    }

    /// `fold_crc` (the producer's seal) leaves the batch's bytes as `encode_batch` writes them:
    /// folded after the last record, folded and then given more records (the prepared factor
    /// no longer fits and is not used), folded twice, folded while empty, and on a builder that
    /// does not checksum; uncompressed and compressed.
    #[test]
    fn a_folded_checksum_gives_the_same_batch_however_records_follow_it() {
        for (n, size) in [(1usize, 0usize), (3, 1000), (64, 1024), (9, CRC_RUN + 1), (2, 70_000)] {
            let recs: Vec<RecordInput> = (0..n)
                .map(|i| RecordInput {
                    offset_delta: i as i32,
                    timestamp: 1_700_000_000_000 + (i as i64 % 5) * 7,
                    key: if i % 2 == 0 { None } else { Some(format!("k{i}").into_bytes()) },
                    value: Some((0..size).map(|j| (i * 17 + j * 3) as u8).collect()),
                    headers: Vec::new(),
                })
                .collect();
            for c in [Compression::None, Compression::Lz4] {
                let spec = BatchSpec { compression: c, producer_id: 4, producer_epoch: 1, base_sequence: 77, ..BatchSpec::default() };
                let want = encode_batch(&spec, &recs).unwrap();
                // fold after the first `k` records (0 = while empty), then push the rest; the
                // factor cache starts empty, holds another length's factor, or this length's
                let plain = BatchSpec { compression: Compression::None, producer_id: 4, producer_epoch: 1, base_sequence: 77, ..BatchSpec::default() };
                let len = encode_batch(&plain, &recs).unwrap().len() - HEADER_SIZE;
                let other = Some((len + 1, crate::log::crc::shift_for(len + 1)));
                let same = Some((len, crate::log::crc::shift_for(len)));
                for (folds_at, cache) in [(vec![n], None), (vec![n], other), (vec![n], same), (vec![0, n], other), (vec![n / 2], same), (vec![n, n], None)] {
                    for checksumming in [true, false] {
                        let mut last = cache;
                        let mut b = if checksumming { BatchBuilder::checksumming(Vec::new(), 64) } else { BatchBuilder::with_capacity(64) };
                        for (i, r) in recs.iter().enumerate() {
                            for _ in folds_at.iter().filter(|&&k| k == i) {
                                b.fold_crc(&mut last);
                            }
                            b.push(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
                        }
                        for _ in folds_at.iter().filter(|&&k| k == n) {
                            b.fold_crc(&mut last);
                        }
                        if checksumming && folds_at.contains(&n) {
                            assert_eq!(last, same, "the cache holds the folded length's factor");
                        } else if !checksumming {
                            assert_eq!(last, cache, "a builder that does not checksum leaves the cache alone");
                        }
                        let built = b.finish(&spec).unwrap();
                        assert_eq!(built, want, "{n} records of {size} bytes, {c:?}, folded at {folds_at:?} with {cache:?}, checksumming {checksumming}");
                        validate(&built).unwrap();
                    }
                }
            }
        }
    }

    /// A record's bytes written the plain way, one field after another: the reference for
    /// `put_record_parts`.
    fn reference_record(offset_delta: i32, ts_delta: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> Vec<u8> {
        let mut body = vec![0u8];
        put_varlong(&mut body, ts_delta);
        put_varint(&mut body, offset_delta);
        for field in [key, value] {
            match field {
                Some(f) => {
                    put_varint(&mut body, f.len() as i32);
                    body.extend_from_slice(f);
                }
                None => put_varint(&mut body, -1),
            }
        }
        put_varint(&mut body, headers.len() as i32);
        for h in headers {
            put_varint(&mut body, h.key.len() as i32);
            body.extend_from_slice(h.key.as_bytes());
            match &h.value {
                Some(v) => {
                    put_varint(&mut body, v.len() as i32);
                    body.extend_from_slice(v);
                }
                None => put_varint(&mut body, -1),
            }
        }
        let mut out = Vec::new();
        put_varint(&mut out, body.len() as i32);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn records_encode_field_by_field_at_every_varint_boundary_and_never_grow_an_exact_buffer() {
        // The unsigned varint sizes switch at 2^7, 2^14, 2^21 and 2^28 (zig-zag doubles).
        for u in [0u64, 1, 127, 128, 16_383, 16_384, (1 << 21) - 1, 1 << 21, (1 << 28) - 1, 1 << 28, (1 << 35) - 1, 1 << 35, u64::MAX] {
            let mut out = Vec::new();
            put_uvarint(&mut out, u);
            assert_eq!(uvarint_size(u), out.len(), "{u}");
        }
        let lens = [0usize, 1, 63, 64, 65, 8191, 8192, 8193];
        let fill = |n: usize, seed: u8| -> Vec<u8> { (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect() };
        let header_sets: [Vec<Header>; 3] = [vec![], vec![Header::new("h", "v")], vec![Header { key: "k".repeat(70), value: None }, Header::new("", vec![9u8; 200])]];
        let mut checked = 0;
        for &vlen in &lens {
            let value = fill(vlen, 1);
            for value in [None, Some(&value[..])] {
                for key in [None, Some(&b""[..]), Some(&[7u8; 64][..]), Some(&[5u8; 200][..])] {
                    for headers in &header_sets {
                        for (delta, ts) in [(0, 0i64), (63, -64), (64, 8191), (8192, i64::MIN), (i32::MAX, i64::MAX)] {
                            let want = reference_record(delta, ts, key, value, headers);
                            // Roomy buffer: the stack copies are appended whole and cut.
                            let mut roomy = Vec::with_capacity(want.len() + 100);
                            roomy.extend_from_slice(b"xyz");
                            put_record_parts(&mut roomy, delta, ts, key, value, headers);
                            assert_eq!(&roomy[3..], &want[..], "value {vlen} key {key:?} delta {delta}");
                            // Exactly enough room: the bytes alone are appended, nothing grows.
                            let mut exact = Vec::with_capacity(3 + want.len());
                            exact.extend_from_slice(b"xyz");
                            let cap = exact.capacity();
                            put_record_parts(&mut exact, delta, ts, key, value, headers);
                            assert_eq!(&exact[3..], &want[..]);
                            assert_eq!(exact.capacity(), cap, "the buffer grew for value {vlen} key {key:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, lens.len() * 2 * 4 * 3 * 5);
    }

    #[test]
    fn sequence_wraps() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(5, 2), 7);
    }

    proptest::proptest! {
        #[test]
        fn any_records_round_trip(recs in proptest::collection::vec((proptest::option::of(proptest::collection::vec(0u8..255, 0..20)), proptest::option::of(proptest::collection::vec(0u8..255, 0..50)), -1000i64..1000), 1..20), codec in 0i16..5) {
            let inputs: Vec<RecordInput> = recs.iter().enumerate().map(|(i, (k, v, t))| RecordInput { offset_delta: i as i32, timestamp: 1_000_000 + t, key: k.clone(), value: v.clone(), headers: vec![] }).collect();
            let spec = BatchSpec { compression: Compression::from_id(codec).unwrap(), ..BatchSpec::default() };
            let buf = encode_batch(&spec, &inputs).unwrap();
            let (_, out) = decode_records(&buf).unwrap();
            proptest::prop_assert_eq!(out.len(), inputs.len());
            for (a, b) in inputs.iter().zip(out.iter()) {
                proptest::prop_assert_eq!(&a.key, &b.key);
                proptest::prop_assert_eq!(&a.value, &b.value);
                proptest::prop_assert_eq!(a.timestamp, b.timestamp);
            }
        }
    }
}
