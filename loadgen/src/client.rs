//! One keep-alive HTTP/1.1 connection per load worker, on hyper's connection API: no pool, no URL
//! parsing per request, so the generator spends as little CPU per request as it can and leaves
//! the rest to the services it measures.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request,
    client::conn::http1::{Connection, SendRequest},
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use std::{net::SocketAddr, pin::Pin};
use tokio::net::TcpStream;

/// A response: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// The problem+json `code`, or the status when the body has none.
    pub fn code(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Coded {
            code: String,
        }
        serde_json::from_slice::<Coded>(&self.body)
            .map_or_else(|_| format!("http_{}", self.status), |c| c.code)
    }
}

/// A connection to one service.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    /// The connection's I/O, driven by this worker while it awaits a response (not by a task of
    /// its own), which saves a task wake-up per request.
    connection: Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        Ok(Conn {
            addr,
            sender,
            connection: Box::pin(connection),
        })
    }

    /// Sends one request, reconnecting first if the connection was closed.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: &HeaderValue,
        body: Option<Bytes>,
    ) -> anyhow::Result<Answer> {
        if self.sender.is_closed() {
            *self = Conn::open(self.addr).await?;
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "127.0.0.1")
            .header(AUTHORIZATION, token.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Answer { status, body })
        };
        tokio::select! {
            answer = exchange => answer,
            closed = self.connection.as_mut() => {
                closed?;
                anyhow::bail!("the connection closed before the response")
            }
        }
    }
}

/// `Bearer <token>` as a header value.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}
