//! Change streams: a table's committed mutations into a topic (`kabase_stream_create`), a topic's
//! records into a table (`kabase_sink_create`), exactly once; a stream handle to describe, pause,
//! resume, remove and snapshot it.

use std::ffi::{c_char, c_int, CString};

use kabase_sdk::{Result, SinkOptions, StreamOptions, StreamRoute};

use crate::engine::kabase_engine;
use crate::ffi::{call, free_handle, guard, handle, item_at, opt_str_arg, out_arg, slice_arg, str_arg, to_cstring, write_new, write_out};
use crate::table::{kabase_row_batch, strings_arg};
use crate::topic::kabase_topic_offset;

/// A change stream (opaque), by name: made by `kabase_stream_create`, `kabase_sink_create` or
/// `kabase_stream_open`, released by `kabase_stream_free`. Freeing the handle leaves the stream
/// running: streams are durable until `kabase_stream_remove`.
pub struct kabase_stream {
    stream: kabase_sdk::ChangeStream,
}

/// One route rule of a table-to-topic stream (as hbase-connectors' Kafka proxy rules): cells of
/// tables, families and qualifiers matching the patterns (exact, `prefix*`, `*suffix`,
/// `*infix*`, `*`) go to `topics` (none: the stream's topic), or nowhere (`"drop"`). With any
/// rule, cells no route rule matches go nowhere.
#[repr(C)]
pub struct kabase_stream_route {
    /// `"route"` (NULL means route) or `"drop"`.
    pub action: *const c_char,
    /// Table pattern (required).
    pub table: *const c_char,
    /// Family pattern; NULL = every family.
    pub family: *const c_char,
    /// Qualifier pattern; NULL = every qualifier.
    pub qualifier: *const c_char,
    /// Topics of a route rule (`topic_count` C strings; NULL when 0).
    pub topics: *const *const c_char,
    /// Number of `topics`.
    pub topic_count: usize,
}

/// Options of a table-to-topic stream. Zero every field (`{0}`) for the defaults; a NULL
/// string or a 0 number means the default.
#[repr(C)]
pub struct kabase_stream_options {
    /// Stream name; default `<table>-to-<topic>`.
    pub name: *const c_char,
    /// `"row_key"` (default), `"family"` or `"fixed:<n>"`.
    pub partitioning: *const c_char,
    /// `"row"` (one record per row mutation, default) or `"cell"`.
    pub shape: *const c_char,
    /// `"json"` (default) or `"binary"`.
    pub format: *const c_char,
    /// JSON byte fields: `"auto"` (default) or `"base64"`.
    pub bytes: *const c_char,
    /// Topic compression (`"none"`, `"gzip"`, `"snappy"`, `"lz4"`, `"zstd"`); default the table's.
    pub compression: *const c_char,
    /// Partitions of topics the stream creates; 0 = default.
    pub partitions: u32,
    /// Most changes waiting in the outbox; 0 = default.
    pub max_lag: u64,
    /// Route rules (`route_count` entries; NULL when 0).
    pub routes: *const kabase_stream_route,
    /// Number of `routes`.
    pub route_count: usize,
}

/// Options of a topic-to-table sink. Zero every field for the defaults.
#[repr(C)]
pub struct kabase_sink_options {
    /// Stream name; default `<topic>-to-<table>`.
    pub name: *const c_char,
    /// Family of JSON fields written without a `family:` prefix.
    pub default_family: *const c_char,
    /// Take the row key from this JSON field instead of the record key.
    pub row_key_field: *const c_char,
}

/// A stream moving data.
pub const KABASE_STREAM_RUNNING: c_int = 0;
/// A stream paused by `kabase_stream_pause`.
pub const KABASE_STREAM_PAUSED: c_int = 1;
/// A stream whose last attempt failed (it retries; the JSON description has the message).
pub const KABASE_STREAM_FAILED: c_int = 2;

/// A stream table to topic.
pub const KABASE_STREAM_TABLE_TO_TOPIC: c_int = 0;
/// A sink topic to table.
pub const KABASE_STREAM_TOPIC_TO_TABLE: c_int = 1;

