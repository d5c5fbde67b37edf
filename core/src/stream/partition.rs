//! Partitioning of change records, and the plan that turns one committed change into the
//! records a stream appends.
//!
//! - [`Partitioning::RowKey`] (default): `murmur2(row) mod partitions`, bit-exact with Kafka's
//!   default partitioner for a keyed record ([`crate::log::partitioner`]), so every change of a row
//!   lands in the same partition, in commit order, and a Kafka client hashing the row key agrees.
//! - [`Partitioning::Family`]: the integration article's mapping, each column family its own
//!   partition. The family's partition is its position in the stream's family list (the table's
//!   families at stream creation, families added later appended), so the mapping never changes for
//!   an existing family. A row mutation touching several families becomes one record per family.
//! - [`Partitioning::Fixed`]: every record to one chosen partition (total order across rows).

use crate::error::{Error, ErrorCode, Result};
use crate::stream::record::{ChangeRecord, RecordShape};
use crate::stream::route::RouteRules;

/// How a stream picks the partition of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Partitioning {
    /// murmur2 of the row key, like Kafka's default partitioner.
    #[default]
    RowKey,
    /// One partition per column family.
    Family,
    /// Always this partition.
    Fixed(u32),
}

impl Partitioning {
    /// Stable name: `"row_key"`, `"family"` or `"fixed:<n>"`.
    pub fn name(&self) -> String {
        match self {
            Partitioning::RowKey => "row_key".into(),
            Partitioning::Family => "family".into(),
            Partitioning::Fixed(p) => format!("fixed:{p}"),
        }
    }

    /// Parse a name written by [`Partitioning::name`].
    pub fn parse(s: &str) -> Result<Partitioning> {
        match s {
            "row_key" => Ok(Partitioning::RowKey),
            "family" => Ok(Partitioning::Family),
            _ => match s.strip_prefix("fixed:").and_then(|n| n.parse::<u32>().ok()) {
                Some(p) => Ok(Partitioning::Fixed(p)),
                None => Err(Error::new(ErrorCode::InvalidConfig, format!("partitioning must be \"row_key\", \"family\" or \"fixed:<n>\", not {s:?}"))),
            },
        }
    }

    /// The partition of a record of `row` whose cells are in `family`, in a topic with
    /// `num_partitions` partitions. `families` is the stream's family list (for `Family`).
    pub fn partition(&self, row: &[u8], family: &[u8], families: &[Vec<u8>], num_partitions: u32) -> Result<u32> {
        if num_partitions == 0 {
            return Err(Error::internal("topic with zero partitions"));
        }
        match self {
            Partitioning::RowKey => Ok(crate::log::partitioner::partition_for_key(row, num_partitions)),
            Partitioning::Family => {
                let idx = families.iter().position(|f| f.as_slice() == family).ok_or_else(|| {
                    Error::new(ErrorCode::NoSuchColumnFamily, format!("family {:?} has no partition in this stream", String::from_utf8_lossy(family)))
                })?;
                let idx = idx as u32;
                if idx >= num_partitions {
                    return Err(Error::new(
                        ErrorCode::InvalidConfig,
                        format!("family {:?} maps to partition {idx} but the topic has {num_partitions}", String::from_utf8_lossy(family)),
                    ));
                }
                Ok(idx)
            }
            Partitioning::Fixed(p) => {
                if *p >= num_partitions {
                    return Err(Error::new(ErrorCode::UnknownPartition, format!("partition {p} does not exist; the topic has {num_partitions}")));
                }
                Ok(*p)
            }
        }
    }
}

/// One record a stream will append: where it goes and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// The change (all of it, or the part routed to this topic and partition).
    pub record: ChangeRecord,
}

/// How a stream turns changes into records.
#[derive(Debug, Clone)]
pub struct Planner<'a> {
    /// Route rules.
    pub routes: &'a RouteRules,
    /// The stream's own topic.
    pub default_topic: &'a str,
    /// Record shape.
    pub shape: RecordShape,
    /// Partitioning.
    pub partitioning: &'a Partitioning,
    /// The stream's family list (partition per family).
    pub families: &'a [Vec<u8>],
}

