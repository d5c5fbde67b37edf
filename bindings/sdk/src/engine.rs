//! The engine handle of the facade.

use std::path::{Path, PathBuf};

use kabase::{EngineOptions, Error, Result};

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

    /// Open an engine with options: in `path` (`None` = [`Engine::default_dir`]), or in memory
    /// (`in_memory`, which takes no path), with `num_partitions` partitions for topics created on
    /// first use (at least 1).
    pub fn open_with(path: Option<&Path>, in_memory: bool, num_partitions: u32) -> Result<Engine> {
        let options = EngineOptions { in_memory, num_partitions, ..EngineOptions::default() };
        let core = match (path, in_memory) {
            (Some(_), true) => return Err(Error::invalid("give either a path or memory=True, not both")),
            (None, true) => kabase::Engine::open_in_memory_with(options)?,
            (Some(p), false) => kabase::Engine::open_with(p, options)?,
            (None, false) => kabase::Engine::open_with(kabase::Engine::default_dir(), options)?,
        };
        Ok(Engine { core })
    }

    /// The directory an engine opens when the user names none: `$KABASE_DATA_DIR` when set and
    /// not empty, else `./kabase-data`.
    pub fn default_dir() -> PathBuf {
        kabase::Engine::default_dir()
    }

    /// Whether both handles refer to the same open engine (one directory opened twice in a
    /// process is one engine).
    pub fn same_as(&self, other: &Engine) -> bool {
        self.core.same_as(&other.core)
    }

    /// Partitions of a topic created on first use.
    pub fn num_partitions(&self) -> u32 {
        self.core.options().num_partitions
    }

    /// The data directory as a path.
    pub fn dir(&self) -> PathBuf {
        self.core.dir().to_path_buf()
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
    fn open_with_options() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open_with(Some(d.path()), false, 3).unwrap();
        assert_eq!(e.num_partitions(), 3);
        assert!(!e.is_in_memory());
        let again = Engine::open_with(Some(d.path()), false, 3).unwrap();
        assert!(e.same_as(&again), "one directory opened twice is one engine");
        let m = Engine::open_with(None, true, 1).unwrap();
        assert!(m.is_in_memory() && !m.same_as(&e));
        assert_eq!(Engine::open_with(Some(d.path()), true, 1).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(Engine::open_with(None, true, 0).unwrap_err().code(), ErrorCode::InvalidConfig);
        e.close().unwrap();
        m.close().unwrap();
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
