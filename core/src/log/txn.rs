//! The transaction coordinator inside the engine.
//!
//! One coordinator serves every transactional id. Its state is persisted (atomically rewritten
//! on every transition) to `<data dir>/log/__kabase_txn_state.json`:
//!
//! ```text
//! {"version": 1,
//!  "transactions": {"<transactional.id>": {"producer_id", "epoch", "state", "partitions":
//!                    [["topic", p], ...], "offsets": {"<group>": [TxnOffset...]},
//!                    "timeout_ms", "start_ms"}},
//!  "unapplied_offsets": [["<group>", [TxnOffset...]], ...]}
//! ```
//!
//! States follow Kafka's `TransactionState`: Empty → Ongoing → PrepareCommit/PrepareAbort →
//! CompleteCommit/CompleteAbort. On open, a transaction left in PrepareCommit is committed, one
//! in PrepareAbort or Ongoing is aborted (with a bumped epoch so the old producer is fenced).
//! `init` with a transactional id that is already known bumps the epoch: the old producer
//! (a zombie) then fails with [`ErrorCode::ProducerFenced`].
//!
//! Offsets sent with [`crate::log::Producer::send_offsets_to_transaction`] are stored with the
//! transaction and written at once by the registered [`TxnOffsetCommitter`] (the consumer-group
//! offset store) as pending transactional records in the group's `__consumer_offsets`
//! partition, which joins the transaction; the COMMIT or ABORT marker written there at the end
//! decides whether they count, as in Kafka. When the transaction commits, the store makes them
//! visible. Offsets committed while no committer is registered are kept
//! and applied as soon as one is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::batch::ControlType;
use super::{TopicPartition, TopicsShared};
use crate::error::{Error, ErrorCode, Result};

/// One offset committed with a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// The next offset to consume.
    pub offset: i64,
    /// Optional metadata string.
    pub metadata: Option<String>,
}

/// Where committed transactional offsets go (implemented by the consumer-group offset store).
///
/// As in Kafka, a store may write a transaction's offsets as pending transactional records
/// when they are sent ([`TxnOffsetCommitter::prepare_txn_offsets`], which names the partition
/// the transaction must then end with its COMMIT or ABORT marker), and make them visible when
/// the transaction commits ([`TxnOffsetCommitter::complete_txn_offsets`]). A store that does
/// not prepare gets [`TxnOffsetCommitter::commit_txn_offsets`] at commit time instead.
pub trait TxnOffsetCommitter: Send + Sync {
    /// Store `offsets` for `group_id` as committed, durably. Called once per group when a
    /// transaction that sent offsets commits and the offsets were not prepared.
    fn commit_txn_offsets(&self, group_id: &str, offsets: &[TxnOffset]) -> Result<()>;

    /// The partition where this store writes `group_id`'s pending offsets (the transaction
    /// must end there with its marker), or `None` when it does not prepare (the default).
    fn txn_offsets_partition(&self, _group_id: &str) -> Result<Option<TopicPartition>> {
        Ok(None)
    }

    /// Write `offsets` for `group_id` as pending records of the transactional producer
    /// `(producer_id, epoch)` in [`TxnOffsetCommitter::txn_offsets_partition`], durably.
    fn prepare_txn_offsets(&self, _group_id: &str, _producer_id: i64, _epoch: i16, _offsets: &[TxnOffset]) -> Result<()> {
        Ok(())
    }

    /// The transaction of `producer_id` that prepared `offsets` for `group_id` committed (its
    /// COMMIT marker is written): make them visible.
    fn complete_txn_offsets(&self, group_id: &str, _producer_id: i64, offsets: &[TxnOffset]) -> Result<()> {
        self.commit_txn_offsets(group_id, offsets)
    }

