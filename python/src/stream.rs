//! Change streams: `Table.stream_to(...)` (table to topic), `Engine.stream_from(...)` (topic
//! to table, a sink), `Engine.streams()` / `Engine.stream(name)`, and the `Stream` handle
//! (describe, pause, resume, remove, wait, snapshot-then-stream). Everything is the core's
//! stream API (`kabase::stream`); this file converts options and results.

use std::sync::Arc;
use std::time::Duration;

use kabase::stream::{Backpressure, BytesEncoding, Partitioning, RecordFormat, RecordShape, RouteAction, RouteRule, SinkSpec, StreamInfo, StreamKind, StreamSpec, StreamState};
use kabase::ErrorCode;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::engine::{PyEngine, Shared};
use crate::error::IntoPyResult;

fn bad(msg: impl Into<String>) -> PyErr {
    crate::error::new_err(ErrorCode::InvalidConfig, msg)
}

/// A route rule from `{'action': 'route'|'drop', 'table': ..., 'family': ..., 'qualifier': ...,
/// 'topics': [...]}` (`table` defaults to the streamed table).
fn route_from(d: &Bound<'_, PyDict>, table: &str) -> PyResult<RouteRule> {
    for k in d.keys() {
        let k: String = k.extract()?;
        if !matches!(k.as_str(), "action" | "table" | "family" | "qualifier" | "topics") {
            return Err(bad(format!("unknown route rule key {k:?} (action, table, family, qualifier, topics)")));
        }
    }
    let action = match d.get_item("action")? {
        Some(a) => RouteAction::parse(&a.extract::<String>()?).py()?,
        None => RouteAction::Route,
    };
    let table = match d.get_item("table")? {
        Some(t) if !t.is_none() => t.extract::<String>()?,
        _ => table.to_string(),
    };
    let topics: Vec<String> = match d.get_item("topics")? {
        Some(t) if !t.is_none() => t.extract()?,
        _ => Vec::new(),
    };
    let mut r = match action {
        RouteAction::Route => RouteRule::route(table, topics),
        RouteAction::Drop => RouteRule::drop(table),
    };
    if let Some(f) = d.get_item("family")?.filter(|f| !f.is_none()) {
        r = r.family(bytes_arg(&f)?);
    }
    if let Some(q) = d.get_item("qualifier")?.filter(|q| !q.is_none()) {
        r = r.qualifier(bytes_arg(&q)?);
    }
    Ok(r)
}

fn bytes_arg(v: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s.into_bytes());
    }
    v.extract::<Vec<u8>>()
}

