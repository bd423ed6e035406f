//! The write-ahead log: every acknowledged write is here before it is
//! acknowledged, so a restart (even after SIGKILL) rebuilds what was in
//! memory by replaying it.
//!
//! The log is a directory of numbered segment files (`00000001.wal`, …),
//! each at most `segment_bytes` long. A segment is a sequence of records:
//!
//! ```text
//! [payload length: u32 LE][CRC-32C of the payload: u32 LE][payload]
//! ```
//!
//! [`Wal::append`] writes a record with one `write` to the file (no
//! user-space buffer): once it returns the bytes are the kernel's and
//! survive the process being killed. [`Wal::sync`] (`fdatasync`) makes
//! them survive a power loss; the store calls it every second, as
//! Prometheus does when a segment closes and as most databases do on a
//! timer, so a power loss costs at most about a second.
//!
//! Opening replays every segment in order. A record that is cut short or
//! fails its checksum at the end of the last segment is a write the
//! process did not finish: the segment is truncated there and writing goes
//! on from it. The same damage anywhere else is corruption: replay stops
//! at it (what came before is kept) and says so.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

/// The largest record accepted (a batch of samples is split below it).
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Why the log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// Reading or writing the directory or a segment failed.
    #[error("write-ahead log {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A record larger than [`MAX_RECORD_BYTES`].
    #[error("a write-ahead log record of {0} bytes is larger than {MAX_RECORD_BYTES}")]
    TooLarge(usize),
}

/// What replay found besides the records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The records, in the order they were appended.
    pub records: Vec<Vec<u8>>,
    /// Bytes of an unfinished last record that were cut off.
    pub torn_bytes: u64,
    /// Where replay stopped at damage before the end of the log (`None`: it
    /// read everything).
    pub corrupt: Option<(PathBuf, u64)>,
}

