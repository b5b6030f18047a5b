//! The packet inspector behind `fog bitchat decode` and `encode`: a frame as JSON with every
//! field (ids and bytes in hex) and, where it can be read, its payload decoded; and a frame
//! built back from such JSON. Operators use it to debug interoperability with the phones.

use serde::{Deserialize, Serialize};

use crate::announce::Announce;
use crate::packet::{self, kind, Encoding, Packet, PeerId};
use crate::payload::{File, Fragment};
use crate::sync::RequestSync;
use hex::encode as hex;

/// Fields marked "read only" may come back in JSON given to `encode`, which ignores them, so
/// the output of `decode` can be edited and encoded again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketJson {
    pub version: u8,
    #[serde(rename = "type")]
    pub kind: u8,
    /// Read only: the type's name.
    #[serde(default)]
    pub type_name: String,
    pub ttl: u8,
    pub timestamp_ms: u64,
    pub sender: String,
    #[serde(default)]
    pub recipient: Option<String>,
    #[serde(default)]
    pub route: Option<Vec<String>>,
    /// The payload, decompressed.
    pub payload_hex: String,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub is_rsr: bool,
    /// Read only: whether it came compressed, and its size on the wire.
    #[serde(default)]
    pub compressed: bool,
    #[serde(default)]
    pub frame_bytes: usize,
    /// Read only: the payload decoded, where its type says how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("not hex: {0}")]
    Hex(String),
    #[error(transparent)]
    Decode(#[from] packet::DecodeError),
    #[error(transparent)]
    Encode(#[from] packet::EncodeError),
    #[error("not a packet as JSON: {0}")]
    Json(String),
    #[error("the {0} is not {1} bytes of hex")]
    Field(&'static str, usize),
}

pub fn type_name(kind: u8) -> &'static str {
    match kind {
        kind::ANNOUNCE => "announce",
        kind::MESSAGE => "message",
        kind::LEAVE => "leave",
        kind::COURIER_ENVELOPE => "courierEnvelope",
        kind::NOISE_HANDSHAKE => "noiseHandshake",
        kind::NOISE_ENCRYPTED => "noiseEncrypted",
        kind::FRAGMENT => "fragment",
        kind::REQUEST_SYNC => "requestSync",
        kind::FILE_TRANSFER => "fileTransfer",
        kind::VOICE_FRAME => "voiceFrame",
        _ => "unknown",
    }
}

pub fn unhex(text: &str) -> Result<Vec<u8>, InspectError> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(digits).map_err(|e| InspectError::Hex(e.to_string()))
}

fn fixed<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], InspectError> {
    unhex(text).ok().and_then(|b| b.try_into().ok()).ok_or(InspectError::Field(field, N))
}

/// What the payload says, for the types whose payload is not encrypted.
fn decoded(packet: &Packet) -> Option<serde_json::Value> {
    use serde_json::json;
    match packet.kind {
        kind::ANNOUNCE => Some(match Announce::decode(&packet.payload) {
            Ok(a) => json!({
                "nickname": a.nickname,
                "noise_key": hex(a.noise_key),
                "signing_key": hex(a.signing_key),
                "peer_id_from_key": hex(crate::identity::peer_id(&a.noise_key)),
                "neighbors": a.neighbors.iter().map(hex).collect::<Vec<_>>(),
                "capabilities": a.capabilities,
                "bridge_geohash": a.bridge_geohash,
                "unknown_fields": a.unknown.iter().map(|(t, v)| json!({"type": t, "hex": hex(v)})).collect::<Vec<_>>(),
            }),
            Err(e) => json!({ "error": e.to_string() }),
        }),
        kind::MESSAGE => Some(match std::str::from_utf8(&packet.payload) {
            Ok(text) => json!({ "text": text }),
            Err(e) => json!({ "error": format!("not UTF-8: {e}") }),
        }),
        kind::FRAGMENT => Some(match Fragment::decode(&packet.payload) {
            Ok(f) => json!({
                "fragment_id": hex(f.id), "index": f.index, "total": f.total,
                "original_type": f.original_kind, "data_bytes": f.data.len(),
            }),
            Err(e) => json!({ "error": e.to_string() }),
        }),
        kind::FILE_TRANSFER => Some(match File::decode(&packet.payload) {
            Ok(f) => {
                json!({ "name": f.name, "size": f.size, "mime_type": f.mime_type, "content_bytes": f.content.len() })
            }
            Err(e) => json!({ "error": e.to_string() }),
        }),
        kind::REQUEST_SYNC => Some(match RequestSync::decode(&packet.payload) {
            Ok(r) => json!({
                "p": r.filter.p, "m": r.filter.m, "filter_bytes": r.filter.data.len(),
                "types": r.types, "since_ms": r.since_ms, "fragment_ids": r.fragment_ids,
            }),
            Err(e) => json!({ "error": e.to_string() }),
        }),
        _ => None,
    }
}