/// The numbers of a stream's description (no strings: nothing to free).
#[repr(C)]
pub struct kabase_stream_status {
    /// `KABASE_STREAM_TABLE_TO_TOPIC` or `KABASE_STREAM_TOPIC_TO_TABLE`.
    pub kind: c_int,
    /// `KABASE_STREAM_RUNNING`, `KABASE_STREAM_PAUSED` or `KABASE_STREAM_FAILED`.
    pub state: c_int,
    /// Table to topic: sequence number of the last change in the topic. Sink: the sum of the
    /// next offsets to consume.
    pub position: u64,
    /// Changes (or records) not yet moved.
    pub lag: u64,
}

/// A snapshot of a streamed table and where its topic continues it (opaque): made by
/// `kabase_snapshot`, released by `kabase_snapshot_free`.
pub struct kabase_snapshot {
    seq: u64,
    rows: kabase_row_batch,
    offsets: Vec<(CString, u32, i64)>,
}

fn stream_options(o: *const kabase_stream_options) -> Result<StreamOptions> {
    // SAFETY: NULL or a readable options struct (documented contract).
    let Some(o) = (unsafe { o.as_ref() }) else { return Ok(StreamOptions::default()) };
    Ok(StreamOptions {
        name: opt_str_arg(o.name, "options.name")?,
        partitioning: opt_str_arg(o.partitioning, "options.partitioning")?,
        shape: opt_str_arg(o.shape, "options.shape")?,
        format: opt_str_arg(o.format, "options.format")?,
        bytes: opt_str_arg(o.bytes, "options.bytes")?,
        compression: opt_str_arg(o.compression, "options.compression")?,
        partitions: (o.partitions != 0).then_some(o.partitions),
        max_lag: (o.max_lag != 0).then_some(o.max_lag),
        routes: slice_arg(o.routes, o.route_count, "options.routes")?
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(StreamRoute {
                    action: opt_str_arg(r.action, &format!("options.routes[{i}].action"))?.unwrap_or_else(|| "route".into()),
                    table: str_arg(r.table, &format!("options.routes[{i}].table"))?.to_string(),
                    family: opt_str_arg(r.family, &format!("options.routes[{i}].family"))?,
                    qualifier: opt_str_arg(r.qualifier, &format!("options.routes[{i}].qualifier"))?,
                    topics: strings_arg(r.topics, r.topic_count, &format!("options.routes[{i}].topics"))?,
                })
            })
            .collect::<Result<_>>()?,
        ..StreamOptions::default()
    })
}

fn sink_options(o: *const kabase_sink_options) -> Result<SinkOptions> {
    // SAFETY: NULL or a readable options struct (documented contract).
    let Some(o) = (unsafe { o.as_ref() }) else { return Ok(SinkOptions::default()) };
    Ok(SinkOptions {
        name: opt_str_arg(o.name, "options.name")?,
        default_family: opt_str_arg(o.default_family, "options.default_family")?,
        row_key_field: opt_str_arg(o.row_key_field, "options.row_key_field")?,
    })
}

/// Stream every committed mutation of `table` into `topic` (NULL = `default.<table>`), exactly
/// once, from now on; creates missing topics. `options` may be NULL (all defaults). Stores a new
/// handle in `*out_stream`.
///
/// # Safety
/// `engine` NULL or live; `table` NULL or a C string; `topic` NULL or a C string; `options` NULL
/// or readable; `out_stream` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_create(
    engine: *const kabase_engine,
    table: *const c_char,
    topic: *const c_char,
    options: *const kabase_stream_options,
    out_stream: *mut *mut kabase_stream,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_stream, "out_stream", || {
            let e = handle(engine, "engine")?;
            let stream = e.engine.stream_table_to_topic(str_arg(table, "table")?, opt_str_arg(topic, "topic")?.as_deref(), &stream_options(options)?)?;
            Ok(kabase_stream { stream })
        })
    })
}

