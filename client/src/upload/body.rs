//! A part's bytes as a request body that reports each chunk as it goes out, so the progress bar moves
//! by bytes rather than by whole parts. Its exact size hint gives the `PUT` a `Content-Length`
//! (presigned UploadPart takes no chunked bodies).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::progress::Progress;

const CHUNK: usize = 64 * 1024;

pub(crate) struct CountingBody {
    data: Bytes,
    position: usize,
    progress: Arc<dyn Progress>,
    sent: Arc<AtomicU64>,
}

impl CountingBody {
    /// `sent` counts this attempt's bytes, so a failed attempt can take them back off the progress.
    pub(crate) fn new(data: Bytes, progress: Arc<dyn Progress>, sent: Arc<AtomicU64>) -> Self {
        Self {
            data,
            position: 0,
            progress,
            sent,
        }
    }
}

impl Body for CountingBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>, _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.position >= this.data.len() {
            return Poll::Ready(None);
        }
        let end = (this.position + CHUNK).min(this.data.len());
        let chunk = this.data.slice(this.position..end);
        this.position = end;
        let n = chunk.len() as u64;
        this.sent.fetch_add(n, Ordering::Relaxed);
        this.progress.sent(n);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.position >= self.data.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.data.len() - self.position.min(self.data.len())) as u64)
    }
}
