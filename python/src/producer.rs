//! `kabase._native.Producer` and `SendFuture`, plus the engine's topic admin calls.

use std::sync::Arc;
use std::time::Duration;

use kabase::log::{NewTopic, Producer, ProducerConfig, ProducerRecord, SendFuture, TopicPartition};
use kabase::{Error, ErrorCode};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::engine::{PyEngine, Release, Slot};
use crate::pipe::{Pending, Pipe};
use crate::error::IntoPyResult;

type Headers = Option<Vec<(String, Option<Vec<u8>>)>>;

fn timeout(t: Option<f64>) -> PyResult<Option<Duration>> {
    match t {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(crate::error::new_err(ErrorCode::InvalidArgument, format!("timeout must be >= 0 seconds, not {s}"))),
    }
}

fn record(topic: &str, value: Option<Vec<u8>>, key: Option<Vec<u8>>, headers: Headers, partition: Option<i64>, ts: Option<i64>) -> PyResult<ProducerRecord> {
    let partition = match partition {
        None => None,
        Some(p) if (0..=i64::from(u32::MAX)).contains(&p) => Some(p as u32),
        Some(p) => return Err(crate::error::new_err(ErrorCode::UnknownPartition, format!("partition {p} is out of range"))),
    };
    let mut r = ProducerRecord {
        topic: topic.to_string(),
        partition,
        key,
        value,
        timestamp: ts,
        headers: Vec::new(),
    };
    for (k, v) in headers.unwrap_or_default() {
        r.headers.push(kabase::log::Header { key: k, value: v });
    }
    Ok(r)
}

/// A producer (thread-safe; share it between threads).
#[pyclass(module = "kabase._native", name = "Producer", frozen)]
pub struct PyProducer {
    slot: Arc<Slot<Arc<Producer>>>,
    /// The queued send path (not for transactional producers, whose sends must fail at once
    /// outside a transaction).
    pipe: Option<Arc<Pipe>>,
}

impl Drop for PyProducer {
    fn drop(&mut self) {
        if let Some(p) = &self.pipe {
            p.stop();
        }
    }
}

impl PyProducer {
    fn producer(&self) -> PyResult<Arc<Producer>> {
        self.slot.get().py()
    }
}

#[pymethods]
impl PyProducer {
    /// A producer on `engine` with Kafka-named configs (`[("acks", "all"), ("linger.ms", "5")]`).
    #[new]
    fn new(py: Python<'_>, engine: &PyEngine, configs: Vec<(String, String)>) -> PyResult<Self> {
        let mut cfg = ProducerConfig::default();
        for (k, v) in &configs {
            cfg = cfg.set(k, v).py()?;
        }
        let transactional = cfg.transactional_id.is_some();
        let e = engine.core()?;
        let producer = Arc::new(py.detach(move || e.producer(cfg)).py()?);
        let pipe = if transactional {
            None
        } else {
            let p = Pipe::new(Arc::clone(&producer));
            engine.shared.register(Arc::downgrade(&p) as std::sync::Weak<dyn Release>);
            Some(p)
        };
        Ok(PyProducer { slot: Slot::new(&engine.shared, "producer", producer), pipe })
    }

