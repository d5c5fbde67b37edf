//! The engine's consumer-group admin calls. Group membership itself (subscribe, rebalances,
//! commits) is the core consumer's: see [`crate::consumer`].

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::engine::PyEngine;
use crate::error::IntoPyResult;

fn tuples(parts: &[kabase_sdk::GroupPartition]) -> Vec<(String, u32)> {
    parts.iter().filter_map(|tp| u32::try_from(tp.partition).ok().map(|p| (tp.topic.clone(), p))).collect()
}

#[pymethods]
impl PyEngine {
    /// Group ids.
    fn list_groups(&self) -> PyResult<Vec<String>> {
        self.core()?.list_groups().py()
    }

    /// `{'group_id', 'state', 'protocol', 'members': [{'member_id', 'client_id', 'client_host',
    /// 'group_instance_id', 'assignment': [(topic, partition)]}]}`.
    fn describe_group<'py>(&self, py: Python<'py>, group_id: &str) -> PyResult<Bound<'py, PyDict>> {
        let d = self.core()?.describe_group(group_id).py()?;
        let out = PyDict::new(py);
        out.set_item("group_id", &d.group_id)?;
        out.set_item("state", d.state.name())?;
        out.set_item("protocol", d.protocol.clone())?;
        let members = PyList::empty(py);
        for m in &d.members {
            let md = PyDict::new(py);
            md.set_item("member_id", &m.member_id)?;
            md.set_item("client_id", &m.client_id)?;
            md.set_item("client_host", &m.host)?;
            md.set_item("group_instance_id", m.group_instance_id.clone())?;
            md.set_item("assignment", tuples(&m.assignment))?;
            members.append(md)?;
        }
        out.set_item("members", members)?;
        Ok(out)
    }

    /// `[(topic, partition, offset, metadata)]` committed by a group.
    fn group_offsets(&self, group_id: &str) -> PyResult<Vec<(String, u32, i64, String)>> {
        Ok(self.core()?.group_offsets(group_id).py()?.into_iter().map(|o| (o.topic, o.partition, o.offset, o.metadata)).collect())
    }

    /// Delete an empty group and its offsets.
    fn delete_group(&self, py: Python<'_>, group_id: &str) -> PyResult<()> {
        let e = self.core()?;
        py.detach(move || e.delete_group(group_id)).py()
    }
}
