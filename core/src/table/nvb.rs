//! NEW_VERSION_BEHAVIOR: which puts of one column a read sees when delete markers and puts are
//! ordered by the sequence number of the commit that wrote them (HBase 2's
//! `NewVersionBehaviorTracker`, HBASE-15968), not by timestamp alone.
//!
//! The rules, for one column of one row (every cell's key carries its commit's sequence number,
//! see [`crate::table::codec`], so a rewrite of a cell is a cell of its own, as in HBase):
//!
//! - A put is *deleted* by a DeleteFamily or DeleteColumn marker with timestamp >= its own, or a
//!   DeleteFamilyVersion or Delete marker at exactly its timestamp, when the marker's sequence
//!   number is >= the put's (the marker was written after the put, or in the same commit). A put
//!   written after a marker is never hidden by it, whatever its timestamp.
//! - Versions count what was visible at each moment: a put is *masked* (gone for good, as a
//!   major compaction at that moment would have dropped it) if at some moment while it existed
//!   VERSIONS newer-timestamped puts were visible. The moments that matter are "now" and the
//!   instant before each version delete (Delete, DeleteFamilyVersion) takes effect: between
//!   them puts only join, or leave through a column or family delete that takes every older
//!   put written before it too, so these are where a put's count peaks. A put counts at
//!   a moment from its own sequence number up to the marker that deletes it (inclusive), unless
//!   it was masked at an earlier moment.
//! - Of several writes of one version (same timestamp), the newest commit is the version; an
//!   older write counts only until the next one replaced it, and is never visible.
//!
//! Cells are fed newest timestamp first, as they sort: family-level markers first, then per
//! column its markers and puts interleaved. A marker that deletes a put always comes before it
//! (a higher timestamp, or the same timestamp and a marker type, which sorts first), so a put's
//! fate is known when it arrives. A version delete may come after puts that count at its moment
//! (it has a lower timestamp): its moment then starts with the puts already seen that were alive
//! and not masked at it. Moments learned late can only under-count puts that are invisible
//! anyway (they are masked at a later moment, or deleted), so the visible result is exact.

use crate::cell::CellKind;

/// What became of a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Visible (as far as markers and version counting go; TTL and time ranges still apply).
    Visible,
    /// Deleted by a marker written after it (or in the same commit).
    Deleted,
    /// Pushed out of VERSIONS at some moment of its life.
    Masked,
}

/// A moment at which visible puts are counted: just before the version delete with sequence
/// number `seq` takes effect, or now (`u64::MAX`).
#[derive(Debug, Clone, Copy)]
struct Moment {
    seq: u64,
    count: u32,
}

/// A put already seen in the current column.
#[derive(Debug, Clone, Copy)]
struct SeenPut {
    seq: u64,
    /// Last sequence number at which it existed: the marker that deletes it (inclusive), or
    /// just before the rewrite that replaced it; `u64::MAX` if neither.
    death: u64,
    /// The moment it was masked at.
    gone: Option<u64>,
}

/// The state of one row of one family, fed in key order.
#[derive(Debug)]
pub(crate) struct Tracker {
    max_versions: u32,
    /// `(ts, seq)` of DeleteFamily markers.
    family_deletes: Vec<(i64, u64)>,
    /// `(ts, seq)` of DeleteFamilyVersion markers.
    family_version_deletes: Vec<(i64, u64)>,
    /// `(ts, seq)` of the current column's DeleteColumn markers.
    column_deletes: Vec<(i64, u64)>,
    /// `(ts, seq)` of the current column's Delete markers.
    version_deletes: Vec<(i64, u64)>,
    /// Moments of the current column, by sequence number; the last is now.
    moments: Vec<Moment>,
    seen: Vec<SeenPut>,
    /// `(ts, seq)` of the previous put of the current column.
    last_put: Option<(i64, u64)>,
}

impl Tracker {
    /// A tracker counting up to `max_versions` (the family's VERSIONS; `u32::MAX` only decides
    /// deletion).
    pub(crate) fn new(max_versions: u32) -> Tracker {
        let mut t = Tracker {
            max_versions,
            family_deletes: Vec::new(),
            family_version_deletes: Vec::new(),
            column_deletes: Vec::new(),
            version_deletes: Vec::new(),
            moments: Vec::new(),
            seen: Vec::new(),
            last_put: None,
        };
        t.start_column();
        t
    }

    /// A family-level marker (DeleteFamily, DeleteFamilyVersion); they come before every column.
    pub(crate) fn family_marker(&mut self, kind: CellKind, ts: i64, seq: u64) {
        match kind {
            CellKind::DeleteFamily => self.family_deletes.push((ts, seq)),
            CellKind::DeleteFamilyVersion => {
                self.family_version_deletes.push((ts, seq));
                self.add_moment(seq);
            }
            _ => {}
        }
    }

