//! Topics: admin calls on the engine handle, producer and consumer handles, records returned in a
//! caller-owned batch.

use std::ffi::{c_char, c_int, CString};

use kabase_sdk::{Error, OutgoingBatch, OutgoingRecord, PartitionOffset, Record, RecordMetadata, Result};

use crate::engine::kabase_engine;
use crate::ffi::{bytes_arg, call, free_handle, guard, handle, item_at, opt_str_arg, out_arg, slice_arg, str_arg, to_cstring, write_new, write_out};
use crate::table::{config_arg, strings_arg};

/// A producer (opaque). Made by `kabase_producer_new`, released by `kabase_producer_free`.
pub struct kabase_producer {
    producer: kabase_sdk::Producer,
}

/// A consumer (opaque). Made by `kabase_consumer_new`, released by `kabase_consumer_free`.
pub struct kabase_consumer {
    consumer: kabase_sdk::Consumer,
}

/// Where a sent record landed.
#[repr(C)]
pub struct kabase_record_metadata {
    /// Partition.
    pub partition: u32,
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp of the record (ms since the epoch).
    pub timestamp: i64,
}

/// One record to send (buffers borrowed for the call only). A NULL `key` is a null key, a NULL
/// `value` a tombstone; an empty non-NULL buffer is an empty key or value.
#[repr(C)]
pub struct kabase_message {
    /// Partition, or -1 to let the partitioner choose.
    pub partition: i32,
    /// Key bytes or NULL.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// Value bytes or NULL.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// One consumed record, pointing into the batch it came from. A NULL `key` (or `value`) is a
/// null key (or value).
#[repr(C)]
pub struct kabase_record_view {
    /// Topic (NUL-terminated).
    pub topic: *const c_char,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Key bytes or NULL.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// Value bytes or NULL.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// One record header: a key and a value. A NULL `value` is Kafka's null header value; an
/// empty non-NULL buffer is an empty value. Passed in, both are borrowed for the call; handed
/// out (`kabase_record_batch_header`), both point into the batch until it is freed.
#[repr(C)]
pub struct kabase_header {
    /// Header key (NUL-terminated UTF-8).
    pub key: *const c_char,
    /// Value bytes or NULL.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// A topic partition and an offset (the next offset to read). `topic` is borrowed: for the
/// call when passed in, until the owning object is freed when handed out.
#[repr(C)]
pub struct kabase_topic_offset {
    /// Topic (NUL-terminated).
    pub topic: *const c_char,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
}

/// Records returned to C (opaque): owned by the caller, released by `kabase_record_batch_free`.
pub struct kabase_record_batch {
    records: Vec<Record>,
    topics: Vec<CString>,
    /// Each record's header keys as C strings (a NUL inside a key becomes U+FFFD).
    header_keys: Vec<Vec<CString>>,
}

impl kabase_record_batch {
    fn new(records: Vec<Record>) -> kabase_record_batch {
        let topics = records.iter().map(|r| to_cstring(&r.topic)).collect();
        let header_keys = records.iter().map(|r| r.headers.iter().map(|h| to_cstring(&h.key)).collect()).collect();
        kabase_record_batch { records, topics, header_keys }
    }
}

/// Headers from `count` C entries; a NULL `value` with length 0 is a null value.
fn headers_arg(headers: *const kabase_header, count: usize) -> Result<Vec<(String, Option<Vec<u8>>)>> {
    slice_arg(headers, count, "headers")?
        .iter()
        .enumerate()
        .map(|(i, h)| Ok((str_arg(h.key, &format!("headers[{i}].key"))?.to_string(), opt_bytes(h.value, h.value_len, &format!("headers[{i}].value"))?)))
        .collect()
}

fn opt_bytes(p: *const u8, len: usize, what: &str) -> Result<Option<Vec<u8>>> {
    if p.is_null() {
        if len != 0 {
            return Err(Error::invalid(format!("{what} is NULL but its length is {len}")));
        }
        return Ok(None);
    }
    Ok(Some(bytes_arg(p, len, what)?.to_vec()))
}

fn partition_arg(p: i32) -> Result<Option<u32>> {
    match p {
        -1 => Ok(None),
        p if p >= 0 => Ok(Some(p as u32)),
        p => Err(Error::invalid(format!("partition {p} must be -1 (any) or at least 0"))),
    }
}

fn meta_out(m: &RecordMetadata) -> kabase_record_metadata {
    kabase_record_metadata { partition: m.partition, offset: m.offset, timestamp: m.timestamp }
}

/// Create topic `name` with `partitions` partitions.
///
/// # Safety
/// `engine` NULL or live; `name` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_topic_create(engine: *const kabase_engine, name: *const c_char, partitions: u32, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(engine, "engine")?.engine.create_topic(str_arg(name, "name")?, partitions))
}

/// Delete topic `name` and its records.
///
/// # Safety
/// `engine` NULL or live; `name` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_topic_delete(engine: *const kabase_engine, name: *const c_char, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(engine, "engine")?.engine.delete_topic(str_arg(name, "name")?))
}

/// Make a producer with default settings.
///
/// # Safety
/// `engine` NULL or live; `out_producer` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_new(engine: *const kabase_engine, out_producer: *mut *mut kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || write_new(out_producer, "out_producer", || Ok(kabase_producer { producer: handle(engine, "engine")?.engine.producer(&[])? })))
}

