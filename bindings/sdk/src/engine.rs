//! The engine handle of the facade.

use kabase::{Error, Result};

/// An open kabase engine: one data directory (or memory) holding tables and topics.
///
/// Cheap to clone (an `Arc` inside); all clones share one engine. After [`Engine::close`] every
/// call on it, or on a table or topic handle made from it, fails with
/// [`kabase::ErrorCode::Closed`].
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) core: kabase::Engine,
}

impl Engine {
    /// Open (or create) a durable engine in the directory `path`.
    ///
    /// An empty path is refused with [`kabase::ErrorCode::InvalidArgument`].
    pub fn open(path: &str) -> Result<Engine> {
        if path.is_empty() {
            return Err(Error::invalid("engine path must not be empty"));
        }
        Ok(Engine { core: kabase::Engine::open(path)? })
    }

    /// Open an engine that keeps nothing once closed.
    pub fn open_in_memory() -> Result<Engine> {
        Ok(Engine { core: kabase::Engine::open_in_memory()? })
    }

    /// Wrap an engine the caller already opened with the core's API.
    pub fn from_core(core: kabase::Engine) -> Engine {
        Engine { core }
    }

    /// The core engine handle (for bindings that need a core API the facade does not cover yet).
    pub fn core(&self) -> &kabase::Engine {
        &self.core
    }

    /// The data directory, as a string (lossy for non-UTF-8 paths).
    pub fn path(&self) -> String {
        self.core.dir().to_string_lossy().into_owned()
    }

    /// Whether the engine keeps nothing once closed.
    pub fn is_in_memory(&self) -> bool {
        self.core.options().in_memory
    }

    /// Whether [`Engine::close`] was called (on this handle or any other of the same engine).
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Make everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        self.core.sync()
    }

    /// Stop background work, persist and release the directory. Closing twice is a no-op.
    pub fn close(&self) -> Result<()> {
        self.core.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabase::ErrorCode;

    #[test]
    fn open_close_reopen() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().to_str().unwrap();
        let e = Engine::open(path).unwrap();
        assert!(!e.is_in_memory());
        assert!(e.path().ends_with(d.path().file_name().unwrap().to_str().unwrap()));
        e.sync().unwrap();
        e.close().unwrap();
        e.close().unwrap();
        assert!(e.is_closed());
        assert_eq!(e.sync().unwrap_err().code(), ErrorCode::Closed);
        drop(e);
        let again = Engine::open(path).unwrap();
        again.close().unwrap();
    }

    #[test]
    fn empty_path_is_invalid() {
        assert_eq!(Engine::open("").unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn in_memory_engine() {
        let e = Engine::open_in_memory().unwrap();
        assert!(e.is_in_memory());
        let clone = e.clone();
        e.close().unwrap();
        assert!(clone.is_closed());
    }
}
