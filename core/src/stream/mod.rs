//! Change streams: table changes into topics, and topics into tables, exactly once.
//!
//! - [`route`]: which cells go to which topics (the hbase-connectors proxy's rules).
//! - [`record`]: the change record (JSON schema and compact binary format).
//! - [`partition`]: partitioning by row key, by column family, or fixed; the record plan.
//! - [`outbox`]: the outbox entries written in the same atomic batch as a mutation.
//! - [`spec`]: stream definitions and what `describe` reports.
//! - `state`: the commit hook, backpressure, the registry; `relay`: outbox to topic;
//!   `sink`: topic to table.
//!
//! Entry points are methods of [`crate::Engine`]: [`crate::Engine::stream_table_to_topic`],
//! [`crate::Engine::sink_topic_to_table`], [`crate::Engine::describe_streams`],
//! [`crate::Engine::pause_stream`], [`crate::Engine::resume_stream`],
//! [`crate::Engine::remove_stream`], [`crate::Engine::snapshot_stream`],
//! [`crate::Engine::await_stream`].
//!
//! Exactly once, table to topic: a mutation's change is written to the stream's outbox in the
//! same atomic LSM batch as the mutation (through the table commit path's hook), so an
//! acknowledged mutation always has its outbox entry and a failed one never does. The relay
//! appends outbox entries in commit order and deletes them only once the appends are on disk;
//! a replay after a crash is de-duplicated against the log (see `relay`).
//!
//! Exactly once, topic to table: the sink writes its consumed offsets in the same atomic LSM
//! batch as the cells (see `sink`).

mod api;
pub mod outbox;
pub mod partition;
pub mod record;
pub(crate) mod relay;
pub mod route;
pub(crate) mod sink;
pub mod spec;
pub(crate) mod state;

pub use api::StreamSnapshot;
pub use partition::{Partitioning, PlannedRecord, Planner};
pub use record::{BytesEncoding, ChangeCell, ChangeRecord, Operation, RecordFormat, RecordShape};
pub use relay::{HEADER_SEQ, HEADER_STREAM};
pub use route::{RouteAction, RouteRule, RouteRules};
pub use spec::{Backpressure, SinkMapping, SinkSpec, StreamInfo, StreamKind, StreamSpec, StreamState};
pub(crate) use state::StreamsState;