/// Make a producer with configs by Kafka's names (`acks`, `linger.ms`, `compression.type`,
/// `enable.idempotence`, `transactional.id`, ...): `keys[i]` = `values[i]` for `count` pairs.
/// With `transactional.id`, call `kabase_producer_init_transactions` before the first
/// transaction.
///
/// # Safety
/// `engine` NULL or live; `keys`/`values` NULL or `count` C strings each; `out_producer` NULL or
/// writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_new_with_config(
    engine: *const kabase_engine,
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    out_producer: *mut *mut kabase_producer,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_producer, "out_producer", || {
            let e = handle(engine, "engine")?;
            Ok(kabase_producer { producer: e.engine.producer(&config_arg(keys, values, count)?)? })
        })
    })
}

/// Register the producer's `transactional.id`: fences an older producer with the same id and
/// aborts its open transaction. Once, before the first `kabase_producer_begin_transaction`.
///
/// # Safety
/// `producer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_init_transactions(producer: *const kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(producer, "producer")?.producer.init_transactions())
}

/// Start a transaction: later sends belong to it until commit or abort.
///
/// # Safety
/// `producer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_begin_transaction(producer: *const kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(producer, "producer")?.producer.begin_transaction())
}

/// Commit `count` next offsets of consumer group `group_id` atomically with the open
/// transaction (they become the group's committed offsets only if it commits).
///
/// # Safety
/// `producer` NULL or live; `group_id` NULL or a C string; `offsets` NULL or `count` readable
/// entries; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_send_offsets_to_transaction(
    producer: *const kabase_producer,
    group_id: *const c_char,
    offsets: *const kabase_topic_offset,
    count: usize,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let p = handle(producer, "producer")?;
        let group_id = str_arg(group_id, "group_id")?;
        let list = slice_arg(offsets, count, "offsets")?
            .iter()
            .enumerate()
            .map(|(i, o)| Ok(PartitionOffset { topic: str_arg(o.topic, &format!("offsets[{i}].topic"))?.to_string(), partition: o.partition, offset: o.offset }))
            .collect::<Result<Vec<_>>>()?;
        p.producer.send_offsets_to_transaction(&list, group_id)
    })
}

/// Flush and commit the open transaction: read_committed consumers see all of it.
///
/// # Safety
/// `producer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_commit_transaction(producer: *const kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(producer, "producer")?.producer.commit_transaction())
}

/// Abort the open transaction: read_committed consumers never see its records.
///
/// # Safety
/// `producer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_abort_transaction(producer: *const kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(producer, "producer")?.producer.abort_transaction())
}

/// Send one record to `topic` and wait until it is in the log; `out_meta` (may be NULL)
/// receives where it landed.
///
/// # Safety
/// `producer` NULL or live; `topic` NULL or a C string; `message` NULL or readable;
/// `out_meta` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_send(
    producer: *const kabase_producer,
    topic: *const c_char,
    message: *const kabase_message,
    out_meta: *mut kabase_record_metadata,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let p = handle(producer, "producer")?;
        let topic = str_arg(topic, "topic")?;
        let m = handle(message, "message")?;
        let rec = OutgoingRecord {
            partition: partition_arg(m.partition)?,
            key: opt_bytes(m.key, m.key_len, "message.key")?,
            value: opt_bytes(m.value, m.value_len, "message.value")?,
            ..OutgoingRecord::default()
        };
        let meta = p.producer.send(topic, &rec)?;
        if !out_meta.is_null() {
            write_out(out_meta, meta_out(&meta));
        }
        Ok(())
    })
}