    /// Send one record; returns its future.
    #[pyo3(signature = (topic, value=None, key=None, headers=None, partition=None, timestamp_ms=None))]
    #[allow(clippy::too_many_arguments)] // kafka-python's send signature
    fn send(
        &self,
        py: Python<'_>,
        topic: &str,
        value: Option<&[u8]>,
        key: Option<&[u8]>,
        headers: Headers,
        partition: Option<i64>,
        timestamp_ms: Option<i64>,
    ) -> PyResult<PySendFuture> {
        if let (Some(pipe), None, None, None) = (&self.pipe, &headers, partition, timestamp_ms) {
            // The common case: queue it (no GIL release unless the queue is full).
            let r = ProducerRecord { topic: topic.to_string(), partition: None, key: key.map(<[u8]>::to_vec), value: value.map(<[u8]>::to_vec), timestamp: None, headers: Vec::new() };
            let pending = match pipe.try_push(r).py()? {
                Ok(p) => p,
                Err(r) => {
                    let pipe = Arc::clone(pipe);
                    py.detach(move || pipe.push_blocking(r)).py()?
                }
            };
            return Ok(PySendFuture { fut: Fut::Queued(pending) });
        }
        let r = record(topic, value.map(<[u8]>::to_vec), key.map(<[u8]>::to_vec), headers, partition, timestamp_ms)?;
        let p = self.producer()?;
        let pipe = self.pipe.clone();
        // `send` may block while `buffer.memory` is full, so release the GIL. Records queued
        // earlier go first.
        let fut = py
            .detach(move || {
                if let Some(pipe) = pipe {
                    pipe.drain(None)?;
                }
                p.send(r)
            })
            .py()?;
        Ok(PySendFuture { fut: Fut::Core(fut) })
    }

    /// Send many records to one topic in one call; returns their futures. `values` is a list
    /// of `bytes` (or `None`), `keys` a list of the same length (or None: no keys).
    #[pyo3(signature = (topic, values, keys=None, partition=None))]
    fn send_many(&self, py: Python<'_>, topic: &str, values: &Bound<'_, PyList>, keys: Option<&Bound<'_, PyList>>, partition: Option<i64>) -> PyResult<Vec<PySendFuture>> {
        if keys.is_some_and(|k| k.len() != values.len()) {
            return Err(crate::error::new_err(ErrorCode::InvalidArgument, "keys and values must have the same length"));
        }
        let mut recs = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            let v: Option<&[u8]> = v.extract()?;
            let k: Option<Vec<u8>> = match keys {
                Some(ks) => {
                    let item = ks.get_item(i)?;
                    item.extract::<Option<&[u8]>>()?.map(<[u8]>::to_vec)
                }
                None => None,
            };
            if k.is_none() && v.is_none() {
                return Err(crate::error::new_err(ErrorCode::InvalidArgument, "Need at least one: key or value"));
            }
            recs.push(record(topic, v.map(<[u8]>::to_vec), k, None, partition, None)?);
        }
        let p = self.producer()?;
        let pipe = self.pipe.clone();
        let futs = py
            .detach(move || -> Result<Vec<SendFuture>, Error> {
                if let Some(pipe) = pipe {
                    pipe.drain(None)?;
                }
                recs.into_iter().map(|r| p.send(r)).collect()
            })
            .py()?;
        Ok(futs.into_iter().map(|fut| PySendFuture { fut: Fut::Core(fut) }).collect())
    }

    /// Wait until every record sent so far is acknowledged; with `timeout` (seconds), raise
    /// `kabase.errors.Timeout` once it passes (the records stay queued and complete later).
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        let p = self.producer()?;
        let pipe = self.pipe.clone();
        py.detach(move || {
            bounded(t, "flush", move || {
                if let Some(pipe) = pipe {
                    pipe.drain(None)?;
                }
                p.flush()
            })
        })
        .py()
    }

    /// Flush and close; with `timeout` (seconds), raise `kabase.errors.Timeout` once it passes
    /// (the producer is closed for new records either way and finishes in the background).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        let p = self.producer()?;
        let pipe = self.pipe.clone();
        py.detach(move || {
            bounded(t, "close", move || {
                if let Some(pipe) = pipe {
                    pipe.drain(None)?;
                    pipe.stop();
                    // A send that raced the stop is handed over by the thread before it ends.
                    pipe.drain(None)?;
                }
                p.close()
            })
        })
        .py()
    }

    /// Number of partitions of `topic` (created on first use).
    fn partitions_for(&self, py: Python<'_>, topic: &str) -> PyResult<u32> {
        let p = self.producer()?;
        py.detach(move || p.partitions_for(topic)).py()
    }

    /// The producer id and epoch (idempotent / transactional producers).
    #[getter]
    fn producer_id(&self) -> PyResult<i64> {
        Ok(self.producer()?.producer_id())
    }

    #[getter]
    fn producer_epoch(&self) -> PyResult<i16> {
        Ok(self.producer()?.producer_epoch())
    }

    /// Producer metrics as a dict.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.producer()?;
        let d = PyDict::new(py);
        d.set_item("producer-id", p.producer_id())?;
        d.set_item("producer-epoch", p.producer_epoch())?;
        Ok(d)
    }

    fn init_transactions(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.producer()?;
        py.detach(move || p.init_transactions()).py()
    }

    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.producer()?;
        py.detach(move || p.begin_transaction()).py()
    }

    /// Add `[(topic, partition, offset, metadata)]` of `group_id` to the transaction.
    fn send_offsets_to_transaction(&self, py: Python<'_>, offsets: Vec<(String, u32, i64, String)>, group_id: &str) -> PyResult<()> {
        let offs: Vec<(TopicPartition, i64)> = offsets.into_iter().map(|(t, p, o, _m)| (TopicPartition::new(t, p), o)).collect();
        let p = self.producer()?;
        py.detach(move || p.send_offsets_to_transaction(&offs, group_id)).py()
    }

    fn commit_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.producer()?;
        py.detach(move || p.commit_transaction()).py()
    }

    fn abort_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.producer()?;
        py.detach(move || p.abort_transaction()).py()
    }
}

