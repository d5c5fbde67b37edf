//! `kabase._native.Consumer`: the facade's [`KafkaConsumer`] (the core's consumer with the Kafka
//! client's semantics: group-less subscriptions, rebalance callbacks that may call back into the
//! consumer), with Python values.
//!
//! This layer converts records into native `ConsumerRecord`s (`record.rs`), tuples or a given
//! tuple class (a namedtuple), and bridges the rebalance
//! listener: a Python object whose `on_partitions_*` methods the facade calls inside `poll`,
//! `unsubscribe` and `close`. A callback's exception is raised from the call that ran it, after
//! the records that call fetched are given back (their positions rewound).

use std::sync::Arc;

use kabase_sdk::{Header, KafkaConsumer, OffsetForTime, PackedRecords, RebalanceCallback, TimestampType};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};

use crate::engine::{PyEngine, Release};
use crate::error::IntoPyResult;
use crate::producer::opt_bytes;
use crate::record::PyConsumerRecord;

/// The largest key and value buffer a consumer keeps from one poll to the next (a poll of
/// 5,000 records of 1 KiB fills 5 MB).
const MAX_KEPT_BYTES: usize = 64 << 20;

/// The state of a `kabase._native.Consumer`.
pub(crate) struct ConsumerSlot {
    consumer: KafkaConsumer,
    /// The first exception a Python rebalance callback raised, until the call that ran it
    /// raises it.
    listener_error: Mutex<Option<PyErr>>,
    /// The buffers polls fill (kept between polls so their capacity is reused); taken out for
    /// the length of a poll, so two threads polling at once each have their own.
    packed: Mutex<Option<PackedRecords>>,
}

impl Release for ConsumerSlot {
    fn release(&self) {
        // The engine is closed: this only drops the consumer's state.
        self.consumer.release();
    }
}

/// A Python rebalance listener (`on_partitions_revoked`, `on_partitions_assigned`,
/// `on_partitions_lost`, each given `[(topic, partition)]`; without `on_partitions_lost`, lost
/// partitions go to `on_partitions_revoked`).
struct PyListener {
    obj: Py<PyAny>,
    slot: std::sync::Weak<ConsumerSlot>,
}

