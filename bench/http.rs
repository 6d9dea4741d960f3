//! A minimal keep-alive HTTP/1.1 client for the benchmark: one connection,
//! one request at a time, enough of the protocol for actix's answers
//! (Content-Length or chunked bodies). std only, so the bench needs no HTTP
//! client crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// One keep-alive HTTP/1.1 connection (enough of the protocol for actix's answers).
pub struct Http {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    token: String,
}

impl Http {
    pub fn connect(addr: &str, token: &str) -> Http {
        Http::try_connect(addr, token).expect("connect to the server")
    }

    /// Connects, or says why not (the soak tells a refused connection from a
    /// reset one). A read waits 60 s at most: a hung server is an error, not a
    /// hung client.
    pub fn try_connect(addr: &str, token: &str) -> std::io::Result<Http> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
        let writer = stream.try_clone()?;
        Ok(Http { reader: BufReader::new(stream), writer, token: token.to_owned() })
    }

    /// Sends a request and returns the status and body.
    pub fn call(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<(u16, Vec<u8>)> {
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\n", self.token);
        if let Some(b) = body {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes())?;
        if let Some(b) = body {
            self.writer.write_all(b)?;
        }
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            let eof = "the server closed the connection before answering";
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, eof));
        }
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status"))?;
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().map_err(|_| bad("content-length"))?;
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(|_| bad("chunk size"))?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..size]);
            }
        } else {
            out.resize(length, 0);
            self.reader.read_exact(&mut out)?;
        }
        Ok((status, out))
    }

    /// A JSON call that must succeed (seeding).
    pub fn json(&mut self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("serialise"));
        let (status, out) = self.call(method, path, bytes.as_deref()).expect("the server answers");
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    /// A JSON call for the measured loops: any failure is an error to count.
    pub fn get_json(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(Value, usize), String> {
        let (status, out) = self.call(method, path, body).map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = serde_json::from_slice(&out).map_err(|e| format!("{method} {path}: {status}, {e}"))?;
        if status != 200 || v.get("errors").is_some() {
            return Err(format!("{method} {path}: {status} {v}"));
        }
        Ok((v, out.len()))
    }
}
