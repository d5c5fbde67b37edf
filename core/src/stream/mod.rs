//! Change streams: table changes into topics, and topics into tables, exactly once.
//!
//! - [`route`]: which cells go to which topics (the hbase-connectors proxy's rules).
//! - [`record`]: the change record (JSON schema and compact binary format).
//! - [`partition`]: partitioning by row key, by column family, or fixed; the record plan.
//! - [`outbox`]: the outbox entries written in the same atomic batch as a mutation.

pub mod outbox;
pub mod partition;
pub mod record;
pub mod route;

pub use partition::{Partitioning, PlannedRecord, Planner};
pub use record::{BytesEncoding, ChangeCell, ChangeRecord, Operation, RecordFormat, RecordShape};
pub use route::{RouteAction, RouteRule, RouteRules};
