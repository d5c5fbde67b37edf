//! The C ABI of kabase (`libkabase.so` / `libkabase.a`, header `include/kabase.h`).
//!
//! Conventions, the same for every function:
//!
//! - **Status codes.** Every call that can fail returns an `int`: `KABASE_OK` (0) or the stable
//!   number of the core's error code (`KABASE_TABLE_NOT_FOUND`, ...). `kabase_status_name` names
//!   a status.
//! - **Error messages.** Such calls take a last `char **err_msg` out-parameter. Pass NULL if you
//!   do not want the message. Otherwise `*err_msg` is set to NULL on success and to a message on
//!   failure; the caller owns that string and frees it with `kabase_string_free`.
//! - **Handles.** Opaque pointers made by `_open`/`_new` functions and released by the matching
//!   `_free` function, exactly once. `kabase_engine_close` closes the engine but leaves the handle
//!   to be freed; every later call through it (or a table or topic handle made from it) returns
//!   `KABASE_CLOSED`. A NULL handle or a NULL required pointer returns `KABASE_INVALID_ARGUMENT`,
//!   never a crash. `_free(NULL)` does nothing.
//! - **Panics** never cross the boundary: a panic inside the library becomes `KABASE_INTERNAL`.
//! - **Strings** passed in are NUL-terminated UTF-8 (invalid UTF-8 is `KABASE_INVALID_ARGUMENT`);
//!   byte buffers are pointer plus length and may be NULL when the length is 0.
//! - **Buffers returned to C** (row and record batches) are owned by the caller and released with
//!   their one `_free` function; pointers read out of a batch stay valid until that batch is freed.
//! - Handles are thread-safe: one engine handle may be used from many threads at once.

#![allow(non_camel_case_types)]
#![warn(missing_docs)]

mod codes;
mod engine;
mod ffi;
mod stream;
mod table;
mod topic;

pub use codes::*;
pub use engine::*;
pub use stream::*;
pub use table::*;
pub use topic::*;

use std::ffi::{c_char, c_int, CString};

/// The NUL-terminated version string of the library, e.g. "0.1.0" (same as `KABASE_VERSION`).
/// Static: never free it.
#[no_mangle]
pub extern "C" fn kabase_version() -> *const c_char {
    static VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}

/// The symbolic name of a status code ("OK", "TABLE_NOT_FOUND", ...), or "UNKNOWN" for a
/// number that is no status. Static: never free it.
#[no_mangle]
pub extern "C" fn kabase_status_name(status: c_int) -> *const c_char {
    ffi::guard(c"UNKNOWN".as_ptr(), || {
        codes::STATUS_NAMES.iter().find(|(code, _)| *code == status).map(|(_, name)| name.as_ptr()).unwrap_or(c"UNKNOWN".as_ptr())
    })
}

/// Free a string this library returned (an `err_msg`). NULL does nothing.
///
/// # Safety
/// `s` is NULL or a string from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kabase_string_free(s: *mut c_char) {
    ffi::guard((), || {
        if !s.is_null() {
            // SAFETY: per the contract `s` came from `CString::into_raw` in this library.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_is_the_workspace_version() {
        let v = unsafe { CStr::from_ptr(kabase_version()) }.to_str().unwrap();
        assert_eq!(v, kabase_sdk::VERSION);
    }

    #[test]
    fn status_names_cover_every_core_code() {
        let name = |n| unsafe { CStr::from_ptr(kabase_status_name(n)) }.to_str().unwrap();
        assert_eq!(name(0), "OK");
        for c in kabase_sdk::error_codes() {
            assert_eq!(name(c.as_i32()), c.name());
        }
        assert_eq!(name(-5), "UNKNOWN");
    }
}
