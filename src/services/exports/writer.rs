//! Files of an export: rows as NDJSON or CSV, hashed (SHA-256) and counted
//! as they are written, split at [`MAX_ROWS_PER_FILE`] rows. Nothing is held
//! but a write buffer: rows arrive a page at a time and leave at once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Format, Resource};

/// Most rows in one file; a larger resource is split into several.
pub const MAX_ROWS_PER_FILE: u64 = 1_000_000;

/// A file written to the end.
#[derive(Debug, Clone)]
pub struct Written {
    pub n: i32,
    pub resource: Resource,
    pub rows: u64,
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
    /// Relative to the export directory.
    pub path: String,
}

/// A writer that hashes and counts what passes through it.
struct Hashing {
    inner: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

enum Sink {
    Ndjson(Hashing),
    // Boxed: the CSV writer carries its own buffer state, far larger than the NDJSON sink.
    Csv(Box<csv::Writer<Hashing>>),
}

struct Open {
    sink: Sink,
    n: i32,
    rows: u64,
    path: String,
}

/// The files of one resource of a job, numbered on from `next_n`.
pub struct ResourceWriter {
    root: PathBuf,
    dir: String,
    resource: Resource,
    format: Format,
    columns: Vec<String>,
    max_rows: u64,
    next_n: i32,
    open: Option<Open>,
    done: Vec<Written>,
    rows: u64,
}

impl ResourceWriter {
    /// Writes into `root/dir` (which must exist), the first file numbered `next_n`.
    pub fn new(root: &Path, dir: &str, resource: Resource, format: Format, next_n: i32) -> Self {
        ResourceWriter {
            root: root.to_owned(),
            dir: dir.to_owned(),
            resource,
            format,
            columns: resource.columns(),
            max_rows: MAX_ROWS_PER_FILE,
            next_n,
            open: None,
            done: Vec::new(),
            rows: 0,
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn start(&mut self) -> std::io::Result<Open> {
        let n = self.next_n;
        self.next_n += 1;
        let path = format!("{}/{n:04}-{}.{}", self.dir, self.resource.as_str(), self.format.extension());
        let file = File::create(self.root.join(&path))?;
        let hashing = Hashing { inner: BufWriter::with_capacity(256 * 1024, file), hasher: Sha256::new(), bytes: 0 };
        let sink = match self.format {
            Format::Ndjson => Sink::Ndjson(hashing),
            Format::Csv => {
                let mut w = csv::Writer::from_writer(hashing);
                w.write_record(&self.columns).map_err(std::io::Error::other)?;
                Sink::Csv(Box::new(w))
            }
        };
        Ok(Open { sink, n, rows: 0, path })
    }

    /// Appends one row (a JSON object, as the API returns it).
    pub fn write(&mut self, row: &Value) -> std::io::Result<()> {
        let mut open = match self.open.take() {
            Some(o) if o.rows < self.max_rows => o,
            Some(full) => {
                self.close(full)?;
                self.start()?
            }
            None => self.start()?,
        };
        match &mut open.sink {
            Sink::Ndjson(w) => {
                serde_json::to_writer(&mut *w, row)?;
                w.write_all(b"\n")?;
            }
            Sink::Csv(w) => {
                w.write_record(self.columns.iter().map(|c| cell(&row[c.as_str()]))).map_err(std::io::Error::other)?;
            }
        }
        open.rows += 1;
        self.rows += 1;
        self.open = Some(open);
        Ok(())
    }

    fn close(&mut self, open: Open) -> std::io::Result<()> {
        let mut hashing = match open.sink {
            Sink::Ndjson(w) => w,
            Sink::Csv(w) => w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?,
        };
        hashing.flush()?;
        hashing.inner.get_ref().sync_all()?;
        self.done.push(Written {
            n: open.n,
            resource: self.resource,
            rows: open.rows,
            bytes: hashing.bytes,
            sha256: hex::encode(hashing.hasher.finalize()),
            path: open.path,
        });
        Ok(())
    }

    /// Closes the last file (an empty resource still gets one, with the CSV
    /// header only) and returns every file written.
    pub fn finish(mut self) -> std::io::Result<Vec<Written>> {
        let open = match self.open.take() {
            Some(o) => o,
            None => self.start()?,
        };
        self.close(open)?;
        Ok(self.done)
    }
}

/// A CSV cell: text as is, nested values (tags, custom fields, lines, stats) as JSON text.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(root: &Path, w: &Written) -> Vec<String> {
        std::fs::read_to_string(root.join(&w.path)).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn files_split_at_the_row_limit_and_carry_their_digest() {
        let root = std::env::temp_dir().join(format!("clientele-writer-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(root.join("job")).unwrap();
        for format in [Format::Ndjson, Format::Csv] {
            let mut w = ResourceWriter::new(&root, "job", Resource::Clients, format, 3);
            w.max_rows = 2;
            for i in 0..5 {
                w.write(&serde_json::json!({"id": i, "name": "Acme, \"SA\"", "tags": ["a"]})).unwrap();
            }
            let files = w.finish().unwrap();
            assert_eq!(files.iter().map(|f| (f.n, f.rows)).collect::<Vec<_>>(), [(3, 2), (4, 2), (5, 1)]);
            for f in &files {
                let bytes = std::fs::read(root.join(&f.path)).unwrap();
                assert_eq!(f.bytes, bytes.len() as u64);
                assert_eq!(f.sha256, hex::encode(Sha256::digest(&bytes)));
                let header = if format == Format::Csv { 1 } else { 0 };
                assert_eq!(lines(&root, f).len() as u64, f.rows + header);
            }
            if format == Format::Csv {
                let first = lines(&root, &files[0]);
                assert!(first[0].starts_with("id,name,status,"), "{}", first[0]);
                assert!(first[1].starts_with("0,\"Acme, \"\"SA\"\"\","), "{}", first[1]);
            }
        }
        // An empty resource still has its file (the CSV header alone).
        let files = ResourceWriter::new(&root, "job", Resource::Orders, Format::Csv, 1).finish().unwrap();
        assert_eq!((files.len(), files[0].rows), (1, 0));
        assert_eq!(lines(&root, &files[0]).len(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
