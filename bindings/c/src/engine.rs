//! Engine handles: open, close, sync, free.

use std::ffi::{c_char, c_int};

use crate::ffi::{call, free_handle, guard, handle, str_arg, write_new};

/// An open engine (opaque). Made by `kabase_engine_open` or `kabase_engine_open_in_memory`,
/// released by `kabase_engine_free`.
pub struct kabase_engine {
    pub(crate) engine: kabase_sdk::Engine,
}

/// Open (or create) a durable engine in the directory `path` and store a new handle in
/// `*out_engine`. Opening a directory this process already has open yields another handle to the
/// same engine; another process holding it yields `KABASE_ENGINE_LOCKED`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out_engine` is NULL or writable; `err_msg` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_engine_open(path: *const c_char, out_engine: *mut *mut kabase_engine, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || write_new(out_engine, "out_engine", || Ok(kabase_engine { engine: kabase_sdk::Engine::open(str_arg(path, "path")?)? })))
}

/// Open an engine that keeps nothing once closed, storing a new handle in `*out_engine`.
///
/// # Safety
/// `out_engine` is NULL or writable; `err_msg` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_engine_open_in_memory(out_engine: *mut *mut kabase_engine, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || write_new(out_engine, "out_engine", || Ok(kabase_engine { engine: kabase_sdk::Engine::open_in_memory()? })))
}

/// Make everything written so far durable.
///
/// # Safety
/// `engine` is NULL or a live handle; `err_msg` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_engine_sync(engine: *const kabase_engine, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(engine, "engine")?.engine.sync())
}

/// Close the engine: stop background work, persist, release the directory. Every handle to this
/// engine (and every table or topic handle made from it) returns `KABASE_CLOSED` afterwards.
/// Closing twice is OK. The handle itself stays allocated until `kabase_engine_free`.
///
/// # Safety
/// `engine` is NULL or a live handle; `err_msg` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kabase_engine_close(engine: *const kabase_engine, err_msg: *mut *mut c_char) -> c_int {
    call(err_msg, || handle(engine, "engine")?.engine.close())
}

/// 1 if the engine was closed, 0 if it is open, -1 if `engine` is NULL.
///
/// # Safety
/// `engine` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn kabase_engine_is_closed(engine: *const kabase_engine) -> c_int {
    guard(-1, || match handle(engine, "engine") {
        Ok(e) => c_int::from(e.engine.is_closed()),
        Err(_) => -1,
    })
}

/// Release an engine handle (NULL does nothing). Freeing the last handle of an engine that was not
/// closed persists it and, for an in-memory engine, discards it; call `kabase_engine_close` first
/// to see errors.
///
/// # Safety
/// `engine` is NULL or a handle from this library, freed once, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kabase_engine_free(engine: *mut kabase_engine) {
    guard((), || free_handle(engine))
}
