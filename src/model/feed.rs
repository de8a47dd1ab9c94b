//! The reply's bytes, as lines, with a watchdog: the request is sent and its body read on a worker thread, and
//! the caller waits for each line with a deadline that depends on the phase of the reply. Before the first token
//! (the prompt's prefill, the model's load, headers that are slow to come) the wait is long; once text streams,
//! a server that stops sending is noticed quickly. Every line and the whole stream are capped in size, so a
//! hostile or broken server can neither hang onepass nor fill its memory.
//!
//! reqwest's blocking client has no idle timeout of its own (its `timeout` bounds the whole request, which a
//! long prefill would exceed), hence the thread. When the caller gives up, the worker is left blocked on its
//! socket; it ends with the process, or as soon as its next read returns and finds nobody listening.

use std::io::{BufRead, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// Defaults, stated once.
pub const DEFAULT_PREFILL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
pub const DEFAULT_MAX_REPLY_BYTES: usize = 2 * 1024 * 1024;
/// The stream may carry this many bytes per byte of reply text (SSE/JSON framing, progress chunks, pings).
pub const FRAMING_FACTOR: u64 = 100;
/// An error body is read up to this size; the rest is ignored.
pub const MAX_ERROR_BODY: u64 = 64 * 1024;

/// How long to wait and how much to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Longest silence before the first token (and before the response headers).
    pub prefill: Duration,
    /// Longest silence once the reply streams.
    pub idle: Duration,
    /// Largest reply text accepted.
    pub max_reply_bytes: usize,
}

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        StreamLimits {
            prefill: DEFAULT_PREFILL_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
        }
    }
}

impl StreamLimits {
    /// The longest line accepted (one event or NDJSON object).
    pub fn max_line(&self) -> usize {
        self.max_reply_bytes.saturating_add(64 * 1024)
    }

    /// The most bytes the whole stream may carry.
    pub fn max_stream(&self) -> u64 {
        (self.max_reply_bytes as u64)
            .saturating_mul(FRAMING_FACTOR)
            .max(1 << 20)
    }

    /// The wait for the next bytes in a phase.
    pub fn wait(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Prefill => self.prefill,
            Phase::Streaming => self.idle,
        }
    }
}

/// Where the reply is: waiting for its first token, or streaming text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prefill,
    Streaming,
}

/// Why no line came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// Nothing arrived within the phase's wait.
    Idle { phase: Phase, waited: Duration },
    /// Reading failed (reset, closed while a chunk was incomplete, …).
    Io(String),
    /// One line exceeded the cap.
    LineTooLong { limit: usize },
    /// The stream exceeded its cap.
    StreamTooLarge { limit: u64 },
}

/// A source of reply lines (each with its line ending, except perhaps the last).
pub trait Lines {
    /// The next line, `Ok(None)` at the end of the stream.
    fn next_line(&mut self, phase: Phase) -> Result<Option<String>, FeedError>;
}

/// Splits bytes into capped lines; shared by both sources so they behave the same.
#[derive(Debug, Default)]
struct Splitter {
    buf: Vec<u8>,
    total: u64,
}

impl Splitter {
    fn push(&mut self, bytes: &[u8], limits: &StreamLimits) -> Result<(), FeedError> {
        self.total += bytes.len() as u64;
        if self.total > limits.max_stream() {
            return Err(FeedError::StreamTooLarge {
                limit: limits.max_stream(),
            });
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// A complete line, if the buffer holds one; an error when a line grows past the cap.
    fn line(&mut self, limits: &StreamLimits) -> Result<Option<String>, FeedError> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(i) if i < limits.max_line() => {
                let rest = self.buf.split_off(i + 1);
                let line = std::mem::replace(&mut self.buf, rest);
                Ok(Some(String::from_utf8_lossy(&line).into_owned()))
            }
            Some(_) => Err(FeedError::LineTooLong {
                limit: limits.max_line(),
            }),
            None if self.buf.len() >= limits.max_line() => Err(FeedError::LineTooLong {
                limit: limits.max_line(),
            }),
            None => Ok(None),
        }
    }