/// Run `f` (a flush or close) with a bounded wait: without a timeout inline; with one on a
/// helper thread, failing with `Timeout` when it has not finished in time (it then finishes in
/// the background; waiting on a flush never changes what it does).
fn bounded(t: Option<Duration>, what: &'static str, f: impl FnOnce() -> Result<(), Error> + Send + 'static) -> Result<(), Error> {
    let Some(t) = t else { return f() };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("kabase-py-{what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Error::io(format_args!("start the {what} thread"), e))?;
    match rx.recv_timeout(t) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::new(ErrorCode::Timeout, format!("{what} did not finish within {:.3} s", t.as_secs_f64()))),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::internal(format!("the {what} thread ended without a result"))),
    }
}

/// The pending result of a send.
#[pyclass(module = "kabase._native", name = "SendFuture", frozen)]
pub struct PySendFuture {
    fut: Fut,
}

enum Fut {
    /// Sent to the core directly.
    Core(SendFuture),
    /// Queued for the hand-off thread.
    Queued(Arc<Pending>),
}

#[pymethods]
impl PySendFuture {
    /// Wait (at most `timeout` seconds) and return `(topic, partition, offset, timestamp,
    /// key_size, value_size, header_size)`; raises the send's error.
    #[pyo3(signature = (timeout=None))]
    fn get<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyTuple>> {
        let t = self::timeout(timeout)?;
        let m = py
            .detach(|| match (&self.fut, t) {
                (Fut::Core(f), None) => f.get(),
                (Fut::Core(f), Some(d)) => f.get_timeout(d),
                (Fut::Queued(p), t) => p.get(crate::pipe::deadline(t)),
            })
            .py()?;
        PyTuple::new(
            py,
            [
                m.topic.into_pyobject(py)?.into_any(),
                m.partition.into_pyobject(py)?.into_any(),
                m.offset.into_pyobject(py)?.into_any(),
                m.timestamp.into_pyobject(py)?.into_any(),
                m.serialized_key_size.into_pyobject(py)?.into_any(),
                m.serialized_value_size.into_pyobject(py)?.into_any(),
                (-1i32).into_pyobject(py)?.into_any(),
            ],
        )
    }

    /// Whether the result is in.
    fn is_done(&self) -> bool {
        match &self.fut {
            Fut::Core(f) => f.is_done(),
            Fut::Queued(p) => p.is_done(),
        }
    }
}

