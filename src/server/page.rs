//! The `/metrics` response body: the sources' part, kept encoded by the scraper and shared
//! by every response in flight, then the adapter's own series, each sent as a frame of its
//! own. Joining them into one buffer would copy the sources' part (5.8 MB on a 2,000-server
//! HAProxy page) into every response; sent as frames, a big page is in memory once. (hyper
//! queues a `Bytes` frame as it is when the connection writes vectored, as TCP and TLS
//! streams do and `WriteTimeout` passes on; otherwise it would copy it into its buffer.)
//!
//! Every response of the server has this body; the others are one frame.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use hyper::Response;
use tracing::{debug, warn};

use crate::exposition::WireFormat;

/// A body of a few shared buffers, one frame each, of a length known up front (so hyper
/// sends `Content-Length`, not chunks: an ordinary response for Prometheus and curl).
#[derive(Debug, Clone)]
pub struct PageBody {
    chunks: VecDeque<Bytes>,
    left: u64,
}

impl PageBody {
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> PageBody {
        // Empty parts (no source, an empty sources' part) would be empty frames: left out.
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let left = chunks.iter().map(|c| c.len() as u64).sum();
        PageBody { chunks, left }
    }

    /// The bytes still to send: all of them before the first frame.
    pub fn content_length(&self) -> u64 {
        self.left
    }
}

/// A one-piece body: every other endpoint, a gzipped page.
impl From<Bytes> for PageBody {
    fn from(whole: Bytes) -> PageBody {
        PageBody::new([whole])
    }
}

impl hyper::body::Body for PageBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.chunks.pop_front().map(|chunk| {
            this.left -= chunk.len() as u64;
            Ok(Frame::data(chunk))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Pages gzipped at once, each on a blocking thread: compressing a big page takes tens of
/// milliseconds of CPU, which the runtime thread (and `/healthz`) must not wait on, and a
/// flood of gzip scrapes must not take every core.
const GZIP_AT_ONCE: usize = 2;
static GZIP_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(GZIP_AT_ONCE);

/// The `/metrics` response for the sources' part `data` and the adapter's own part `own`
/// (ending with `# EOF` in OpenMetrics): the two as they are, or gzipped into one buffer
/// when `gzip` (compression reads both parts, so it needs no joined copy either). The
/// compression runs off the runtime thread, [`GZIP_AT_ONCE`] at a time; while all are busy
/// the page is sent plain (a client that accepts gzip accepts plain too), so a flood of
/// gzip scrapes costs bandwidth, not a queue.
pub async fn page_response(
    format: WireFormat,
    data: Bytes,
    own: String,
    gzip: bool,
) -> Response<PageBody> {
    let mut r = Response::new(PageBody::new([]));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    let own = Bytes::from(own);
    let slot = gzip.then(|| GZIP_SLOTS.try_acquire().ok()).flatten();
    if gzip && slot.is_none() {
        debug!("{GZIP_AT_ONCE} pages being gzipped already; sending this one plain");
    }
    if let Some(_slot) = slot {
        let (d, o) = (data.clone(), own.clone());
        let gz = tokio::task::spawn_blocking(move || gzip_parts(&d, &o))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match gz {
            Ok(gz) => {
                let h = r.headers_mut();
                h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                *r.body_mut() = PageBody::from(Bytes::from(gz));
                return r;
            }
            Err(e) => warn!("gzip failed, sending plain: {e}"),
        }
    }
    let body = PageBody::new([data, own]);
    // Also set here, not only from the size hint: the length is part of the response
    // whatever sends it.
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.content_length()));
    *r.body_mut() = body;
    r
}

/// The two parts, gzipped as one stream. Blocking.
fn gzip_parts(data: &[u8], own: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity((data.len() + own.len()) / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(data)?;
    enc.write_all(own)?;
    enc.finish()
}
