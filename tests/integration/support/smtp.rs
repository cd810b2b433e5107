//! An SMTP sink the tests run: it speaks enough of RFC 5321 for a real client (lettre) to deliver,
//! and keeps every message so a test can read the sign-in link a user would have received.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One delivered message: the envelope recipients and the raw data (headers and body).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub recipients: Vec<String>,
    pub data: String,
}

#[derive(Debug, Clone)]
pub struct SmtpSink {
    pub url: String,
    port: u16,
    delivered: Arc<Mutex<Vec<Delivered>>>,
    accepting: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP sink");
        let port = listener.local_addr().expect("address").port();
        let sink = Self {
            url: format!("smtp://127.0.0.1:{port}"),
            port,
            delivered: Arc::default(),
            accepting: Arc::default(),
        };
        sink.accept(listener);
        sink
    }

    fn accept(&self, listener: TcpListener) {
        let store = self.delivered.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, store.clone()));
            }
        });
        *self.accepting.lock().expect("sink lock") = Some(task);
    }

    /// The mail server goes away: connections are refused until [`SmtpSink::resume`].
    pub fn pause(&self) {
        if let Some(task) = self.accepting.lock().expect("sink lock").take() {
            task.abort();
        }
    }

    /// The mail server is back, on the same port.
    pub async fn resume(&self) {
        let mut listener = None;
        for _ in 0..50 {
            if let Ok(bound) = TcpListener::bind(("127.0.0.1", self.port)).await {
                listener = Some(bound);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.accept(listener.expect("the SMTP sink's port is free again"));
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().expect("sink lock").clone()
    }
}

async fn session(socket: tokio::net::TcpStream, store: Arc<Mutex<Vec<Delivered>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut recipients = Vec::new();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
            "MAIL" => {
                recipients.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let address = line.split_once(':').map(|(_, a)| a.trim().trim_matches(['<', '>']).to_owned());
                recipients.extend(address);
                b"250 OK\r\n"
            }
            "DATA" => {
                if write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    // Undo dot-stuffing (RFC 5321 4.5.2).
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                    data.push('\n');
                }
                store.lock().expect("sink lock").push(Delivered { recipients: std::mem::take(&mut recipients), data });
                b"250 queued\r\n"
            }
            "RSET" | "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
