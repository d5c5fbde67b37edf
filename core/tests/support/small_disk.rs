//! Shared by the full-disk tests: a tmpfs of a few MiB mounted under a temporary directory for
//! one test, with a ballast file to delete once the disk is full.

use std::path::PathBuf;
use std::process::Command;

/// A mounted tmpfs; unmounted on drop (also when an assertion fails).
pub struct SmallDisk {
    /// Where it is mounted.
    pub root: PathBuf,
    /// A file of `ballast` bytes on it, to delete to free space.
    pub ballast: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mount a tmpfs of `mib` MiB holding a ballast file of `ballast` bytes. None when it cannot
    /// be mounted (mounting needs root), unless `KABASE_REQUIRE_TMPFS` is set (scripts/test.sh
    /// sets it when it runs as root), which makes that a failure: there the tests cannot skip.
    pub fn mount(mib: u32, ballast: usize) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("small");
        std::fs::create_dir(&root).unwrap();
        let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"]).arg(&root).status().is_ok_and(|s| s.success());
        if !mounted {
            assert!(std::env::var_os("KABASE_REQUIRE_TMPFS").is_none(), "KABASE_REQUIRE_TMPFS is set but a tmpfs could not be mounted");
            eprintln!("skipped: mounting a {mib} MiB tmpfs needs root");
            return None;
        }
        let disk = SmallDisk { ballast: root.join("ballast"), root, _dir: dir };
        std::fs::write(&disk.ballast, vec![0u8; ballast]).unwrap();
        Some(disk)
    }

    /// A path on the disk.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Delete the ballast file.
    pub fn free_ballast(&self) {
        std::fs::remove_file(&self.ballast).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily (`-l`): a test that failed may leave an engine thread holding a file open.
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

