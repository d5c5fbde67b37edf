//! Consumer groups: membership, generations, rebalances, committed offsets and Kafka's assignors.
//!
//! - [`assignor`]: range, roundrobin, sticky and cooperative-sticky, computing what Kafka's Java
//!   classes compute.
//! - [`GroupMembership`]: the handle a consumer owns to join a group, follow rebalances (with a
//!   [`RebalanceListener`]), heartbeat, commit offsets and leave.
//! - The coordinator (inside the engine): groups, states, generations, session and poll
//!   timeouts, static membership. A background thread owned by the engine expires members.
//! - [`offsets`]: committed offsets as Kafka's `__consumer_offsets` records in an [`OffsetLog`].
//! - [`offsets_topic`]: that log as the engine's internal compacted topic `__consumer_offsets`.
//! - Admin on [`crate::Engine`]: list, describe, offsets and lag, reset offsets, delete groups.
//!
//! On disk: the partitions `<data dir>/log/__consumer_offsets-<n>/` (see [`offsets_topic`]);
//! an older `<data dir>/groups/offsets.log` ([`FileOffsetLog`]) is migrated into the topic once.
//!
//! How a consumer uses this module: it owns one [`GroupMembership`] per `subscribe()`d
//! consumer, calls [`GroupMembership::subscribe`] with the topics it resolved (name ->
//! partition count), calls [`GroupMembership::poll`] at the start of every consumer poll with
//! its own [`RebalanceListener`] (which stops fetching revoked partitions and seeks assigned
//! ones to their committed offsets from [`GroupMembership::committed`]), fetches only from
//! [`GroupMembership::assignment`], commits with [`GroupMembership::commit`], and calls
//! [`GroupMembership::close`] when closed. A transactional producer commits a consumer's
//! offsets with [`crate::Engine::commit_group_offsets`] and the consumer's
//! [`GroupMembership::group_metadata`].

mod admin;
pub mod assignor;
mod coordinator;
mod membership;
pub mod offsets;
pub mod offsets_topic;
mod wiring;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

pub use admin::{GroupDescription, GroupListing, GroupOffsetDescription, MemberDescription, OffsetResetSpec, OffsetResolver};
pub use assignor::{Assignment, Assignor, RebalanceProtocol, Subscription, TopicPartition};
pub use coordinator::GroupState;
pub use membership::{ConsumerGroupMetadata, GroupMembership, MembershipConfig, RebalanceContext, RebalanceEvent, RebalanceListener};
pub use offsets::{FileOffsetLog, GroupMetadataValue, GroupRecord, MemberMetadata, OffsetAndMetadata, OffsetLog, OffsetLogRecord};
pub use wiring::EngineOffsets;
pub(crate) use membership::{commit_offsets, fetch_offsets};
pub(crate) use wiring::{register as register_txn_offsets, to_group_tp, to_log_tp};

use crate::error::{Error, Result};
use coordinator::Coordinator;

/// How often the background thread checks sessions, poll intervals and rebalance deadlines.
const TICK: Duration = Duration::from_millis(10);

pub(crate) struct Shared {
    pub(crate) coord: Mutex<Coordinator>,
    /// Signalled whenever a group changes (joins complete, members leave or expire).
    pub(crate) changed: Condvar,
    pub(crate) closed: AtomicBool,
}

impl Shared {
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::closed("engine"))
        } else {
            Ok(())
        }
    }
}

/// The engine's consumer groups state; one per open engine.
pub(crate) struct GroupsState {
    pub(crate) shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl GroupsState {
    /// Open or recover the consumer groups of a data directory: migrate an old
    /// `groups/offsets.log` into `__consumer_offsets`, then replay the topic.
    pub(crate) fn open(dir: &std::path::Path, options: &crate::EngineOptions, topics: &Arc<crate::log::TopicsShared>) -> crate::Result<Self> {
        let mut log = offsets_topic::TopicOffsetLog::new(topics, options.offsets_topic_num_partitions)?;
        log.migrate_file(&dir.join("groups"))?;
        Self::with_log(Box::new(log))
    }

    /// Open over any offset log (the engine will pass its `__consumer_offsets` topic here).
    pub(crate) fn with_log(log: Box<dyn OffsetLog>) -> Result<Self> {
        let coord = Coordinator::recover(log)?;
        let shared = Arc::new(Shared { coord: Mutex::new(coord), changed: Condvar::new(), closed: AtomicBool::new(false) });
        let bg = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kabase-groups".into())
            .spawn(move || background(bg))
            .map_err(|e| Error::io("start the consumer group thread", e))?;
        Ok(GroupsState { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Stop background work and persist.
    pub(crate) fn close(&self) -> crate::Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        {
            let _g = self.shared.coord.lock();
            self.shared.changed.notify_all();
        }
        if let Some(t) = self.thread.lock().take() {
            if t.join().is_err() {
                return Err(Error::internal("the consumer group thread panicked"));
            }
        }
        Ok(())
    }
}

impl Drop for GroupsState {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn background(shared: Arc<Shared>) {
    let mut coord = shared.coord.lock();
    loop {
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut changed = false;
        for g in coord.groups.values_mut() {
            changed |= g.tick(now);
        }
        // A failed write is retried on the next tick.
        let _ = coord.persist_group_metadata();
        if changed {
            shared.changed.notify_all();
        }
        shared.changed.wait_for(&mut coord, TICK);
    }
}
