//! The replies of one connection, read one after another: up to a terminator (`END\r\n`),
//! one RESP reply, or to the connection's close. Bytes that arrive past one reply are kept
//! for the next, and all the replies of a read together stay within `max_bytes`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::resp::{self, Value};
use super::SourceError;

/// Bytes asked of the stream at a time.
const CHUNK: usize = 16 * 1024;

pub struct Replies<S> {
    stream: S,
    buf: Vec<u8>,
    /// Where the next reply starts in `buf`.
    start: usize,
    max_bytes: u64,
    /// Bytes read on this connection so far.
    read: u64,
    /// `tcp 127.0.0.1:6379`, for errors.
    what: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Replies<S> {
    pub fn new(stream: S, max_bytes: u64, what: String) -> Self {
        Replies {
            stream,
            buf: Vec::new(),
            start: 0,
            max_bytes,
            read: 0,
            what,
        }
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    pub async fn send(&mut self, request: &[u8]) -> Result<(), SourceError> {
        if request.is_empty() {
            return Ok(());
        }
        let what = &self.what;
        self.stream
            .write_all(request)
            .await
            .map_err(SourceError::io(what.as_str()))
    }

    /// Reads more; `false` at the connection's end.
    async fn more(&mut self) -> Result<bool, SourceError> {
        // What earlier replies left is dropped first, so the buffer holds one reply.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; CHUNK];
        let n = (self.stream.read(&mut chunk).await).map_err(SourceError::io(&self.what))?;
        self.read += n as u64;
        super::check_size(self.read, self.max_bytes)?;
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(n > 0)
    }

    /// The next `n` bytes, taken.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let end = (self.start + n).min(self.buf.len());
        let taken = self.buf.get(self.start..end).unwrap_or_default().to_vec();
        self.start = end;
        taken
    }

    /// The reply up to and with the first `end`.
    pub async fn until(&mut self, end: &[u8]) -> Result<Vec<u8>, SourceError> {
        // Where the search resumes: the bytes before it cannot start the terminator.
        let mut searched = 0;
        loop {
            let rest = self.buf.get(self.start..).unwrap_or_default();
            if let Some(at) = (rest.get(searched..).unwrap_or_default())
                .windows(end.len())
                .position(|w| w == end)
            {
                return Ok(self.take(searched + at + end.len()));
            }
            searched = rest.len().saturating_sub(end.len().saturating_sub(1));
            let had = rest.len();
            if !self.more().await? {
                return Err(SourceError::Protocol(format!(
                    "{}: connection closed before the terminator ({had} bytes read)",
                    self.what
                )));
            }
        }
    }

    /// Everything until the server closes the connection.
    pub async fn until_close(&mut self) -> Result<Vec<u8>, SourceError> {
        while self.more().await? {}
        Ok(self.take(usize::MAX))
    }

    /// One RESP reply.
    pub async fn resp(&mut self) -> Result<Value, SourceError> {
        let mut parser = resp::Parser::default();
        loop {
            let rest = self.buf.get(self.start..).unwrap_or_default();
            match parser.advance(rest) {
                Ok(Some(value)) => {
                    self.start += parser.pos;
                    return Ok(value);
                }
                Ok(None) => {}
                Err(e) => return Err(SourceError::Protocol(format!("{}: {e}", self.what))),
            }
            // `more` moves the reply to the buffer's start; the parser's place is relative.
            if !self.more().await? {
                let how = match parser.pos {
                    0 if self.buf.is_empty() => "before a reply".to_string(),
                    _ => format!("mid-reply ({} bytes read)", self.buf.len()),
                };
                return Err(SourceError::Protocol(format!(
                    "{}: connection closed {how}",
                    self.what
                )));
            }
        }
    }
}
