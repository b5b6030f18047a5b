//! Request-response on named protocols. Every named protocol shares one libp2p protocol,
//! `/fog/rpc/1.0.0`, with a JSON codec: the request carries the name and a serde body, so
//! services can add protocols at run time and a node that does not serve one answers with an
//! error instead of leaving the caller to time out.

use std::marker::PhantomData;

use libp2p::StreamProtocol;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// The libp2p protocol under which every named protocol travels.
pub(crate) const RPC_PROTOCOL: StreamProtocol = StreamProtocol::new("/fog/rpc/1.0.0");

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireRequest {
    pub protocol: String,
    pub body: serde_json::Value,
}

/// Why a request got no answer: the peer refused it, or it never got there and back.
#[derive(Clone, Debug)]
pub(crate) enum RequestFailure {
    Refused(String),
    Failed(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum WireResponse {
    Ok(serde_json::Value),
    Err(String),
}

/// A request as the swarm task hands it to a service, not yet decoded.
pub(crate) struct RawInbound {
    pub peer: String,
    pub body: serde_json::Value,
    pub reply: oneshot::Sender<WireResponse>,
}

/// A decoded request from a peer; answer it with [`InboundRequest::respond`] or
/// [`InboundRequest::refuse`]. Dropping it answers with an error.
pub struct InboundRequest<Q, A> {
    /// Peer id of the sender.
    pub peer: String,
    pub request: Q,
    reply: oneshot::Sender<WireResponse>,
    answer: PhantomData<fn(A)>,
}

impl<Q, A: Serialize> InboundRequest<Q, A> {
    /// Sends the answer.
    pub fn respond(self, answer: &A) {
        let response = match serde_json::to_value(answer) {
            Ok(value) => WireResponse::Ok(value),
            Err(e) => WireResponse::Err(format!("the answer cannot be encoded: {e}")),
        };
        let _ = self.reply.send(response);
    }

    /// Answers with an error the requester sees as the reason.
    pub fn refuse(self, reason: impl Into<String>) {
        let _ = self.reply.send(WireResponse::Err(reason.into()));
    }
}

/// Decodes raw requests into typed ones; a request that does not decode is answered here.
pub(crate) fn typed<Q, A>(mut raw: mpsc::Receiver<RawInbound>) -> mpsc::Receiver<InboundRequest<Q, A>>
where
    Q: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
{
    let (tx, rx) = mpsc::channel(crate::INBOUND_BUFFER);
    tokio::spawn(async move {
        while let Some(inbound) = raw.recv().await {
            match serde_json::from_value::<Q>(inbound.body) {
                Ok(request) => {
                    let typed =
                        InboundRequest { peer: inbound.peer, request, reply: inbound.reply, answer: PhantomData };
                    if tx.send(typed).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = inbound.reply.send(WireResponse::Err(format!("malformed request: {e}")));
                }
            }
        }
    });
    rx
}
