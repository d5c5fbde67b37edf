//! `kabase._native.Consumer`: the core's consumer, which is group-aware when it has a
//! `group.id` (subscribe, commits, auto-commit and rebalances all live in the core).
//!
//! This layer converts types and adds two things the core has no place for:
//!
//! - A consumer *without* a group id may still `subscribe` (kafka-python allows it): it then
//!   reads every partition of the subscribed topics, refreshed on each poll. Patterns match whole
//!   topic names, internal (`__`) topics excluded, as the core's group subscription does.
//! - The rebalance listener is a Python object. The core calls it inside `poll`, `unsubscribe`
//!   and `close` with the consumer in hand; the bridge below parks that consumer in a
//!   thread-local slot while the Python callback runs, so the callback's own calls on this
//!   consumer (`position`, `seek`, `commit`, `committed`, ...) reach it instead of waiting on
//!   the lock its caller holds. A callback's exception is raised from the call that ran it,
//!   after the records that call fetched are given back (their positions rewound).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use kabase::group::{OffsetAndMetadata, TopicPartition as GroupTp};
use kabase::log::{Consumer, ConsumerConfig, ConsumerRebalanceListener, ConsumerRecord, TopicPartition};
use kabase::{Engine, Error, ErrorCode};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use crate::engine::{PyEngine, Release};
use crate::error::IntoPyResult;
use crate::producer::opt_bytes;

/// `(topic, partition, (offset, timestamp) | None)`.
type OffsetForTime = (String, u32, Option<(i64, i64)>);

/// What a consumer without a group id subscribed to.
enum Groupless {
    None,
    Topics(Vec<String>),
    Pattern(regex::Regex),
}

struct Inner {
    engine: Engine,
    consumer: Consumer,
    groupless: Groupless,
    has_group: bool,
}

