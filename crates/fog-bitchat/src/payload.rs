//! Payloads inside packets: the fragment header (outer type 0x20), the file TLV (outer 0x22 and
//! inside Noise), and what a decrypted Noise frame carries (type byte, then data).

use crate::announce::{put_tlv8, tlv8, AnnounceError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("a {0} is shorter than its header")]
    TooShort(&'static str),
    #[error("the {0} field runs past the end")]
    Truncated(&'static str),
    #[error("the {0} is missing")]
    Missing(&'static str),
    #[error("the {0} is malformed")]
    Malformed(&'static str),
    #[error("the {field} is {len} bytes, more than its length field holds")]
    TooLong { field: &'static str, len: usize },
}

/// One slice of a whole encoded packet (outer type 0x20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Random, the same in every slice of one packet.
    pub id: [u8; 8],
    pub index: u16,
    pub total: u16,
    /// The type of the packet sliced.
    pub original_kind: u8,
    pub data: Vec<u8>,
}

pub const FRAGMENT_HEADER_BYTES: usize = 13;

impl Fragment {
    pub fn decode(bytes: &[u8]) -> Result<Fragment, PayloadError> {
        if bytes.len() < FRAGMENT_HEADER_BYTES {
            return Err(PayloadError::TooShort("fragment"));
        }
        Ok(Fragment {
            id: bytes[..8].try_into().expect("8 bytes"),
            index: u16::from_be_bytes([bytes[8], bytes[9]]),
            total: u16::from_be_bytes([bytes[10], bytes[11]]),
            original_kind: bytes[12],
            data: bytes[13..].to_vec(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAGMENT_HEADER_BYTES + self.data.len());
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.total.to_be_bytes());
        out.push(self.original_kind);
        out.extend_from_slice(&self.data);
        out
    }
}

/// A file: public (outer type 0x22) or private (inner type 0x20).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct File {
    pub name: Option<String>,
    pub size: Option<u64>,
    pub mime_type: Option<String>,
    pub content: Vec<u8>,
}

mod file_tag {
    pub const NAME: u8 = 0x01;
    pub const SIZE: u8 = 0x02;
    pub const MIME_TYPE: u8 = 0x03;
    pub const CONTENT: u8 = 0x04;
}

/// The largest file accepted.
pub const MAX_FILE_BYTES: usize = 1 << 20;

impl File {
    /// Fields are a type byte and a u16 length, except the content, whose length is a u32
    /// (decoders fall back to u16, as both apps do). Unknown fields are skipped.
    pub fn decode(bytes: &[u8]) -> Result<File, PayloadError> {
        let mut file = File::default();
        let mut content = None;
        let mut rest = bytes;
        while let Some((&tag, tail)) = rest.split_first() {
            let (value, after) = if tag == file_tag::CONTENT {
                match read_len(tail, 4).filter(|(v, _)| v.len() <= MAX_FILE_BYTES) {
                    Some(found) => found,
                    None => read_len(tail, 2).ok_or(PayloadError::Truncated("file content"))?,
                }
            } else {
                read_len(tail, 2).ok_or(PayloadError::Truncated("file field"))?
            };
            match tag {
                file_tag::NAME => file.name = Some(utf8(value, "file name")?),
                file_tag::SIZE => {
                    file.size = Some(match value.len() {
                        4 => u64::from(u32::from_be_bytes(value.try_into().expect("4 bytes"))),
                        8 => u64::from_be_bytes(value.try_into().expect("8 bytes")),
                        _ => return Err(PayloadError::Malformed("file size")),
                    })
                }
                file_tag::MIME_TYPE => file.mime_type = Some(utf8(value, "MIME type")?),
                file_tag::CONTENT => content = Some(value.to_vec()),
                _ => {}
            }
            rest = after;
        }
        file.content = content.ok_or(PayloadError::Missing("file content"))?;
        Ok(file)
    }

    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let mut out = Vec::with_capacity(self.content.len() + 64);
        let put16 = |out: &mut Vec<u8>, tag: u8, value: &[u8], field: &'static str| {
            let len = u16::try_from(value.len()).map_err(|_| PayloadError::TooLong { field, len: value.len() })?;
            out.push(tag);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(value);
            Ok::<_, PayloadError>(())
        };
        if let Some(name) = &self.name {
            put16(&mut out, file_tag::NAME, name.as_bytes(), "file name")?;
        }
        if let Some(size) = self.size {
            match u32::try_from(size) {
                Ok(small) => put16(&mut out, file_tag::SIZE, &small.to_be_bytes(), "file size")?,
                Err(_) => put16(&mut out, file_tag::SIZE, &size.to_be_bytes(), "file size")?,
            }
        }
        if let Some(mime) = &self.mime_type {
            put16(&mut out, file_tag::MIME_TYPE, mime.as_bytes(), "MIME type")?;
        }
        if self.content.len() > MAX_FILE_BYTES {
            return Err(PayloadError::TooLong { field: "file content", len: self.content.len() });
        }
        out.push(file_tag::CONTENT);
        out.extend_from_slice(&(self.content.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.content);
        Ok(out)
    }
}

/// A big-endian length of `width` bytes, then that many bytes: (value, rest).
fn read_len(bytes: &[u8], width: usize) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(width)?;
    let len = len.iter().fold(0usize, |n, b| (n << 8) | *b as usize);
    rest.split_at_checked(len)
}

fn utf8(bytes: &[u8], field: &'static str) -> Result<String, PayloadError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| PayloadError::Malformed(field))
}

mod noise_tag {
    pub const PRIVATE_MESSAGE: u8 = 0x01;
    pub const READ_RECEIPT: u8 = 0x02;
    pub const DELIVERED: u8 = 0x03;
    /// An old code for a private file, still accepted.
    pub const PRIVATE_FILE_ALIAS: u8 = 0x09;
    pub const PRIVATE_FILE: u8 = 0x20;
}

/// What a decrypted Noise frame carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoisePayload {
    /// TLV-8: message id, then content (at most 255 bytes: the apps cannot send longer).
    PrivateMessage {
        id: String,
        content: String,
    },
    ReadReceipt {
        message_id: String,
    },
    Delivered {
        message_id: String,
    },
    PrivateFile(File),
    /// A type this build does not handle (group keys, verification, voice…), kept as it came.
    Other {
        kind: u8,
        data: Vec<u8>,
    },
}