impl PyListener {
    fn call(&self, method: &str, parts: &[(String, u32)]) {
        let res = Python::attach(|py| -> PyResult<()> {
            let obj = self.obj.bind(py);
            if method == "on_partitions_lost" && !obj.hasattr(method)? {
                obj.call_method1("on_partitions_revoked", (parts.to_vec(),))?;
            } else {
                obj.call_method1(method, (parts.to_vec(),))?;
            }
            Ok(())
        });
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

impl RebalanceCallback for PyListener {
    fn on_partitions_revoked(&mut self, partitions: &[(String, u32)]) {
        self.call("on_partitions_revoked", partitions);
    }
    fn on_partitions_assigned(&mut self, partitions: &[(String, u32)]) {
        self.call("on_partitions_assigned", partitions);
    }
    fn on_partitions_lost(&mut self, partitions: &[(String, u32)]) {
        self.call("on_partitions_lost", partitions);
    }
}

/// A record's headers as kafka-python gives them (a list of `(key, value)` tuples) and their
/// serialized size (keys plus values: kafka-python's `serialized_header_size` when there are any).
fn headers_to_py<'py>(py: Python<'py>, headers: &[Header]) -> PyResult<(Bound<'py, PyList>, i64)> {
    let list = PyList::empty(py);
    let mut size: i64 = 0;
    for h in headers {
        size += h.key.len() as i64 + h.value.as_ref().map_or(0, |v| v.len() as i64);
        list.append((h.key.as_str(), opt_bytes(py, &h.value)))?;
    }
    Ok((list, size))
}

/// Records as tuples `(topic, partition, offset, timestamp, timestamp_type, key, value,
/// headers, key_size, value_size, header_size)`.
pub(crate) fn records_to_py<'py>(py: Python<'py>, recs: &PackedRecords) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut last_topic: Option<(usize, Bound<'py, PyAny>)> = None;
    for r in recs.iter() {
        let topic = match &last_topic {
            Some((t, obj)) if *t == r.topic_index => obj.clone(),
            _ => {
                let obj = r.topic.as_ref().into_pyobject(py)?.into_any();
                last_topic = Some((r.topic_index, obj.clone()));
                obj
            }
        };
        let (headers, hsize) = headers_to_py(py, r.headers)?;
        let ksize = r.key.map_or(-1, |k| k.len() as i64);
        let vsize = r.value.map_or(-1, |v| v.len() as i64);
        let tstype: i64 = match r.timestamp_type {
            TimestampType::CreateTime => 0,
            TimestampType::LogAppendTime => 1,
        };
        let t = PyTuple::new(
            py,
            [
                topic,
                r.partition.into_pyobject(py)?.into_any(),
                r.offset.into_pyobject(py)?.into_any(),
                r.timestamp.into_pyobject(py)?.into_any(),
                tstype.into_pyobject(py)?.into_any(),
                opt_slice(py, r.key),
                opt_slice(py, r.value),
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

/// `bytes` of `b`, or None.
fn opt_slice<'py>(py: Python<'py>, b: Option<&[u8]>) -> Bound<'py, PyAny> {
    match b {
        Some(b) => PyBytes::new(py, b).into_any(),
        None => py.None().into_bound(py),
    }
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

/// The consumer's `key_deserializer` and `value_deserializer`: each, when given, is called with
/// every non-null key (value) bytes and its result becomes the record's key (value).
#[derive(Clone, Copy)]
struct Deserializers<'a, 'py> {
    key: Option<&'a Bound<'py, PyAny>>,
    value: Option<&'a Bound<'py, PyAny>>,
}

impl<'py> Deserializers<'_, 'py> {
    /// `bytes`, or what `f` makes of it (None stays None, as in kafka-python).
    fn apply(f: Option<&Bound<'py, PyAny>>, py: Python<'py>, b: Option<&[u8]>) -> PyResult<Bound<'py, PyAny>> {
        let raw = opt_slice(py, b);
        match f {
            Some(f) if b.is_some() => f.call1((raw,)),
            _ => Ok(raw),
        }
    }

    /// The same for a record field kept as an `Option` (None for a null key or value).
    fn apply_opt(f: Option<&Bound<'py, PyAny>>, py: Python<'py>, b: Option<&[u8]>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(b) = b else { return Ok(None) };
        let raw = PyBytes::new(py, b).into_any();
        match f {
            Some(f) => f.call1((raw,)).map(Some),
            None => Ok(Some(raw)),
        }
    }
}

/// A poll's records made (by [`records_as`]) but not yet put in the lists the caller gets
/// ([`Made::assemble`]).
///
/// The two steps are apart so that the records are made with the collector paused
/// ([`crate::gc::deferred`]) and the lists are made after it resumes: the collection that the
/// batch's allocations have made due runs at the first list's allocation, while no list holds
/// the records yet, instead of later walking every entry of the batch's lists (which cost about
/// 57 instructions a record). The collection itself is neither skipped nor moved past the
/// poll.
pub(crate) struct Made<'py> {
    records: Vec<Bound<'py, PyAny>>,
    /// Runs of consecutive records of one partition, in fetch order: topic, partition, count.
    runs: Vec<(Bound<'py, PyString>, u32, usize)>,
}

impl<'py> Made<'py> {
    /// The records as one list, or with `tp_cls` (the `TopicPartition` namedtuple) as
    /// `{TopicPartition: [record]}` the way `KafkaConsumer.poll` returns them. Each list is
    /// made at its final size, the records moved into it ([`list_of`]).
    pub(crate) fn assemble(self, py: Python<'py>, tp_cls: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let Some(tp_cls) = tp_cls else {
            return Ok(list_of(py, self.records.into_iter())?.into_any());
        };
        let tp_make = RecordMaker::new(py, tp_cls)?;
        let dict = PyDict::new(py);
        let mut records = self.records.into_iter();
        for (topic, partition, n) in self.runs {
            let key = tp_make.make(py, [topic.into_any(), partition.into_pyobject(py)?.into_any()])?;
            let run = records.by_ref().take(n);
            match dict.get_item(&key)? {
                // A partition met again later in the poll: appended to its list.
                Some(l) => {
                    let l = l.cast_into::<PyList>()?;
                    for r in run {
                        l.append(r)?;
                    }
                }
                None => dict.set_item(key, list_of(py, run)?)?,
            }
        }
        Ok(dict.into_any())
    }
}

