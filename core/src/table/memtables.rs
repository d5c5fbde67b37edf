//! Freeing flushed memtables off fjall's locks.
//!
//! fjall frees a memtable when the last version of its keyspace's version history that lists
//! it goes away. After the memtable has been flushed, that is the version garbage collection of
//! a later memtable rotation (or flush), which runs while holding the keyspace's version-history
//! write lock; every insert into the keyspace reads its active memtable through that lock. Freeing
//! a full memtable (64 MiB: about 350,000 cells of 100 bytes, each entry its own allocations) takes
//! 50-550 ms, and a writer of the keyspace waits all that time: these were the long single-put
//! calls of the tables benchmark, on kabase's and raw fjall's side alike (docs/benchmarks.md,
//! "Session 6, single put").
//!
//! [`MemtableKeeper`] takes a reference to each family keyspace's memtable while it is active.
//! The tables' background thread ([`super::write::spawn_background`]) calls
//! [`MemtableKeeper::release`] every 50 ms, which lets go of the memtables nobody but the keeper
//! holds any more (flushed, and dropped from every version and open snapshot): the last reference
//! is then the keeper's, so the memory is freed on that thread, holding no lock. fjall's own
//! version GC only drops a reference count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fjall::AbstractTree;
use parking_lot::Mutex;

/// One watched keyspace and the memtables the keeper holds for it (oldest first).
struct Watched {
    name: String,
    ks: fjall::Keyspace,
    held: Vec<Arc<lsm_tree::Memtable>>,
}

/// The memtables of the engine's family keyspaces, held so that they are freed off fjall's
/// locks (see the module docs).
#[derive(Default)]
pub(crate) struct MemtableKeeper {
    watched: Mutex<Vec<Watched>>,
    /// How many memtables [`MemtableKeeper::release`] freed so far.
    freed: AtomicU64,
}

impl MemtableKeeper {
    /// Watch `ks` (named `name`; a keyspace already watched under that name is left as is).
    pub(crate) fn watch(&self, name: &str, ks: &fjall::Keyspace) {
        let mut w = self.watched.lock();
        if w.iter().any(|x| x.name == name) {
            return;
        }
        let active = ks.tree.active_memtable();
        w.push(Watched { name: name.to_string(), ks: ks.clone(), held: vec![active] });
    }

    /// Stop watching the keyspace `name` (it is being deleted).
    pub(crate) fn forget(&self, name: &str) {
        let gone: Vec<Watched> = {
            let mut w = self.watched.lock();
            let (gone, keep) = std::mem::take(&mut *w).into_iter().partition(|x| x.name == name);
            *w = keep;
            gone
        };
        drop(gone);
    }

    /// Stop watching everything (the engine is closing).
    pub(crate) fn clear(&self) {
        let all = std::mem::take(&mut *self.watched.lock());
        drop(all);
    }

    /// Take a reference to each watched keyspace's active memtable if not held yet, and let go of
    /// the held memtables that only the keeper still references, freeing them on this thread.
    /// Returns how many were freed.
    pub(crate) fn release(&self) -> usize {
        let mut free: Vec<Arc<lsm_tree::Memtable>> = Vec::new();
        {
            let mut w = self.watched.lock();
            for x in w.iter_mut() {
                let active = x.ks.tree.active_memtable();
                if !x.held.iter().any(|m| m.id() == active.id()) {
                    x.held.push(active);
                }
                // Nothing else can gain a new reference to a memtable no version lists: a count
                // of one (the keeper's) stays one.
                for m in std::mem::take(&mut x.held) {
                    if Arc::strong_count(&m) == 1 {
                        free.push(m);
                    } else {
                        x.held.push(m);
                    }
                }
            }
        }
        let n = free.len();
        drop(free);
        self.freed.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// How many memtables the keeper has freed so far.
    #[cfg(test)]
    pub(crate) fn freed(&self) -> u64 {
        self.freed.load(Ordering::Relaxed)
    }

    /// Whether the keeper holds the keyspace `name`'s memtable `id`.
    #[cfg(test)]
    pub(crate) fn holds(&self, name: &str, id: lsm_tree::MemtableId) -> bool {
        self.watched.lock().iter().any(|x| x.name == name && x.held.iter().any(|m| m.id() == id))
    }

    /// How many memtables the keeper holds for the keyspace `name`.
    #[cfg(test)]
    pub(crate) fn held(&self, name: &str) -> usize {
        self.watched.lock().iter().find(|x| x.name == name).map_or(0, |x| x.held.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjall::Readable;

    fn fill(ks: &fjall::Keyspace, from: u32, n: u32) {
        for i in from..from + n {
            ks.insert(format!("k{i:08}"), vec![7u8; 100]).unwrap();
        }
    }

    /// Seal the active memtable and wait until it is flushed.
    fn rotate(ks: &fjall::Keyspace) {
        ks.rotate_memtable_and_wait().unwrap();
    }

    #[test]
    fn flushed_memtables_are_freed_by_the_keeper_only_once_nothing_else_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let ks = db.keyspace("t1f0", fjall::KeyspaceCreateOptions::default).unwrap();
        let keeper = MemtableKeeper::default();
        keeper.watch("t1f0", &ks);
        keeper.watch("t1f0", &ks);
        assert_eq!(keeper.held("t1f0"), 1, "one active memtable, watched once");
        fill(&ks, 0, 1_000);
        assert_eq!(keeper.release(), 0, "the active memtable is fjall's too");
        let first = ks.tree.active_memtable().id();

        // A snapshot keeps the version that lists the first memtable.
        let snap = db.snapshot();
        rotate(&ks);
        fill(&ks, 1_000, 1_000);
        assert_eq!(keeper.release(), 0);
        rotate(&ks);
        fill(&ks, 2_000, 1_000);
        assert_eq!(keeper.release(), 0, "the snapshot still reads the first memtable's version");
        assert_eq!(snap.get(&ks, "k00000005").unwrap().as_deref(), Some(&[7u8; 100][..]));
        drop(snap);

        // The next rotation's version GC drops fjall's last references to both flushed
        // memtables; the keeper holds the only ones left and frees them.
        rotate(&ks);
        let freed = keeper.release();
        assert!(freed >= 2, "freed {freed}");
        assert!(keeper.held("t1f0") <= 2, "held {}", keeper.held("t1f0"));
        assert_ne!(ks.tree.active_memtable().id(), first);
        for i in [0u32, 1_500, 2_999] {
            assert_eq!(ks.get(format!("k{i:08}")).unwrap().as_deref(), Some(&[7u8; 100][..]));
        }

        keeper.forget("t1f0");
        assert_eq!(keeper.held("t1f0"), 0);
        keeper.watch("t1f0", &ks);
        keeper.clear();
        assert_eq!(keeper.held("t1f0"), 0);
    }
}