impl NoisePayload {
    pub fn decode(bytes: &[u8]) -> Result<NoisePayload, PayloadError> {
        let (&kind, data) = bytes.split_first().ok_or(PayloadError::TooShort("Noise payload"))?;
        Ok(match kind {
            noise_tag::PRIVATE_MESSAGE => {
                let fields = tlv8(data).map_err(|_| PayloadError::Truncated("private message"))?;
                let field = |tag: u8, name: &'static str| {
                    let value = fields.iter().find(|(t, _)| *t == tag).ok_or(PayloadError::Missing(name))?.1;
                    utf8(value, name)
                };
                NoisePayload::PrivateMessage {
                    id: field(0x00, "message id")?,
                    content: field(0x01, "message content")?,
                }
            }
            noise_tag::READ_RECEIPT => NoisePayload::ReadReceipt { message_id: utf8(data, "message id")? },
            noise_tag::DELIVERED => NoisePayload::Delivered { message_id: utf8(data, "message id")? },
            noise_tag::PRIVATE_FILE | noise_tag::PRIVATE_FILE_ALIAS => match File::decode(data) {
                Ok(file) => NoisePayload::PrivateFile(file),
                // The alias carries bytes an old client wrote; kept whole rather than refused.
                Err(_) => NoisePayload::Other { kind: noise_tag::PRIVATE_FILE, data: data.to_vec() },
            },
            kind => NoisePayload::Other { kind, data: data.to_vec() },
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let too_long = |e: AnnounceError| match e {
            AnnounceError::TooLong { field, len } => PayloadError::TooLong { field, len },
            _ => PayloadError::Malformed("private message"),
        };
        Ok(match self {
            NoisePayload::PrivateMessage { id, content } => {
                let mut out = vec![noise_tag::PRIVATE_MESSAGE];
                put_tlv8(&mut out, 0x00, id.as_bytes(), "message id").map_err(too_long)?;
                put_tlv8(&mut out, 0x01, content.as_bytes(), "message content").map_err(too_long)?;
                out
            }
            NoisePayload::ReadReceipt { message_id } => [&[noise_tag::READ_RECEIPT], message_id.as_bytes()].concat(),
            NoisePayload::Delivered { message_id } => [&[noise_tag::DELIVERED], message_id.as_bytes()].concat(),
            NoisePayload::PrivateFile(file) => [vec![noise_tag::PRIVATE_FILE], file.encode()?].concat(),
            NoisePayload::Other { kind, data } => [&[*kind], data.as_slice()].concat(),
        })
    }
}
