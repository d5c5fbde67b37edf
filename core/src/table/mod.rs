//! Tables: HBase's data model on an LSM (fjall).

/// The engine's tables state; one per open engine.
pub(crate) struct TablesState {}

impl TablesState {
    /// Open or recover the tables of a data directory.
    pub(crate) fn open(_dir: &std::path::Path, _db: &fjall::Database, _options: &crate::EngineOptions) -> crate::Result<Self> {
        Ok(TablesState {})
    }

    /// Stop background work and persist.
    pub(crate) fn close(&self) -> crate::Result<()> {
        Ok(())
    }
}
