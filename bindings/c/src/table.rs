//! Tables: admin calls on the engine handle, data calls on a table handle, rows returned in a
//! caller-owned batch.

use std::ffi::{c_char, c_int};

use kabase_sdk::{ColumnValue, Result, Row, ScanOptions};

use crate::engine::kabase_engine;
use crate::ffi::{bytes_arg, call, free_handle, guard, handle, item_at, out_arg, slice_arg, str_arg, write_new, write_out};

/// A table handle (opaque). Made by `kabase_table_open`, released by `kabase_table_free`.
pub struct kabase_table {
    table: kabase_sdk::Table,
}

/// One column value to write (all buffers borrowed for the call only).
#[repr(C)]
pub struct kabase_column_value {
    /// Column family (must exist in the table).
    pub family: *const u8,
    /// Length of `family`.
    pub family_len: usize,
    /// Column qualifier (may be empty: NULL with length 0).
    pub qualifier: *const u8,
    /// Length of `qualifier`.
    pub qualifier_len: usize,
    /// The value (may be empty: NULL with length 0).
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// One cell of a row, pointing into the batch it came from.
#[repr(C)]
pub struct kabase_cell_view {
    /// Column family.
    pub family: *const u8,
    /// Length of `family`.
    pub family_len: usize,
    /// Column qualifier.
    pub qualifier: *const u8,
    /// Length of `qualifier`.
    pub qualifier_len: usize,
    /// Cell timestamp (ms since the epoch).
    pub timestamp: i64,
    /// The value.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// One row of a batch: its key and its cells (family, then qualifier, ascending; newest version
/// first within a column). Every pointer stays valid until the batch is freed.
#[repr(C)]
pub struct kabase_row_view {
    /// Row key.
    pub row: *const u8,
    /// Length of `row`.
    pub row_len: usize,
    /// The cells.
    pub cells: *const kabase_cell_view,
    /// Number of cells.
    pub cell_count: usize,
}

/// Rows returned to C (opaque): owned by the caller, released by `kabase_row_batch_free`.
pub struct kabase_row_batch {
    rows: Vec<Row>,
    views: Vec<Vec<kabase_cell_view>>,
}

impl kabase_row_batch {
    pub(crate) fn new(rows: Vec<Row>) -> kabase_row_batch {
        // The views point into the rows' heap buffers, which never move while the batch lives.
        let views = rows
            .iter()
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| kabase_cell_view {
                        family: c.family.as_ptr(),
                        family_len: c.family.len(),
                        qualifier: c.qualifier.as_ptr(),
                        qualifier_len: c.qualifier.len(),
                        timestamp: c.timestamp,
                        value: c.value.as_ptr(),
                        value_len: c.value.len(),
                    })
                    .collect()
            })
            .collect();
        kabase_row_batch { rows, views }
    }
}

fn columns_arg(columns: *const kabase_column_value, count: usize) -> Result<Vec<ColumnValue>> {
    slice_arg(columns, count, "columns")?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(ColumnValue {
                family: bytes_arg(c.family, c.family_len, &format!("columns[{i}].family"))?.to_vec(),
                qualifier: bytes_arg(c.qualifier, c.qualifier_len, &format!("columns[{i}].qualifier"))?.to_vec(),
                value: bytes_arg(c.value, c.value_len, &format!("columns[{i}].value"))?.to_vec(),
            })
        })
        .collect()
}

/// Config pairs from two parallel arrays of `count` C strings.
pub(crate) fn config_arg(keys: *const *const c_char, values: *const *const c_char, count: usize) -> Result<Vec<(String, String)>> {
    let keys = strings_arg(keys, count, "keys")?;
    let values = strings_arg(values, count, "values")?;
    Ok(keys.into_iter().zip(values).collect())
}

pub(crate) fn strings_arg(items: *const *const c_char, count: usize, what: &str) -> Result<Vec<String>> {
    slice_arg(items, count, what)?
        .iter().enumerate().map(|(i, p)| str_arg(*p, &format!("{what}[{i}]")).map(str::to_string)).collect()
}

/// Create table `name` (`table` or `namespace:table`) with `family_count` column families.
///
/// # Safety
/// `engine` NULL or live; `name` NULL or a C string; `families` NULL or `family_count` C strings.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_create(
    engine: *const kabase_engine,
    name: *const c_char,
    families: *const *const c_char,
    family_count: usize,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let e = handle(engine, "engine")?;
        let name = str_arg(name, "name")?;
        let families = strings_arg(families, family_count, "families")?;
        let refs: Vec<&str> = families.iter().map(String::as_str).collect();
        e.engine.create_table(name, &refs)
    })
}

/// Delete table `name` and all its data.
///
/// # Safety
/// `engine` NULL or live; `name` NULL or a C string; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_drop(engine: *const kabase_engine, name: *const c_char, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(engine, "engine")?.engine.delete_table(str_arg(name, "name")?))
}

/// Open a handle to the existing table `name` (`KABASE_TABLE_NOT_FOUND` otherwise).
///
/// # Safety
/// `engine` NULL or live; `name` NULL or a C string; `out_table` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_open(
    engine: *const kabase_engine,
    name: *const c_char,
    out_table: *mut *mut kabase_table,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || write_new(out_table, "out_table", || Ok(kabase_table { table: handle(engine, "engine")?.engine.table(str_arg(name, "name")?)? })))
}

/// Release a table handle (NULL does nothing).
///
/// # Safety
/// `table` is NULL or a handle from `kabase_table_open`, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_free(table: *mut kabase_table) {
    guard((), || free_handle(table))
}

