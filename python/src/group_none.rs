//! Consumer-group membership of a `kabase._native.Consumer`.
//!
//! Stand-in for builds without the `groups` feature: the core has no group coordinator, so a
//! consumer with a `group_id` fails with `Unsupported` (and `HAS_GROUPS` is false).

use std::time::Duration;

use kabase::log::Consumer;
use kabase::{Engine, Error, ErrorCode};

/// Whether this build has consumer groups.

/// Kind of rebalance event.
pub enum EventKind {
    /// Partitions taken away.
    Revoked,
    /// Partitions given.
    Assigned,
    /// Partitions lost without a chance to commit.
    Lost,
}

/// A rebalance event and its partitions.
pub type Event = (EventKind, Vec<(String, u32)>);

/// A consumer's membership in its group.
pub struct Member {
    _never: std::convert::Infallible,
}

fn unsupported() -> Error {
    Error::new(ErrorCode::Unsupported, "consumer groups need the core's group coordinator, which this build does not have yet")
}

impl Member {
    pub fn new(_engine: &Engine, _group_id: &str, _configs: &[(String, String)], _consumer: &mut Consumer) -> Result<Member, Error> {
        Err(unsupported())
    }
    pub fn poll(&mut self, _consumer: &mut Consumer, _topics: Vec<(String, u32)>, _timeout: Duration) -> Result<Vec<Event>, Error> {
        Err(unsupported())
    }
    pub fn unsubscribe(&mut self, _consumer: &mut Consumer) -> Result<Vec<Event>, Error> {
        Err(unsupported())
    }
    pub fn commit(&self, _offsets: Vec<(String, u32, i64, String)>) -> Result<(), Error> {
        Err(unsupported())
    }
    pub fn committed(&self, _topic: String, _partition: u32) -> Result<Option<(i64, String)>, Error> {
        Err(unsupported())
    }
    pub fn generation(&self) -> i32 {
        -1
    }
    pub fn member_id(&self) -> String {
        String::new()
    }
    pub fn close(self, _consumer: &mut Consumer) -> Result<Vec<Event>, Error> {
        Ok(Vec::new())
    }
}