impl Inner {
    /// Topics a group-less subscription names that exist now, with their partition counts.
    fn groupless_topics(&self) -> Result<Vec<(String, u32)>, Error> {
        let names: Vec<String> = match &self.groupless {
            Groupless::Topics(t) => t.clone(),
            Groupless::Pattern(re) => self.engine.list_topics()?.into_iter().filter(|t| !t.starts_with("__") && re.is_match(t)).collect(),
            Groupless::None => return Ok(Vec::new()),
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

    /// A group-less subscription reads every partition of its topics.
    fn refresh_groupless(&mut self) -> Result<(), Error> {
        if matches!(self.groupless, Groupless::None) {
            return Ok(());
        }
        let mut tps = Vec::new();
        for (t, n) in self.groupless_topics()? {
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

/// The state of a `kabase._native.Consumer`: `None` once closed (by `close()` or by closing its
/// engine).
pub(crate) struct ConsumerSlot {
    inner: Mutex<Option<Inner>>,
    /// The first exception a Python rebalance callback raised, until the call that ran it
    /// raises it.
    listener_error: Mutex<Option<PyErr>>,
}

impl Release for ConsumerSlot {
    fn release(&self) {
        let inner = self.inner.lock().take();
        if let Some(mut i) = inner {
            // The engine is closed: this only drops the consumer's state.
            let _ = i.consumer.close();
        }
    }
}

thread_local! {
    /// Consumers lent to a Python rebalance callback running on this thread, by slot address.
    static LENT: RefCell<Vec<(usize, Consumer)>> = const { RefCell::new(Vec::new()) };
}

fn slot_id(slot: &Arc<ConsumerSlot>) -> usize {
    Arc::as_ptr(slot) as usize
}

/// The core rebalance listener that runs a Python listener (`on_partitions_revoked`,
/// `on_partitions_assigned`, `on_partitions_lost`, each given `[(topic, partition)]`).
struct PyListener {
    obj: Py<PyAny>,
    slot: std::sync::Weak<ConsumerSlot>,
    id: usize,
    /// Stands in for the consumer while the real one is lent to the callback.
    spare: Option<Consumer>,
}

impl PyListener {
    fn call(&mut self, consumer: &mut Consumer, method: &str, parts: &[TopicPartition]) {
        let Some(spare) = self.spare.take() else { return };
        let real = std::mem::replace(consumer, spare);
        LENT.with(|l| l.borrow_mut().push((self.id, real)));
        let tuples: Vec<(String, u32)> = parts.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect();
        let res = Python::attach(|py| -> PyResult<()> {
            let obj = self.obj.bind(py);
            if method == "on_partitions_lost" && !obj.hasattr(method)? {
                obj.call_method1("on_partitions_revoked", (tuples,))?;
            } else {
                obj.call_method1(method, (tuples,))?;
            }
            Ok(())
        });
        let back = LENT.with(|l| {
            let mut l = l.borrow_mut();
            l.iter().rposition(|(i, _)| *i == self.id).map(|pos| l.remove(pos))
        });
        if let Some((_, real)) = back {
            self.spare = Some(std::mem::replace(consumer, real));
        }
        if let Err(e) = res {
            if let Some(slot) = self.slot.upgrade() {
                let mut first = slot.listener_error.lock();
                if first.is_none() {
                    *first = Some(e);
                }
            }
        }
    }
}

impl ConsumerRebalanceListener for PyListener {
    fn on_partitions_revoked(&mut self, consumer: &mut Consumer, partitions: &[TopicPartition]) {
        self.call(consumer, "on_partitions_revoked", partitions);
    }
    fn on_partitions_assigned(&mut self, consumer: &mut Consumer, partitions: &[TopicPartition]) {
        self.call(consumer, "on_partitions_assigned", partitions);
    }
    fn on_partitions_lost(&mut self, consumer: &mut Consumer, partitions: &[TopicPartition]) {
        self.call(consumer, "on_partitions_lost", partitions);
    }
}

fn tps(v: Vec<(String, u32)>) -> Vec<TopicPartition> {
    v.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect()
}

fn tp_tuples(v: Vec<TopicPartition>) -> Vec<(String, u32)> {
    v.into_iter().map(|tp| (tp.topic, tp.partition)).collect()
}

fn no_group(what: &str) -> Error {
    Error::invalid(format!("{what} needs a group_id"))
}

fn in_callback(what: &str) -> Error {
    Error::invalid(format!("{what} is not allowed inside a rebalance listener callback"))
}

/// Records as tuples `(topic, partition, offset, timestamp, timestamp_type, key, value,
/// headers, key_size, value_size, header_size)`.
pub(crate) fn records_to_py<'py>(py: Python<'py>, recs: &[ConsumerRecord]) -> PyResult<Bound<'py, PyList>> {
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

/// Makes instances of a namedtuple class from their fields without running the class's Python
/// `__new__`: by allocating the instance and filling its items directly when the class is a
/// plain tuple subclass (no extra fields, which namedtuples are: `__slots__ = ()`) on an
/// interpreter whose tuples keep no other state, else through `tuple.__new__(cls, fields)`.
enum RecordMaker<'py> {
    Direct(Bound<'py, PyType>),
    TupleNew(Bound<'py, PyAny>, Bound<'py, PyAny>),
}

impl<'py> RecordMaker<'py> {
    fn new(py: Python<'py>, cls: &Bound<'py, PyAny>) -> PyResult<Self> {
        let tuple = py.get_type::<PyTuple>();
        if let Ok(ty) = cls.cast::<PyType>() {
            // 3.14 caches a tuple's hash inside the object, which a direct fill would leave unset.
            let plain = py.version_info() < (3, 14)
                && ty.is_subclass(&tuple)?
                && ty.getattr("__basicsize__")?.eq(tuple.getattr("__basicsize__")?)?
                && ty.getattr("__itemsize__")?.eq(tuple.getattr("__itemsize__")?)?
                && ty.getattr("__dictoffset__")?.extract::<isize>()? == 0
                && ty.getattr("__weakrefoffset__")?.extract::<isize>()? == 0;
            if plain {
                return Ok(RecordMaker::Direct(ty.clone()));
            }
        }
        Ok(RecordMaker::TupleNew(tuple.getattr("__new__")?, cls.clone()))
    }

    fn make<const N: usize>(&self, py: Python<'py>, items: [Bound<'py, PyAny>; N]) -> PyResult<Bound<'py, PyAny>> {
        match self {
            RecordMaker::Direct(ty) => fill_tuple_subclass(py, ty, items),
            RecordMaker::TupleNew(new, cls) => new.call1((cls, PyTuple::new(py, items)?)),
        }
    }
}

/// A new instance of the tuple subclass `ty` holding `items`.
#[allow(unsafe_code)]
fn fill_tuple_subclass<'py, const N: usize>(py: Python<'py>, ty: &Bound<'py, PyType>, items: [Bound<'py, PyAny>; N]) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::ffi;
    // SAFETY: `ty` is a subclass of tuple with tuple's layout (checked by `RecordMaker::new`),
    // so its allocator (`PyType_GenericAlloc`, which a tuple subclass defined in Python
    // inherits) returns a zeroed variable-size tuple of `N` empty items and a reference we own.
    // `PyTuple_SetItem` accepts tuple subclasses, steals each item's reference (also on
    // failure), and requires the tuple unshared, which it is until we return it; a tuple whose
    // items are still NULL (an error part way) is deallocated safely.
    unsafe {
        let raw = ffi::PyType_GenericAlloc(ty.as_type_ptr(), N as ffi::Py_ssize_t);
        if raw.is_null() {
            return Err(PyErr::fetch(py));
        }
        let obj = Bound::from_owned_ptr(py, raw);
        for (i, item) in items.into_iter().enumerate() {
            if ffi::PyTuple_SetItem(obj.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr()) != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(obj)
    }
}

