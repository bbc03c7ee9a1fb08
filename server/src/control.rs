//! The control socket: a Unix stream socket where `tcpterm stat` asks the running server for a
//! snapshot.
//!
//! Protocol (version 1): the client sends one request line (`snapshot\n`); the server answers
//! one line of JSON (a [`crate::stats::Snapshot`], or `{"error": "..."}`) and closes.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long either side waits on a slow peer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no tcpterm server at {0} (is `tcpterm serve` running? pass --control-socket if it uses another path)")]
    NotRunning(PathBuf),
    #[error("permission denied on {0} (run as the user the server runs as, e.g. with sudo)")]
    Permission(PathBuf),
    #[error("another tcpterm is already serving on control socket {0}; stop it or pass a different --control-socket")]
    InUse(PathBuf),
    #[error("control socket {path}: {err}")]
    Io {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("the server answered: {0}")]
    Server(String),
    #[error("unexpected answer from the server: {0}")]
    BadAnswer(String),
}

fn io_error(path: &Path, err: std::io::Error) -> ControlError {
    match err.kind() {
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => ControlError::NotRunning(path.into()),
        ErrorKind::PermissionDenied => ControlError::Permission(path.into()),
        _ => ControlError::Io {
            path: path.into(),
            err,
        },
    }
}

/// Answers requests; runs on the control thread, never on a worker.
pub type Responder = Box<dyn Fn(&str) -> String + Send>;

/// The listening side; removes its socket file when dropped.
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Binds `path` and serves requests on a background thread. A stale socket file left by a
    /// crashed server is replaced; a live one is an error.
    pub fn start(path: &Path, respond: Responder) -> Result<Self, ControlError> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse(path.into()));
            }
            std::fs::remove_file(path).map_err(|e| io_error(path, e))?;
        }
        let listener = UnixListener::bind(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => ControlError::Io {
                path: path.into(),
                err: std::io::Error::new(ErrorKind::NotFound, "its directory does not exist"),
            },
            _ => io_error(path, e),
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| io_error(path, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tcpterm-control".into())
            .spawn(move || serve(listener, &stop2, &respond))
            .map_err(|e| io_error(path, e))?;
        Ok(ControlServer {
            path: path.into(),
            stop,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: UnixListener, stop: &AtomicBool, respond: &Responder) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                // One client at a time is plenty for a human or a monitoring script; the timeouts
                // keep a stuck client from holding the socket.
                let _ = handle(stream, respond);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn handle(stream: UnixStream, respond: &Responder) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(std::io::Read::take(&stream, 4096)).read_line(&mut line)?;
    let mut answer = respond(line.trim());
    answer.push('\n');
    (&stream).write_all(answer.as_bytes())
}

/// The answer to a request the server does not know.
pub fn unknown_request(req: &str) -> String {
    serde_json::json!({ "error": format!("unknown request {req:?} (expected \"snapshot\")") })
        .to_string()
}

/// Sends one request and returns the answer line.
pub fn request(path: &Path, req: &str) -> Result<String, ControlError> {
    let stream = UnixStream::connect(path).map_err(|e| io_error(path, e))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|_| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| io_error(path, e))?;
    (&stream)
        .write_all(format!("{req}\n").as_bytes())
        .map_err(|e| io_error(path, e))?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(|e| io_error(path, e))?;
    if answer.is_empty() {
        return Err(ControlError::BadAnswer("empty answer".into()));
    }
    Ok(answer)
}

/// Asks for a snapshot and parses it.
pub fn fetch_snapshot(path: &Path) -> Result<(crate::stats::Snapshot, String), ControlError> {
    let answer = request(path, "snapshot")?;
    let value: serde_json::Value =
        serde_json::from_str(&answer).map_err(|e| ControlError::BadAnswer(e.to_string()))?;
    if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
        return Err(ControlError::Server(err.into()));
    }
    // Parsed from the text, not `value`: a `Value` map is sorted and counters would lose order.
    let snap = serde_json::from_str(&answer).map_err(|e| ControlError::BadAnswer(e.to_string()))?;
    Ok((snap, answer.trim_end().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tests::sample;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("tcpterm-test-{}-{name}.sock", std::process::id()))
    }

    fn snapshot_responder() -> Responder {
        Box::new(|req| match req {
            "snapshot" => serde_json::to_string(&sample()).unwrap(),
            other => unknown_request(other),
        })
    }

    #[test]
    fn snapshot_round_trip_over_the_socket() {
        let path = temp_path("rt");
        let server = ControlServer::start(&path, snapshot_responder()).unwrap();
        let (snap, raw) = fetch_snapshot(&path).unwrap();
        assert_eq!(snap, sample());
        assert!(raw.starts_with('{') && !raw.contains('\n'));
        // Several clients in a row.
        for _ in 0..3 {
            assert_eq!(fetch_snapshot(&path).unwrap().0.pid, 1234);
        }
        let err = request(&path, "reboot").unwrap();
        assert!(err.contains("unknown request"), "{err}");
        drop(server);
        assert!(!path.exists(), "socket file removed on drop");
    }

    #[test]
    fn no_server_is_a_clear_error() {
        let path = temp_path("none");
        let err = fetch_snapshot(&path).unwrap_err().to_string();
        assert!(err.starts_with("no tcpterm server at "), "{err}");
        assert!(err.contains("--control-socket"));
    }

    #[test]
    fn stale_socket_is_replaced_but_a_live_one_is_refused() {
        let path = temp_path("stale");
        let _ = std::fs::remove_file(&path);
        // A socket file nobody listens on, as a crash leaves behind.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let first = ControlServer::start(&path, snapshot_responder()).unwrap();
        let second = ControlServer::start(&path, snapshot_responder());
        assert!(matches!(second, Err(ControlError::InUse(_))));
        assert!(
            fetch_snapshot(&path).is_ok(),
            "the first server still answers"
        );
        drop(first);
    }

    #[test]
    fn server_error_answers_are_reported() {
        let path = temp_path("err");
        let _s = ControlServer::start(&path, Box::new(|_| r#"{"error":"busy"}"#.into())).unwrap();
        let err = fetch_snapshot(&path).unwrap_err().to_string();
        assert_eq!(err, "the server answered: busy");
    }
}
