//! Topic to table: a sink consumes a topic (read_committed) and applies each record as a row
//! change, writing its consumed offsets in the SAME atomic LSM batch as the cells, so a restarted
//! sink resumes exactly where the last applied batch ended: every record reaches the table once.
//!
//! Mapping (see [`crate::stream::SinkSpec`]): the record key (or a JSON field) is the row key; a
//! JSON object value's `"family:qualifier"` fields become cells (strings as their UTF-8 bytes,
//! other JSON values as their JSON text); a `null` field deletes that column (every version); a
//! null value (tombstone) deletes the row. Cells get strictly increasing timestamps per sink
//! (`max(now, previous + 1)`, the previous one stored with the offsets), so a delete followed by
//! a put of the same row keeps the put and versions follow the topic's order across restarts.
//! A record that cannot be mapped stops the sink (state `Failed`, offset not advanced).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::log::{Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};
use crate::stream::spec::{SinkMapping, StoredSinkSpec};
use crate::stream::state::{parse_sink_value, set_sink_extra, sink_key, sink_ts_key, sink_value, take_sink_extra, Shared, StreamRt};
use crate::table::{Delete, Mutation, Put};
use crate::Engine;

/// Map one record to the mutations of one row, at timestamp `ts`.
pub(crate) fn map_record(rec: &ConsumerRecord, mapping: &SinkMapping, families: &[Vec<u8>], ts: i64) -> Result<Vec<Mutation>> {
    let at = |what: String| Error::invalid(format!("record {}-{}@{}: {what}", rec.topic, rec.partition, rec.offset));
    let value: Option<serde_json::Map<String, serde_json::Value>> = match &rec.value {
        None => None,
        Some(v) => match serde_json::from_slice::<serde_json::Value>(v) {
            Ok(serde_json::Value::Object(m)) => Some(m),
            Ok(_) => return Err(at("the value is not a JSON object".into())),
            Err(e) => return Err(at(format!("the value is not JSON: {e}"))),
        },
    };
    let row: Vec<u8> = match (&mapping.row_key_field, &value) {
        (Some(f), Some(m)) => match m.get(f) {
            Some(serde_json::Value::String(s)) => s.as_bytes().to_vec(),
            _ => return Err(at(format!("row key field {f:?} is missing or not a string"))),
        },
        _ => rec.key.clone().ok_or_else(|| at("the record has no key (a row key is needed)".into()))?,
    };
    if row.is_empty() {
        return Err(at("the row key is empty".into()));
    }
    let Some(fields) = value else {
        return Ok(vec![Mutation::Delete(Delete::new_at(row, ts))]);
    };
    let mut put = Put::new_at(row.clone(), ts);
    let mut del = Delete::new_at(row, ts);
    for (name, v) in fields {
        if mapping.row_key_field.as_deref() == Some(name.as_str()) {
            continue;
        }
        let (family, qualifier) = match name.split_once(':') {
            Some((f, q)) => (f.as_bytes().to_vec(), q.as_bytes().to_vec()),
            None => match &mapping.default_family {
                Some(f) => (f.as_bytes().to_vec(), name.as_bytes().to_vec()),
                None => return Err(at(format!("field {name:?} is not \"family:qualifier\" and the sink has no default family"))),
            },
        };
        if !families.contains(&family) {
            return Err(Error::new(ErrorCode::NoSuchColumnFamily, format!("record {}-{}@{}: field {name:?}: the table has no family {:?}", rec.topic, rec.partition, rec.offset, String::from_utf8_lossy(&family))));
        }
        match v {
            serde_json::Value::Null => del = del.columns_at(family, qualifier, ts),
            serde_json::Value::String(s) => put = put.add(family, qualifier, s.into_bytes()),
            other => put = put.add(family, qualifier, other.to_string().into_bytes()),
        }
    }
    let mut out = Vec::new();
    if !del.specs.is_empty() {
        out.push(Mutation::Delete(del));
    }
    if !put.cells.is_empty() {
        out.push(Mutation::Put(put));
    }
    Ok(out)
}