/// An open write-ahead log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segment_bytes: u64,
    /// The segment being written: its number, file and length.
    number: u64,
    file: File,
    len: u64,
    /// Bytes of the segments before it.
    earlier: u64,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, replaying what it holds.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<(Self, Replayed), WalError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WalError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let segments = segments(dir).map_err(io(dir))?;
        let mut replayed = Replayed::default();
        let mut last = None;
        for (i, &number) in segments.iter().enumerate() {
            let path = segment_path(dir, number);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(io(&path))?;
            let (records, good) = read_records(&bytes);
            replayed.records.extend(records);
            let is_last = i + 1 == segments.len();
            if good < bytes.len() {
                // Cut the segment after its last whole record: an append
                // the process did not finish (at the end of the log), or
                // damage (anywhere else).
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                file.set_len(good as u64).map_err(io(&path))?;
                file.sync_data().map_err(io(&path))?;
                last = Some((number, good as u64));
                if is_last {
                    replayed.torn_bytes = (bytes.len() - good) as u64;
                } else {
                    // As Prometheus repairs its log: what follows damage
                    // cannot be trusted to follow on from what came
                    // before it. The later segments are set aside (kept
                    // for inspection, never replayed) and writing goes on
                    // from the last good record.
                    replayed.corrupt = Some((path.clone(), good as u64));
                    for &later in &segments[i + 1..] {
                        let from = segment_path(dir, later);
                        let to = from.with_extension("wal.damaged");
                        fs::rename(&from, &to).map_err(io(&from))?;
                    }
                    break;
                }
                continue;
            }
            last = Some((number, good as u64));
        }
        let (number, len) = last.unwrap_or((1, 0));
        let mut earlier = 0;
        // Segments set aside after damage are no longer listed.
        for older in self::segments(dir).map_err(io(dir))? {
            if older < number {
                let path = segment_path(dir, older);
                earlier += fs::metadata(&path).map_err(io(&path))?.len();
            }
        }
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        sync_dir(dir).map_err(io(dir))?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                segment_bytes: segment_bytes.max(1),
                number,
                file,
                len,
                earlier,
            },
            replayed,
        ))
    }

    /// Appends one record. When it returns, the record survives the
    /// process being killed; [`Wal::sync`] makes it survive a power loss.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), WalError> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(WalError::TooLarge(payload.len()));
        }
        let size = (8 + payload.len()) as u64;
        if self.len > 0 && self.len + size > self.segment_bytes {
            self.roll()?;
        }
        let mut record = Vec::with_capacity(8 + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32c(payload).to_le_bytes());
        record.extend_from_slice(payload);
        self.file
            .write_all(&record)
            .map_err(|source| WalError::Io {
                path: segment_path(&self.dir, self.number),
                source,
            })?;
        self.len += size;
        Ok(())
    }

    /// Flushes what was appended to the disk (`fdatasync`).
    pub fn sync(&self) -> Result<(), WalError> {
        self.file.sync_data().map_err(|source| WalError::Io {
            path: segment_path(&self.dir, self.number),
            source,
        })
    }

    /// A handle on the segment being written, to `fdatasync` it without
    /// holding whatever guards the log (appends go on meanwhile; a segment
    /// that closes is synced by the append that closes it).
    pub fn sync_handle(&self) -> Result<File, WalError> {
        self.file.try_clone().map_err(|source| WalError::Io {
            path: segment_path(&self.dir, self.number),
            source,
        })
    }

    /// The segment being written.
    pub fn segment(&self) -> u64 {
        self.number
    }

    /// The oldest segment there is.
    pub fn first_segment(&self) -> u64 {
        segments(&self.dir)
            .ok()
            .and_then(|numbers| numbers.first().copied())
            .unwrap_or(self.number)
    }

    /// Removes every segment before `number` (their records are stored
    /// elsewhere now).
    pub fn remove_before(&mut self, number: u64) -> Result<(), WalError> {
        let io = |path: PathBuf| move |source| WalError::Io { path, source };
        for old in segments(&self.dir).map_err(io(self.dir.clone()))? {
            if old < number.min(self.number) {
                let path = segment_path(&self.dir, old);
                let size = fs::metadata(&path).map_or(0, |m| m.len());
                fs::remove_file(&path).map_err(io(path))?;
                self.earlier = self.earlier.saturating_sub(size);
            }
        }
        sync_dir(&self.dir).map_err(io(self.dir.clone()))
    }

    /// Bytes the log takes on disk.
    pub fn total_bytes(&self) -> u64 {
        self.earlier + self.len
    }

    /// Closes the current segment (synced) and starts the next; returns
    /// the new segment's number.
    pub fn roll(&mut self) -> Result<u64, WalError> {
        self.sync()?;
        let number = self.number + 1;
        let path = segment_path(&self.dir, number);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| WalError::Io {
                path: path.clone(),
                source,
            })?;
        sync_dir(&self.dir).map_err(|source| WalError::Io {
            path: self.dir.clone(),
            source,
        })?;
        self.number = number;
        self.earlier += self.len;
        self.len = 0;
        Ok(number)
    }
}

/// The records of a segment, and how many of its bytes hold whole, valid
/// records.
fn read_records(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD_BYTES {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32c(payload) != crc {
            break;
        }
        records.push(payload.to_vec());
        at += 8 + len;
    }
    (records, at)
}

/// The segment numbers in `dir`, in order.
fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        if let Ok(number) = stem.parse::<u64>() {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.wal"))
}