/// [`kabase_producer_send`] with `header_count` headers (in order; a header whose `value` is
/// NULL, with `value_len` 0, carries Kafka's null value). `headers` may be NULL when
/// `header_count` is 0.
///
/// # Safety
/// `producer` NULL or live; `topic` NULL or a C string; `message` NULL or readable; `headers`
/// NULL or `header_count` readable entries whose keys are C strings; `out_meta` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_send_with_headers(
    producer: *const kabase_producer,
    topic: *const c_char,
    message: *const kabase_message,
    headers: *const kabase_header,
    header_count: usize,
    out_meta: *mut kabase_record_metadata,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let p = handle(producer, "producer")?;
        let topic = str_arg(topic, "topic")?;
        let m = handle(message, "message")?;
        let rec = OutgoingRecord {
            partition: partition_arg(m.partition)?,
            key: opt_bytes(m.key, m.key_len, "message.key")?,
            value: opt_bytes(m.value, m.value_len, "message.value")?,
            headers: headers_arg(headers, header_count)?,
            ..OutgoingRecord::default()
        };
        let meta = p.producer.send(topic, &rec)?;
        if !out_meta.is_null() {
            write_out(out_meta, meta_out(&meta));
        }
        Ok(())
    })
}

/// Send `count` records to `topic` in one call and wait for all of them; `out_metas` (may be
/// NULL, else room for `count` entries) receives where each landed, in order.
///
/// # Safety
/// `producer` NULL or live; `topic` NULL or a C string; `messages` `count` readable entries;
/// `out_metas` NULL or `count` writable entries.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_send_batch(
    producer: *const kabase_producer,
    topic: *const c_char,
    messages: *const kabase_message,
    count: usize,
    out_metas: *mut kabase_record_metadata,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let p = handle(producer, "producer")?;
        let topic = str_arg(topic, "topic")?;
        let records = slice_arg(messages, count, "messages")?
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Ok(OutgoingRecord {
                    partition: partition_arg(m.partition)?,
                    key: opt_bytes(m.key, m.key_len, &format!("messages[{i}].key"))?,
                    value: opt_bytes(m.value, m.value_len, &format!("messages[{i}].value"))?,
                    ..OutgoingRecord::default()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let metas = p.producer.send_batch(&OutgoingBatch { topic: topic.to_string(), records })?;
        if !out_metas.is_null() {
            for (i, m) in metas.iter().enumerate() {
                // SAFETY: room for `count` entries (contract); `metas.len() == count`.
                unsafe { out_metas.add(i).write(meta_out(m)) };
            }
        }
        Ok(())
    })
}

/// Wait until everything sent so far is in the log.
///
/// # Safety
/// `producer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_flush(producer: *const kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(producer, "producer")?.producer.flush())
}

/// Flush and stop the producer; later sends return `KABASE_CLOSED`. The handle stays allocated
/// until `kabase_producer_free`.
///
/// # Safety
/// `producer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_close(producer: *const kabase_producer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(producer, "producer")?.producer.close())
}

/// Release a producer handle (NULL does nothing).
///
/// # Safety
/// `producer` NULL or a handle from `kabase_producer_new`, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_producer_free(producer: *mut kabase_producer) {
    guard((), || free_handle(producer))
}

/// Make a consumer. With a `group_id` (may be NULL) it joins that consumer group on subscribe
/// and can commit offsets; without one it reads every partition of its topics.
///
/// # Safety
/// `engine` NULL or live; `group_id` NULL or a C string; `out_consumer` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_new(
    engine: *const kabase_engine,
    group_id: *const c_char,
    out_consumer: *mut *mut kabase_consumer,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_consumer, "out_consumer", || {
            let e = handle(engine, "engine")?;
            Ok(kabase_consumer { consumer: e.engine.consumer(opt_str_arg(group_id, "group_id")?.as_deref(), &[])? })
        })
    })
}

