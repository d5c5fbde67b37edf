//! Topics: Kafka's partition log in Kafka's own on-disk format.
