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
pub mod stream;
pub mod table;
pub(crate) mod util;

pub use cell::{Cell, CellKind};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, ErrorCode, Result};
pub use group::{
    Assignor, ConsumerGroupMetadata, GroupMembership, GroupState, MembershipConfig, OffsetAndMetadata, RebalanceEvent,
    RebalanceListener,
};
// `Compression` at the crate root is the table family's (HBase names); the topic codec is
// `kabase::log::Compression`.
pub use log::{
    Acks, CommittedOffsets, ConfigEntry, Consumer, ConsumerConfig, ConsumerRecord, Header, IsolationLevel, NewTopic,
    OffsetAndTimestamp, OffsetReset, PartitionDescription, Producer, ProducerConfig, ProducerRecord, RecordMetadata, SendFuture,
    TimestampType, TopicDescription, TopicPartition, TxnOffset, TxnOffsetCommitter,
};
pub use util::now_ms;
pub use table::{
    Append, BloomType, CheckAndMutate, CheckAndMutateResult, ColumnSelection, CompareOperator, Compression, Condition, Delete,
    DeleteSpec, Durability,
    FamilyDescriptor, Get, Increment, KeepDeletedCells, Mutation, NamespaceDescriptor, Put, RegionInfo, RowMutation,
    PutCell, RowMutations, RowResult, RowView, CellView, Scan, Scanner, Table, TableDescriptor, TableName, TimeRange,
};

/// The README's Rust example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
