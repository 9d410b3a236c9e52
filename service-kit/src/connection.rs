//! The bytes of every client connection pass through here, so that the few answers actix-http
//! writes by itself, before any middleware runs, are problem+json like every other error: 400 for
//! a request head it cannot parse, 408 for a head that does not arrive in time, 431 for a head
//! too large. actix-http sends those with an empty body; this filter recognises exactly those
//! (that status line, `content-length: 0`, nothing after the head) at the start of a write and
//! sends them with a body instead. Every other byte passes through untouched: the services' own
//! errors always carry a body, so they never match.

use shared_types::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem};
use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A client connection whose framework-made error answers get a problem+json body.
#[derive(Debug)]
pub struct ProblemStream<S> {
    inner: S,
    /// A rewritten answer still to be sent, and how much of it went out.
    pending: Vec<u8>,
    sent: usize,
}

impl<S> ProblemStream<S> {
    pub fn new(inner: S) -> Self {
        ProblemStream {
            inner,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> ProblemStream<S> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if let Some(answer) = with_problem_body(buf) {
            this.pending = answer;
            // Whatever does not go out now goes out on the next write, flush or shutdown.
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The answers actix-http makes by itself: status line, code and what to tell the client.
const OWN_ANSWERS: [(u16, &str, ErrorCode, &str); 3] = [
    (
        400,
        "Bad Request",
        ErrorCode::ValidationFailed,
        "the request is not valid HTTP/1.1 (request line or headers)",
    ),
    (
        408,
        "Request Timeout",
        ErrorCode::RequestTimeout,
        "the request head did not arrive in time",
    ),
    (
        431,
        "Request Header Fields Too Large",
        ErrorCode::HeadersTooLarge,
        "the request head is too large (too many or too long headers)",
    ),
];

/// `head` with a problem+json body, if it is one of actix-http's own bodiless error answers.
fn with_problem_body(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let header_end = text.find("\r\n\r\n")?;
    if header_end + 4 != text.len() {
        return None;
    }
    let (status_line, headers) = text[..header_end].split_once("\r\n")?;
    let (version, status) = status_line.split_once(' ')?;
    let &(code, reason, error, detail) = OWN_ANSWERS
        .iter()
        .find(|(code, reason, ..)| status == format!("{code} {reason}"))?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let lines: Vec<&str> = headers.split("\r\n").collect();
    let empty = lines
        .iter()
        .any(|l| l.eq_ignore_ascii_case("content-length: 0"));
    if !empty {
        return None;
    }
    let body = serde_json::to_vec(&Problem::new(code, reason, error, detail)).ok()?;
    let mut answer = format!("{status_line}\r\n");
    for line in lines.iter().filter(|l| {
        let name = l.split(':').next().unwrap_or("");
        !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("content-type")
    }) {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: {PROBLEM_CONTENT_TYPE}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frameworks_bodiless_errors_get_a_problem_body() {
        let head = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 18:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(with_problem_body(head).expect("rewritten")).expect("utf8");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head");
        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{head}"
        );
        assert!(
            head.contains("connection: close") && head.contains("date: "),
            "{head}"
        );
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(problem["status"], 408);
        assert_eq!(problem["code"], "request_timeout");
    }

    #[test]
    fn everything_else_passes_untouched() {
        for bytes in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n{\"code\":\"whatever\"}"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"\xff\xfe",
        ] {
            assert!(with_problem_body(bytes).is_none(), "{bytes:?}");
        }
    }
}