/// A table-to-topic spec from keyword options.
fn stream_spec(name: String, table: String, topic: Option<String>, opts: Option<&Bound<'_, PyDict>>) -> PyResult<StreamSpec> {
    let mut s = StreamSpec::new(name, table.clone());
    s.topic = topic;
    let mut block_ms: Option<u64> = None;
    let mut policy: Option<String> = None;
    if let Some(opts) = opts {
        for (k, v) in opts.iter() {
            let k: String = k.extract()?;
            if v.is_none() {
                continue;
            }
            match k.as_str() {
                "partitioning" => {
                    s.partitioning = if let Ok(n) = v.extract::<u32>() { Partitioning::Fixed(n) } else { Partitioning::parse(&v.extract::<String>()?).py()? }
                }
                "shape" => {
                    s.shape = match v.extract::<String>()?.as_str() {
                        "per_row" | "row" => RecordShape::PerRow,
                        "per_cell" | "cell" => RecordShape::PerCell,
                        o => return Err(bad(format!("shape must be 'per_row' or 'per_cell', not {o:?}"))),
                    }
                }
                "format" => {
                    s.format = match v.extract::<String>()?.as_str() {
                        "json" => RecordFormat::Json,
                        "binary" => RecordFormat::Binary,
                        o => return Err(bad(format!("format must be 'json' or 'binary', not {o:?}"))),
                    }
                }
                "bytes" => {
                    s.bytes = match v.extract::<String>()?.as_str() {
                        "auto" => BytesEncoding::Auto,
                        "base64" => BytesEncoding::Base64,
                        o => return Err(bad(format!("bytes must be 'auto' or 'base64', not {o:?}"))),
                    }
                }
                "compression" => s.compression = Some(v.extract()?),
                "partitions" => s.partitions = Some(v.extract()?),
                "max_lag" => s.max_lag = v.extract()?,
                "backpressure" => policy = Some(v.extract()?),
                "backpressure_timeout_ms" => block_ms = Some(v.extract()?),
                "routes" => {
                    for r in v.cast::<PyList>().map_err(|_| pyo3::exceptions::PyTypeError::new_err("routes must be a list of dicts"))?.iter() {
                        let d = r.cast::<PyDict>().map_err(|_| pyo3::exceptions::PyTypeError::new_err("each route rule must be a dict"))?;
                        s.routes.push(route_from(d, &table)?);
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
    s.backpressure = match (policy.as_deref(), block_ms) {
        (None | Some("block"), Some(ms)) => Backpressure::Block { timeout_ms: ms },
        (None | Some("block"), None) => Backpressure::default(),
        (Some("error"), None) => Backpressure::Error,
        (Some("error"), Some(_)) => return Err(bad("backpressure_timeout_ms applies to backpressure='block' only")),
        (Some(o), _) => return Err(bad(format!("backpressure must be 'block' or 'error', not {o:?}"))),
    };
    Ok(s)
}

fn state_name(s: &StreamState) -> (&'static str, Option<String>) {
    match s {
        StreamState::Running => ("running", None),
        StreamState::Paused => ("paused", None),
        StreamState::Failed(m) => ("failed", Some(m.clone())),
    }
}

/// `{'name', 'kind', 'table', 'topics', 'state', 'error', 'position', 'lag', 'offsets'}`.
fn info_to_py<'py>(py: Python<'py>, i: &StreamInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &i.name)?;
    d.set_item(
        "kind",
        match i.kind {
            StreamKind::TableToTopic => "table_to_topic",
            StreamKind::TopicToTable => "topic_to_table",
        },
    )?;
    d.set_item("table", &i.table)?;
    d.set_item("topics", i.topics.clone())?;
    let (state, err) = state_name(&i.state);
    d.set_item("state", state)?;
    d.set_item("error", err)?;
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
    fn engine(&self) -> PyResult<kabase::Engine> {
        self.shared.engine().py()
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
        let e = self.engine()?;
        let n = self.name.clone();
        let i = py.detach(move || e.describe_stream(&n)).py()?;
        info_to_py(py, &i)
    }

    /// Stop moving data (a table-to-topic stream keeps capturing changes up to `max_lag`).
    /// Survives restarts.
    fn pause(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.engine()?;
        let n = self.name.clone();
        py.detach(move || e.pause_stream(&n)).py()
    }

    /// Resume a paused stream.
    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.engine()?;
        let n = self.name.clone();
        py.detach(move || e.resume_stream(&n)).py()
    }

    /// Remove the stream with its outbox, checkpoint and offsets (topics and tables stay).
    fn remove(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.engine()?;
        let n = self.name.clone();
        py.detach(move || e.remove_stream(&n)).py()
    }

    /// Wait until the stream has no lag; raises `Timeout` after `timeout` seconds. Returns the
    /// description.
    #[pyo3(signature = (timeout=10.0))]
    fn wait<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyDict>> {
        if !(timeout.is_finite() && timeout >= 0.0) {
            return Err(crate::error::new_err(ErrorCode::InvalidArgument, format!("timeout must be >= 0 seconds, not {timeout}")));
        }
        let e = self.engine()?;
        let n = self.name.clone();
        let i = py.detach(move || e.await_stream(&n, Duration::from_secs_f64(timeout))).py()?;
        info_to_py(py, &i)
    }

    /// Snapshot, then stream: `(seq, rows, offsets)` with `rows` the table's rows
    /// `[(row, [(column, value, ts)])]` at change `seq` and `offsets` `{(topic, partition):
    /// offset}` where the stream continues them: apply the rows, then consume each partition
    /// from its offset, and every change appears exactly once.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<(u64, Bound<'py, PyList>, Bound<'py, PyDict>)> {
        let e = self.engine()?;
        let n = self.name.clone();
        let s = py.detach(move || e.snapshot_stream(&n)).py()?;
        let rows = crate::table::rows_to_py(py, &s.rows)?;
        let offs = PyDict::new(py);
        for (tp, o) in &s.offsets {
            offs.set_item((tp.topic.as_str(), tp.partition), *o)?;
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
    let spec = stream_spec(name.clone(), table, topic, Some(&rest))?;
    let e = shared.engine().py()?;
    py.detach(move || e.stream_table_to_topic(spec)).py()?;
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
        let mut spec = SinkSpec::new(name.clone(), topic, table);
        if let Some(f) = default_family {
            spec = spec.default_family(f);
        }
        if let Some(f) = row_key_field {
            spec = spec.row_key_field(f);
        }
        let e = self.core()?;
        py.detach(move || e.sink_topic_to_table(spec)).py()?;
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
        let all = py.detach(move || e.describe_streams()).py()?;
        all.iter().map(|i| info_to_py(py, i)).collect()
    }

    /// A handle to an existing stream (`StreamNotFound` if there is none).
    fn stream(&self, py: Python<'_>, name: String) -> PyResult<PyStream> {
        let e = self.core()?;
        let n = name.clone();
        py.detach(move || e.describe_stream(&n).map(|_| ())).py()?;
        Ok(PyStream { name, shared: Arc::clone(&self.shared) })
    }
}