    /// A new column starts: forget the previous column's markers and puts.
    pub(crate) fn start_column(&mut self) {
        self.column_deletes.clear();
        self.version_deletes.clear();
        self.seen.clear();
        self.last_put = None;
        self.moments.clear();
        self.moments.push(Moment { seq: u64::MAX, count: 0 });
        for i in 0..self.family_version_deletes.len() {
            let seq = self.family_version_deletes[i].1;
            self.add_moment(seq);
        }
    }

    /// A marker of the current column (DeleteColumn, Delete).
    pub(crate) fn column_marker(&mut self, kind: CellKind, ts: i64, seq: u64) {
        match kind {
            CellKind::DeleteColumn => self.column_deletes.push((ts, seq)),
            CellKind::Delete => {
                self.version_deletes.push((ts, seq));
                self.add_moment(seq);
            }
            _ => {}
        }
    }

    /// Add the moment before the version delete `seq`, counting the puts already seen that were
    /// alive and not yet masked then.
    fn add_moment(&mut self, seq: u64) {
        let at = match self.moments.binary_search_by_key(&seq, |m| m.seq) {
            Ok(_) => return,
            Err(at) => at,
        };
        let count = self.seen.iter().filter(|p| p.seq <= seq && seq <= p.death && p.gone.is_none_or(|g| g > seq)).count();
        self.moments.insert(at, Moment { seq, count: u32::try_from(count).unwrap_or(u32::MAX) });
    }

    /// The next put of the current column (timestamps never increase along a column; writes of
    /// one timestamp come newest commit first).
    pub(crate) fn put(&mut self, ts: i64, seq: u64) -> Verdict {
        // An older write of the version just seen: it existed until that one replaced it.
        let replaced_at = match self.last_put {
            Some((lts, lseq)) if lts == ts => Some(lseq),
            _ => None,
        };
        self.last_put = Some((ts, seq));
        let by_range = |ms: &[(i64, u64)]| ms.iter().filter(|&&(mts, mseq)| mts >= ts && mseq >= seq).map(|m| m.1).min();
        let by_version = |ms: &[(i64, u64)]| ms.iter().filter(|&&(mts, mseq)| mts == ts && mseq >= seq).map(|m| m.1).min();
        let death = [
            by_range(&self.family_deletes),
            by_range(&self.column_deletes),
            by_version(&self.family_version_deletes),
            by_version(&self.version_deletes),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u64::MAX);
        let deleted = death != u64::MAX;
        let death = match replaced_at {
            Some(r) => death.min(r.saturating_sub(1)),
            None => death,
        };
        let mut gone = None;
        let start = self.moments.partition_point(|m| m.seq < seq);
        for m in &mut self.moments[start..] {
            if m.seq > death {
                break;
            }
            if m.count >= self.max_versions {
                gone = Some(m.seq);
                break;
            }
            m.count += 1;
        }
        self.seen.push(SeenPut { seq, death, gone });
        if deleted {
            Verdict::Deleted
        } else if gone.is_some() || replaced_at.is_some() {
            Verdict::Masked
        } else {
            Verdict::Visible
        }
    }

