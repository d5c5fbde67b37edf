//! Change streams end to end through the public API.

use std::time::Duration;

use kabase::stream::{ChangeRecord, StreamSpec};
use kabase::{ConsumerConfig, ConsumerRecord, Engine, FamilyDescriptor, Put, TableDescriptor, TopicPartition};

fn read_all(engine: &Engine, topic: &str, committed: bool) -> Vec<ConsumerRecord> {
    let n = engine.partitions_for(topic).unwrap();
    let level = if committed { "read_committed" } else { "read_uncommitted" };
    let mut c = engine.consumer(ConsumerConfig::default().set("isolation.level", level).unwrap()).unwrap();
    let tps: Vec<TopicPartition> = (0..n).map(|p| TopicPartition::new(topic, p)).collect();
    c.assign(&tps).unwrap();
    c.seek_to_beginning(&tps).unwrap();
    let ends = c.end_offsets(&tps).unwrap();
    let mut out = Vec::new();
    for _ in 0..1000 {
        let done = ends.iter().all(|(tp, e)| c.position(tp).unwrap() >= *e);
        if done {
            break;
        }
        out.extend(c.poll(Duration::from_millis(20)).unwrap());
    }
    out
}

#[test]
fn put_reaches_the_topic() {
    let engine = Engine::open_in_memory().unwrap();
    engine.create_table(TableDescriptor::new("orders").family(FamilyDescriptor::new("cf"))).unwrap();
    engine.stream_table_to_topic(StreamSpec::new("orders-cdc", "orders")).unwrap();
    engine.table("orders").unwrap().put(Put::new("o1").add("cf", "amount", "12.50")).unwrap();
    let info = engine.await_stream("orders-cdc", Duration::from_secs(10)).unwrap();
    eprintln!("{info:?}");
    let recs = read_all(&engine, "default.orders", true);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let ch = ChangeRecord::from_json(recs[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(ch.row, b"o1");
}
