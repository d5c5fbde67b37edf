//! A caller's timeout of any length, up to `Duration::MAX`, is a wait bounded by nothing else:
//! `Instant + Duration::MAX` panics, so every wait on a caller's timeout saturates it. Each call
//! below has its answer ready, so it returns at once.

use std::time::Duration;

use kabase::stream::StreamSpec;
use kabase::{ConsumerConfig, Engine, FamilyDescriptor, NewTopic, ProducerConfig, ProducerRecord, Put, TableDescriptor, TopicPartition};

#[test]
fn waits_take_duration_max() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("t", 1)).unwrap();
    let p = e.producer(ProducerConfig::default()).unwrap();
    let f = p.send(ProducerRecord::new("t", b"v".to_vec())).unwrap();
    assert_eq!(f.get_timeout(Duration::MAX).unwrap().offset, 0);

    // A consumer with its partitions assigned, and one in a group.
    let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
    c.assign(&[TopicPartition::new("t", 0)]).unwrap();
    assert_eq!(c.poll(Duration::MAX).unwrap().len(), 1);
    let config = ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap().set("group.id", "g").unwrap();
    let mut g = e.consumer(config).unwrap();
    g.subscribe(&["t"], None).unwrap();
    assert_eq!(g.poll(Duration::MAX).unwrap().len(), 1);

    // A stream caught up with its table.
    e.create_table(TableDescriptor::new("orders").family(FamilyDescriptor::new("cf"))).unwrap();
    e.stream_table_to_topic(StreamSpec::new("cdc", "orders")).unwrap();
    e.table("orders").unwrap().put(Put::new("o1").add("cf", "q", "v")).unwrap();
    e.await_stream("cdc", Duration::MAX).unwrap();
}