    /// Whether VERSIONS puts are visible now: every later put of the column is masked or deleted.
    pub(crate) fn column_full(&self) -> bool {
        self.moments.last().is_some_and(|m| m.count >= self.max_versions)
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict::{Deleted, Masked, Visible};
    use super::*;

    // Scenarios of HBase's TestNewVersionBehaviorTracker (VERSIONS = 3), fed in key order.

    #[test]
    fn versions_are_counted_by_what_is_visible() {
        let mut t = Tracker::new(3);
        assert_eq!(t.put(20000, 1000), Visible);
        assert_eq!(t.put(19999, 999), Visible);
        assert_eq!(t.put(19998, 997), Visible);
        assert_eq!(t.put(19997, 996), Masked);
        assert!(t.column_full());
        t.start_column();
        assert!(!t.column_full());
        assert_eq!(t.put(20000, 1000), Visible);
        assert_eq!(t.put(19999, 1002), Visible);
        assert_eq!(t.put(19998, 1003), Visible);
        assert_eq!(t.put(19997, 1004), Masked);
    }

    #[test]
    fn a_column_delete_hides_only_earlier_puts() {
        let mut t = Tracker::new(3);
        t.column_marker(CellKind::DeleteColumn, 20000, 1000);
        assert_eq!(t.put(19999, 1001), Visible);
        assert_eq!(t.put(19998, 999), Deleted);
        t.start_column();
        t.column_marker(CellKind::DeleteColumn, 20000, 1002);
        assert_eq!(t.put(19999, 1001), Deleted);
        assert_eq!(t.put(19998, 999), Deleted);
    }

    #[test]
    fn a_version_delete_hides_one_version_and_its_moment_counts() {
        let mut t = Tracker::new(3);
        t.column_marker(CellKind::Delete, 20000, 1000);
        assert_eq!(t.put(20000, 1001), Visible);
        t.start_column();
        t.column_marker(CellKind::Delete, 20000, 1002);
        assert_eq!(t.put(20000, 999), Deleted);
        // Written after the delete: visible; written before it with 3 versions above it then
        // (the deleted one counts until its delete): masked.
        let mut t = Tracker::new(1);
        t.column_marker(CellKind::Delete, 20000, 1002);
        assert_eq!(t.put(20000, 1001), Deleted);
        assert_eq!(t.put(19999, 1003), Visible);
        let mut t = Tracker::new(1);
        t.column_marker(CellKind::Delete, 20000, 1002);
        assert_eq!(t.put(20000, 1001), Deleted);
        assert_eq!(t.put(19999, 998), Masked);
    }

    #[test]
    fn family_markers_apply_to_every_column() {
        let mut t = Tracker::new(3);
        t.family_marker(CellKind::DeleteFamily, 20000, 1000);
        t.start_column();
        assert_eq!(t.put(20000, 1001), Visible);
        assert_eq!(t.put(19998, 999), Deleted);
        t.start_column();
        assert_eq!(t.put(19999, 998), Deleted);

        let mut t = Tracker::new(1);
        t.family_marker(CellKind::DeleteFamilyVersion, 20000, 1000);
        t.start_column();
        assert_eq!(t.put(20000, 1001), Visible);
        t.start_column();
        assert_eq!(t.put(20000, 999), Deleted);
        assert_eq!(t.put(19999, 1002), Visible);
        t.start_column();
        assert_eq!(t.put(20000, 999), Deleted);
        assert_eq!(t.put(19999, 998), Masked);
    }

    #[test]
    fn a_put_written_after_a_delete_is_not_pushed_out_by_the_deleted_version() {
        // VERSIONS = 1: a@10 (seq 1) is deleted by a version delete at seq 2; b@5 comes at
        // seq 3 and shows. c@3 of seq 1 was pushed out by `a` while both existed. A version
        // delete of @1 (seq 4) comes last in key order: its moment counts `b` seen before it.
        let mut t = Tracker::new(1);
        t.column_marker(CellKind::Delete, 10, 2);
        assert_eq!(t.put(10, 1), Deleted);
        assert_eq!(t.put(5, 3), Visible);
        t.column_marker(CellKind::Delete, 1, 4);
        assert_eq!(t.moments.iter().map(|m| (m.seq, m.count)).collect::<Vec<_>>(), [(2, 1), (4, 1), (u64::MAX, 1)]);
        assert_eq!(t.put(3, 1), Masked);
        assert_eq!(t.put(1, 4), Deleted);
    }

    #[test]
    fn rewrites_of_a_version_count_until_replaced() {
        // VERSIONS = 1: q@1 (seq 1), x@6 (seq 2); a version delete at seq 3 of @9 (a moment
        // where x hid q); x deleted at seq 4 and rewritten at seq 5. q stays out: it was pushed
        // out at seq 3. The rewrite is the version; the first write is not shown.
        let mut t = Tracker::new(1);
        t.column_marker(CellKind::Delete, 9, 3);
        t.column_marker(CellKind::Delete, 6, 4);
        assert_eq!(t.put(6, 5), Visible);
        assert_eq!(t.put(6, 2), Deleted);
        assert_eq!(t.put(1, 1), Masked);
        // Without the delete, the older write is replaced (not visible) and counts until then.
        let mut t = Tracker::new(2);
        t.column_marker(CellKind::Delete, 9, 3);
        assert_eq!(t.put(6, 5), Visible);
        assert_eq!(t.put(6, 2), Masked);
        assert_eq!(t.moments.iter().map(|m| m.count).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(t.put(1, 1), Visible);
    }

    #[test]
    fn equal_sequence_numbers_delete() {
        // A marker and a put of one commit: the marker wins, as in HBase.
        let mut t = Tracker::new(3);
        t.column_marker(CellKind::DeleteColumn, 10, 7);
        assert_eq!(t.put(10, 7), Deleted);
        assert_eq!(t.put(9, 8), Visible);
    }
}