/// Make a consumer with configs by Kafka's names (`isolation.level`, `max.poll.records`,
/// `enable.auto.commit`, `session.timeout.ms`, ...): `keys[i]` = `values[i]` for `count` pairs.
/// `group_id` may be NULL, as for `kabase_consumer_new`.
///
/// # Safety
/// `engine` NULL or live; `group_id` NULL or a C string; `keys`/`values` NULL or `count` C
/// strings each; `out_consumer` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_new_with_config(
    engine: *const kabase_engine,
    group_id: *const c_char,
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    out_consumer: *mut *mut kabase_consumer,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_consumer, "out_consumer", || {
            let e = handle(engine, "engine")?;
            let group = opt_str_arg(group_id, "group_id")?;
            Ok(kabase_consumer { consumer: e.engine.consumer(group.as_deref(), &config_arg(keys, values, count)?)? })
        })
    })
}

/// Subscribe (needs a group id) to every topic whose whole name matches the regular expression
/// `pattern`, now and as topics appear; internal `__` topics never match. `from_beginning` as
/// for `kabase_consumer_subscribe`.
///
/// # Safety
/// `consumer` NULL or live; `pattern` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_subscribe_pattern(consumer: *const kabase_consumer, pattern: *const c_char, from_beginning: c_int, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(consumer, "consumer")?.consumer.subscribe_pattern(str_arg(pattern, "pattern")?, from_beginning != 0))
}

fn partitions_of(topic: *const c_char, partition: i32) -> Result<Vec<(String, Option<u32>)>> {
    Ok(vec![(str_arg(topic, "topic")?.to_string(), partition_arg(partition)?)])
}

/// Stop fetching from partition `partition` of `topic` (-1: every partition of the topic
/// assigned now) until `kabase_consumer_resume`. A named partition must be assigned.
///
/// # Safety
/// `consumer` NULL or live; `topic` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_pause(consumer: *const kabase_consumer, topic: *const c_char, partition: i32, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(consumer, "consumer")?.consumer.pause(&partitions_of(topic, partition)?))
}

/// Fetch again from a paused partition (-1: every assigned partition of the topic).
///
/// # Safety
/// `consumer` NULL or live; `topic` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_resume(consumer: *const kabase_consumer, topic: *const c_char, partition: i32, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(consumer, "consumer")?.consumer.resume(&partitions_of(topic, partition)?))
}

/// Number of paused partitions (0 for NULL).
///
/// # Safety
/// `consumer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_paused_count(consumer: *const kabase_consumer) -> usize {
    guard(0, || handle(consumer, "consumer").map(|c| c.consumer.paused().len()).unwrap_or(0))
}

/// Number of partitions the consumer reads now (0 for NULL); with a group it changes as the
/// group rebalances during polls.
///
/// # Safety
/// `consumer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_assignment_count(consumer: *const kabase_consumer) -> usize {
    guard(0, || handle(consumer, "consumer").map(|c| c.consumer.assignment().len()).unwrap_or(0))
}

/// Subscribe to `topic_count` topics. `from_beginning` (non-zero) starts partitions without a
/// committed offset at their first record, else at their end.
///
/// # Safety
/// `consumer` NULL or live; `topics` NULL or `topic_count` C strings; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_subscribe(
    consumer: *const kabase_consumer,
    topics: *const *const c_char,
    topic_count: usize,
    from_beginning: c_int,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let c = handle(consumer, "consumer")?;
        let topics = strings_arg(topics, topic_count, "topics")?;
        c.consumer.subscribe(&topics, from_beginning != 0)
    })
}

/// Poll up to `max_records` records, waiting up to `timeout_ms` for the first, into a new batch
/// in `*out_batch` (possibly empty; free it with `kabase_record_batch_free`).
///
/// # Safety
/// `consumer` NULL or live; `out_batch` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_poll(
    consumer: *const kabase_consumer,
    max_records: usize,
    timeout_ms: u64,
    out_batch: *mut *mut kabase_record_batch,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_batch, "out_batch", || {
            Ok(kabase_record_batch::new(handle(consumer, "consumer")?.consumer.poll(max_records, timeout_ms)?.records))
        })
    })
}

/// Move the consumer's position in a partition it reads.
///
/// # Safety
/// `consumer` NULL or live; `topic` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_seek(
    consumer: *const kabase_consumer,
    topic: *const c_char,
    partition: u32,
    offset: i64,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || handle(consumer, "consumer")?.consumer.seek(str_arg(topic, "topic")?, partition, offset))
}

