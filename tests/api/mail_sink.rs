//! A local SMTP sink for the email tests: `tests/smtp_sink/sink.py` (aiosmtpd) on a free
//! loopback port, writing each message it accepts into a folder the test reads. Never a
//! real mail server. `scripts/test` installs aiosmtpd into a virtualenv and names its
//! Python in TESSERA_TEST_SMTP_PYTHON; tests built without it are reported as ignored.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

pub const FROM: &str = "Tessera <noreply@example.com>";

pub struct Sink {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message as the sink received it.
#[derive(Debug)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub data: String,
}

impl Mail {
    /// The header block, unfolded lines as sent.
    pub fn head(&self) -> &str {
        self.data
            .split("\r\n\r\n")
            .next()
            .expect("a message has headers")
    }

    /// Values of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Vec<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head()
            .split("\r\n")
            .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
            .collect()
    }

    /// The body, decoded from quoted-printable or base64 if it was sent so.
    pub fn body(&self) -> String {
        let raw = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let encoding = self
            .header("content-transfer-encoding")
            .first()
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        match encoding.as_str() {
            "quoted-printable" => quoted_printable(raw),
            "base64" => {
                use base64::Engine;
                let compact: String = raw.split_whitespace().collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .expect("base64 body"),
                )
                .expect("utf-8 body")
            }
            _ => raw.to_owned(),
        }
    }

    /// The reset link in the body: its path under `base`.
    pub fn link_path(&self, base: &str) -> String {
        let body = self.body();
        let start = body
            .find(&format!("{base}/reset/"))
            .unwrap_or_else(|| panic!("no link to {base}/reset/ in {body}"));
        let link: String = body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        link[base.len()..].to_owned()
    }
}

fn quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'=')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The Python that has aiosmtpd.
fn python() -> PathBuf {
    std::env::var_os("TESSERA_TEST_SMTP_PYTHON")
        .map(PathBuf::from)
        .expect(
            "TESSERA_TEST_SMTP_PYTHON must be set: CI must test email, and tests built with \
             it set run only with it set",
        )
}

impl Sink {
    pub fn start() -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink/sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("sink stdout"))
            .read_line(&mut line)
            .expect("the sink's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP sink did not start: {line:?}")
        });
        Sink { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The settings a server sending to this sink needs.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TESSERA_SMTP_URL", self.url()),
            ("TESSERA_SMTP_FROM", FROM.to_owned()),
        ]
    }

    /// Every message received so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                Mail {
                    mail_from: v["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                    data: v["data"].as_str().unwrap().to_owned(),
                }
            })
            .collect()
    }

    /// Wait (up to 10 s) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        for _ in 0..100 {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} message(s), got {:?}", self.mails());
    }
}