    /// What is left at the end of the stream.
    fn rest(&mut self) -> Option<String> {
        (!self.buf.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned())
    }
}

/// Lines of an in-memory or otherwise synchronous reader (recorded transcripts, tests): no deadlines, the
/// same caps.
pub struct ReaderLines<R> {
    reader: R,
    limits: StreamLimits,
    split: Splitter,
    done: bool,
}

impl<R: BufRead> ReaderLines<R> {
    pub fn new(reader: R, limits: StreamLimits) -> ReaderLines<R> {
        ReaderLines {
            reader,
            limits,
            split: Splitter::default(),
            done: false,
        }
    }
}

impl<R: BufRead> Lines for ReaderLines<R> {
    fn next_line(&mut self, _phase: Phase) -> Result<Option<String>, FeedError> {
        loop {
            if let Some(line) = self.split.line(&self.limits)? {
                return Ok(Some(line));
            }
            if self.done {
                return Ok(self.split.rest());
            }
            let chunk = self
                .reader
                .fill_buf()
                .map_err(|e| FeedError::Io(e.to_string()))?;
            if chunk.is_empty() {
                self.done = true;
                continue;
            }
            let n = chunk.len();
            let chunk = chunk.to_vec();
            self.reader.consume(n);
            self.split.push(&chunk, &self.limits)?;
        }
    }
}

/// What the worker thread reports.
pub enum Msg<T> {
    /// The request's outcome up to the headers (the caller decides what a bad status means).
    Head(T),
    Bytes(Vec<u8>),
    Failed(String),
    End,
}

/// The caller's end of a worker thread that sends the request and reads its body.
pub struct Watched<T> {
    rx: Receiver<Msg<T>>,
    limits: StreamLimits,
    split: Splitter,
    done: bool,
}

/// Start `start` (which sends the request and returns the head and the body reader) on a worker thread.
/// `start` returns `Err(head)` when there is no body to stream (a connection error, an error status whose body
/// it has read already).
pub fn spawn<T, B>(
    limits: StreamLimits,
    start: impl FnOnce() -> Result<(T, B), T> + Send + 'static,
) -> Watched<T>
where
    T: Send + 'static,
    B: Read + 'static,
{
    let (tx, rx) = mpsc::sync_channel(64);
    std::thread::spawn(move || work(tx, start));
    Watched {
        rx,
        limits,
        split: Splitter::default(),
        done: false,
    }
}