struct SinkCore {
    consumer: Consumer,
    last_ts: i64,
}

fn open_core(shared: &Shared, rt: &StreamRt, spec: &StoredSinkSpec, engine: &Engine) -> Result<SinkCore> {
    let n = engine.partitions_for(spec.topic())?;
    let mut consumer = engine.consumer(ConsumerConfig::default().set("isolation.level", "read_committed")?)?;
    let tps: Vec<TopicPartition> = (0..n).map(|p| TopicPartition::new(spec.topic().to_string(), p)).collect();
    consumer.assign(&tps)?;
    let starts: HashMap<u32, i64> = consumer.beginning_offsets(&tps)?.into_iter().map(|(tp, o)| (tp.partition, o)).collect();
    let mut offsets = BTreeMap::new();
    for tp in &tps {
        let stored = match shared.meta.get(sink_key(rt.id, tp.partition))? {
            Some(v) => Some(parse_sink_value(&v)?),
            None => None,
        };
        let start = starts.get(&tp.partition).copied().unwrap_or(0);
        let pos = stored.unwrap_or(start).max(start);
        consumer.seek(tp, pos)?;
        offsets.insert(tp.partition, pos);
    }
    *rt.sink_offsets.lock() = offsets;
    let last_ts = match shared.meta.get(sink_ts_key(rt.id))? {
        Some(v) => parse_sink_value(&v)?,
        None => 0,
    };
    Ok(SinkCore { consumer, last_ts })
}

/// Apply one poll's records. Returns how many were applied.
fn apply(shared: &Shared, rt: &StreamRt, spec: &StoredSinkSpec, engine: &Engine, core: &mut SinkCore, recs: Vec<ConsumerRecord>) -> Result<usize> {
    let table = engine.table(spec.table())?;
    let ts_before = core.last_ts;
    let families: Vec<Vec<u8>> = table.descriptor()?.families.iter().map(|f| f.name.clone()).collect();
    let mut mutations = Vec::new();
    let mut next: BTreeMap<u32, i64> = BTreeMap::new();
    for rec in &recs {
        let ts = crate::now_ms().max(core.last_ts + 1);
        core.last_ts = ts;
        mutations.extend(map_record(rec, spec.mapping(), &families, ts)?);
        let e = next.entry(rec.partition).or_insert(0);
        *e = (*e).max(rec.offset + 1);
    }
    let mut writes: Vec<(Vec<u8>, Vec<u8>)> = next.iter().map(|(p, o)| (sink_key(rt.id, *p), sink_value(*o))).collect();
    writes.push((sink_ts_key(rt.id), sink_value(core.last_ts)));
    set_sink_extra(writes);
    let results = if mutations.is_empty() { Ok(Vec::new()) } else { table.batch(mutations) };
    let leftover = take_sink_extra();
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            core.last_ts = ts_before;
            return Err(e);
        }
    };
    if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
        return Err(e);
    }
    if !leftover.is_empty() {
        // Nothing was committed (no mutation): store the offsets on their own.
        let mut b = shared.db.batch();
        for (k, v) in leftover {
            b.insert(&shared.meta, k, v);
        }
        b.commit()?;
    }
    let mut offs = rt.sink_offsets.lock();
    for (p, o) in next {
        offs.insert(p, o);
    }
    rt.applied.fetch_add(recs.len() as i64, Ordering::AcqRel);
    Ok(recs.len())
}

