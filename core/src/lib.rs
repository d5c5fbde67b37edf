//! kabase: one embedded engine that holds HBase-style tables and Kafka-style topics side by side
//! in one process and one data directory, and streams between them exactly once.
//!
//! - [`Engine`] opens a data directory (or memory) and owns all background work.
//! - Tables ([`table`]): namespaces, column families, versions, TTL, compression, the four delete
//!   markers, filters ([`filter`]), check-and-mutate, counters, row atomicity.
//! - Topics ([`log`], [`group`]): partitions in Kafka's own on-disk segment format, retention and
//!   compaction, idempotent and transactional producers, consumer groups with Kafka's assignors.
//!
//! The core knows no host language: bindings (C, Python, Node, UniFFI) sit on top of it.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod cell;
pub mod engine;
pub mod error;
pub mod filter;
pub mod group;
pub mod log;
pub mod table;
pub(crate) mod util;

pub use cell::{Cell, CellKind};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, ErrorCode, Result};
// Merge note (ffi branch): `Compression` exists in both `table` and `log`, and `TopicPartition`
// in both `log` (u32 partition) and `group` (i32 partition); the root re-exports the table's
// `Compression` and the log's `TopicPartition`; the others stay at `log::Compression` and
// `group::TopicPartition`.
pub use log::{
    Acks, CommittedOffsets, ConfigEntry, Consumer, ConsumerConfig, ConsumerRecord, Header, IsolationLevel, NewTopic,
    OffsetAndTimestamp, OffsetReset, PartitionDescription, Producer, ProducerConfig, ProducerRecord, RecordMetadata, SendFuture,
    TimestampType, TopicDescription, TopicPartition, TxnOffset, TxnOffsetCommitter,
};
pub use group::{
    Assignor, ConsumerGroupMetadata, GroupMembership, GroupState, MembershipConfig, OffsetAndMetadata, RebalanceEvent,
    RebalanceListener,
};
pub use util::now_ms;
pub use table::{
    Append, BloomType, CheckAndMutate, CheckAndMutateResult, CompareOperator, Compression, Condition, Delete, Durability,
    FamilyDescriptor, Get, Increment, KeepDeletedCells, Mutation, NamespaceDescriptor, Put, RegionInfo, RowMutation,
    RowMutations, RowResult, Scan, Scanner, Table, TableDescriptor, TableName, TimeRange,
};