/// A list of `items` (moved in), made at its final size.
#[allow(unsafe_code)]
fn list_of<'py>(py: Python<'py>, items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyList>> {
    use pyo3::ffi;
    let n = items.len();
    // SAFETY: with the GIL held, `PyList_New(n)` returns a new list of `n` empty (null) slots,
    // or null with an exception set; `from_owned_ptr` takes that reference. Each slot in
    // `0..n` is then set exactly once with `PyList_SetItem`, which takes over the reference
    // `into_ptr` hands it (an index below `n` cannot fail), before the list reaches any Python
    // code; should `items` yield fewer than it said, the remaining slots get None, so the list
    // never holds a null.
    unsafe {
        let raw = ffi::PyList_New(n as ffi::Py_ssize_t);
        if raw.is_null() {
            return Err(PyErr::fetch(py));
        }
        let list = Bound::from_owned_ptr(py, raw).cast_into_unchecked::<PyList>();
        let mut filled = 0;
        for item in items.take(n) {
            ffi::PyList_SetItem(raw, filled as ffi::Py_ssize_t, item.into_ptr());
            filled += 1;
        }
        for i in filled..n {
            ffi::PyList_SetItem(raw, i as ffi::Py_ssize_t, py.None().into_ptr());
        }
        Ok(list)
    }
}