/// Commit the consumer's current positions to its group (needs a group id).
///
/// # Safety
/// `consumer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_commit(consumer: *const kabase_consumer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(consumer, "consumer")?.consumer.commit())
}

/// Read the group's committed next offset of a partition into `*out_offset` (-1 when nothing
/// was committed).
///
/// # Safety
/// `consumer` NULL or live; `topic` NULL or a C string; `out_offset` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_committed(
    consumer: *const kabase_consumer,
    topic: *const c_char,
    partition: u32,
    out_offset: *mut i64,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        out_arg(out_offset, "out_offset")?;
        let c = handle(consumer, "consumer")?;
        let got = c.consumer.committed(&[(str_arg(topic, "topic")?.to_string(), partition)])?;
        write_out(out_offset, got.first().copied().flatten().unwrap_or(-1));
        Ok(())
    })
}

/// Leave the group (if any) and stop; later calls return `KABASE_CLOSED`. The handle stays
/// allocated until `kabase_consumer_free`.
///
/// # Safety
/// `consumer` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_close(consumer: *const kabase_consumer, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(consumer, "consumer")?.consumer.close())
}

/// Release a consumer handle (NULL does nothing).
///
/// # Safety
/// `consumer` NULL or a handle from `kabase_consumer_new`, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_consumer_free(consumer: *mut kabase_consumer) {
    guard((), || free_handle(consumer))
}

/// Number of records in a batch (0 for NULL).
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_record_batch_len(batch: *const kabase_record_batch) -> usize {
    guard(0, || handle(batch, "batch").map(|b| b.records.len()).unwrap_or(0))
}

/// Fill `*out_record` with record `index` of the batch; its pointers stay valid until the batch
/// is freed. An index past the end is `KABASE_INVALID_ARGUMENT`.
///
/// # Safety
/// `batch` NULL or live; `out_record` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_record_batch_record(
    batch: *const kabase_record_batch,
    index: usize,
    out_record: *mut kabase_record_view,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        out_arg(out_record, "out_record")?;
        let b = handle(batch, "batch")?;
        let (r, topic) = (item_at(&b.records, index, "record")?, item_at(&b.topics, index, "record")?);
        let (key, key_len) = r.key.as_ref().map_or((std::ptr::null(), 0), |k| (k.as_ptr(), k.len()));
        let (value, value_len) = r.value.as_ref().map_or((std::ptr::null(), 0), |v| (v.as_ptr(), v.len()));
        write_out(
            out_record,
            kabase_record_view { topic: topic.as_ptr(), partition: r.partition, offset: r.offset, timestamp: r.timestamp, key, key_len, value, value_len },
        );
        Ok(())
    })
}

/// Number of headers of record `index` of a batch (0 for NULL or an index past the end).
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_record_batch_header_count(batch: *const kabase_record_batch, index: usize) -> usize {
    guard(0, || handle(batch, "batch").ok().and_then(|b| b.records.get(index)).map_or(0, |r| r.headers.len()))
}

/// Fill `*out_header` with header `header_index` of record `index` of the batch, in the order
/// sent; a NULL `value` is a null header value. Its pointers stay valid until the batch is
/// freed. An index past the end is `KABASE_INVALID_ARGUMENT`.
///
/// # Safety
/// `batch` NULL or live; `out_header` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_record_batch_header(
    batch: *const kabase_record_batch,
    index: usize,
    header_index: usize,
    out_header: *mut kabase_header,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        out_arg(out_header, "out_header")?;
        let b = handle(batch, "batch")?;
        let (r, keys) = (item_at(&b.records, index, "record")?, item_at(&b.header_keys, index, "record")?);
        let (h, key) = (item_at(&r.headers, header_index, "header")?, item_at(keys, header_index, "header")?);
        let (value, value_len) = h.value.as_ref().map_or((std::ptr::null(), 0), |v| (v.as_ptr(), v.len()));
        write_out(out_header, kabase_header { key: key.as_ptr(), value, value_len });
        Ok(())
    })
}

/// Release a record batch (NULL does nothing); every view read from it becomes invalid.
///
/// # Safety
/// `batch` NULL or a batch from this library, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_record_batch_free(batch: *mut kabase_record_batch) {
    guard((), || free_handle(batch))
}
