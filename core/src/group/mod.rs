//! Consumer groups: membership, generations, rebalances and Kafka's assignors.

/// The engine's consumer groups state; one per open engine.
pub(crate) struct GroupsState {}

impl GroupsState {
    /// Open or recover the consumer groups of a data directory.
    pub(crate) fn open(_dir: &std::path::Path, _options: &crate::EngineOptions) -> crate::Result<Self> {
        Ok(GroupsState {})
    }

    /// Stop background work and persist.
    pub(crate) fn close(&self) -> crate::Result<()> {
        Ok(())
    }
}
