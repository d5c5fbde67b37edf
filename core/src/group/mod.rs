//! Consumer groups: membership, generations, rebalances and Kafka's assignors.