/// The thread of one sink.
pub(crate) fn sink_thread(shared: &Arc<Shared>, rt: &Arc<StreamRt>) {
    let Some(spec) = rt.sink.clone() else { return };
    let mut core: Option<SinkCore> = None;
    while !rt.stop.load(Ordering::Acquire) {
        let gen = rt.generation();
        let step_guard = rt.step.lock();
        if rt.paused.load(Ordering::Acquire) {
            drop(step_guard);
            rt.wait(gen, Duration::from_millis(100));
            continue;
        }
        let engine = match shared.engine() {
            Ok(e) => e,
            Err(_) => break,
        };
        let step = (|| -> Result<usize> {
            if core.is_none() {
                core = Some(open_core(shared, rt, &spec, &engine)?);
            }
            let c = core.as_mut().ok_or_else(|| Error::internal("sink core missing"))?;
            let recs = c.consumer.poll_records(2000, Duration::from_millis(20))?;
            if recs.is_empty() {
                return Ok(0);
            }
            apply(shared, rt, &spec, &engine, c, recs)
        })();
        drop(engine);
        drop(step_guard);
        match step {
            Ok(_) => {
                *rt.failure.lock() = None;
            }
            Err(e) => {
                if rt.stop.load(Ordering::Acquire) {
                    break;
                }
                *rt.failure.lock() = Some(e.to_string());
                core = None; // re-seek from the durable offsets
                rt.wait(gen, Duration::from_millis(200));
            }
        }
    }
    if let Some(mut c) = core {
        // An assign-only consumer has no group to leave or offsets to commit: closing cannot lose anything.
        let _ = c.consumer.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::TimestampType;

    fn rec(key: Option<&str>, value: Option<&str>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 5,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(|k| k.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: Vec::new(),
        }
    }

    #[test]
    fn mapping_rules() {
        let fams = vec![b"cf".to_vec(), b"x".to_vec()];
        let m = SinkMapping::default();
        let out = map_record(&rec(Some("r1"), Some(r#"{"cf:a":"1","cf:b":null,"x:n":7}"#)), &m, &fams, 10).unwrap();
        assert_eq!(out.len(), 2);
        match &out[0] {
            Mutation::Delete(d) => {
                assert_eq!(d.row, b"r1");
                assert_eq!(d.specs.len(), 1);
            }
            o => panic!("want a delete, got {o:?}"),
        }
        match &out[1] {
            Mutation::Put(p) => {
                assert_eq!(p.timestamp, Some(10));
                let cells: Vec<(&[u8], &[u8], &[u8])> = p.cells.iter().map(|c| (&c.family[..], &c.qualifier[..], &c.value[..])).collect();
                assert_eq!(cells, vec![(&b"cf"[..], &b"a"[..], &b"1"[..]), (&b"x"[..], &b"n"[..], &b"7"[..])]);
            }
            o => panic!("want a put, got {o:?}"),
        }
        // Tombstone: delete the row.
        let out = map_record(&rec(Some("r1"), None), &m, &fams, 11).unwrap();
        assert!(matches!(&out[..], [Mutation::Delete(d)] if d.specs.is_empty() && d.timestamp == Some(11)));
        // Errors name the rule.
        assert!(map_record(&rec(None, Some("{}")), &m, &fams, 1).unwrap_err().message().contains("no key"));
        assert!(map_record(&rec(Some("r"), Some("[1]")), &m, &fams, 1).unwrap_err().message().contains("not a JSON object"));
        assert!(map_record(&rec(Some("r"), Some(r#"{"a":"1"}"#)), &m, &fams, 1).unwrap_err().message().contains("default family"));
        assert_eq!(map_record(&rec(Some("r"), Some(r#"{"zz:a":"1"}"#)), &m, &fams, 1).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
        // Configured mapping: default family and row key from a field.
        let m2 = SinkMapping { default_family: Some("cf".into()), row_key_field: Some("id".into()) };
        let out = map_record(&rec(None, Some(r#"{"id":"u7","name":"Ada"}"#)), &m2, &fams, 1).unwrap();
        assert!(matches!(&out[..], [Mutation::Put(p)] if p.row == b"u7" && p.cells.len() == 1 && p.cells[0].qualifier == b"name"));
    }
}