/// Records as instances of `rec_cls`, made here in one pass (keys and values through the
/// deserializers, if any), to be put in lists by [`Made::assemble`]. `rec_cls` is the native
/// [`PyConsumerRecord`] (what `kabase.kafka` passes) or any class taking the same 13 fields as a
/// tuple does (a namedtuple such as kafka-python's).
fn records_as<'py>(py: Python<'py>, recs: &PackedRecords, rec_cls: &Bound<'py, PyAny>, de: Deserializers<'_, 'py>) -> PyResult<Made<'py>> {
    let native = rec_cls.as_ptr() == py.get_type::<PyConsumerRecord>().as_ptr();
    let make = if native { None } else { Some(RecordMaker::new(py, rec_cls)?) };
    let native_make = if native { Some(crate::record::FetchedMaker::new(py)?) } else { None };
    // Without deserializers keys and values are bytes or None: no record can be in a cycle.
    let atomic = de.key.is_none() && de.value.is_none();
    let none = py.None().into_bound(py);
    let minus_one = (-1i64).into_pyobject(py)?.into_any();
    let zero = 0i64.into_pyobject(py)?.into_any();
    let one = 1i64.into_pyobject(py)?.into_any();
    let mut made = Made { records: Vec::with_capacity(recs.len()), runs: Vec::new() };
    let mut cur: Option<(usize, u32)> = None;
    let mut topic_obj: Option<Bound<'py, PyString>> = None;
    // Records of one batch share a timestamp more often than not: reuse its int object.
    let mut last_ts: Option<(i64, Bound<'py, PyAny>)> = None;
    // Per run of one partition's records: the topic str and the partition's list entry.
    for run in recs.runs() {
        let topic_name = run.topic();
        let same_topic = cur.as_ref().is_some_and(|(t, _)| *t == run.topic_index());
        // Borrowed: one str per topic, referenced (not cloned) until a record takes it.
        let topic: &Bound<'py, PyString> = match &mut topic_obj {
            Some(t) if same_topic => t,
            slot => slot.insert(PyString::new(py, topic_name.as_ref())),
        };
        match made.runs.last_mut() {
            Some(last) if same_topic && cur.as_ref().is_some_and(|(_, p)| *p == run.partition()) => last.2 += run.len(),
            _ => {
                cur = Some((run.topic_index(), run.partition()));
                made.runs.push((topic.clone(), run.partition(), run.len()));
            }
        }
        for r in run.records() {
            let Some(make) = &make else {
                let key = Deserializers::apply_opt(de.key, py, r.key)?;
                let value = Deserializers::apply_opt(de.value, py, r.value)?;
                if let Some(m) = &native_make {
                    made.records.push(m.fetched(topic, &r, key, value, atomic)?.into_any());
                }
                continue;
            };
            let (headers, hsize) = headers_to_py(py, r.headers)?;
            let ksize = r.key.map_or(-1, |k| k.len() as i64);
            let vsize = r.value.map_or(-1, |v| v.len() as i64);
            let ts = match &last_ts {
                Some((v, o)) if *v == r.timestamp => o.clone(),
                _ => {
                    let o = r.timestamp.into_pyobject(py)?.into_any();
                    last_ts = Some((r.timestamp, o.clone()));
                    o
                }
            };
            let tstype = match r.timestamp_type {
                TimestampType::CreateTime => zero.clone(),
                TimestampType::LogAppendTime => one.clone(),
            };
            let fields = [
                    topic.clone().into_any(),
                    r.partition.into_pyobject(py)?.into_any(),
                    r.offset.into_pyobject(py)?.into_any(),
                    ts,
                    tstype,
                    Deserializers::apply(de.key, py, r.key)?,
                    Deserializers::apply(de.value, py, r.value)?,
                    headers.into_any(),
                    none.clone(),
                    ksize.into_pyobject(py)?.into_any(),
                    vsize.into_pyobject(py)?.into_any(),
                    if r.headers.is_empty() { minus_one.clone() } else { hsize.into_pyobject(py)?.into_any() },
                    minus_one.clone(),
            ];
            made.records.push(make.make(py, fields)?);
        }
    }
    Ok(made)
}

/// A consumer. Calls are serialized by an internal lock; share it between threads if you must.
#[pyclass(module = "kabase._native", name = "Consumer", frozen)]
pub struct PyConsumer {
    slot: Arc<ConsumerSlot>,
}

