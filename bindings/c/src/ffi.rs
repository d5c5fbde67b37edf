//! The plumbing every entry point shares: the panic boundary, status codes, the error-message
//! out-parameter, and checked conversions of C arguments.
//!
//! Every `extern "C"` function of this crate runs its body through [`call`], which
//! - clears `*err_msg` first (when `err_msg` is not NULL), so callers never see stale pointers;
//! - catches any panic and turns it into `KABASE_INTERNAL` with the panic message;
//! - turns the core's `Error` into its stable code number and, when asked, a message string that
//!   the caller owns and frees with `kabase_string_free`.

use std::any::Any;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use kabase_sdk::{Error, Result};

use crate::codes::{KABASE_INTERNAL, KABASE_OK};

/// Run `body` behind the panic boundary and report its outcome as a status code.
pub(crate) fn call(err_msg: *mut *mut c_char, body: impl FnOnce() -> Result<()>) -> c_int {
    if !err_msg.is_null() {
        // SAFETY: the caller passed a writable `char **` (documented contract); NULL was ruled out.
        unsafe { *err_msg = std::ptr::null_mut() };
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => KABASE_OK,
        Ok(Err(e)) => {
            set_message(err_msg, &format!("{}: {}", e.code().name(), e));
            e.code().as_i32()
        }
        Err(payload) => {
            set_message(err_msg, &format!("INTERNAL: panic inside kabase: {}", panic_text(&*payload)));
            KABASE_INTERNAL
        }
    }
}

/// Run a body that cannot report an error (free functions, accessors) behind the panic boundary;
/// a panic yields `fallback`.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

fn set_message(err_msg: *mut *mut c_char, text: &str) {
    if err_msg.is_null() {
        return;
    }
    let c = to_cstring(text);
    // SAFETY: non-NULL `char **` from the caller; ownership of the string passes to the caller,
    // who releases it with `kabase_string_free`.
    unsafe { *err_msg = c.into_raw() };
}

/// A C string from Rust text; interior NUL bytes (never expected) become U+FFFD.
pub(crate) fn to_cstring(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// A borrowed UTF-8 string argument; NULL and invalid UTF-8 are `InvalidArgument` naming `what`.
pub(crate) fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} must not be NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string that outlives the call (documented).
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| Error::invalid(format!("{what} is not valid UTF-8 (bad byte at {})", e.valid_up_to())))
}

/// An optional string argument: NULL is `None`; invalid UTF-8 is `InvalidArgument`.
pub(crate) fn opt_str_arg(p: *const c_char, what: &str) -> Result<Option<String>> {
    if p.is_null() {
        return Ok(None);
    }
    str_arg(p, what).map(|s| Some(s.to_string()))
}

/// A borrowed byte buffer argument. `len == 0` accepts NULL (the empty buffer); otherwise NULL is
/// `InvalidArgument` naming `what`.
pub(crate) fn bytes_arg<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what} length {len} is too large")));
    }
    // SAFETY: the caller passes `len` readable bytes at `p` that outlive the call (documented).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A borrowed array argument of `count` items; NULL is accepted only when `count` is 0.
pub(crate) fn slice_arg<'a, T>(p: *const T, count: usize, what: &str) -> Result<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL but its count is {count}")));
    }
    // SAFETY: the caller passes `count` readable items at `p` that outlive the call (documented).
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// Item `index` of a batch's items; past the end is `InvalidArgument` naming `what`.
pub(crate) fn item_at<'a, T>(items: &'a [T], index: usize, what: &str) -> Result<&'a T> {
    items.get(index).ok_or_else(|| Error::invalid(format!("{what} index {index} is past the end ({} items)", items.len())))
}

/// A borrowed handle argument; NULL is `InvalidArgument` naming `what`.
pub(crate) fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: a non-NULL handle was made by this library's `_open`/`_new` and not yet freed
    // (documented contract).
    unsafe { p.as_ref() }.ok_or_else(|| Error::invalid(format!("{what} handle must not be NULL")))
}

/// Check an out-parameter is not NULL.
pub(crate) fn out_arg<T>(p: *mut T, what: &str) -> Result<()> {
    if p.is_null() {
        Err(Error::invalid(format!("out-parameter {what} must not be NULL")))
    } else {
        Ok(())
    }
}

/// Write `value` into a checked out-parameter.
pub(crate) fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: `p` was checked non-NULL with `out_arg`, and points to writable storage (contract).
    unsafe { p.write(value) };
}

/// Move `value` into a new heap handle the caller owns.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// The shape of every `_new`/`_open`/`_create` entry point: check the out-parameter, set it to
/// NULL, make the value, and store a new handle the caller owns (NULL stays there on failure).
pub(crate) fn write_new<T>(out: *mut *mut T, what: &str, make: impl FnOnce() -> Result<T>) -> Result<()> {
    out_arg(out, what)?;
    write_out(out, std::ptr::null_mut());
    let value = make()?;
    write_out(out, into_handle(value));
    Ok(())
}

/// Free a handle made by [`into_handle`]; NULL is a no-op.
pub(crate) fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: `p` came from `into_handle` and is freed once (documented contract).
        drop(unsafe { Box::from_raw(p) });
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use kabase_sdk::ErrorCode;

    #[test]
    fn panics_become_internal_with_message() {
        let mut msg: *mut c_char = std::ptr::null_mut();
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let rc = call(&mut msg, || panic!("boom {}", 7));
        std::panic::set_hook(prev);
        assert_eq!(rc, KABASE_INTERNAL);
        let text = unsafe { CString::from_raw(msg) }.into_string().unwrap();
        assert!(text.contains("boom 7"), "{text}");
    }

    #[test]
    fn errors_become_their_code() {
        let mut msg: *mut c_char = std::ptr::null_mut();
        let rc = call(&mut msg, || Err(Error::new(ErrorCode::TableNotFound, "no table t")));
        assert_eq!(rc, 203);
        let text = unsafe { CString::from_raw(msg) }.into_string().unwrap();
        assert_eq!(text, "TABLE_NOT_FOUND: no table t");
        assert_eq!(call(std::ptr::null_mut(), || Err(Error::invalid("x"))), 103);
        assert_eq!(call(std::ptr::null_mut(), || Ok(())), 0);
    }

    #[test]
    fn string_args_are_checked() {
        assert_eq!(str_arg(std::ptr::null(), "name").unwrap_err().code(), ErrorCode::InvalidArgument);
        let bad = [0xffu8, 0xfe, 0];
        let e = str_arg(bad.as_ptr().cast(), "name").unwrap_err();
        assert!(e.message().contains("UTF-8"));
        assert_eq!(str_arg(c"ok".as_ptr(), "name").unwrap(), "ok");
        assert!(bytes_arg(std::ptr::null(), 0, "v").unwrap().is_empty());
        assert!(bytes_arg(std::ptr::null(), 3, "v").is_err());
    }
}
