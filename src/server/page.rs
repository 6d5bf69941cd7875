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
use tracing::warn;

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

/// The `/metrics` response for the sources' part `data` and the adapter's own part `own`
/// (ending with `# EOF` in OpenMetrics): the two as they are, or gzipped into one buffer
/// when `gzip` (compression reads both parts, so it needs no joined copy either).
pub fn page_response(
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
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity((data.len() + own.len()) / 4),
            flate2::Compression::fast(),
        );
        let gz = enc
            .write_all(&data)
            .and_then(|()| enc.write_all(own.as_bytes()))
            .and_then(|()| enc.finish());
        match gz {
            Ok(gz) => {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                *r.body_mut() = PageBody::from(Bytes::from(gz));
                return r;
            }
            Err(e) => warn!("gzip failed, sending plain: {e}"),
        }
    }
    let body = PageBody::new([data, Bytes::from(own)]);
    // Also set here, not only from the size hint: the length is part of the response
    // whatever sends it.
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.content_length()));
    *r.body_mut() = body;
    r
}
