//! Reading at most `max_bytes`: the one rule for when a read is too large, for async and
//! blocking readers alike.

use super::SourceError;

/// The one rule for `max_bytes`: `len` bytes are fine up to the limit, one more is too
/// many. Readers take one byte past the limit ([`over_limit`]) so an overrun is seen
/// without reading the rest of it.
pub(crate) fn check_size(len: u64, max_bytes: u64) -> Result<(), SourceError> {
    if len > max_bytes {
        return Err(SourceError::TooLarge { limit: max_bytes });
    }
    Ok(())
}

/// How much a reader may take to tell a read that fits from one that does not.
fn over_limit(max_bytes: u64) -> u64 {
    max_bytes.saturating_add(1)
}

/// Reads from `reader` until EOF, failing once more than `max_bytes` arrive.
pub(crate) async fn read_limited<R: tokio::io::AsyncRead + Unpin>(
    reader: R,
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    reader
        .take(over_limit(max_bytes))
        .read_to_end(&mut buf)
        .await
        .map_err(SourceError::io(what))?;
    check_size(buf.len() as u64, max_bytes)?;
    Ok(buf)
}

/// [`read_limited`] for a blocking reader (a file, a gzip stream in memory), into `buf`:
/// what was read stays there even when it was too much, for a caller that counts it.
pub(crate) fn read_limited_blocking<R: std::io::Read>(
    reader: R,
    max_bytes: u64,
    buf: &mut Vec<u8>,
    io: impl FnOnce(std::io::Error) -> SourceError,
) -> Result<(), SourceError> {
    use std::io::Read;
    reader
        .take(over_limit(max_bytes))
        .read_to_end(buf)
        .map_err(io)?;
    check_size(buf.len() as u64, max_bytes)
}