#[pymethods]
impl PyEngine {
    /// Create a topic with `partitions` partitions and Kafka-named configs.
    #[pyo3(signature = (name, partitions, configs=Vec::new()))]
    fn create_topic(&self, py: Python<'_>, name: &str, partitions: u32, configs: Vec<(String, String)>) -> PyResult<()> {
        let mut t = NewTopic::new(name, partitions);
        for (k, v) in configs {
            t = t.config(k, v);
        }
        let e = self.core()?;
        py.detach(move || e.create_topic(t)).py()
    }

    /// Check a topic could be created, without creating it.
    #[pyo3(signature = (name, partitions, configs=Vec::new()))]
    fn validate_topic(&self, name: &str, partitions: u32, configs: Vec<(String, String)>) -> PyResult<()> {
        kabase::log::validate_topic_name(name).py()?;
        if partitions == 0 {
            return Err(crate::error::new_err(ErrorCode::InvalidArgument, "a topic needs at least one partition"));
        }
        let _ = configs;
        if self.core()?.list_topics().py()?.iter().any(|t| t == name) {
            return Err(crate::error::new_err(ErrorCode::TopicExists, format!("topic {name} already exists")));
        }
        Ok(())
    }

    fn delete_topic(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let e = self.core()?;
        py.detach(move || e.delete_topic(name)).py()
    }

    /// Grow a topic to `total` partitions.
    fn create_partitions(&self, py: Python<'_>, name: &str, total: u32) -> PyResult<()> {
        let e = self.core()?;
        py.detach(move || e.create_partitions(name, total)).py()
    }

    fn list_topics(&self) -> PyResult<Vec<String>> {
        self.core()?.list_topics().py()
    }

    /// Partition count of a topic.
    fn topic_partitions(&self, name: &str) -> PyResult<u32> {
        self.core()?.partitions_for(name).py()
    }

    /// `{'name', 'topic_id', 'partitions': [{'partition', 'log_start_offset', 'log_end_offset',
    /// 'high_watermark', 'last_stable_offset'}]}`.
    fn describe_topic<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let d = self.core()?.describe_topic(name).py()?;
        let out = PyDict::new(py);
        out.set_item("name", &d.name)?;
        out.set_item("topic_id", &d.topic_id)?;
        out.set_item("internal", false)?;
        let parts = PyList::empty(py);
        for p in &d.partitions {
            let pd = PyDict::new(py);
            pd.set_item("partition", p.partition)?;
            pd.set_item("log_start_offset", p.log_start_offset)?;
            pd.set_item("log_end_offset", p.log_end_offset)?;
            pd.set_item("high_watermark", p.high_watermark)?;
            pd.set_item("last_stable_offset", p.last_stable_offset)?;
            pd.set_item("segments", p.segments.len())?;
            parts.append(pd)?;
        }
        out.set_item("partitions", parts)?;
        Ok(out)
    }

    /// `[(name, value, is_default)]` of a topic.
    fn describe_topic_configs(&self, name: &str) -> PyResult<Vec<(String, String, bool)>> {
        Ok(self.core()?.describe_configs(name).py()?.into_iter().map(|c| (c.name, c.value, c.is_default)).collect())
    }

    /// Set (`(key, value)`) or reset (`(key, None)`) topic configs.
    fn alter_topic_configs(&self, py: Python<'_>, name: &str, changes: Vec<(String, Option<String>)>) -> PyResult<()> {
        let ch: Vec<(&str, Option<&str>)> = changes.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        let e = self.core()?;
        py.detach(move || e.alter_configs(name, &ch)).py()
    }

    /// Delete records before `offset`; returns the new log start offset.
    fn delete_records(&self, py: Python<'_>, topic: &str, partition: u32, offset: i64) -> PyResult<i64> {
        let e = self.core()?;
        let tp = TopicPartition::new(topic, partition);
        py.detach(move || e.delete_records(&tp, offset)).py()
    }
}

/// Keys and values as Python bytes (for record tuples).
pub(crate) fn opt_bytes<'py>(py: Python<'py>, b: &Option<Vec<u8>>) -> Bound<'py, PyAny> {
    match b {
        Some(v) => PyBytes::new(py, v).into_any(),
        None => py.None().into_bound(py),
    }
}