    /// The transaction of `producer_id` that prepared offsets for `group_id` aborted (its ABORT
    /// marker is written): forget them.
    fn abort_txn_offsets(&self, _group_id: &str, _producer_id: i64) -> Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TxnMeta {
    producer_id: i64,
    epoch: i16,
    state: TxnState,
    partitions: BTreeSet<(String, u32)>,
    offsets: BTreeMap<String, Vec<TxnOffset>>,
    /// Groups whose offsets were written as pending transactional records
    /// ([`TxnOffsetCommitter::prepare_txn_offsets`]).
    #[serde(default)]
    prepared: BTreeSet<String>,
    timeout_ms: i64,
    start_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TxnFile {
    version: u32,
    transactions: BTreeMap<String, TxnMeta>,
    unapplied_offsets: Vec<(String, Vec<TxnOffset>)>,
}

/// The coordinator.
pub(crate) struct TxnCoordinator {
    path: PathBuf,
    state: Mutex<TxnFile>,
    committer: RwLock<Option<Arc<dyn TxnOffsetCommitter>>>,
}

const COORDINATOR_EPOCH: i32 = 0;
const FILE: &str = "__kabase_txn_state.json";

fn fenced(id: &str, epoch: i16, current: i16) -> Error {
    Error::new(
        ErrorCode::ProducerFenced,
        format!("producer for transactional id {id:?} with epoch {epoch} was fenced by a newer producer with epoch {current}"),
    )
}

impl TxnCoordinator {
    pub(crate) fn load(log_dir: &Path) -> Result<TxnCoordinator> {
        let path = log_dir.join(FILE);
        let file = match std::fs::read_to_string(&path) {
            Ok(t) => {
                let f: TxnFile = serde_json::from_str(&t).map_err(|e| Error::corrupt(format!("{}: {e}", path.display())))?;
                if f.version != 1 {
                    return Err(Error::new(ErrorCode::IncompatibleFormat, format!("{} has version {}", path.display(), f.version)));
                }
                f
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TxnFile { version: 1, ..TxnFile::default() },
            Err(e) => return Err(Error::io(format_args!("read {}", path.display()), e)),
        };
        Ok(TxnCoordinator { path, state: Mutex::new(file), committer: RwLock::new(None) })
    }

    fn persist(&self, f: &TxnFile) -> Result<()> {
        let text = serde_json::to_vec(f).map_err(|e| Error::internal(format!("encode txn state: {e}")))?;
        crate::util::write_atomic(&self.path, &text)
    }

    /// Register the offset store; applies offsets committed while none was registered.
    pub(crate) fn set_committer(&self, c: Arc<dyn TxnOffsetCommitter>) -> Result<()> {
        *self.committer.write() = Some(Arc::clone(&c));
        let pending = std::mem::take(&mut self.state.lock().unapplied_offsets);
        let mut left = Vec::new();
        let mut err = None;
        for (g, offs) in pending {
            if err.is_some() {
                left.push((g, offs));
                continue;
            }
            if let Err(e) = c.commit_txn_offsets(&g, &offs) {
                err = Some(e);
                left.push((g, offs));
            }
        }
        let mut st = self.state.lock();
        st.unapplied_offsets.extend(left);
        self.persist(&st)?;
        err.map_or(Ok(()), Err)
    }

    /// InitProducerId for a transactional id: a new id, or the same id with a bumped epoch (an
    /// open transaction of the previous producer is aborted first).
    pub(crate) fn init(&self, shared: &TopicsShared, txn_id: &str, timeout_ms: i64) -> Result<(i64, i16)> {
        let existing = self.state.lock().transactions.get(txn_id).cloned();
        let (pid, epoch) = match existing {
            None => (shared.allocate_producer_id()?, 0i16),
            Some(m) => {
                let (pid, epoch) = if m.epoch >= i16::MAX - 1 { (shared.allocate_producer_id()?, 0) } else { (m.producer_id, m.epoch + 1) };
                match m.state {
                    TxnState::Ongoing | TxnState::PrepareAbort => self.finish(shared, txn_id, m, false, Some(epoch))?,
                    TxnState::PrepareCommit => self.finish(shared, txn_id, m, true, Some(epoch))?,
                    _ => {}
                }
                (pid, epoch)
            }
        };
        let mut st = self.state.lock();
        st.transactions.insert(
            txn_id.to_string(),
            TxnMeta {
                producer_id: pid,
                epoch,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                offsets: BTreeMap::new(),
                prepared: BTreeSet::new(),
                timeout_ms,
                start_ms: 0,
            },
        );
        self.persist(&st)?;
        Ok((pid, epoch))
    }

    fn check<'a>(st: &'a mut TxnFile, txn_id: &str, pid: i64, epoch: i16) -> Result<&'a mut TxnMeta> {
        let m = st
            .transactions
            .get_mut(txn_id)
            .ok_or_else(|| Error::new(ErrorCode::InvalidTxnState, format!("transactional id {txn_id:?} is not initialized")))?;
        if m.producer_id != pid || m.epoch != epoch {
            return Err(fenced(txn_id, epoch, m.epoch));
        }
        Ok(m)
    }

    fn begin_if_needed(m: &mut TxnMeta, txn_id: &str) -> Result<bool> {
        match m.state {
            TxnState::Empty | TxnState::CompleteAbort | TxnState::CompleteCommit => {
                m.state = TxnState::Ongoing;
                m.partitions.clear();
                m.offsets.clear();
                m.prepared.clear();
                m.start_ms = crate::util::now_ms();
                Ok(true)
            }
            TxnState::Ongoing => Ok(false),
            s => Err(Error::new(ErrorCode::InvalidTxnState, format!("transaction {txn_id:?} is completing ({s:?})"))),
        }
    }

    /// AddPartitionsToTxn.
    pub(crate) fn add_partitions(&self, txn_id: &str, pid: i64, epoch: i16, tps: &[TopicPartition]) -> Result<()> {
        let mut st = self.state.lock();
        let m = Self::check(&mut st, txn_id, pid, epoch)?;
        let mut changed = Self::begin_if_needed(m, txn_id)?;
        for tp in tps {
            changed |= m.partitions.insert((tp.topic.clone(), tp.partition));
        }
        if changed {
            self.persist(&st)?;
        }
        Ok(())
    }

    /// AddOffsetsToTxn + TxnOffsetCommit: remember offsets to commit with the transaction and
    /// have the offset store write them as pending records; the partition it names joins the
    /// transaction (recorded before the records are written, so a fenced or timed-out
    /// transaction still ends there with a marker).
    pub(crate) fn add_offsets(&self, txn_id: &str, pid: i64, epoch: i16, group: &str, offsets: &[TxnOffset]) -> Result<()> {
        let committer = self.committer.read().clone();
        let mut st = self.state.lock();
        let m = Self::check(&mut st, txn_id, pid, epoch)?;
        Self::begin_if_needed(m, txn_id)?;
        if let Some(c) = &committer {
            if let Some(tp) = c.txn_offsets_partition(group)? {
                if m.partitions.insert((tp.topic.clone(), tp.partition)) {
                    self.persist(&st)?;
                }
                c.prepare_txn_offsets(group, pid, epoch, offsets)?;
                let m = Self::check(&mut st, txn_id, pid, epoch)?;
                m.prepared.insert(group.to_string());
            }
        }
        let m = Self::check(&mut st, txn_id, pid, epoch)?;
        let list = m.offsets.entry(group.to_string()).or_default();
        for o in offsets {
            list.retain(|x| !(x.topic == o.topic && x.partition == o.partition));
            list.push(o.clone());
        }
        self.persist(&st)
    }

    /// EndTxn: commit or abort.
    pub(crate) fn end(&self, shared: &TopicsShared, txn_id: &str, pid: i64, epoch: i16, commit: bool) -> Result<()> {
        let m = {
            let mut st = self.state.lock();
            let m = Self::check(&mut st, txn_id, pid, epoch)?;
            match (m.state, commit) {
                (TxnState::Ongoing, _) => {}
                (TxnState::Empty, _) => return Ok(()),
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => return Ok(()),
                (s, _) => {
                    return Err(Error::new(ErrorCode::InvalidTxnState, format!("cannot {} transaction {txn_id:?} in state {s:?}", if commit { "commit" } else { "abort" })))
                }
            }
            m.clone()
        };
        self.finish(shared, txn_id, m, commit, None)
    }

    /// Prepare, write markers, apply offsets, complete. `new_epoch` bumps the epoch first
    /// (fencing: timeouts and re-initialisation).
    fn finish(&self, shared: &TopicsShared, txn_id: &str, mut m: TxnMeta, commit: bool, new_epoch: Option<i16>) -> Result<()> {
        if let Some(e) = new_epoch {
            m.epoch = e;
        }
        m.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        {
            let mut st = self.state.lock();
            st.transactions.insert(txn_id.to_string(), m.clone());
            self.persist(&st)?;
        }
        let kind = if commit { ControlType::Commit } else { ControlType::Abort };
        for (topic, p) in &m.partitions {
            let part = match shared.partition(&TopicPartition::new(topic.clone(), *p)) {
                Ok(part) => part,
                Err(e) if matches!(e.code(), ErrorCode::TopicNotFound | ErrorCode::UnknownPartition) => continue,
                Err(e) => return Err(e),
            };
            part.append_marker(m.producer_id, m.epoch, kind, COORDINATOR_EPOCH)?;
        }
        let mut unapplied = Vec::new();
        let committer = self.committer.read().clone();
        for (g, offs) in &m.offsets {
            match (&committer, commit) {
                (Some(c), true) if m.prepared.contains(g) => c.complete_txn_offsets(g, m.producer_id, offs)?,
                (Some(c), true) => c.commit_txn_offsets(g, offs)?,
                (Some(c), false) => c.abort_txn_offsets(g, m.producer_id)?,
                // Before the store is registered (recovery at open): a prepared commit is
                // already in the store's log behind its marker; applying it again is harmless.
                (None, true) => unapplied.push((g.clone(), offs.clone())),
                (None, false) => {}
            }
        }
        m.state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        m.partitions.clear();
        m.offsets.clear();
        m.prepared.clear();
        let mut st = self.state.lock();
        st.unapplied_offsets.extend(unapplied);
        st.transactions.insert(txn_id.to_string(), m);
        self.persist(&st)
    }

    /// After a restart: finish every transaction left in flight.
    pub(crate) fn complete_in_flight(&self, shared: &TopicsShared) -> Result<()> {
        let pending: Vec<(String, TxnMeta)> = self
            .state
            .lock()
            .transactions
            .iter()
            .filter(|(_, m)| matches!(m.state, TxnState::Ongoing | TxnState::PrepareAbort | TxnState::PrepareCommit))
            .map(|(k, m)| (k.clone(), m.clone()))
            .collect();
        for (id, m) in pending {
            let commit = m.state == TxnState::PrepareCommit;
            let bump = if m.state == TxnState::Ongoing { Some(m.epoch.saturating_add(1)) } else { None };
            self.finish(shared, &id, m, commit, bump)?;
        }
        Ok(())
    }

    /// Abort transactions open longer than their `transaction.timeout.ms` (epoch bumped).
    pub(crate) fn abort_timed_out(&self, shared: &TopicsShared) -> Result<()> {
        let now = crate::util::now_ms();
        let expired: Vec<(String, TxnMeta)> = self
            .state
            .lock()
            .transactions
            .iter()
            .filter(|(_, m)| m.state == TxnState::Ongoing && now.saturating_sub(m.start_ms) > m.timeout_ms)
            .map(|(k, m)| (k.clone(), m.clone()))
            .collect();
        for (id, m) in expired {
            let e = m.epoch.saturating_add(1);
            self.finish(shared, &id, m, false, Some(e))?;
        }
        Ok(())
    }
}

impl crate::Engine {
    /// Register where offsets sent with `send_offsets_to_transaction` are committed when their
    /// transaction commits (the consumer-group offset store).
    pub fn set_txn_offset_committer(&self, committer: Arc<dyn TxnOffsetCommitter>) -> Result<()> {
        self.topics()?.txn.set_committer(committer)
    }
}
