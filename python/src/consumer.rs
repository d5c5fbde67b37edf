//! `kabase._native.Consumer`: the engine's fetch-side consumer, subscribed to topics (or a
//! pattern) or assigned partitions by hand, and a member of a consumer group when it has a
//! `group_id` (see [`crate::group`]).

use std::time::Duration;

use kabase::log::{Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};
use kabase::{Engine, Error, ErrorCode};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::engine::PyEngine;
use crate::error::IntoPyResult;
use crate::producer::opt_bytes;

/// `(topic, partition, (offset, timestamp) | None)`.
type OffsetForTime = (String, u32, Option<(i64, i64)>);

/// What the consumer reads.
pub(crate) enum Subscription {
    None,
    Topics(Vec<String>),
    Pattern(regex::Regex),
    Manual,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) consumer: Consumer,
    pub(crate) subscription: Subscription,
    pub(crate) group: Option<crate::group::Member>,
    pub(crate) closed: bool,
}

impl Inner {
    fn check(&self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::closed("consumer"));
        }
        Ok(())
    }

    /// Topics the subscription names that exist now, with their partition counts.
    pub(crate) fn subscribed_topics(&self) -> Result<Vec<(String, u32)>, Error> {
        let names: Vec<String> = match &self.subscription {
            Subscription::Topics(t) => t.clone(),
            Subscription::Pattern(re) => self.engine.list_topics()?.into_iter().filter(|t| re.is_match(t)).collect(),
            _ => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for n in names {
            match self.engine.partitions_for(&n) {
                Ok(p) => out.push((n, p)),
                Err(e) if matches!(e.code(), ErrorCode::TopicNotFound | ErrorCode::UnknownPartition) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Without a group, a subscription reads every partition of its topics.
    fn refresh_groupless(&mut self) -> Result<(), Error> {
        if self.group.is_some() || !matches!(self.subscription, Subscription::Topics(_) | Subscription::Pattern(_)) {
            return Ok(());
        }
        let mut tps = Vec::new();
        for (t, n) in self.subscribed_topics()? {
            for p in 0..n {
                tps.push(TopicPartition::new(t.clone(), p));
            }
        }
        if tps != self.consumer.assignment() {
            self.consumer.assign(&tps)?;
        }
        Ok(())
    }
}

fn tps(v: Vec<(String, u32)>) -> Vec<TopicPartition> {
    v.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect()
}

fn tp_tuples(v: Vec<TopicPartition>) -> Vec<(String, u32)> {
    v.into_iter().map(|tp| (tp.topic, tp.partition)).collect()
}

/// Records as tuples `(topic, partition, offset, timestamp, timestamp_type, key, value,
/// headers, key_size, value_size, header_size)`.
fn records_to_py<'py>(py: Python<'py>, recs: &[ConsumerRecord]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut last_topic: Option<(std::sync::Arc<str>, Bound<'py, PyAny>)> = None;
    for r in recs {
        let topic = match &last_topic {
            Some((t, obj)) if std::sync::Arc::ptr_eq(t, &r.topic) => obj.clone(),
            _ => {
                let obj = r.topic.as_ref().into_pyobject(py)?.into_any();
                last_topic = Some((r.topic.clone(), obj.clone()));
                obj
            }
        };
        let headers = PyList::empty(py);
        let mut hsize: i64 = 0;
        for h in &r.headers {
            hsize += h.key.len() as i64 + h.value.as_ref().map_or(0, |v| v.len() as i64);
            headers.append((h.key.as_str(), opt_bytes(py, &h.value)))?;
        }
        let ksize = r.key.as_ref().map_or(-1, |k| k.len() as i64);
        let vsize = r.value.as_ref().map_or(-1, |v| v.len() as i64);
        let tstype: i64 = match r.timestamp_type {
            kabase::log::TimestampType::CreateTime => 0,
            kabase::log::TimestampType::LogAppendTime => 1,
        };
        let t = PyTuple::new(
            py,
            [
                topic,
                r.partition.into_pyobject(py)?.into_any(),
                r.offset.into_pyobject(py)?.into_any(),
                r.timestamp.into_pyobject(py)?.into_any(),
                tstype.into_pyobject(py)?.into_any(),
                opt_bytes(py, &r.key),
                opt_bytes(py, &r.value),
                headers.into_any(),
                ksize.into_pyobject(py)?.into_any(),
                vsize.into_pyobject(py)?.into_any(),
                (if r.headers.is_empty() { -1 } else { hsize }).into_pyobject(py)?.into_any(),
            ],
        )?;
        out.append(t)?;
    }
    Ok(out)
}

/// A consumer. Calls are serialized by an internal lock; share it between threads if you must.
#[pyclass(module = "kabase._native", name = "Consumer", frozen)]
pub struct PyConsumer {
    pub(crate) inner: Mutex<Inner>,
}

impl PyConsumer {
    /// Run `f` on the consumer state with the GIL released (every lock of the state is taken
    /// without the GIL, so a thread blocked in `poll` never deadlocks another).
    fn with<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Inner) -> Result<R, Error> + Send) -> PyResult<R> {
        py.detach(|| {
            let mut g = self.inner.lock();
            g.check()?;
            f(&mut g)
        })
        .py()
    }
}

/// Hand rebalance events to a Python listener (`on_partitions_revoked`, `..._assigned`,
/// `..._lost`, each with `[(topic, partition)]`).
fn run_listener(py: Python<'_>, listener: Option<&Py<PyAny>>, events: Vec<crate::group::Event>) -> PyResult<()> {
    let Some(l) = listener else { return Ok(()) };
    let l = l.bind(py);
    for (kind, parts) in events {
        let name = match kind {
            crate::group::EventKind::Revoked => "on_partitions_revoked",
            crate::group::EventKind::Assigned => "on_partitions_assigned",
            crate::group::EventKind::Lost => "on_partitions_lost",
        };
        l.call_method1(name, (parts,))?;
    }
    Ok(())
}

#[pymethods]
impl PyConsumer {
    /// A consumer on `engine` with Kafka-named fetch configs; with `group_id`, a member of that
    /// group (group configs: `group.instance.id`, `session.timeout.ms`,
    /// `heartbeat.interval.ms`, `max.poll.interval.ms`, `partition.assignment.strategy`,
    /// `enable.auto.commit`).
    #[new]
    #[pyo3(signature = (engine, configs, group_id=None, group_configs=Vec::new()))]
    fn new(py: Python<'_>, engine: &PyEngine, configs: Vec<(String, String)>, group_id: Option<String>, group_configs: Vec<(String, String)>) -> PyResult<Self> {
        let mut cfg = ConsumerConfig::default();
        for (k, v) in &configs {
            cfg = cfg.set(k, v).py()?;
        }
        // The group is driven by `crate::group::Member` below, so the core consumer stays
        // assign-only: giving it `group.id` too would make it a second member of the group.
        // (Moving this binding onto the core's group-aware consumer removes that glue.)
        let e = engine.core().clone();
        let inner = py
            .detach(move || -> Result<Inner, Error> {
                let mut consumer = e.consumer(cfg)?;
                let group = match group_id {
                    Some(g) => Some(crate::group::Member::new(&e, &g, &group_configs, &mut consumer)?),
                    None => None,
                };
                Ok(Inner { engine: e, consumer, subscription: Subscription::None, group, closed: false })
            })
            .py()?;
        Ok(PyConsumer { inner: Mutex::new(inner) })
    }

    /// Subscribe to `topics`, or to every topic matching `pattern`.
    #[pyo3(signature = (topics=None, pattern=None))]
    fn subscribe(&self, py: Python<'_>, topics: Option<Vec<String>>, pattern: Option<String>) -> PyResult<()> {
        let sub = match (topics, pattern) {
            (Some(t), None) => {
                for name in &t {
                    kabase::log::validate_topic_name(name).py()?;
                }
                Subscription::Topics(t)
            }
            (None, Some(p)) => Subscription::Pattern(
                regex::Regex::new(&p).map_err(|e| crate::error::new_err(ErrorCode::InvalidArgument, format!("bad topic pattern {p:?}: {e}")))?,
            ),
            _ => return Err(crate::error::new_err(ErrorCode::InvalidArgument, "give topics or a pattern")),
        };
        self.with(py, move |g| {
            if matches!(g.subscription, Subscription::Manual) {
                return Err(Error::invalid("subscription and manual assignment cannot be mixed (call unsubscribe first)"));
            }
            g.subscription = sub;
            Ok(())
        })
    }

    /// The subscribed topics (None when there is no subscription).
    fn subscription(&self, py: Python<'_>) -> PyResult<Option<Vec<String>>> {
        self.with(py, |g| {
            Ok(match &g.subscription {
                Subscription::Topics(t) => Some(t.clone()),
                Subscription::Pattern(_) => Some(g.subscribed_topics()?.into_iter().map(|(t, _)| t).collect()),
                _ => None,
            })
        })
    }

    /// Drop the subscription or assignment (leaving the group's assignment).
    #[pyo3(signature = (listener=None))]
    fn unsubscribe(&self, py: Python<'_>, listener: Option<Py<PyAny>>) -> PyResult<()> {
        let events = self.with(py, |inner| {
            let ev = match inner.group.as_mut() {
                Some(m) => m.unsubscribe(&mut inner.consumer)?,
                None => Vec::new(),
            };
            inner.subscription = Subscription::None;
            inner.consumer.unassign();
            Ok(ev)
        })?;
        run_listener(py, listener.as_ref(), events)
    }

    /// Assign partitions by hand.
    fn assign(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        let t = tps(partitions);
        self.with(py, move |g| {
            if matches!(g.subscription, Subscription::Topics(_) | Subscription::Pattern(_)) {
                return Err(Error::invalid("subscription and manual assignment cannot be mixed (call unsubscribe first)"));
            }
            g.consumer.assign(&t)?;
            g.subscription = Subscription::Manual;
            Ok(())
        })
    }

    /// The assigned partitions.
    fn assignment(&self, py: Python<'_>) -> PyResult<Vec<(String, u32)>> {
        self.with(py, |g| Ok(tp_tuples(g.consumer.assignment())))
    }

    /// Fetch up to `max_records` records, waiting up to `timeout_ms`. In a group, drives the
    /// group protocol first and then hands the rebalance events to `listener`.
    #[pyo3(signature = (max_records, timeout_ms, listener=None))]
    fn poll<'py>(&self, py: Python<'py>, max_records: usize, timeout_ms: u64, listener: Option<Py<PyAny>>) -> PyResult<Bound<'py, PyList>> {
        let timeout = Duration::from_millis(timeout_ms);
        let (events, recs) = self.with(py, |inner| {
            let deadline = std::time::Instant::now() + timeout;
            let mut events = Vec::new();
            if inner.group.is_some() && matches!(inner.subscription, Subscription::Topics(_) | Subscription::Pattern(_)) {
                let topics = inner.subscribed_topics()?;
                if let Some(m) = inner.group.as_mut() {
                    events = m.poll(&mut inner.consumer, topics, timeout)?;
                }
            } else {
                inner.refresh_groupless()?;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let recs = if events.is_empty() { inner.consumer.poll_records(max_records.max(1), left)? } else { Vec::new() };
            Ok((events, recs))
        })?;
        run_listener(py, listener.as_ref(), events)?;
        records_to_py(py, &recs)
    }

    /// Commit `[(topic, partition, offset, metadata)]`, or (None) the current positions.
    #[pyo3(signature = (offsets=None))]
    fn commit(&self, py: Python<'_>, offsets: Option<Vec<(String, u32, i64, String)>>) -> PyResult<()> {
        self.with(py, move |inner| {
            let offs = match offsets {
                Some(o) => o,
                None => {
                    let mut v = Vec::new();
                    for tp in inner.consumer.assignment() {
                        let pos = inner.consumer.position(&tp)?;
                        v.push((tp.topic, tp.partition, pos, String::new()));
                    }
                    v
                }
            };
            match inner.group.as_ref() {
                Some(m) => m.commit(offs),
                None => Err(Error::invalid("commit needs a group_id")),
            }
        })
    }

    /// The group's committed `(offset, metadata)` of a partition.
    fn committed(&self, py: Python<'_>, topic: String, partition: u32) -> PyResult<Option<(i64, String)>> {
        self.with(py, move |g| match g.group.as_ref() {
            Some(m) => m.committed(topic, partition),
            None => Err(Error::invalid("committed needs a group_id")),
        })
    }

    fn seek(&self, py: Python<'_>, topic: String, partition: u32, offset: i64) -> PyResult<()> {
        self.with(py, move |g| g.consumer.seek(&TopicPartition::new(topic, partition), offset))
    }

    /// Seek to the log start of the given partitions (None: all assigned).
    #[pyo3(signature = (partitions=None))]
    fn seek_to_beginning(&self, py: Python<'_>, partitions: Option<Vec<(String, u32)>>) -> PyResult<()> {
        self.with(py, move |g| {
            let t = partitions.map(tps).unwrap_or_else(|| g.consumer.assignment());
            g.consumer.seek_to_beginning(&t)
        })
    }

    /// Seek to the end (the LSO under read_committed).
    #[pyo3(signature = (partitions=None))]
    fn seek_to_end(&self, py: Python<'_>, partitions: Option<Vec<(String, u32)>>) -> PyResult<()> {
        self.with(py, move |g| {
            let t = partitions.map(tps).unwrap_or_else(|| g.consumer.assignment());
            g.consumer.seek_to_end(&t)
        })
    }

    fn position(&self, py: Python<'_>, topic: String, partition: u32) -> PyResult<i64> {
        self.with(py, move |g| g.consumer.position(&TopicPartition::new(topic, partition)))
    }

    fn pause(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.with(py, move |g| g.consumer.pause(&tps(partitions)))
    }

    fn resume(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.with(py, move |g| g.consumer.resume(&tps(partitions)))
    }

    fn paused(&self, py: Python<'_>) -> PyResult<Vec<(String, u32)>> {
        self.with(py, |g| Ok(tp_tuples(g.consumer.paused())))
    }

    fn beginning_offsets(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<Vec<(String, u32, i64)>> {
        self.with(py, move |g| Ok(g.consumer.beginning_offsets(&tps(partitions))?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o)).collect()))
    }

    fn end_offsets(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<Vec<(String, u32, i64)>> {
        self.with(py, move |g| Ok(g.consumer.end_offsets(&tps(partitions))?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o)).collect()))
    }

    /// `[(topic, partition, ts)]` -> `[(topic, partition, (offset, timestamp) | None)]`.
    fn offsets_for_times(&self, py: Python<'_>, query: Vec<(String, u32, i64)>) -> PyResult<Vec<OffsetForTime>> {
        let q: Vec<(TopicPartition, i64)> = query.into_iter().map(|(t, p, ts)| (TopicPartition::new(t, p), ts)).collect();
        self.with(py, move |g| {
            Ok(g.consumer.offsets_for_times(&q)?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o.map(|x| (x.offset, x.timestamp)))).collect())
        })
    }

    /// Partition count of a topic (None if it does not exist).
    fn partitions_for_topic(&self, py: Python<'_>, topic: String) -> PyResult<Option<u32>> {
        self.with(py, move |g| match g.engine.partitions_for(&topic) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.code() == ErrorCode::TopicNotFound => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn topics(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |g| g.engine.list_topics())
    }

    /// Consumer metrics as a dict.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (n, gen, member) = self.with(py, |g| {
            Ok((g.consumer.assignment().len(), g.group.as_ref().map(|m| m.generation()), g.group.as_ref().map(|m| m.member_id())))
        })?;
        let d = PyDict::new(py);
        d.set_item("assigned-partitions", n)?;
        d.set_item("generation", gen)?;
        d.set_item("member-id", member)?;
        Ok(d)
    }

    /// Leave the group (its partitions move to the other members; `listener` sees the
    /// revocation) and close. Closing twice is a no-op.
    #[pyo3(signature = (listener=None))]
    fn close(&self, py: Python<'_>, listener: Option<Py<PyAny>>) -> PyResult<()> {
        let events = py
            .detach(|| -> Result<Vec<crate::group::Event>, Error> {
                let mut g = self.inner.lock();
                if g.closed {
                    return Ok(Vec::new());
                }
                g.closed = true;
                let inner = &mut *g;
                let res = match inner.group.take() {
                    Some(m) => m.close(&mut inner.consumer),
                    None => Ok(Vec::new()),
                };
                let closed = inner.consumer.close();
                let events = res?;
                closed?;
                Ok(events)
            })
            .py()?;
        run_listener(py, listener.as_ref(), events)
    }

    /// The member id in the group ("" without a group).
    #[getter]
    fn member_id(&self, py: Python<'_>) -> String {
        py.detach(|| self.inner.lock().group.as_ref().map(|m| m.member_id()).unwrap_or_default())
    }
}

