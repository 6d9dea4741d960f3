//! A real SMTP server for the tests: Debian's `python3-aiosmtpd`, started on a
//! free port, storing every message it accepts in a Maildir the test reads.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The Python interpreter that has `aiosmtpd`, installing it once if none has.
fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let has = |py: &str| {
            Command::new(py)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let find = || ["/usr/bin/python3", "python3"].into_iter().find(|p| has(p)).map(str::to_owned);
        if let Some(py) = find() {
            return py;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ensure-smtp.sh");
        let ok = Command::new("bash").arg(script).status().is_ok_and(|s| s.success());
        assert!(ok, "aiosmtpd is missing and scripts/ensure-smtp.sh could not install it");
        find().expect("aiosmtpd importable after scripts/ensure-smtp.sh")
    })
}

/// A running server; killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

/// One stored message: headers and body as text.
pub struct Mail {
    pub raw: String,
}

impl Mail {
    /// A header's value (first occurrence).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\n\n").next().unwrap_or_default();
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
            .map(|l| l[name.len() + 1..].trim().to_owned())
    }

    /// The body, after the blank line, decoded from quoted-printable when so sent.
    pub fn body(&self) -> String {
        let body = self.raw.split_once("\n\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        let qp = self.header("Content-Transfer-Encoding").is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if qp { quoted_printable(&body) } else { body }
    }
}

/// RFC 2045 quoted-printable: soft line breaks and `=XX` octets.
fn quoted_printable(s: &str) -> String {
    let joined = s.replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())) {
            (b'=', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SmtpServer {
    /// Starts a server on a free loopback port and waits until it accepts.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("clientele-smtp-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(15), "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, dir, child }
    }

    /// `smtp://127.0.0.1:<port>` (plain: a loopback test server).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("box").join("new")) else { return Vec::new() };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|raw| Mail { raw: raw.replace("\r\n", "\n") })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