/// A frame (hex) as JSON.
pub fn decode_hex(frame_hex: &str) -> Result<PacketJson, InspectError> {
    let frame = unhex(frame_hex)?;
    let packet = packet::decode(&frame)?;
    Ok(PacketJson {
        version: packet.version,
        kind: packet.kind,
        type_name: type_name(packet.kind).into(),
        ttl: packet.ttl,
        timestamp_ms: packet.timestamp_ms,
        sender: hex(packet.sender),
        recipient: packet.recipient.map(hex),
        route: packet.route.as_ref().map(|hops| hops.iter().map(hex).collect()),
        payload_hex: hex(&packet.payload),
        signature: packet.signature.map(hex),
        is_rsr: packet.is_rsr,
        compressed: packet.compressed.is_some(),
        frame_bytes: frame.len(),
        decoded: decoded(&packet),
    })
}

/// A frame (hex) from JSON, written as it would go on the air.
pub fn encode_json(json: &str) -> Result<String, InspectError> {
    let p: PacketJson = serde_json::from_str(json).map_err(|e| InspectError::Json(e.to_string()))?;
    let id = |text: &str, field| fixed::<8>(text, field);
    let packet = Packet {
        version: p.version,
        kind: p.kind,
        ttl: p.ttl,
        timestamp_ms: p.timestamp_ms,
        sender: id(&p.sender, "sender")?,
        recipient: p.recipient.as_deref().map(|r| id(r, "recipient")).transpose()?,
        route: p
            .route
            .map(|hops| hops.iter().map(|h| id(h, "route hop")).collect::<Result<Vec<PeerId>, _>>())
            .transpose()?,
        payload: unhex(&p.payload_hex)?,
        signature: p.signature.as_deref().map(|s| fixed::<64>(s, "signature")).transpose()?,
        is_rsr: p.is_rsr,
        compressed: None,
    };
    Ok(hex(&packet::encode(&packet, Encoding::AIR)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_as_json_and_back() {
        let a1 = "01020701020304050607080000031011121314151617aabbcc";
        let json = decode_hex(a1).unwrap();
        assert_eq!(
            (json.type_name.as_str(), json.sender.as_str(), json.frame_bytes),
            ("message", "1011121314151617", 25)
        );
        assert_eq!(
            json.decoded,
            Some(serde_json::json!({ "error": "not UTF-8: invalid utf-8 sequence of 1 bytes from index 0" }))
        );
        let text = serde_json::to_string(&json).unwrap();
        assert_eq!(encode_json(&text).unwrap(), a1);
        assert!(matches!(decode_hex("0102zz"), Err(InspectError::Hex(_))));
        assert!(matches!(decode_hex("0302"), Err(InspectError::Decode(_))));
        assert!(matches!(encode_json("{}"), Err(InspectError::Json(_))));
        let bad_sender = text.replace("1011121314151617", "1011");
        assert_eq!(encode_json(&bad_sender), Err(InspectError::Field("sender", 8)));
    }

    #[test]
    fn announces_are_decoded() {
        let payload = format!("0103626f620220{}0320{}", "11".repeat(32), "22".repeat(32));
        let json = format!(
            r#"{{"version":1,"type":1,"ttl":7,"timestamp_ms":5,"sender":"02d449a31fbb267c","payload_hex":"{payload}"}}"#
        );
        let frame = encode_json(&json).unwrap();
        let back = decode_hex(&frame).unwrap();
        let decoded = back.decoded.unwrap();
        assert_eq!(decoded["nickname"], "bob");
        assert_eq!(decoded["peer_id_from_key"], "02d449a31fbb267c", "the sender matches its key");
    }
}
