//! Segment files: where sealed chunks live, so memory holds only each
//! series' open chunk.
//!
//! Each tier (raw samples, minute and hour rollups) has a directory of
//! numbered segments, `00000001.seg`, …. The newest is *open*: a sealed
//! chunk is appended to it as one record, framed as the write-ahead log's
//! are (length, CRC-32C, payload):
//!
//! ```text
//! payload: [series u32][count u32][min_ts i64][max_ts i64][prev u64][chunk bytes]   (LE)
//! ```
//!
//! `prev` is the offset of the same series' previous record in this
//! segment (`u64::MAX`: none), so the open segment needs one offset per
//! series in memory (the newest record's) to find all of a series'
//! chunks: a query walks the chain backwards. Once a record is written the
//! kernel has it, so it survives the process being killed; segments are
//! fsynced before the write-ahead log that also holds their samples is cut.
//!
//! A segment is *closed* when it is large or old enough (and at start-up):
//! an index of every record, grouped by series, and a fixed footer are
//! appended, and from then on the file never changes:
//!
//! ```text
//! entries: [series u32][count u32][min_ts i64][max_ts i64][offset u64]  × n, by series then time
//! table:   [first entry u32][entries u32]  × series_span, by series id
//! footer:  magic "LDSEG001", series_span u32, entries u32, entries_at u64, table_at u64,
//!          min_ts i64, max_ts i64, samples u64, wal_segment u64, crc u32 (of entries + table + footer)
//! ```
//!
//! A query reads a series' table slot, its entries and its chunks with
//! positioned reads (`pread`): nothing of a closed segment is kept in
//! memory but its footer. Retention removes whole closed segments whose
//! newest chunk is older than the tier's retention.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{head::SeriesId, wal::crc32c};

const MAGIC: &[u8; 8] = b"LDSEG001";
const FOOTER_BYTES: usize = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 4;
const HEADER_BYTES: usize = 4 + 4 + 8 + 8 + 8;
const ENTRY_BYTES: usize = 4 + 4 + 8 + 8 + 8;
const NONE: u64 = u64::MAX;
/// The largest chunk record read back (a chunk is far smaller).
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Why a segment cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The file system failed.
    #[error("segment {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A record or index that does not hold together.
    #[error("segment {path}: damaged at {offset}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
    },
}

/// A sealed chunk's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its series.
    pub series: SeriesId,
    /// Samples (or rollup points) in it.
    pub count: u32,
    /// Its oldest timestamp.
    pub min_ts: i64,
    /// Its newest.
    pub max_ts: i64,
    /// Where its record starts.
    pub offset: u64,
}

/// What a closed segment's footer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    series_span: u32,
    entries: u32,
    entries_at: u64,
    table_at: u64,
    /// The oldest timestamp of any chunk in it.
    pub min_ts: i64,
    /// The newest.
    pub max_ts: i64,
    /// Samples in all.
    pub samples: u64,
    /// The write-ahead log segment being written when it closed: a segment
    /// closed at or after the log's first segment may hold chunks the log
    /// also holds.
    pub wal_segment: u64,
}

/// A segment as queries read it: immutable, shared.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    file: File,
    /// Its number.
    pub number: u64,
    /// How it is found: chains (open, or closing) or its index (closed).
    pub shape: Shape,
}

/// How a segment's records are found.
#[derive(Debug)]
pub enum Shape {
    /// By each series' newest record (its chain), up to `len` bytes.
    Chained {
        /// The newest record's offset, by series id.
        heads: Arc<Vec<u64>>,
        /// Bytes written when the chains were taken.
        len: u64,
        /// Time range of its chunks.
        range: (i64, i64),
        /// Samples in them.
        samples: u64,
    },
    /// By its index.
    Indexed(Footer),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SegmentError + '_ {
    move |source| SegmentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut out = [0u8; 4];
    out.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(out)
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(out)
}

impl SegmentReader {
    /// The time range its chunks cover.
    pub fn range(&self) -> (i64, i64) {
        match &self.shape {
            Shape::Chained { range, .. } => *range,
            Shape::Indexed(footer) => (footer.min_ts, footer.max_ts),
        }
    }

    fn damaged(&self, offset: u64) -> SegmentError {
        SegmentError::Damaged {
            path: self.path.clone(),
            offset,
        }
    }

