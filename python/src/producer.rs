//! `kabase._native.Producer` and `SendFuture`, plus the engine's topic admin calls.

use std::sync::Arc;
use std::time::Duration;

use kabase_sdk::{ErrorCode, OutgoingRecord, PartitionOffset, Pending, Producer, SendFuture, SendQueue};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::engine::{PyEngine, Release, Slot};
use crate::error::IntoPyResult;

type Headers = Option<Vec<(String, Option<Vec<u8>>)>>;

fn timeout(t: Option<f64>) -> PyResult<Option<Duration>> {
    match t {
        None => Ok(None),
        // A timeout too long for a `Duration` (over 584 billion years) is no limit at all.
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Duration::try_from_secs_f64(s).ok()),
        Some(s) => Err(crate::error::new_err(ErrorCode::InvalidArgument, format!("timeout must be >= 0 seconds, not {s}"))),
    }
}

fn record(value: Option<Vec<u8>>, key: Option<Vec<u8>>, headers: Headers, partition: Option<i64>, ts: Option<i64>) -> PyResult<OutgoingRecord> {
    let partition = match partition {
        None => None,
        Some(p) if (0..=i64::from(u32::MAX)).contains(&p) => Some(p as u32),
        Some(p) => return Err(crate::error::new_err(ErrorCode::UnknownPartition, format!("partition {p} is out of range"))),
    };
    Ok(OutgoingRecord { partition, key, value, timestamp: ts, headers: headers.unwrap_or_default() })
}

/// The engine's close drops the queue's producer (queued records then fail with `Closed`).
struct QueueSlot(Arc<SendQueue>);

impl Release for QueueSlot {
    fn release(&self) {
        self.0.release();
    }
}

/// A producer (thread-safe; share it between threads).
#[pyclass(module = "kabase._native", name = "Producer", frozen)]
pub struct PyProducer {
    slot: Arc<Slot<Producer>>,
    /// The queued send path (not for transactional producers, whose sends must fail at once
    /// outside a transaction).
    pipe: Option<Arc<QueueSlot>>,
}

impl Drop for PyProducer {
    fn drop(&mut self) {
        if let Some(p) = &self.pipe {
            p.0.stop();
        }
    }
}

impl PyProducer {
    fn producer(&self) -> PyResult<Producer> {
        self.slot.get().py()
    }

    fn queue(&self) -> Option<Arc<SendQueue>> {
        self.pipe.as_ref().map(|p| Arc::clone(&p.0))
    }
}

#[pymethods]
impl PyProducer {
    /// A producer on `engine` with Kafka-named configs (`[("acks", "all"), ("linger.ms", "5")]`).
    #[new]
    fn new(py: Python<'_>, engine: &PyEngine, configs: Vec<(String, String)>) -> PyResult<Self> {
        let e = engine.core()?;
        let producer = py.detach(move || e.producer(&configs)).py()?;
        let pipe = if producer.is_transactional() {
            None
        } else {
            let p = Arc::new(QueueSlot(SendQueue::new(producer.clone())));
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
            let r = OutgoingRecord { partition: None, key: key.map(<[u8]>::to_vec), value: value.map(<[u8]>::to_vec), timestamp: None, headers: Vec::new() };
            let pending = match pipe.0.try_push(topic.to_string(), r).py()? {
                Ok(p) => p,
                Err((topic, r)) => {
                    let q = Arc::clone(&pipe.0);
                    py.detach(move || q.push_blocking(topic, r)).py()?
                }
            };
            return Ok(PySendFuture { fut: Fut::Queued(pending) });
        }
        let r = record(value.map(<[u8]>::to_vec), key.map(<[u8]>::to_vec), headers, partition, timestamp_ms)?;
        let p = self.producer()?;
        let pipe = self.queue();
        let topic = topic.to_string();
        // `send` may block while `buffer.memory` is full, so release the GIL. Records queued
        // earlier go first.
        let fut = py
            .detach(move || {
                if let Some(pipe) = pipe {
                    pipe.drain(None)?;
                }
                p.send_async(topic, r)
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
            recs.push(record(v.map(<[u8]>::to_vec), k, None, partition, None)?);
        }
        let p = self.producer()?;
        let pipe = self.queue();
        let futs = py
            .detach(move || -> kabase_sdk::Result<Vec<SendFuture>> {
                if let Some(pipe) = pipe {
                    pipe.drain(None)?;
                }
                p.send_many_async(topic, recs)
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
        let pipe = self.queue();
        py.detach(move || match pipe {
            Some(q) => q.flush(t),
            None => p.flush_within(t),
        })
        .py()
    }

    /// Flush and close; with `timeout` (seconds), raise `kabase.errors.Timeout` once it passes
    /// (the producer is closed for new records either way and finishes in the background).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        let p = self.producer()?;
        let pipe = self.queue();
        py.detach(move || match pipe {
            Some(q) => q.close(t),
            None => p.close_within(t),
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
        let offs: Vec<PartitionOffset> = offsets.into_iter().map(|(topic, partition, offset, _m)| PartitionOffset { topic, partition, offset }).collect();
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
                (Fut::Queued(p), t) => p.get(kabase_sdk::deadline(t)),
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
        let e = self.core()?;
        py.detach(move || e.create_topic_with(name, partitions, &configs)).py()
    }

    /// Check a topic could be created, without creating it.
    #[pyo3(signature = (name, partitions, configs=Vec::new()))]
    fn validate_topic(&self, name: &str, partitions: u32, configs: Vec<(String, String)>) -> PyResult<()> {
        let _ = configs;
        self.core()?.validate_topic(name, partitions).py()
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
        Ok(self.core()?.describe_topic_configs(name).py()?.into_iter().map(|c| (c.name, c.value, c.is_default)).collect())
    }

    /// Set (`(key, value)`) or reset (`(key, None)`) topic configs.
    fn alter_topic_configs(&self, py: Python<'_>, name: &str, changes: Vec<(String, Option<String>)>) -> PyResult<()> {
        let e = self.core()?;
        py.detach(move || e.alter_topic_configs(name, &changes)).py()
    }

    /// Delete records before `offset`; returns the new log start offset.
    fn delete_records(&self, py: Python<'_>, topic: &str, partition: u32, offset: i64) -> PyResult<i64> {
        let e = self.core()?;
        py.detach(move || e.delete_records(topic, partition, offset)).py()
    }
}

/// Keys and values as Python bytes (for record tuples).
pub(crate) fn opt_bytes<'py>(py: Python<'py>, b: &Option<Vec<u8>>) -> Bound<'py, PyAny> {
    match b {
        Some(v) => PyBytes::new(py, v).into_any(),
        None => py.None().into_bound(py),
    }
}