/// Records as instances of `rec_cls` (kafka-python's 13-field `ConsumerRecord` namedtuple),
/// built here in one pass: as a list, or with `tp_cls` (the `TopicPartition` namedtuple) as
/// `{TopicPartition: [ConsumerRecord]}` the way `KafkaConsumer.poll` returns them.
fn records_as<'py>(py: Python<'py>, recs: &[ConsumerRecord], rec_cls: &Bound<'py, PyAny>, tp_cls: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    let make = RecordMaker::new(py, rec_cls)?;
    let tp_make = match tp_cls {
        Some(c) => Some(RecordMaker::new(py, c)?),
        None => None,
    };
    let none = py.None().into_bound(py);
    let minus_one = (-1i64).into_pyobject(py)?.into_any();
    let zero = 0i64.into_pyobject(py)?.into_any();
    let one = 1i64.into_pyobject(py)?.into_any();
    let list = PyList::empty(py);
    let dict = PyDict::new(py);
    let mut cur: Option<(Arc<str>, u32)> = None;
    let mut topic_obj: Option<Bound<'py, PyAny>> = None;
    let mut cur_list: Bound<'py, PyList> = list.clone();
    // Records of one batch share a timestamp more often than not: reuse its int object.
    let mut last_ts: Option<(i64, Bound<'py, PyAny>)> = None;
    for r in recs {
        let same = cur.as_ref().is_some_and(|(t, p)| Arc::ptr_eq(t, &r.topic) && *p == r.partition);
        if !same {
            let same_topic = cur.as_ref().is_some_and(|(t, _)| Arc::ptr_eq(t, &r.topic));
            if !same_topic {
                topic_obj = Some(r.topic.as_ref().into_pyobject(py)?.into_any());
            }
            cur = Some((r.topic.clone(), r.partition));
            if let Some(tp_make) = &tp_make {
                let t = topic_obj.clone().unwrap_or_else(|| none.clone());
                let key = tp_make.make(py, [t, r.partition.into_pyobject(py)?.into_any()])?;
                cur_list = match dict.get_item(&key)? {
                    Some(l) => l.cast_into::<PyList>()?,
                    None => {
                        let l = PyList::empty(py);
                        dict.set_item(key, &l)?;
                        l
                    }
                };
            }
        }
        let topic = topic_obj.clone().unwrap_or_else(|| none.clone());
        let headers = PyList::empty(py);
        let mut hsize: i64 = 0;
        for h in &r.headers {
            hsize += h.key.len() as i64 + h.value.as_ref().map_or(0, |v| v.len() as i64);
            headers.append((h.key.as_str(), opt_bytes(py, &h.value)))?;
        }
        let ksize = r.key.as_ref().map_or(-1, |k| k.len() as i64);
        let vsize = r.value.as_ref().map_or(-1, |v| v.len() as i64);
        let ts = match &last_ts {
            Some((v, o)) if *v == r.timestamp => o.clone(),
            _ => {
                let o = r.timestamp.into_pyobject(py)?.into_any();
                last_ts = Some((r.timestamp, o.clone()));
                o
            }
        };
        let tstype = match r.timestamp_type {
            kabase::log::TimestampType::CreateTime => zero.clone(),
            kabase::log::TimestampType::LogAppendTime => one.clone(),
        };
        let fields = [
                topic,
                r.partition.into_pyobject(py)?.into_any(),
                r.offset.into_pyobject(py)?.into_any(),
                ts,
                tstype,
                opt_bytes(py, &r.key),
                opt_bytes(py, &r.value),
                headers.into_any(),
                none.clone(),
                ksize.into_pyobject(py)?.into_any(),
                vsize.into_pyobject(py)?.into_any(),
                if r.headers.is_empty() { minus_one.clone() } else { hsize.into_pyobject(py)?.into_any() },
                minus_one.clone(),
        ];
        cur_list.append(make.make(py, fields)?)?;
    }
    Ok(if tp_cls.is_some() { dict.into_any() } else { list.into_any() })
}