    fn read_exact_at(&self, len: usize, offset: u64) -> Result<Vec<u8>, SegmentError> {
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(io_error(&self.path))?;
        Ok(buf)
    }

    /// Reads the record at `offset`: its entry, `prev` and chunk bytes.
    fn record(&self, offset: u64) -> Result<(Entry, u64, Vec<u8>), SegmentError> {
        let frame = self.read_exact_at(8, offset)?;
        let len = le_u32(&frame, 0) as usize;
        if !(HEADER_BYTES..=MAX_RECORD_BYTES).contains(&len) {
            return Err(self.damaged(offset));
        }
        let payload = self.read_exact_at(len, offset + 8)?;
        if crc32c(&payload) != le_u32(&frame, 4) {
            return Err(self.damaged(offset));
        }
        let (entry, prev) = parse_header(&payload, offset);
        Ok((entry, prev, payload[HEADER_BYTES..].to_vec()))
    }

    /// The chunks of `series` overlapping `from..=to`, oldest first, with
    /// their entries.
    pub fn chunks(
        &self,
        series: SeriesId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(Entry, Vec<u8>)>, SegmentError> {
        let (lo, hi) = self.range();
        if hi < from || lo > to {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        match &self.shape {
            Shape::Chained { heads, len, .. } => {
                let mut at = heads.get(series.0 as usize).copied().unwrap_or(NONE);
                while at != NONE {
                    if at >= *len {
                        return Err(self.damaged(at));
                    }
                    let (entry, prev, bytes) = self.record(at)?;
                    if entry.series != series || prev >= at && prev != NONE {
                        return Err(self.damaged(at));
                    }
                    if entry.max_ts < from {
                        break;
                    }
                    if entry.min_ts <= to {
                        out.push((entry, bytes));
                    }
                    at = prev;
                }
                out.reverse();
            }
            Shape::Indexed(footer) => {
                for entry in self.entries_of(footer, series)? {
                    if entry.max_ts >= from && entry.min_ts <= to {
                        let (read, _, bytes) = self.record(entry.offset)?;
                        if read != entry {
                            return Err(self.damaged(entry.offset));
                        }
                        out.push((entry, bytes));
                    }
                }
            }
        }
        Ok(out)
    }

    fn entries_of(&self, footer: &Footer, series: SeriesId) -> Result<Vec<Entry>, SegmentError> {
        if series.0 >= footer.series_span {
            return Ok(Vec::new());
        }
        let slot = self.read_exact_at(8, footer.table_at + u64::from(series.0) * 8)?;
        let (first, n) = (le_u32(&slot, 0), le_u32(&slot, 4));
        if u64::from(first) + u64::from(n) > u64::from(footer.entries) {
            return Err(self.damaged(footer.table_at));
        }
        let bytes = self.read_exact_at(
            n as usize * ENTRY_BYTES,
            footer.entries_at + u64::from(first) * ENTRY_BYTES as u64,
        )?;
        Ok(bytes.chunks_exact(ENTRY_BYTES).map(parse_entry).collect())
    }

    /// Every entry of a closed segment (for start-up).
    pub fn all_entries(&self) -> Result<Vec<Entry>, SegmentError> {
        let Shape::Indexed(footer) = &self.shape else {
            return Ok(Vec::new());
        };
        let bytes = self.read_exact_at(footer.entries as usize * ENTRY_BYTES, footer.entries_at)?;
        Ok(bytes.chunks_exact(ENTRY_BYTES).map(parse_entry).collect())
    }

    /// Removes its file (readers that hold it go on reading).
    pub fn remove(&self) -> Result<(), SegmentError> {
        fs::remove_file(&self.path).map_err(io_error(&self.path))
    }
}

fn parse_header(payload: &[u8], offset: u64) -> (Entry, u64) {
    (
        Entry {
            series: SeriesId(le_u32(payload, 0)),
            count: le_u32(payload, 4),
            min_ts: le_u64(payload, 8) as i64,
            max_ts: le_u64(payload, 16) as i64,
            offset,
        },
        le_u64(payload, 24),
    )
}

fn parse_entry(bytes: &[u8]) -> Entry {
    Entry {
        series: SeriesId(le_u32(bytes, 0)),
        count: le_u32(bytes, 4),
        min_ts: le_u64(bytes, 8) as i64,
        max_ts: le_u64(bytes, 16) as i64,
        offset: le_u64(bytes, 24),
    }
}

/// What rewrites each chunk when a segment closes.
pub type Reseal = fn(&[u8]) -> Vec<u8>;

/// The segment being appended to.
#[derive(Debug)]
pub struct OpenSegment {
    path: PathBuf,
    file: File,
    number: u64,
    len: u64,
    heads: Vec<u64>,
    range: (i64, i64),
    samples: u64,
}

impl OpenSegment {
    /// Creates segment `number` in `dir`.
    pub fn create(dir: &Path, number: u64) -> Result<Self, SegmentError> {
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
        Ok(Self {
            path,
            file,
            number,
            len: 0,
            heads: Vec::new(),
            range: (i64::MAX, i64::MIN),
            samples: 0,
        })
    }

    /// Its number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a sealed chunk of `series`. When it returns the chunk
    /// survives the process being killed.
    pub fn append(
        &mut self,
        series: SeriesId,
        count: u32,
        (min_ts, max_ts): (i64, i64),
        chunk: &[u8],
    ) -> Result<(), SegmentError> {
        let slot = series.0 as usize;
        if self.heads.len() <= slot {
            self.heads.resize(slot + 1, NONE);
        }
        let payload_len = HEADER_BYTES + chunk.len();
        let mut record = Vec::with_capacity(8 + payload_len);
        record.extend_from_slice(&(payload_len as u32).to_le_bytes());
        record.extend_from_slice(&[0; 4]);
        record.extend_from_slice(&series.0.to_le_bytes());
        record.extend_from_slice(&count.to_le_bytes());
        record.extend_from_slice(&min_ts.to_le_bytes());
        record.extend_from_slice(&max_ts.to_le_bytes());
        record.extend_from_slice(&self.heads[slot].to_le_bytes());
        record.extend_from_slice(chunk);
        let crc = crc32c(&record[8..]);
        record[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all_at(&record, self.len)
            .map_err(io_error(&self.path))?;
        self.heads[slot] = self.len;
        self.len += record.len() as u64;
        self.range = (self.range.0.min(min_ts), self.range.1.max(max_ts));
        self.samples += u64::from(count);
        Ok(())
    }

    /// Flushes it to disk.
    pub fn sync(&self) -> Result<(), SegmentError> {
        self.file.sync_data().map_err(io_error(&self.path))
    }

    /// A reader of what is written so far (chains as of now).
    pub fn reader(&self) -> Result<SegmentReader, SegmentError> {
        Ok(SegmentReader {
            path: self.path.clone(),
            file: self.file.try_clone().map_err(io_error(&self.path))?,
            number: self.number,
            shape: Shape::Chained {
                heads: Arc::new(self.heads.clone()),
                len: self.len,
                range: self.range,
                samples: self.samples,
            },
        })
    }

    /// The time range of its chunks (`(i64::MAX, i64::MIN)` when empty).
    pub fn range(&self) -> (i64, i64) {
        self.range
    }

    /// Samples written.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Closes it and returns it as a closed segment. With `reseal`, every
    /// chunk is rewritten through it into a new file, series by series (so
    /// a series' chunks lie together), which then replaces this one; the
    /// index and footer are written (synced) either way. This is where raw
    /// chunks get their compact sealed encoding, off the ingest path.
    /// `wal_segment`: the log segment being written now.
    pub fn close(
        self,
        wal_segment: u64,
        reseal: Option<Reseal>,
    ) -> Result<SegmentReader, SegmentError> {
        let Some(reseal) = reseal else {
            return self.close_in_place(wal_segment);
        };
        let tmp = self.path.with_extension("seg.tmp");
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(io_error(&tmp))?;
        let mut rewritten = OpenSegment {
            path: tmp.clone(),
            file,
            number: self.number,
            len: 0,
            heads: Vec::new(),
            range: (i64::MAX, i64::MIN),
            samples: 0,
        };
        let reader = self.reader()?;
        for slot in 0..self.heads.len() {
            let series = SeriesId(slot as u32);
            for (entry, bytes) in reader.chunks(series, i64::MIN, i64::MAX)? {
                rewritten.append(
                    series,
                    entry.count,
                    (entry.min_ts, entry.max_ts),
                    &reseal(&bytes),
                )?;
            }
        }
        let closed = rewritten.close_in_place(wal_segment)?;
        std::fs::rename(&tmp, &self.path).map_err(io_error(&self.path))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(dir))?;
        }
        Ok(SegmentReader {
            path: self.path,
            ..closed
        })
    }

    /// Closes it where it is: its index and footer are appended.
    fn close_in_place(self, wal_segment: u64) -> Result<SegmentReader, SegmentError> {
        let mut entries = Vec::new();
        for (slot, &head) in self.heads.iter().enumerate() {
            let mut at = head;
            let reader = SegmentReader {
                path: self.path.clone(),
                file: self.file.try_clone().map_err(io_error(&self.path))?,
                number: self.number,
                shape: Shape::Indexed(empty_footer()),
            };
            let start = entries.len();
            while at != NONE {
                let (entry, prev, _) = reader.record(at)?;
                if entry.series.0 as usize != slot || (prev != NONE && prev >= at) {
                    return Err(reader.damaged(at));
                }
                entries.push(entry);
                at = prev;
            }
            entries[start..].reverse();
        }
        write_index(
            &self.file,
            &self.path,
            self.len,
            &entries,
            self.heads.len() as u32,
            wal_segment,
        )
    }
}

fn empty_footer() -> Footer {
    Footer {
        series_span: 0,
        entries: 0,
        entries_at: 0,
        table_at: 0,
        min_ts: i64::MAX,
        max_ts: i64::MIN,
        samples: 0,
        wal_segment: 0,
    }
}

/// Appends the index of `entries` (grouped by series, each group in time
/// order) and the footer at `len`, syncs, and returns the closed segment.
fn write_index(
    file: &File,
    path: &Path,
    len: u64,
    entries: &[Entry],
    series_span: u32,
    wal_segment: u64,
) -> Result<SegmentReader, SegmentError> {
    let mut bytes = Vec::with_capacity(entries.len() * ENTRY_BYTES + series_span as usize * 8);
    let mut table = vec![(0u32, 0u32); series_span as usize];
    let mut footer = empty_footer();
    for (i, e) in entries.iter().enumerate() {
        let slot = &mut table[e.series.0 as usize];
        if slot.1 == 0 {
            slot.0 = i as u32;
        }
        slot.1 += 1;
        bytes.extend_from_slice(&e.series.0.to_le_bytes());
        bytes.extend_from_slice(&e.count.to_le_bytes());
        bytes.extend_from_slice(&e.min_ts.to_le_bytes());
        bytes.extend_from_slice(&e.max_ts.to_le_bytes());
        bytes.extend_from_slice(&e.offset.to_le_bytes());
        footer.min_ts = footer.min_ts.min(e.min_ts);
        footer.max_ts = footer.max_ts.max(e.max_ts);
        footer.samples += u64::from(e.count);
    }
    footer.series_span = series_span;
    footer.entries = entries.len() as u32;
    footer.entries_at = len;
    footer.table_at = len + bytes.len() as u64;
    footer.wal_segment = wal_segment;
    for (first, n) in &table {
        bytes.extend_from_slice(&first.to_le_bytes());
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&footer.series_span.to_le_bytes());
    bytes.extend_from_slice(&footer.entries.to_le_bytes());
    for field in [
        footer.entries_at,
        footer.table_at,
        footer.min_ts as u64,
        footer.max_ts as u64,
        footer.samples,
        footer.wal_segment,
    ] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    let crc = crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    file.set_len(len).map_err(io_error(path))?;
    file.write_all_at(&bytes, len).map_err(io_error(path))?;
    file.sync_data().map_err(io_error(path))?;
    Ok(SegmentReader {
        path: path.to_path_buf(),
        file: file.try_clone().map_err(io_error(path))?,
        number: number_of(path).unwrap_or(0),
        shape: Shape::Indexed(footer),
    })
}

/// Reads a closed segment's footer, checking the index's checksum.
fn read_footer(file: &File, size: u64) -> Option<Footer> {
    if size < FOOTER_BYTES as u64 {
        return None;
    }
    let mut tail = vec![0u8; FOOTER_BYTES];
    file.read_exact_at(&mut tail, size - FOOTER_BYTES as u64)
        .ok()?;
    if &tail[..8] != MAGIC {
        return None;
    }
    let footer = Footer {
        series_span: le_u32(&tail, 8),
        entries: le_u32(&tail, 12),
        entries_at: le_u64(&tail, 16),
        table_at: le_u64(&tail, 24),
        min_ts: le_u64(&tail, 32) as i64,
        max_ts: le_u64(&tail, 40) as i64,
        samples: le_u64(&tail, 48),
        wal_segment: le_u64(&tail, 56),
    };
    let index_len = size.checked_sub(footer.entries_at)?;
    if index_len > 1 << 32 || footer.entries_at > footer.table_at || footer.table_at > size {
        return None;
    }
    let mut index = vec![0u8; index_len as usize];
    file.read_exact_at(&mut index, footer.entries_at).ok()?;
    let body = index.len() - 4;
    (crc32c(&index[..body]) == le_u32(&index, body)).then_some(footer)
}

/// Opens an existing segment: a closed one as it is; one left open (the
/// process stopped while it was being written) is scanned, cut after its
/// last whole record and closed. Returns the segment and, for one that
/// was left open, its entries.
pub fn open_existing(
    path: &Path,
    wal_segment: u64,
) -> Result<(SegmentReader, Option<Vec<Entry>>), SegmentError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    let size = file.metadata().map_err(io_error(path))?.len();
    if let Some(footer) = read_footer(&file, size) {
        let reader = SegmentReader {
            path: path.to_path_buf(),
            file,
            number: number_of(path).unwrap_or(0),
            shape: Shape::Indexed(footer),
        };
        return Ok((reader, None));
    }
    let mut bytes = Vec::new();
    (&file).read_to_end(&mut bytes).map_err(io_error(path))?;
    let mut at = 0usize;
    let mut entries = Vec::new();
    while let Some(frame) = bytes.get(at..at + 8) {
        let len = le_u32(frame, 0) as usize;
        if !(HEADER_BYTES..=MAX_RECORD_BYTES).contains(&len) {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        // A whole record that fails its checksum is damage, not a torn
        // write: it is left out and the records after it are kept.
        if crc32c(payload) == le_u32(frame, 4) {
            entries.push(parse_header(payload, at as u64).0);
        }
        at += 8 + len;
    }
    // By series, then time (a series' records are in time order).
    entries.sort_by_key(|e| (e.series, e.offset));
    let span = entries.last().map_or(0, |e| e.series.0 + 1);
    let reader = write_index(&file, path, at as u64, &entries, span, wal_segment)?;
    Ok((reader, Some(entries)))
}

/// The segment numbers in `dir`, in order.
pub fn list(dir: &Path) -> Result<Vec<u64>, SegmentError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if let Some(number) = number_of(&path) {
            numbers.push(number);
        } else if path.to_string_lossy().ends_with(".seg.tmp") {
            // A rewrite cut short: the segment it came from is still there.
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// The path of segment `number` in `dir`.
pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.seg"))
}

fn number_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".seg")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("livedash-segment-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn chunk(series: u32, i: i64) -> Vec<u8> {
        format!("chunk {series} {i}").into_bytes()
    }

    /// Writes 3 series × 10 chunks, interleaved.
    fn fill(dir: &Path) -> OpenSegment {
        let mut open = OpenSegment::create(dir, 1).unwrap();
        for i in 0..10i64 {
            for series in [2u32, 0, 1] {
                open.append(
                    SeriesId(series),
                    5,
                    (i * 100, i * 100 + 99),
                    &chunk(series, i),
                )
                .unwrap();
            }
        }
        open
    }

    fn read(reader: &SegmentReader, series: u32, from: i64, to: i64) -> Vec<Vec<u8>> {
        reader
            .chunks(SeriesId(series), from, to)
            .unwrap()
            .into_iter()
            .map(|(_, bytes)| bytes)
            .collect()
    }

    #[test]
    fn chunks_come_back_by_series_and_range_open_and_closed() {
        let dir = TempDir::new("read");
        let open = fill(&dir.0);
        let chained = open.reader().unwrap();
        let closed = open.close(7, None).unwrap();
        for reader in [&chained, &closed] {
            assert_eq!(
                read(reader, 1, 250, 420),
                [chunk(1, 2), chunk(1, 3), chunk(1, 4)]
            );
            assert_eq!(read(reader, 2, i64::MIN, i64::MAX).len(), 10);
            assert!(read(reader, 9, i64::MIN, i64::MAX).is_empty());
            assert!(read(reader, 0, 5_000, 6_000).is_empty());
        }
        let Shape::Indexed(footer) = closed.shape else {
            panic!("closed")
        };
        assert_eq!(
            (footer.min_ts, footer.max_ts, footer.samples),
            (0, 999, 150)
        );
        assert_eq!(footer.wal_segment, 7);
        // Reopened, the index is found again.
        let (again, scanned) = open_existing(&segment_path(&dir.0, 1), 9).unwrap();
        assert!(scanned.is_none());
        assert_eq!(read(&again, 0, 0, 99), [chunk(0, 0)]);
        assert_eq!(again.all_entries().unwrap().len(), 30);
    }

    fn shout(bytes: &[u8]) -> Vec<u8> {
        bytes.to_ascii_uppercase()
    }

    #[test]
    fn a_rewriting_close_replaces_every_chunk_and_lays_each_series_out_together() {
        let dir = TempDir::new("rewrite");
        let closed = fill(&dir.0).close(3, Some(shout)).unwrap();
        assert_eq!(
            read(&closed, 1, 250, 420),
            [
                shout(&chunk(1, 2)),
                shout(&chunk(1, 3)),
                shout(&chunk(1, 4))
            ]
        );
        // Series 0's ten chunks come first, one after another.
        let offsets: Vec<u64> = closed
            .chunks(SeriesId(0), i64::MIN, i64::MAX)
            .unwrap()
            .iter()
            .map(|(e, _)| e.offset)
            .collect();
        assert_eq!(offsets[0], 0);
        assert!(offsets.windows(2).all(|w| w[0] < w[1]));
        assert!(!segment_path(&dir.0, 1).with_extension("seg.tmp").exists());
        // What is on disk is the rewritten file, indexed.
        let (again, scanned) = open_existing(&segment_path(&dir.0, 1), 3).unwrap();
        assert!(scanned.is_none());
        assert_eq!(read(&again, 2, 0, 99), [shout(&chunk(2, 0))]);
        // A rewrite cut short leaves a temporary file that the next listing
        // removes.
        std::fs::write(
            segment_path(&dir.0, 2).with_extension("seg.tmp"),
            b"partial",
        )
        .unwrap();
        assert_eq!(list(&dir.0).unwrap(), [1]);
        assert!(!segment_path(&dir.0, 2).with_extension("seg.tmp").exists());
    }

    #[test]
    fn a_segment_left_open_is_cut_after_its_last_whole_record_and_closed() {
        let dir = TempDir::new("torn");
        let open = fill(&dir.0);
        let path = segment_path(&dir.0, 1);
        drop(open);
        // The process died in the middle of an append.
        let size = fs::metadata(&path).unwrap().len();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(size - 3).unwrap();
        let (reader, scanned) = open_existing(&path, 4).unwrap();
        let scanned = scanned.expect("it was left open");
        assert_eq!(scanned.len(), 29, "the torn record is gone");
        assert_eq!(read(&reader, 1, i64::MIN, i64::MAX).len(), 9);
        assert_eq!(read(&reader, 0, i64::MIN, i64::MAX).len(), 10);
        // Now closed: opening again reads the index.
        assert!(open_existing(&path, 4).unwrap().1.is_none());
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let dir = TempDir::new("damage");
        let closed = fill(&dir.0).close(1, None).unwrap();
        let path = segment_path(&dir.0, 1);
        drop(closed);
        let mut bytes = fs::read(&path).unwrap();
        // A flipped bit in a chunk record: that read fails, others work.
        bytes[40] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        let (reader, _) = open_existing(&path, 1).unwrap();
        assert!(reader.chunks(SeriesId(2), 0, 99).is_err());
        assert_eq!(read(&reader, 1, i64::MIN, i64::MAX).len(), 10);
        // A flipped bit in the index: the footer no longer checks, so the
        // segment is rescanned from its records.
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() - FOOTER_BYTES - 20;
        bytes[at] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(open_existing(&path, 1).is_ok());
    }
}
