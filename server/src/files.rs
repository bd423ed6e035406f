//! Files written so that a crash leaves either the old one or the new.

use std::{fs, io, io::Write, path::Path};

/// Writes `bytes` to `path` as a synced temporary file (`<path>.tmp`)
/// renamed over it, then syncs the directory: after a crash the file is
/// the old one or the new one, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let mut file = fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