impl Planner<'_> {
    /// The records for one committed change, in a deterministic order: for each destination
    /// (topic, partition) in order of first appearance, the cells routed there in the change's
    /// order (one record, or one per cell with [`RecordShape::PerCell`]). `partitions_of` gives a
    /// topic's partition count.
    pub fn plan(&self, change: &ChangeRecord, partitions_of: &dyn Fn(&str) -> Result<u32>) -> Result<Vec<PlannedRecord>> {
        let mut groups: Vec<PlannedRecord> = Vec::new();
        for cell in &change.cells {
            for topic in self.routes.topics_for(&change.table, &cell.family, &cell.qualifier, self.default_topic) {
                let n = partitions_of(&topic)?;
                let partition = self.partitioning.partition(&change.row, &cell.family, self.families, n)?;
                match self.shape {
                    RecordShape::PerCell => groups.push(PlannedRecord {
                        topic,
                        partition,
                        record: ChangeRecord { table: change.table.clone(), row: change.row.clone(), seq: change.seq, cells: vec![cell.clone()] },
                    }),
                    RecordShape::PerRow => {
                        if let Some(g) = groups.iter_mut().find(|g| g.topic == topic && g.partition == partition) {
                            g.record.cells.push(cell.clone());
                        } else {
                            groups.push(PlannedRecord {
                                topic,
                                partition,
                                record: ChangeRecord { table: change.table.clone(), row: change.row.clone(), seq: change.seq, cells: vec![cell.clone()] },
                            });
                        }
                    }
                }
            }
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::CellKind;
    use crate::stream::record::ChangeCell;
    use crate::stream::route::RouteRule;

    fn cell(f: &str, q: &str) -> ChangeCell {
        ChangeCell { family: f.into(), qualifier: q.into(), timestamp: 1, kind: CellKind::Put, value: b"v".to_vec() }
    }

    fn change(row: &str, cells: Vec<ChangeCell>) -> ChangeRecord {
        ChangeRecord { table: "default:t".into(), row: row.into(), seq: 7, cells }
    }

    #[test]
    fn row_key_is_kafkas_murmur2() {
        // Kafka UtilsTest vector: murmur2("21") = -973932308.
        let want = ((-973932308i32 & 0x7fff_ffff) as u32) % 12;
        assert_eq!(Partitioning::RowKey.partition(b"21", b"cf", &[], 12).unwrap(), want);
        // Same row, same partition, whatever the family.
        let a = Partitioning::RowKey.partition(b"row-9", b"a", &[], 8).unwrap();
        assert_eq!(Partitioning::RowKey.partition(b"row-9", b"b", &[], 8).unwrap(), a);
    }

    #[test]
    fn family_and_fixed() {
        let fams = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
        assert_eq!(Partitioning::Family.partition(b"r", b"a", &fams, 3).unwrap(), 0);
        assert_eq!(Partitioning::Family.partition(b"r", b"c", &fams, 3).unwrap(), 2);
        assert_eq!(Partitioning::Family.partition(b"r", b"z", &fams, 3).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
        assert_eq!(Partitioning::Family.partition(b"r", b"c", &fams, 2).unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(Partitioning::Fixed(1).partition(b"r", b"a", &[], 2).unwrap(), 1);
        assert_eq!(Partitioning::Fixed(2).partition(b"r", b"a", &[], 2).unwrap_err().code(), ErrorCode::UnknownPartition);
        for p in [Partitioning::RowKey, Partitioning::Family, Partitioning::Fixed(3)] {
            assert_eq!(Partitioning::parse(&p.name()).unwrap(), p);
        }
        assert!(Partitioning::parse("fixed:x").is_err());
    }

    #[test]
    fn plan_per_row_per_family_and_routes() {
        let fams = vec![b"a".to_vec(), b"b".to_vec()];
        let none = RouteRules::default();
        let ch = change("r1", vec![cell("a", "x"), cell("b", "y"), cell("a", "z")]);
        let two = |_: &str| Ok(2u32);

        let by_row = Planner { routes: &none, default_topic: "t", shape: RecordShape::PerRow, partitioning: &Partitioning::RowKey, families: &fams };
        let out = by_row.plan(&ch, &two).unwrap();
        assert_eq!(out.len(), 1, "one record per row mutation");
        assert_eq!(out[0].record.cells, ch.cells);

        let by_fam = Planner { partitioning: &Partitioning::Family, ..by_row.clone() };
        let out = by_fam.plan(&ch, &two).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].partition, out[0].record.cells.len()), (0, 2));
        assert_eq!((out[1].partition, out[1].record.cells.len()), (1, 1));
        assert_eq!(out[0].record.cells[1].qualifier, b"z");

        let per_cell = Planner { shape: RecordShape::PerCell, ..by_row.clone() };
        let out = per_cell.plan(&ch, &two).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|r| r.record.cells.len() == 1 && r.record.seq == 7));

        let rules = RouteRules::new(vec![RouteRule::route("t", ["ta"]).family("a"), RouteRule::route("t", ["tb", "ta"]).qualifier("y")]).unwrap();
        let routed = Planner { routes: &rules, ..by_row.clone() };
        let out = routed.plan(&ch, &two).unwrap();
        let topics: Vec<(&str, usize)> = out.iter().map(|r| (r.topic.as_str(), r.record.cells.len())).collect();
        assert_eq!(topics, vec![("ta", 3), ("tb", 1)]);
    }
}