impl PyConsumer {
    /// Run a facade call with the GIL released (a thread blocked in `poll` never blocks
    /// another; a rebalance callback takes the GIL back to run).
    fn call<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&KafkaConsumer) -> kabase_sdk::Result<R> + Send) -> PyResult<R> {
        let c = &self.slot.consumer;
        py.detach(|| f(c)).py()
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
        let e = engine.core()?;
        let consumer = py.detach(move || e.kafka_consumer(&configs, group_id.as_deref(), &group_configs)).py()?;
        let slot = Arc::new(ConsumerSlot { consumer, listener_error: Mutex::new(None), packed: Mutex::new(None) });
        engine.shared.register(Arc::downgrade(&slot) as std::sync::Weak<dyn Release>);
        Ok(PyConsumer { slot })
    }

    /// Subscribe to `topics`, or to every topic whose whole name matches `pattern`; with a
    /// group id, `listener` gets the rebalance callbacks.
    #[pyo3(signature = (topics=None, pattern=None, listener=None))]
    fn subscribe(&self, py: Python<'_>, topics: Option<Vec<String>>, pattern: Option<String>, listener: Option<Py<PyAny>>) -> PyResult<()> {
        let slot = Arc::downgrade(&self.slot);
        let listener = listener.map(|obj| Box::new(PyListener { obj, slot }) as Box<dyn RebalanceCallback>);
        self.call(py, move |c| c.subscribe(topics, pattern, listener))
    }

    /// The subscribed topics (a pattern's current matches); None when not subscribed.
    fn subscription(&self, py: Python<'_>) -> PyResult<Option<Vec<String>>> {
        self.call(py, |c| c.subscription())
    }

    /// Drop the subscription (leaving the group's assignment; the listener sees the
    /// revocation) or the manual assignment.
    fn unsubscribe(&self, py: Python<'_>) -> PyResult<()> {
        let r = self.call(py, |c| c.unsubscribe());
        self.take_listener_error()?;
        r
    }

    /// Assign partitions by hand.
    fn assign(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.call(py, move |c| c.assign(&partitions))
    }

    /// The assigned partitions.
    fn assignment(&self, py: Python<'_>) -> PyResult<Vec<(String, u32)>> {
        self.call(py, |c| c.assignment())
    }

    /// Fetch up to `max_records` records, waiting up to `timeout_ms`. In a group this drives
    /// the group protocol too (the listener runs inside). Records are tuples (see
    /// `records_to_py`), or `record_cls` instances; with `tp_cls` too, a dict
    /// `{tp_cls(topic, partition): [record]}`. With `record_cls`, `key_deserializer` and
    /// `value_deserializer` (callables) turn each non-null key and value into the record's; if
    /// one raises, the fetched records are given back (positions rewound, nothing skipped) and
    /// its exception is raised.
    #[pyo3(signature = (max_records, timeout_ms, record_cls=None, tp_cls=None, key_deserializer=None, value_deserializer=None))]
    #[allow(clippy::too_many_arguments)]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        max_records: usize,
        timeout_ms: u64,
        record_cls: Option<Bound<'py, PyAny>>,
        tp_cls: Option<Bound<'py, PyAny>>,
        key_deserializer: Option<Bound<'py, PyAny>>,
        value_deserializer: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let de = Deserializers { key: key_deserializer.as_ref(), value: value_deserializer.as_ref() };
        if record_cls.is_none() && (de.key.is_some() || de.value.is_some()) {
            return Err(pyo3::exceptions::PyTypeError::new_err("deserializers need record_cls"));
        }
        for f in [de.key, de.value].into_iter().flatten() {
            if !f.is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err("a deserializer must be callable"));
            }
        }
        // The records are packed into reused buffers (GIL released) and copied into Python
        // objects from there: no key or value vector is allocated and freed per record.
        let mut recs = self.slot.packed.lock().take().unwrap_or_default();
        let polled = self.call(py, |c| c.poll_packed(max_records, timeout_ms, &mut recs));
        let out = if let Some(err) = self.slot.listener_error.lock().take() {
            // The callback failed: give the fetched records back before raising.
            if polled.is_ok() {
                let _ = self.call(py, |c| c.rewind_packed(&recs));
            }
            Err(err)
        } else {
            polled.and_then(|_| {
                let out = match &record_cls {
                    Some(cls) => crate::gc::deferred(py, recs.len(), || records_as(py, &recs, cls, de)).and_then(|made| made.assemble(py, tp_cls.as_ref())),
                    None => crate::gc::deferred(py, recs.len(), || Ok(records_to_py(py, &recs)?.into_any())),
                };
                if out.is_err() && !recs.is_empty() {
                    // A deserializer (or the conversion) failed: none of the batch reaches the
                    // caller, so give it back rather than skip it.
                    let _ = self.call(py, |c| c.rewind_packed(&recs));
                }
                out
            })
        };
        // Kept for the next poll unless an unusually large poll grew it past `MAX_KEPT_BYTES`.
        if recs.byte_capacity() <= MAX_KEPT_BYTES {
            *self.slot.packed.lock() = Some(recs);
        }
        out
    }

    /// Commit `[(topic, partition, offset, metadata)]`, or (None) the current positions.
    #[pyo3(signature = (offsets=None))]
    fn commit(&self, py: Python<'_>, offsets: Option<Vec<(String, u32, i64, String)>>) -> PyResult<()> {
        self.call(py, move |c| c.commit(offsets))
    }

    /// The group's committed `(offset, metadata)` of a partition.
    fn committed(&self, py: Python<'_>, topic: String, partition: u32) -> PyResult<Option<(i64, String)>> {
        self.call(py, move |c| c.committed(&topic, partition))
    }

    fn seek(&self, py: Python<'_>, topic: String, partition: u32, offset: i64) -> PyResult<()> {
        self.call(py, move |c| c.seek(&topic, partition, offset))
    }

    /// Seek to the log start of the given partitions (None: all assigned).
    #[pyo3(signature = (partitions=None))]
    fn seek_to_beginning(&self, py: Python<'_>, partitions: Option<Vec<(String, u32)>>) -> PyResult<()> {
        self.call(py, move |c| c.seek_to_beginning(partitions.as_deref()))
    }

    /// Seek to the end (the LSO under read_committed).
    #[pyo3(signature = (partitions=None))]
    fn seek_to_end(&self, py: Python<'_>, partitions: Option<Vec<(String, u32)>>) -> PyResult<()> {
        self.call(py, move |c| c.seek_to_end(partitions.as_deref()))
    }

    fn position(&self, py: Python<'_>, topic: String, partition: u32) -> PyResult<i64> {
        self.call(py, move |c| c.position(&topic, partition))
    }

    fn pause(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.call(py, move |c| c.pause(&partitions))
    }

    fn resume(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<()> {
        self.call(py, move |c| c.resume(&partitions))
    }

    fn paused(&self, py: Python<'_>) -> PyResult<Vec<(String, u32)>> {
        self.call(py, |c| c.paused())
    }

    fn beginning_offsets(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<Vec<(String, u32, i64)>> {
        self.call(py, move |c| c.beginning_offsets(&partitions))
    }

    fn end_offsets(&self, py: Python<'_>, partitions: Vec<(String, u32)>) -> PyResult<Vec<(String, u32, i64)>> {
        self.call(py, move |c| c.end_offsets(&partitions))
    }

    /// `[(topic, partition, ts)]` -> `[(topic, partition, (offset, timestamp) | None)]`.
    fn offsets_for_times(&self, py: Python<'_>, query: Vec<(String, u32, i64)>) -> PyResult<Vec<OffsetForTime>> {
        self.call(py, move |c| c.offsets_for_times(&query))
    }

    /// Partition count of a topic (None if it does not exist).
    fn partitions_for_topic(&self, py: Python<'_>, topic: String) -> PyResult<Option<u32>> {
        self.call(py, move |c| c.partitions_for_topic(&topic))
    }

    fn topics(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.call(py, |c| c.topics())
    }

    /// Consumer metrics as a dict.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (n, member) = self.call(py, |c| c.membership())?;
        let d = PyDict::new(py);
        d.set_item("assigned-partitions", n)?;
        d.set_item("generation", member.as_ref().map(|m| m.0))?;
        d.set_item("member-id", member.map(|m| m.1))?;
        Ok(d)
    }

    /// Leave the group (its partitions move to the other members; the listener sees the
    /// revocation; with auto-commit the positions are committed first) and close. Closing
    /// twice is a no-op.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let r = self.call(py, |c| c.close());
        self.take_listener_error()?;
        r
    }

    /// Whether the consumer was closed (by `close()` or by closing its engine).
    #[getter]
    fn closed(&self) -> bool {
        self.slot.consumer.is_closed()
    }

    /// The member id in the group ("" without a group or before joining).
    #[getter]
    fn member_id(&self, py: Python<'_>) -> String {
        self.call(py, |c| c.membership()).ok().and_then(|(_, m)| m.map(|x| x.1)).unwrap_or_default()
    }
}
