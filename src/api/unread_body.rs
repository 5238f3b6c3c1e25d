//! An answer given before the request's body was read (a 401, 403 or 404 decided from the headers
//! and the path) leaves the rest of the body on the connection. hyper then closes the connection
//! after the answer instead of reading the leftover bytes as a next request, but it does not say
//! so, and a client that reuses the connection finds it dropped ("Server disconnected"). This layer
//! says so: such an answer carries `Connection: close` (docs/hardening.md, "The HTTP edge").

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

pub async fn close_if_unread(req: Request, next: Next) -> Response {
    // A request without a body (most of them) has nothing to leave unread. Its headers say so:
    // the body as it reaches this layer is wrapped (timeouts, limits) and no longer tells.
    if !has_body(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let finished = Arc::new(AtomicBool::new(false));
    let tracked = Tracked {
        inner: body,
        finished: finished.clone(),
    };
    let mut response = next.run(Request::from_parts(parts, Body::new(tracked))).await;
    if !finished.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// HTTP/1.1 frames a request body with Content-Length or Transfer-Encoding; without either
/// there is none.
fn has_body(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_LENGTH) {
        Some(length) => length.to_str().map_or(true, |n| n.trim() != "0"),
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// The request body, noting when its last frame has been read.
struct Tracked {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
