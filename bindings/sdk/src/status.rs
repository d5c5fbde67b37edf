//! Status codes: the core's [`ErrorCode`] numbers plus `0` for success. No new taxonomy.

use kabase::{Error, ErrorCode};

/// The status every binding reports for success (the C ABI's `KABASE_OK`).
pub const STATUS_OK: i32 = 0;

/// The status number of an error: its [`ErrorCode`]'s stable number (never `0`).
pub fn status_of(err: &Error) -> i32 {
    err.code().as_i32()
}

/// Every error code of the core, in numeric order; bindings generate their constant tables from
/// this list.
pub fn error_codes() -> &'static [ErrorCode] {
    ErrorCode::all()
}

/// The code with this symbolic name (e.g. `"TABLE_NOT_FOUND"`), if any.
pub fn code_by_name(name: &str) -> Option<ErrorCode> {
    ErrorCode::all().iter().copied().find(|c| c.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_code_collides_with_ok() {
        assert!(error_codes().iter().all(|c| c.as_i32() != STATUS_OK));
    }

    #[test]
    fn names_round_trip() {
        for c in error_codes() {
            assert_eq!(code_by_name(c.name()), Some(*c));
        }
        assert_eq!(code_by_name("NO_SUCH_THING"), None);
    }

    #[test]
    fn status_is_the_code_number() {
        let e = Error::new(ErrorCode::TopicNotFound, "x");
        assert_eq!(status_of(&e), 300);
    }
}
