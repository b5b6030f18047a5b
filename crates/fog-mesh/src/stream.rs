//! Raw bidirectional streams on named protocols, for transfers that do not fit a request.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::io::{AsyncRead, AsyncWrite};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// A bidirectional byte stream to one peer (futures-io `AsyncRead` + `AsyncWrite`).
pub struct MeshStream(libp2p::Stream);

impl MeshStream {
    pub(crate) fn new(stream: libp2p::Stream) -> Self {
        Self(stream)
    }
}

impl AsyncRead for MeshStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for MeshStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

/// Moves accepted streams onto a channel that carries no libp2p types.
pub(crate) fn forward(mut incoming: libp2p_stream::IncomingStreams) -> mpsc::Receiver<(String, MeshStream)> {
    let (tx, rx) = mpsc::channel(crate::INBOUND_BUFFER);
    tokio::spawn(async move {
        while let Some((peer, stream)) = incoming.next().await {
            if tx.send((peer.to_base58(), MeshStream::new(stream))).await.is_err() {
                return;
            }
        }
    });
    rx
}