/// Consume `topic` into `table` exactly once: record key to row key, a JSON value's
/// `family:qualifier` fields to cells, a null field deletes the cell, a tombstone deletes the
/// row. The table must exist; the topic is created if missing. `options` may be NULL.
///
/// # Safety
/// `engine` NULL or live; `topic`, `table` NULL or C strings; `options` NULL or readable;
/// `out_stream` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_sink_create(
    engine: *const kabase_engine,
    topic: *const c_char,
    table: *const c_char,
    options: *const kabase_sink_options,
    out_stream: *mut *mut kabase_stream,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_stream, "out_stream", || {
            let e = handle(engine, "engine")?;
            let stream = e.engine.sink_topic_to_table(str_arg(topic, "topic")?, str_arg(table, "table")?, &sink_options(options)?)?;
            Ok(kabase_stream { stream })
        })
    })
}

/// A handle on the existing stream `name` (`KABASE_STREAM_NOT_FOUND` otherwise).
///
/// # Safety
/// `engine` NULL or live; `name` NULL or a C string; `out_stream` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_open(engine: *const kabase_engine, name: *const c_char, out_stream: *mut *mut kabase_stream, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || write_new(out_stream, "out_stream", || Ok(kabase_stream { stream: handle(engine, "engine")?.engine.change_stream(str_arg(name, "name")?)? })))
}

/// The stream's name (NUL-terminated, in a new string the caller frees with
/// `kabase_string_free`).
///
/// # Safety
/// `stream` NULL or live; `out_name` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_name(stream: *const kabase_stream, out_name: *mut *mut c_char, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || write_new_string(out_name, "out_name", || Ok(handle(stream, "stream")?.stream.name().to_string())))
}

/// Describe the stream's numbers into `*out_status`.
///
/// # Safety
/// `stream` NULL or live; `out_status` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_describe(stream: *const kabase_stream, out_status: *mut kabase_stream_status, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || {
        out_arg(out_status, "out_status")?;
        let d = handle(stream, "stream")?.stream.describe()?;
        write_out(out_status, status_of(&d));
        Ok(())
    })
}

fn status_of(d: &kabase_sdk::StreamDescription) -> kabase_stream_status {
    kabase_stream_status {
        kind: if d.kind == "topic_to_table" { KABASE_STREAM_TOPIC_TO_TABLE } else { KABASE_STREAM_TABLE_TO_TOPIC },
        state: match d.state.as_str() {
            "paused" => KABASE_STREAM_PAUSED,
            "failed" => KABASE_STREAM_FAILED,
            _ => KABASE_STREAM_RUNNING,
        },
        position: d.position,
        lag: d.lag,
    }
}

/// Describe the stream as a JSON object in a new string the caller frees with
/// `kabase_string_free`: `{"name", "kind", "table", "topics": [..], "state", "error", "position",
/// "lag", "offsets": [{"partition", "offset"}]}`.
///
/// # Safety
/// `stream` NULL or live; `out_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_describe_json(stream: *const kabase_stream, out_json: *mut *mut c_char, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || write_new_string(out_json, "out_json", || Ok(handle(stream, "stream")?.stream.describe()?.to_json())))
}

/// Stop moving data (a table-to-topic stream keeps capturing changes up to its `max_lag`);
/// survives restarts.
///
/// # Safety
/// `stream` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_pause(stream: *const kabase_stream, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(stream, "stream")?.stream.pause())
}

/// Move data again after `kabase_stream_pause`.
///
/// # Safety
/// `stream` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_resume(stream: *const kabase_stream, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(stream, "stream")?.stream.resume())
}

/// Remove the stream (its topics and table stay). The handle stays allocated until
/// `kabase_stream_free`; its later calls return `KABASE_STREAM_NOT_FOUND`.
///
/// # Safety
/// `stream` NULL or live; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_remove(stream: *const kabase_stream, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(stream, "stream")?.stream.remove())
}

