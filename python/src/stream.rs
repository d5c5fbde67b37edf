//! Change streams: `Table.stream_to(...)` (table to topic), `Engine.stream_from(...)` (topic
//! to table, a sink), `Engine.streams()` / `Engine.stream(name)`, and the `Stream` handle
//! (describe, pause, resume, remove, wait, snapshot-then-stream). Everything is the facade's
//! stream API (`kabase_sdk::ChangeStream`); this file converts options and results.

use std::sync::Arc;

use kabase_sdk::{ErrorCode, SinkOptions, StreamDescription, StreamOptions, StreamRoute};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::engine::{PyEngine, Shared};
use crate::error::IntoPyResult;

fn bad(msg: impl Into<String>) -> PyErr {
    crate::error::new_err(ErrorCode::InvalidConfig, msg)
}

/// A route rule from `{'action': 'route'|'drop', 'table': ..., 'family': ..., 'qualifier': ...,
/// 'topics': [...]}` (`table` defaults to the streamed table).
fn route_from(d: &Bound<'_, PyDict>, table: &str) -> PyResult<StreamRoute> {
    for k in d.keys() {
        let k: String = k.extract()?;
        if !matches!(k.as_str(), "action" | "table" | "family" | "qualifier" | "topics") {
            return Err(bad(format!("unknown route rule key {k:?} (action, table, family, qualifier, topics)")));
        }
    }
    let action = match d.get_item("action")? {
        Some(a) => a.extract::<String>()?,
        None => "route".to_string(),
    };
    let table = match d.get_item("table")? {
        Some(t) if !t.is_none() => t.extract::<String>()?,
        _ => table.to_string(),
    };
    let topics: Vec<String> = match d.get_item("topics")? {
        Some(t) if !t.is_none() => t.extract()?,
        _ => Vec::new(),
    };
    let family = match d.get_item("family")?.filter(|f| !f.is_none()) {
        Some(f) => Some(str_arg(&f)?),
        None => None,
    };
    let qualifier = match d.get_item("qualifier")?.filter(|q| !q.is_none()) {
        Some(q) => Some(str_arg(&q)?),
        None => None,
    };
    Ok(StreamRoute { action, table, family, qualifier, topics })
}

/// A pattern given as `str` or (UTF-8) `bytes`.
fn str_arg(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s);
    }
    String::from_utf8(v.extract::<Vec<u8>>()?).map_err(|_| bad("route patterns must be UTF-8"))
}

/// Table-to-topic options from keyword options (the facade checks the values).
fn stream_options(name: String, table: &str, opts: Option<&Bound<'_, PyDict>>) -> PyResult<StreamOptions> {
    let mut s = StreamOptions { name: Some(name), ..StreamOptions::default() };
    if let Some(opts) = opts {
        for (k, v) in opts.iter() {
            let k: String = k.extract()?;
            if v.is_none() {
                continue;
            }
            match k.as_str() {
                "partitioning" => s.partitioning = Some(if let Ok(n) = v.extract::<u32>() { format!("fixed:{n}") } else { v.extract::<String>()? }),
                "shape" => s.shape = Some(v.extract()?),
                "format" => s.format = Some(v.extract()?),
                "bytes" => s.bytes = Some(v.extract()?),
                "compression" => s.compression = Some(v.extract()?),
                "partitions" => s.partitions = Some(v.extract()?),
                "max_lag" => s.max_lag = Some(v.extract()?),
                "backpressure" => s.backpressure = Some(v.extract()?),
                "backpressure_timeout_ms" => s.backpressure_timeout_ms = Some(v.extract()?),
                "routes" => {
                    for r in v.cast::<PyList>().map_err(|_| pyo3::exceptions::PyTypeError::new_err("routes must be a list of dicts"))?.iter() {
                        let d = r.cast::<PyDict>().map_err(|_| pyo3::exceptions::PyTypeError::new_err("each route rule must be a dict"))?;
                        s.routes.push(route_from(d, table)?);
                    }
                }
                o => {
                    return Err(bad(format!(
                        "unknown stream option {o:?} (name, partitioning, shape, format, bytes, compression, partitions, max_lag, backpressure, backpressure_timeout_ms, routes)"
                    )))
                }
            }
        }
    }
    Ok(s)
}

/// `{'name', 'kind', 'table', 'topics', 'state', 'error', 'position', 'lag', 'offsets'}`.
fn info_to_py<'py>(py: Python<'py>, i: &StreamDescription) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &i.name)?;
    d.set_item("kind", &i.kind)?;
    d.set_item("table", &i.table)?;
    d.set_item("topics", i.topics.clone())?;
    d.set_item("state", &i.state)?;
    d.set_item("error", i.error.clone())?;
    d.set_item("position", i.position)?;
    d.set_item("lag", i.lag)?;
    let offs = PyDict::new(py);
    for (p, o) in &i.offsets {
        offs.set_item(*p, *o)?;
    }
    d.set_item("offsets", offs)?;
    Ok(d)
}

/// A durable change stream (it runs in the engine whether or not this handle exists).
#[pyclass(module = "kabase._native", name = "Stream", frozen)]
pub struct PyStream {
    name: String,
    shared: Arc<Shared>,
}

impl PyStream {
    /// The facade's handle on this stream (`Closed` once the engine closed).
    fn handle(&self) -> PyResult<kabase_sdk::ChangeStream> {
        Ok(self.shared.engine().py()?.stream_handle(&self.name))
    }
}

