//! Small helpers shared by the engine's modules.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Write `bytes` to `path` atomically: write a sibling temporary file, fsync it, rename it over
/// `path`, then fsync the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(format_args!("create {}", tmp.display()), e))?;
        f.write_all(bytes).map_err(|e| Error::io(format_args!("write {}", tmp.display()), e))?;
        f.sync_all().map_err(|e| Error::io(format_args!("sync {}", tmp.display()), e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format_args!("rename {} to {}", tmp.display(), path.display()), e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// fsync a directory so a rename or a new file in it survives power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let d = std::fs::File::open(dir).map_err(|e| Error::io(format_args!("open directory {}", dir.display()), e))?;
    d.sync_all().map_err(|e| Error::io(format_args!("sync directory {}", dir.display()), e))
}

/// Milliseconds since the Unix epoch (HBase's and Kafka's clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The instant `timeout` from now, for a caller's timeout of any length: one too long for the
/// clock (`Duration::MAX`, which `Instant + Duration` panics on) is a century, which no wait
/// outlives.
pub(crate) fn deadline(timeout: std::time::Duration) -> std::time::Instant {
    const CENTURY: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    let now = std::time::Instant::now();
    now.checked_add(timeout).unwrap_or(now + CENTURY)
}