/// A consumer. Calls are serialized by an internal lock; share it between threads if you must.
#[pyclass(module = "kabase._native", name = "Consumer", frozen)]
pub struct PyConsumer {
    slot: Arc<ConsumerSlot>,
    shared: Arc<crate::engine::Shared>,
}

impl PyConsumer {
    /// Run `f` on the consumer state with the GIL released (every lock of the state is taken
    /// without the GIL, so a thread blocked in `poll` never deadlocks another). Not allowed
    /// from this consumer's own rebalance callback (`what` names the call).
    fn with<R: Send>(&self, py: Python<'_>, what: &str, f: impl FnOnce(&mut Inner) -> Result<R, Error> + Send) -> PyResult<R> {
        let id = slot_id(&self.slot);
        if LENT.with(|l| l.borrow().iter().any(|(i, _)| *i == id)) {
            return Err(in_callback(what)).py();
        }
        py.detach(|| {
            let mut g = self.slot.inner.lock();
            let inner = g.as_mut().ok_or_else(|| Error::closed("consumer"))?;
            f(inner)
        })
        .py()
    }

    /// Run `f` on the core consumer: the one lent to a rebalance callback running on this
    /// thread, else the locked one.
    fn with_consumer<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Consumer) -> Result<R, Error> + Send) -> PyResult<R> {
        let id = slot_id(&self.slot);
        let lent = LENT.with(|l| {
            let mut l = l.borrow_mut();
            l.iter_mut().rposition(|(i, _)| *i == id).map(|pos| l.remove(pos))
        });
        if let Some((i, mut c)) = lent {
            let r = py.detach(|| f(&mut c));
            LENT.with(|l| l.borrow_mut().push((i, c)));
            return r.py();
        }
        self.with(py, "", |inner| f(&mut inner.consumer))
    }

    /// Raise the exception a rebalance callback left, if any.
    fn take_listener_error(&self) -> PyResult<()> {
        match self.slot.listener_error.lock().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[pymethods]
impl PyConsumer {
    /// A consumer on `engine` with Kafka-named configs (fetch side: `auto.offset.reset`,
    /// `isolation.level`, `max.poll.records`, ...; with `group_id`, the group configs
    /// `group.instance.id`, `session.timeout.ms`, `heartbeat.interval.ms`,
    /// `max.poll.interval.ms`, `partition.assignment.strategy`, `enable.auto.commit`,
    /// `auto.commit.interval.ms`).
    #[new]
    #[pyo3(signature = (engine, configs, group_id=None, group_configs=Vec::new()))]
    fn new(py: Python<'_>, engine: &PyEngine, configs: Vec<(String, String)>, group_id: Option<String>, group_configs: Vec<(String, String)>) -> PyResult<Self> {
        let mut cfg = ConsumerConfig::default();
        for (k, v) in &configs {
            cfg = cfg.set(k, v).py()?;
        }
        let has_group = group_id.is_some();
        if let Some(g) = &group_id {
            cfg = cfg.set("group.id", g).py()?;
            for (k, v) in &group_configs {
                cfg = cfg.set(k, v).py()?;
            }
        }
        let e = engine.core()?.core().clone();
        let inner = py
            .detach(move || -> Result<Inner, Error> {
                let consumer = e.consumer(cfg)?;
                Ok(Inner { engine: e, consumer, groupless: Groupless::None, has_group })
            })
            .py()?;
        let slot = Arc::new(ConsumerSlot { inner: Mutex::new(Some(inner)), listener_error: Mutex::new(None) });
        engine.shared.register(Arc::downgrade(&slot) as std::sync::Weak<dyn Release>);
        Ok(PyConsumer { slot, shared: Arc::clone(&engine.shared) })
    }

    /// Subscribe to `topics`, or to every topic whose whole name matches `pattern`; with a
    /// group id, `listener` gets the rebalance callbacks.
    #[pyo3(signature = (topics=None, pattern=None, listener=None))]
    fn subscribe(&self, py: Python<'_>, topics: Option<Vec<String>>, pattern: Option<String>, listener: Option<Py<PyAny>>) -> PyResult<()> {
        if topics.is_some() == pattern.is_some() {
            return Err(crate::error::new_err(ErrorCode::InvalidArgument, "give topics or a pattern"));
        }
        let weak = Arc::downgrade(&self.slot);
        let id = slot_id(&self.slot);
        self.with(py, "subscribe", move |inner| {
            if !inner.has_group {
                // A group-less subscription (replacing an earlier one; the listener has nothing
                // to hear without a group).
                if matches!(inner.groupless, Groupless::None) && !inner.consumer.assignment().is_empty() {
                    return Err(Error::invalid("subscription and manual assignment cannot be mixed (call unsubscribe first)"));
                }
                inner.groupless = match (topics, pattern) {
                    (Some(t), _) => {
                        for name in &t {
                            kabase::log::validate_topic_name(name)?;
                        }
                        Groupless::Topics(t)
                    }
                    (None, Some(p)) => Groupless::Pattern(
                        regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| Error::invalid(format!("invalid subscription pattern {p:?}: {e}")))?,
                    ),
                    (None, None) => Groupless::None,
                };
                return Ok(());
            }
            let listener: Option<Box<dyn ConsumerRebalanceListener>> = match listener {
                Some(obj) => {
                    let spare = inner.engine.consumer(ConsumerConfig::default())?;
                    Some(Box::new(PyListener { obj, slot: weak, id, spare: Some(spare) }))
                }
                None => None,
            };
            match (topics, pattern) {
                (Some(t), _) => {
                    let names: Vec<&str> = t.iter().map(String::as_str).collect();
                    inner.consumer.subscribe(&names, listener)
                }
                (None, Some(p)) => inner.consumer.subscribe_pattern(&p, listener),
                (None, None) => Ok(()),
            }
        })
    }

    /// The subscribed topics (a pattern's current matches); None when not subscribed.
    fn subscription(&self, py: Python<'_>) -> PyResult<Option<Vec<String>>> {
        self.with(py, "subscription", |g| {
            if g.has_group {
                return Ok(if g.consumer.is_subscribed() { Some(g.consumer.subscription()) } else { None });
            }
            Ok(match &g.groupless {
                Groupless::Topics(t) => Some(t.clone()),
                Groupless::Pattern(_) => Some(g.groupless_topics()?.into_iter().map(|(t, _)| t).collect()),
                Groupless::None => None,
            })
        })
    }

    /// Drop the subscription (leaving the group's assignment; the listener sees the
    /// revocation) or the manual assignment.
    fn unsubscribe(&self, py: Python<'_>) -> PyResult<()> {
        let r = self.with(py, "unsubscribe", |inner| {
            inner.groupless = Groupless::None;
            if inner.consumer.is_subscribed() {
                inner.consumer.unsubscribe()
            } else {
                inner.consumer.unassign();
                Ok(())
            }
        });
        self.take_listener_error()?;
        r
    }

    /// Assign partitions by hand.
    fn assign(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        let t = tps(partitions);
        self.with(py, "assign", move |g| {
            if !matches!(g.groupless, Groupless::None) {
                return Err(Error::invalid("subscription and manual assignment cannot be mixed (call unsubscribe first)"));
            }
            g.consumer.assign(&t)
        })
    }

    /// The assigned partitions.
    fn assignment(&self, py: Python<'_>) -> PyResult<Vec<(String, u32)>> {
        self.with_consumer(py, |c| Ok(tp_tuples(c.assignment())))
    }

    /// Fetch up to `max_records` records, waiting up to `timeout_ms`. In a group this drives
    /// the group protocol too (the listener runs inside). Records are tuples (see
    /// `records_to_py`), or `record_cls` instances; with `tp_cls` too, a dict
    /// `{tp_cls(topic, partition): [record]}`.
    #[pyo3(signature = (max_records, timeout_ms, record_cls=None, tp_cls=None))]
    fn poll<'py>(&self, py: Python<'py>, max_records: usize, timeout_ms: u64, record_cls: Option<Bound<'py, PyAny>>, tp_cls: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = Duration::from_millis(timeout_ms);
        let recs = self.with(py, "poll", |inner| {
            inner.refresh_groupless()?;
            inner.consumer.poll_records(max_records.max(1), timeout)
        });
        if let Some(err) = self.slot.listener_error.lock().take() {
            // The callback failed: give the fetched records back before raising.
            if let Ok(recs) = &recs {
                let mut first: Vec<(TopicPartition, i64)> = Vec::new();
                for r in recs {
                    if !first.iter().any(|(tp, _)| tp.partition == r.partition && *tp.topic == *r.topic) {
                        first.push((TopicPartition::new(r.topic.to_string(), r.partition), r.offset));
                    }
                }
                let _ = self.with(py, "poll", move |inner| {
                    for (tp, off) in &first {
                        let _ = inner.consumer.seek(tp, *off);
                    }
                    Ok(())
                });
            }
            return Err(err);
        }
        let recs = recs?;
        match &record_cls {
            Some(cls) => crate::gc::deferred(py, recs.len(), || records_as(py, &recs, cls, tp_cls.as_ref())),
            None => crate::gc::deferred(py, recs.len(), || Ok(records_to_py(py, &recs)?.into_any())),
        }
    }

    /// Commit `[(topic, partition, offset, metadata)]`, or (None) the current positions.
    #[pyo3(signature = (offsets=None))]
    fn commit(&self, py: Python<'_>, offsets: Option<Vec<(String, u32, i64, String)>>) -> PyResult<()> {
        let engine = self.shared.engine().py()?.core().clone();
        self.with_consumer(py, move |c| {
            if c.config().group_id.is_none() {
                return Err(no_group("commit"));
            }
            match offsets {
                None => c.commit_sync(None),
                Some(o) => {
                    let meta = c.group_metadata()?;
                    let mut list = Vec::with_capacity(o.len());
                    for (t, p, off, m) in o {
                        let part = i32::try_from(p).map_err(|_| Error::invalid(format!("partition {p} of {t} is out of range")))?;
                        let mut om = OffsetAndMetadata::new(off);
                        om.metadata = m;
                        list.push((GroupTp::new(t, part), om));
                    }
                    engine.commit_group_offsets(&meta, &list)
                }
            }
        })
    }

    /// The group's committed `(offset, metadata)` of a partition.
    fn committed(&self, py: Python<'_>, topic: String, partition: u32) -> PyResult<Option<(i64, String)>> {
        self.with_consumer(py, move |c| {
            if c.config().group_id.is_none() {
                return Err(no_group("committed"));
            }
            let tp = TopicPartition::new(topic, partition);
            Ok(c.committed(std::slice::from_ref(&tp))?.remove(&tp).map(|o| (o.offset, o.metadata)))
        })
    }

    fn seek(&self, py: Python<'_>, topic: String, partition: u32, offset: i64) -> PyResult<()> {
        self.with_consumer(py, move |c| c.seek(&TopicPartition::new(topic, partition), offset))
    }

    /// Seek to the log start of the given partitions (None: all assigned).
    #[pyo3(signature = (partitions=None))]
    fn seek_to_beginning(&self, py: Python<'_>, partitions: Option<Vec<(String, u32)>>) -> PyResult<()> {
        self.with_consumer(py, move |c| {
            let t = partitions.map(tps).unwrap_or_else(|| c.assignment());
            c.seek_to_beginning(&t)
        })
    }

    /// Seek to the end (the LSO under read_committed).
    #[pyo3(signature = (partitions=None))]
    fn seek_to_end(&self, py: Python<'_>, partitions: Option<Vec<(String, u32)>>) -> PyResult<()> {
        self.with_consumer(py, move |c| {
            let t = partitions.map(tps).unwrap_or_else(|| c.assignment());
            c.seek_to_end(&t)
        })
    }

    fn position(&self, py: Python<'_>, topic: String, partition: u32) -> PyResult<i64> {
        self.with_consumer(py, move |c| c.position(&TopicPartition::new(topic, partition)))
    }

    fn pause(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.with_consumer(py, move |c| c.pause(&tps(partitions)))
    }

    fn resume(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.with_consumer(py, move |c| c.resume(&tps(partitions)))
    }

    fn paused(&self, py: Python<'_>) -> PyResult<Vec<(String, u32)>> {
        self.with_consumer(py, |c| Ok(tp_tuples(c.paused())))
    }

    fn beginning_offsets(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<Vec<(String, u32, i64)>> {
        self.with_consumer(py, move |c| Ok(c.beginning_offsets(&tps(partitions))?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o)).collect()))
    }

    fn end_offsets(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<Vec<(String, u32, i64)>> {
        self.with_consumer(py, move |c| Ok(c.end_offsets(&tps(partitions))?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o)).collect()))
    }

    /// `[(topic, partition, ts)]` -> `[(topic, partition, (offset, timestamp) | None)]`.
    fn offsets_for_times(&self, py: Python<'_>, query: Vec<(String, u32, i64)>) -> PyResult<Vec<OffsetForTime>> {
        let q: Vec<(TopicPartition, i64)> = query.into_iter().map(|(t, p, ts)| (TopicPartition::new(t, p), ts)).collect();
        self.with_consumer(py, move |c| {
            Ok(c.offsets_for_times(&q)?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o.map(|x| (x.offset, x.timestamp)))).collect())
        })
    }

    /// Partition count of a topic (None if it does not exist).
    fn partitions_for_topic(&self, py: Python<'_>, topic: String) -> PyResult<Option<u32>> {
        self.with(py, "partitions_for_topic", move |g| match g.engine.partitions_for(&topic) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.code() == ErrorCode::TopicNotFound => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn topics(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, "topics", |g| g.engine.list_topics())
    }

    /// Consumer metrics as a dict.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (n, meta) = self.with_consumer(py, |c| Ok((c.assignment().len(), c.group_metadata().ok())))?;
        let d = PyDict::new(py);
        d.set_item("assigned-partitions", n)?;
        d.set_item("generation", meta.as_ref().map(|m| m.generation_id))?;
        d.set_item("member-id", meta.map(|m| m.member_id))?;
        Ok(d)
    }

    /// Leave the group (its partitions move to the other members; the listener sees the
    /// revocation; with auto-commit the positions are committed first) and close. Closing
    /// twice is a no-op.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let id = slot_id(&self.slot);
        if LENT.with(|l| l.borrow().iter().any(|(i, _)| *i == id)) {
            return Err(in_callback("close")).py();
        }
        let r = py.detach(|| -> Result<(), Error> {
            let inner = self.slot.inner.lock().take();
            match inner {
                Some(mut i) => i.consumer.close(),
                None => Ok(()),
            }
        });
        self.take_listener_error()?;
        r.py()
    }

    /// Whether the consumer was closed (by `close()` or by closing its engine).
    #[getter]
    fn closed(&self) -> bool {
        self.slot.inner.lock().is_none()
    }

    /// The member id in the group ("" without a group or before joining).
    #[getter]
    fn member_id(&self, py: Python<'_>) -> String {
        self.with_consumer(py, |c| Ok(c.group_metadata().map(|m| m.member_id).unwrap_or_default())).unwrap_or_default()
    }
}
