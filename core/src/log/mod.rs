//! Topics: Kafka's partition log in Kafka's own on-disk format.

pub mod batch;
pub mod compression;
pub mod partitioner;

/// The engine's topics state; one per open engine.
pub(crate) struct TopicsState {}

impl TopicsState {
    /// Open or recover the topics of a data directory.
    pub(crate) fn open(_dir: &std::path::Path, _options: &crate::EngineOptions) -> crate::Result<Self> {
        Ok(TopicsState {})
    }

    /// Stop background work and persist.
    pub(crate) fn close(&self) -> crate::Result<()> {
        Ok(())
    }
}