/// Wait until the stream has no lag: `KABASE_TIMEOUT` after `timeout_ms`,
/// `KABASE_INVALID_ARGUMENT` at once when it is paused with lag. `out_status` may be NULL.
///
/// # Safety
/// `stream` NULL or live; `out_status` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_wait(stream: *const kabase_stream, timeout_ms: u64, out_status: *mut kabase_stream_status, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || {
        let d = handle(stream, "stream")?.stream.wait_caught_up(timeout_ms)?;
        if !out_status.is_null() {
            write_out(out_status, status_of(&d));
        }
        Ok(())
    })
}

/// Release a stream handle (NULL does nothing); the stream itself keeps running.
///
/// # Safety
/// `stream` NULL or a handle from this library, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_free(stream: *mut kabase_stream) {
    guard((), || free_handle(stream))
}

/// Snapshot, then stream (table-to-topic streams only): a consistent snapshot of the table and,
/// per partition of the stream's topics, the first offset after it. Read the rows with
/// `kabase_snapshot_rows`, the offsets with `kabase_snapshot_offset`; free with
/// `kabase_snapshot_free`.
///
/// # Safety
/// `stream` NULL or live; `out_snapshot` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_stream_snapshot(stream: *const kabase_stream, out_snapshot: *mut *mut kabase_snapshot, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || {
        write_new(out_snapshot, "out_snapshot", || {
            let s = handle(stream, "stream")?.stream.snapshot()?;
            Ok(kabase_snapshot {
                seq: s.seq,
                rows: kabase_row_batch::new(s.rows),
                offsets: s.offsets.into_iter().map(|o| (to_cstring(&o.topic), o.partition, o.offset)).collect(),
            })
        })
    })
}

/// The change sequence number the snapshot holds everything up to (0 for NULL).
///
/// # Safety
/// `snapshot` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_snapshot_seq(snapshot: *const kabase_snapshot) -> u64 {
    guard(0, || handle(snapshot, "snapshot").map(|s| s.seq).unwrap_or(0))
}

/// The snapshot's rows, as a row batch owned by the snapshot (read it with
/// `kabase_row_batch_len` / `kabase_row_batch_row`; never free it: it goes with the snapshot).
/// NULL for a NULL snapshot.
///
/// # Safety
/// `snapshot` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_snapshot_rows(snapshot: *const kabase_snapshot) -> *const kabase_row_batch {
    guard(std::ptr::null(), || handle(snapshot, "snapshot").map(|s| &s.rows as *const kabase_row_batch).unwrap_or(std::ptr::null()))
}

/// Number of partition offsets in the snapshot (0 for NULL).
///
/// # Safety
/// `snapshot` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_snapshot_offset_count(snapshot: *const kabase_snapshot) -> usize {
    guard(0, || handle(snapshot, "snapshot").map(|s| s.offsets.len()).unwrap_or(0))
}

/// Fill `*out_offset` with offset `index` of the snapshot: consume that partition from there to
/// continue the snapshot. Its topic string stays valid until the snapshot is freed.
///
/// # Safety
/// `snapshot` NULL or live; `out_offset` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_snapshot_offset(
    snapshot: *const kabase_snapshot,
    index: usize,
    out_offset: *mut kabase_topic_offset,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        out_arg(out_offset, "out_offset")?;
        let s = handle(snapshot, "snapshot")?;
        let (topic, partition, offset) = item_at(&s.offsets, index, "offset")?;
        write_out(out_offset, kabase_topic_offset { topic: topic.as_ptr(), partition: *partition, offset: *offset });
        Ok(())
    })
}

/// Release a snapshot (NULL does nothing); its rows and offsets become invalid.
///
/// # Safety
/// `snapshot` NULL or a snapshot from this library, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_snapshot_free(snapshot: *mut kabase_snapshot) {
    guard((), || free_handle(snapshot))
}

/// Store a new C string the caller frees with `kabase_string_free` in a checked out-parameter
/// (NULL there on failure).
fn write_new_string(out: *mut *mut c_char, what: &str, make: impl FnOnce() -> Result<String>) -> Result<()> {
    out_arg(out, what)?;
    write_out(out, std::ptr::null_mut());
    let s = make()?;
    write_out(out, to_cstring(&s).into_raw());
    Ok(())
}