fn work<T, B: Read>(tx: SyncSender<Msg<T>>, start: impl FnOnce() -> Result<(T, B), T>) {
    let mut body = match start() {
        Ok((head, body)) => {
            if tx.send(Msg::Head(head)).is_err() {
                return;
            }
            body
        }
        Err(head) => {
            let _ = tx.send(Msg::Head(head));
            return;
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let msg = match body.read(&mut buf) {
            Ok(0) => Msg::End,
            Ok(n) => Msg::Bytes(buf[..n].to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Msg::Failed(super::detect::root_cause(&e)),
        };
        let last = matches!(msg, Msg::End | Msg::Failed(_));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

impl<T> Watched<T> {
    /// Wait for the head (status and headers) with the prefill deadline: servers that stream only once the
    /// prompt is processed send their headers late.
    pub fn head(&mut self) -> Result<T, FeedError> {
        let waited = self.limits.prefill;
        match self.rx.recv_timeout(waited) {
            Ok(Msg::Head(head)) => Ok(head),
            Ok(_) => Err(FeedError::Io("the response began without a status".into())),
            Err(RecvTimeoutError::Timeout) => Err(FeedError::Idle {
                phase: Phase::Prefill,
                waited,
            }),
            Err(RecvTimeoutError::Disconnected) => {
                Err(FeedError::Io("the request was abandoned".into()))
            }
        }
    }
}

impl<T> Lines for Watched<T> {
    fn next_line(&mut self, phase: Phase) -> Result<Option<String>, FeedError> {
        loop {
            if let Some(line) = self.split.line(&self.limits)? {
                return Ok(Some(line));
            }
            if self.done {
                return Ok(self.split.rest());
            }
            let waited = self.limits.wait(phase);
            match self.rx.recv_timeout(waited) {
                Ok(Msg::Bytes(bytes)) => self.split.push(&bytes, &self.limits)?,
                Ok(Msg::End) | Err(RecvTimeoutError::Disconnected) => self.done = true,
                Ok(Msg::Failed(message)) => return Err(FeedError::Io(message)),
                Ok(Msg::Head(_)) => {}
                Err(RecvTimeoutError::Timeout) => return Err(FeedError::Idle { phase, waited }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> StreamLimits {
        StreamLimits {
            prefill: Duration::from_millis(300),
            idle: Duration::from_millis(100),
            max_reply_bytes: 16,
        }
    }

    fn all(lines: &mut dyn Lines) -> Result<Vec<String>, FeedError> {
        let mut out = Vec::new();
        while let Some(line) = lines.next_line(Phase::Streaming)? {
            out.push(line);
        }
        Ok(out)
    }

    #[test]
    fn reader_lines_keep_endings_and_the_last_partial_line() {
        let mut lines = ReaderLines::new(&b"a\r\nb\n\nc"[..], StreamLimits::default());
        assert_eq!(all(&mut lines).unwrap(), ["a\r\n", "b\n", "\n", "c"]);
    }

    #[test]
    fn a_line_longer_than_the_cap_is_refused() {
        let long = format!("{}\n", "x".repeat(small().max_line() + 1));
        let mut lines = ReaderLines::new(long.as_bytes(), small());
        assert!(matches!(
            all(&mut lines),
            Err(FeedError::LineTooLong { .. })
        ));
        // Without a newline at all the cap still holds.
        let endless = "y".repeat(small().max_line() * 2);
        let mut lines = ReaderLines::new(endless.as_bytes(), small());
        assert!(matches!(
            all(&mut lines),
            Err(FeedError::LineTooLong { .. })
        ));
    }

    #[test]
    fn a_stream_larger_than_the_cap_is_refused() {
        let many = "z\n".repeat(small().max_stream() as usize);
        let mut lines = ReaderLines::new(many.as_bytes(), small());
        assert!(matches!(
            all(&mut lines),
            Err(FeedError::StreamTooLarge { .. })
        ));
    }

    /// A body that sends its parts with pauses between them.
    struct Slow(Vec<(u64, &'static [u8])>);

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let (pause, bytes) = self.0.remove(0);
            std::thread::sleep(Duration::from_millis(pause));
            buf[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        }
    }

    #[test]
    fn the_watchdog_waits_long_in_prefill_and_short_while_streaming() {
        // 200 ms of silence is fine before the first token (300 ms allowed)...
        let mut w = spawn(small(), || Ok::<_, ()>(((), Slow(vec![(200, b"a\n")]))));
        w.head().unwrap();
        assert_eq!(w.next_line(Phase::Prefill).unwrap().as_deref(), Some("a\n"));
        assert_eq!(w.next_line(Phase::Prefill).unwrap(), None);
        // ...but not once text streams (100 ms allowed).
        let mut w = spawn(small(), || Ok::<_, ()>(((), Slow(vec![(200, b"b\n")]))));
        w.head().unwrap();
        assert_eq!(
            w.next_line(Phase::Streaming),
            Err(FeedError::Idle {
                phase: Phase::Streaming,
                waited: Duration::from_millis(100)
            })
        );
    }

    #[test]
    fn slow_headers_hit_the_prefill_deadline() {
        let mut w = spawn(small(), || {
            std::thread::sleep(Duration::from_millis(600));
            Ok::<_, ()>(((), &b""[..]))
        });
        assert!(matches!(
            w.head(),
            Err(FeedError::Idle {
                phase: Phase::Prefill,
                ..
            })
        ));
    }
}