/// Write `column_count` columns of row `row` atomically.
///
/// # Safety
/// `table` NULL or live; `row` `row_len` readable bytes; `columns` `column_count` entries.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_put(
    table: *const kabase_table,
    row: *const u8,
    row_len: usize,
    columns: *const kabase_column_value,
    column_count: usize,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        let t = handle(table, "table")?;
        let row = bytes_arg(row, row_len, "row")?;
        let cols = columns_arg(columns, column_count)?;
        t.table.put(row, &cols)
    })
}

/// Read the newest version of every column of `row` into a new batch in `*out_batch`: one row,
/// or none when the row has no cell. The caller frees the batch with `kabase_row_batch_free`.
///
/// # Safety
/// `table` NULL or live; `row` `row_len` readable bytes; `out_batch` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_get(
    table: *const kabase_table,
    row: *const u8,
    row_len: usize,
    out_batch: *mut *mut kabase_row_batch,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_batch, "out_batch", || {
            let t = handle(table, "table")?;
            Ok(kabase_row_batch::new(t.table.get(bytes_arg(row, row_len, "row")?)?.into_iter().collect()))
        })
    })
}

/// Read the newest version of every column of `row_count` rows in one call (the core's
/// multi-get) into a new batch in `*out_batch`: exactly `row_count` rows, in the order of the
/// keys; a row that has no cell is there with its key and `cell_count == 0`. Row `i` is
/// `rows[i]` of `row_lens[i]` bytes (every key non-empty). Each row is read consistently on its
/// own. The batch is the caller's: free it once with `kabase_row_batch_free`; on failure
/// `*out_batch` is NULL.
///
/// # Safety
/// `table` NULL or live; `rows` and `row_lens` NULL or `row_count` readable entries, `rows[i]`
/// `row_lens[i]` readable bytes; `out_batch` NULL or writable; `err_msg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_get_many(
    table: *const kabase_table,
    rows: *const *const u8,
    row_lens: *const usize,
    row_count: usize,
    out_batch: *mut *mut kabase_row_batch,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_batch, "out_batch", || {
            let t = handle(table, "table")?;
            let ptrs = slice_arg(rows, row_count, "rows")?;
            let lens = slice_arg(row_lens, row_count, "row_lens")?;
            let keys = ptrs
                .iter()
                .zip(lens)
                .enumerate()
                .map(|(i, (p, len))| bytes_arg(*p, *len, &format!("rows[{i}]")).map(<[u8]>::to_vec))
                .collect::<Result<Vec<_>>>()?;
            let got = t.table.get_many(&keys)?;
            let rows = keys.into_iter().zip(got).map(|(key, r)| r.unwrap_or(Row { row: key, cells: Vec::new() })).collect();
            Ok(kabase_row_batch::new(rows))
        })
    })
}

/// Delete the whole row `row`.
///
/// # Safety
/// `table` NULL or live; `row` `row_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_delete_row(table: *const kabase_table, row: *const u8, row_len: usize, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(table, "table")?.table.delete(bytes_arg(row, row_len, "row")?))
}

/// Scan rows from `start` (inclusive; empty = table start) to `stop` (exclusive; empty = table
/// end), at most `limit` rows (0 = no limit), into a new batch in `*out_batch` (free it with
/// `kabase_row_batch_free`).
///
/// # Safety
/// `table` NULL or live; `start`/`stop` readable for their lengths; `out_batch` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_table_scan(
    table: *const kabase_table,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    limit: u64,
    out_batch: *mut *mut kabase_row_batch,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        write_new(out_batch, "out_batch", || {
            let t = handle(table, "table")?;
            let opts = ScanOptions {
                start: bytes_arg(start, start_len, "start")?.to_vec(),
                stop: bytes_arg(stop, stop_len, "stop")?.to_vec(),
                limit: if limit == 0 { None } else { Some(limit) },
                ..ScanOptions::default()
            };
            Ok(kabase_row_batch::new(t.table.scan(&opts)?.rows))
        })
    })
}

/// Number of rows in a batch (0 for NULL).
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn kabase_row_batch_len(batch: *const kabase_row_batch) -> usize {
    guard(0, || handle(batch, "batch").map(|b| b.rows.len()).unwrap_or(0))
}

/// Fill `*out_row` with row `index` of the batch; its pointers stay valid until the batch is
/// freed. An index past the end is `KABASE_INVALID_ARGUMENT`.
///
/// # Safety
/// `batch` NULL or live; `out_row` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_row_batch_row(
    batch: *const kabase_row_batch,
    index: usize,
    out_row: *mut kabase_row_view,
    err_msg: *mut *mut c_char,
) -> c_int {
    call(err_msg, || {
        out_arg(out_row, "out_row")?;
        let b = handle(batch, "batch")?;
        let (row, cells) = (item_at(&b.rows, index, "row")?, item_at(&b.views, index, "row")?);
        write_out(out_row, kabase_row_view { row: row.row.as_ptr(), row_len: row.row.len(), cells: cells.as_ptr(), cell_count: cells.len() });
        Ok(())
    })
}

/// Release a row batch (NULL does nothing); every view read from it becomes invalid.
///
/// # Safety
/// `batch` NULL or a batch from this library, freed once.
#[no_mangle]
pub unsafe extern "C" fn kabase_row_batch_free(batch: *mut kabase_row_batch) {
    guard((), || free_handle(batch))
}
