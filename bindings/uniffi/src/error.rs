//! The one error type of the bindings: the core's stable code number and name, and the detail.
//! No other taxonomy; the host languages see `KabaseException.Failed` (Kotlin),
//! `KabaseError.Failed` (Swift), `KabaseError.Failed` (Python).

/// Every failure of the engine.
#[derive(Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KabaseError {
    /// A call failed.
    #[error("{code_name} ({code}): {detail}")]
    Failed {
        /// Stable number of the core's `ErrorCode` (e.g. 203).
        code: i32,
        /// Stable name of the code (e.g. `TABLE_NOT_FOUND`).
        code_name: String,
        /// What went wrong (text for people; match on `code` or `code_name`).
        detail: String,
    },
}

impl KabaseError {
    /// The stable code number.
    pub fn code(&self) -> i32 {
        match self {
            KabaseError::Failed { code, .. } => *code,
        }
    }
}

impl From<kabase_sdk::Error> for KabaseError {
    fn from(e: kabase_sdk::Error) -> Self {
        KabaseError::Failed { code: e.code().as_i32(), code_name: e.code().name().to_string(), detail: e.message().to_string() }
    }
}

/// One error code: its stable number and name.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ErrorCodeInfo {
    /// Stable number (e.g. 203).
    pub code: i32,
    /// Stable name (e.g. `TABLE_NOT_FOUND`).
    pub code_name: String,
}

/// Every error code of the core, in numeric order (the same list the C header and the Node
/// package are generated from).
#[uniffi::export]
pub fn error_codes() -> Vec<ErrorCodeInfo> {
    kabase_sdk::error_codes().iter().map(|c| ErrorCodeInfo { code: c.as_i32(), code_name: c.name().to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabase_sdk::ErrorCode;

    #[test]
    fn maps_code_number_name_and_detail() {
        let e: KabaseError = kabase_sdk::Error::new(ErrorCode::TableNotFound, "table x").into();
        assert_eq!(e, KabaseError::Failed { code: 203, code_name: "TABLE_NOT_FOUND".into(), detail: "table x".into() });
        assert_eq!(e.code(), 203);
        assert_eq!(e.to_string(), "TABLE_NOT_FOUND (203): table x");
    }

    #[test]
    fn lists_every_core_code() {
        let codes = error_codes();
        assert_eq!(codes.len(), ErrorCode::all().len());
        assert!(codes.windows(2).all(|w| w[0].code < w[1].code));
        assert!(codes.contains(&ErrorCodeInfo { code: 108, code_name: "INVALID_NAME".into() }));
    }
}
