//! TTL reclaim inside the LSM's compactions: a fjall compaction filter per family keyspace drops
//! cells older than the family's TTL, so expired data leaves the disk without a kabase major
//! compaction. It runs lazily (only when the LSM compacts), so reads still apply TTL themselves.
//!
//! Only families with a TTL and MIN_VERSIONS = 0 get the filter: then every entry (put or delete
//! marker) with a timestamp older than `now - TTL` is invisible to every read, and so is anything
//! such a marker masks (it is older still), so dropping it cannot change a result. With
//! MIN_VERSIONS > 0 an expired version may still be visible, and only the kabase major
//! compaction (which sees whole columns) may drop it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fjall::compaction::filter::{CompactionFilter, CompactionFilterResult, Context, Factory, ItemAccessor, Verdict};

use crate::table::codec;

/// Family keyspace name -> TTL in ms, shared by the engine's compaction filter factories and
/// updated whenever a table's shape changes.
#[derive(Clone, Default)]
pub(crate) struct TtlRegistry(Arc<RwLock<HashMap<String, i64>>>);

impl TtlRegistry {
    /// The assigner handed to fjall's database builder.
    #[allow(clippy::type_complexity)]
    pub(crate) fn assigner(&self) -> Arc<dyn Fn(&str) -> Option<Arc<dyn Factory>> + Send + Sync> {
        let reg = self.clone();
        Arc::new(move |name: &str| {
            if super::is_family_keyspace(name) {
                Some(Arc::new(TtlFactory { reg: reg.clone(), name: name.to_string() }) as Arc<dyn Factory>)
            } else {
                None
            }
        })
    }

    /// Set (or clear, with `None`) the TTL enforced on a family keyspace.
    pub(crate) fn set(&self, keyspace: &str, ttl_ms: Option<i64>) {
        if let Ok(mut m) = self.0.write() {
            match ttl_ms {
                Some(t) => {
                    m.insert(keyspace.to_string(), t);
                }
                None => {
                    m.remove(keyspace);
                }
            }
        }
    }

    fn get(&self, keyspace: &str) -> Option<i64> {
        self.0.read().ok().and_then(|m| m.get(keyspace).copied())
    }
}

struct TtlFactory {
    reg: TtlRegistry,
    name: String,
}

impl Factory for TtlFactory {
    fn name(&self) -> &str {
        "kabase-ttl"
    }

    fn make_filter(&self, _ctx: &Context) -> Box<dyn CompactionFilter> {
        let cutoff = self.reg.get(&self.name).map(|ttl| crate::now_ms().saturating_sub(ttl));
        Box::new(TtlFilter { cutoff })
    }
}

struct TtlFilter {
    /// Entries with a timestamp below this are dropped; `None` keeps everything.
    cutoff: Option<i64>,
}

impl CompactionFilter for TtlFilter {
    fn filter_item(&mut self, item: ItemAccessor<'_>, _ctx: &Context) -> CompactionFilterResult {
        let Some(cutoff) = self.cutoff else {
            return Ok(Verdict::Keep);
        };
        let key = item.key();
        let Ok(n) = codec::row_part_len(key) else {
            return Ok(Verdict::Keep);
        };
        match codec::decode_tail_ref(key, n) {
            // Destroy leaves no tombstone: an older copy of the same key has the same timestamp,
            // so it is expired as well and invisible if it resurfaces.
            Ok(t) if t.ts < cutoff => Ok(Verdict::Destroy),
            _ => Ok(Verdict::Keep),
        }
    }
}