/// Makes a new file's directory entry durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// CRC-32C (Castagnoli), as Prometheus' log and ext4 use it.
pub fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82f6_3b78
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &b| {
        TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "livedash-wal-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn payloads(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i as u8; i * 7 % 300]).collect()
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn records_come_back_in_order_across_reopens_and_segments() {
        let dir = TempDir::new("reopen");
        let all = payloads(200);
        {
            let (mut wal, replayed) = Wal::open(&dir.0, 4_096).unwrap();
            assert!(replayed.records.is_empty());
            for p in &all[..120] {
                wal.append(p).unwrap();
            }
        }
        {
            let (mut wal, replayed) = Wal::open(&dir.0, 4_096).unwrap();
            assert_eq!(replayed.records, all[..120]);
            for p in &all[120..] {
                wal.append(p).unwrap();
            }
            assert!(wal.segment() > 3, "segments rolled");
        }
        let (_, replayed) = Wal::open(&dir.0, 4_096).unwrap();
        assert_eq!(replayed.records, all);
        assert_eq!(
            replayed,
            Replayed {
                records: all,
                ..Replayed::default()
            }
        );
    }

    #[test]
    fn a_write_cut_at_any_byte_loses_only_that_record_and_writing_goes_on() {
        let all = payloads(5);
        let whole: u64 = all.iter().map(|p| 8 + p.len() as u64).sum();
        let last = 8 + all[4].len() as u64;
        for cut in 1..last {
            let dir = TempDir::new(&format!("cut{cut}"));
            {
                let (mut wal, _) = Wal::open(&dir.0, 1 << 20).unwrap();
                for p in &all {
                    wal.append(p).unwrap();
                }
            }
            // The process died in the middle of the last write.
            let path = segment_path(&dir.0, 1);
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(whole - cut).unwrap();
            drop(file);
            let (mut wal, replayed) = Wal::open(&dir.0, 1 << 20).unwrap();
            assert_eq!(replayed.records, all[..4], "cut {cut}");
            assert_eq!(replayed.torn_bytes, last - cut);
            assert_eq!(replayed.corrupt, None);
            wal.append(b"after").unwrap();
            drop(wal);
            let (_, replayed) = Wal::open(&dir.0, 1 << 20).unwrap();
            assert_eq!(replayed.records.len(), 5, "cut {cut}");
            assert_eq!(replayed.records[4], b"after");
        }
    }

    #[test]
    fn a_flipped_bit_is_caught_by_the_checksum() {
        let dir = TempDir::new("flip");
        let all = payloads(30);
        {
            let (mut wal, _) = Wal::open(&dir.0, 2_048).unwrap();
            for p in &all {
                wal.append(p).unwrap();
            }
        }
        // Damage the middle of the first segment: a later segment follows.
        let path = segment_path(&dir.0, 1);
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        let (mut wal, replayed) = Wal::open(&dir.0, 2_048).unwrap();
        let kept = replayed.records.len();
        assert!(kept < all.len());
        assert_eq!(replayed.records, all[..kept], "what came before is kept");
        assert!(replayed.corrupt.is_some());
        // Writing goes on from the last good record, and what is written
        // then is replayed after it.
        assert_eq!(wal.segment(), 1);
        wal.append(b"next").unwrap();
        drop(wal);
        let (_, again) = Wal::open(&dir.0, 2_048).unwrap();
        assert_eq!(again.records.len(), kept + 1);
        assert_eq!(again.records[kept], b"next");
        assert_eq!(again.corrupt, None);
        assert!(fs::read_dir(&dir.0).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".damaged")));
    }

    #[test]
    fn oversized_records_are_refused() {
        let dir = TempDir::new("big");
        let (mut wal, _) = Wal::open(&dir.0, 1 << 20).unwrap();
        assert!(matches!(
            wal.append(&vec![0; MAX_RECORD_BYTES + 1]),
            Err(WalError::TooLarge(_))
        ));
    }

    #[test]
    fn old_segments_can_be_removed() {
        let dir = TempDir::new("remove");
        let (mut wal, _) = Wal::open(&dir.0, 1_024).unwrap();
        for p in payloads(60) {
            wal.append(&p).unwrap();
        }
        let on_disk = |dir: &Path| -> u64 {
            fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum()
        };
        assert_eq!(wal.total_bytes(), on_disk(&dir.0));
        let current = wal.segment();
        wal.remove_before(current).unwrap();
        assert_eq!(segments(&dir.0).unwrap(), [current]);
        assert_eq!(wal.total_bytes(), on_disk(&dir.0));
        drop(wal);
        let (wal, _) = Wal::open(&dir.0, 1_024).unwrap();
        assert_eq!(wal.total_bytes(), on_disk(&dir.0));
    }
}