#[pymethods]
impl PyStream {
    /// The stream's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// State, position and lag as a dict (see `Engine.streams()`).
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.handle()?;
        let i = py.detach(move || s.describe()).py()?;
        info_to_py(py, &i)
    }

    /// Stop moving data (a table-to-topic stream keeps capturing changes up to `max_lag`).
    /// Survives restarts.
    fn pause(&self, py: Python<'_>) -> PyResult<()> {
        let s = self.handle()?;
        py.detach(move || s.pause()).py()
    }

    /// Resume a paused stream.
    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        let s = self.handle()?;
        py.detach(move || s.resume()).py()
    }

    /// Remove the stream with its outbox, checkpoint and offsets (topics and tables stay).
    fn remove(&self, py: Python<'_>) -> PyResult<()> {
        let s = self.handle()?;
        py.detach(move || s.remove()).py()
    }

    /// Wait until the stream has no lag; raises `Timeout` after `timeout` seconds. Returns the
    /// description.
    #[pyo3(signature = (timeout=10.0))]
    fn wait<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyDict>> {
        if !(timeout.is_finite() && timeout >= 0.0) {
            return Err(crate::error::new_err(ErrorCode::InvalidArgument, format!("timeout must be >= 0 seconds, not {timeout}")));
        }
        let s = self.handle()?;
        let ms = (timeout * 1000.0).min(u64::MAX as f64) as u64;
        let i = py.detach(move || s.wait_caught_up(ms)).py()?;
        info_to_py(py, &i)
    }

    /// Snapshot, then stream: `(seq, rows, offsets)` with `rows` the table's rows
    /// `[(row, [(column, value, ts)])]` at change `seq` and `offsets` `{(topic, partition):
    /// offset}` where the stream continues them: apply the rows, then consume each partition
    /// from its offset, and every change appears exactly once.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<(u64, Bound<'py, PyList>, Bound<'py, PyDict>)> {
        let h = self.handle()?;
        let s = py.detach(move || h.snapshot()).py()?;
        let rows = crate::table::rows_to_py(py, &s.rows)?;
        let offs = PyDict::new(py);
        for o in &s.offsets {
            offs.set_item((o.topic.as_str(), o.partition), o.offset)?;
        }
        Ok((s.seq, rows, offs))
    }

    fn __repr__(&self) -> String {
        format!("<kabase.Stream {:?}>", self.name)
    }
}

/// Start streaming `table` into `topic` (table-to-topic). Shared by `Engine` and `Table`.
pub(crate) fn stream_to(py: Python<'_>, shared: &Arc<Shared>, table: String, topic: Option<String>, opts: Option<&Bound<'_, PyDict>>) -> PyResult<PyStream> {
    let mut name: Option<String> = None;
    let rest = PyDict::new(py);
    if let Some(o) = opts {
        for (k, v) in o.iter() {
            if k.extract::<String>()? == "name" {
                name = if v.is_none() { None } else { Some(v.extract()?) };
            } else {
                rest.set_item(k, v)?;
            }
        }
    }
    let short = table.rsplit(':').next().unwrap_or(&table).to_string();
    let name = name.unwrap_or_else(|| match &topic {
        Some(t) => format!("{short}-to-{t}"),
        None => format!("{short}-changes"),
    });
    let options = stream_options(name.clone(), &table, Some(&rest))?;
    let e = shared.engine().py()?;
    py.detach(move || e.stream_table_to_topic(&table, topic.as_deref(), &options)).py()?;
    Ok(PyStream { name, shared: Arc::clone(shared) })
}

#[pymethods]
impl PyEngine {
    /// Sink `topic` into `table` (topic-to-table, exactly once): a record's key is the row key
    /// (or the JSON field `row_key_field`), its JSON object's `"family:qualifier"` fields become
    /// cells (`default_family` for bare names; `null` deletes the column), and a tombstone
    /// (null value) deletes the row. `name` defaults to `"<topic>-to-<table>"`.
    #[pyo3(signature = (topic, table, *, name=None, default_family=None, row_key_field=None))]
    fn stream_from(&self, py: Python<'_>, topic: String, table: String, name: Option<String>, default_family: Option<String>, row_key_field: Option<String>) -> PyResult<PyStream> {
        let name = name.unwrap_or_else(|| format!("{topic}-to-{}", table.rsplit(':').next().unwrap_or(&table)));
        let options = SinkOptions { name: Some(name.clone()), default_family, row_key_field };
        let e = self.core()?;
        py.detach(move || e.sink_topic_to_table(&topic, &table, &options)).py()?;
        Ok(PyStream { name, shared: Arc::clone(&self.shared) })
    }

    /// Stream `table` into `topic` (None: `default.<table>`); options as `Table.stream_to`.
    #[pyo3(signature = (table, topic=None, **options))]
    fn stream_to(&self, py: Python<'_>, table: String, topic: Option<String>, options: Option<&Bound<'_, PyDict>>) -> PyResult<PyStream> {
        stream_to(py, &self.shared, table, topic, options)
    }

    /// Every stream's description (a list of dicts, by name).
    fn streams<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let e = self.core()?;
        let all = py.detach(move || e.list_streams()).py()?;
        all.iter().map(|i| info_to_py(py, i)).collect()
    }

    /// A handle to an existing stream (`StreamNotFound` if there is none).
    fn stream(&self, py: Python<'_>, name: String) -> PyResult<PyStream> {
        let e = self.core()?;
        let n = name.clone();
        py.detach(move || e.change_stream(&n).map(|_| ())).py()?;
        Ok(PyStream { name, shared: Arc::clone(&self.shared) })
    }
}
