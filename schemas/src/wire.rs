//! Confluent's wire format for a serialized key or value:
//!
//! ```text
//! byte 0      magic byte, always 0
//! bytes 1..5  schema id, big-endian signed 32-bit
//! Protobuf only: the message indexes, the path of the message type in the .proto file
//!             (index of the top-level message, then of each nested one), written as a
//!             zig-zag varint count followed by zig-zag varint indexes; the common case
//!             `[0]` (first message of the file) is written as the single byte 0
//! rest        the Avro binary datum / the JSON text / the Protobuf message
//! ```
//!
//! Why our own code: it is five bytes and two varints, and the crates that implement it
//! come with a whole serializer stack we do not use.

/// The first byte of every framed payload.
pub const MAGIC_BYTE: u8 = 0;

/// A framed payload taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed<'a> {
    pub schema_id: i32,
    /// Protobuf message indexes (`[0]` when the payload says nothing else); empty for
    /// Avro and JSON Schema.
    pub message_indexes: Vec<i32>,
    pub payload: &'a [u8],
}

/// Why bytes are not a framed payload; the text is meant for the caller's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("Unknown magic byte!")]
    UnknownMagicByte,
    #[error("the payload is {0} bytes long, shorter than the 5-byte schema header")]
    TooShort(usize),
    #[error("the Protobuf message indexes are malformed")]
    BadMessageIndexes,
}

/// Frames an Avro or JSON Schema payload.
pub fn frame(schema_id: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Frames a Protobuf payload of the message at `message_indexes` in its file.
pub fn frame_protobuf(schema_id: i32, message_indexes: &[i32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 6 + message_indexes.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    if message_indexes == [0] {
        out.push(0);
    } else {
        write_zigzag(&mut out, message_indexes.len() as i64);
        for index in message_indexes {
            write_zigzag(&mut out, i64::from(*index));
        }
    }
    out.extend_from_slice(payload);
    out
}

/// Takes an Avro or JSON Schema payload apart.
pub fn unframe(bytes: &[u8]) -> Result<Framed<'_>, FrameError> {
    let (schema_id, payload) = header(bytes)?;
    Ok(Framed {
        schema_id,
        message_indexes: Vec::new(),
        payload,
    })
}

/// Takes a Protobuf payload apart, message indexes included.
pub fn unframe_protobuf(bytes: &[u8]) -> Result<Framed<'_>, FrameError> {
    let (schema_id, mut rest) = header(bytes)?;
    let count = read_zigzag(&mut rest).ok_or(FrameError::BadMessageIndexes)?;
    let message_indexes = if count == 0 {
        vec![0]
    } else {
        // A count beyond what the bytes could hold is garbage, not an allocation size.
        let count = usize::try_from(count)
            .ok()
            .filter(|count| *count <= rest.len())
            .ok_or(FrameError::BadMessageIndexes)?;
        let mut indexes = Vec::with_capacity(count);
        for _ in 0..count {
            let index = read_zigzag(&mut rest).ok_or(FrameError::BadMessageIndexes)?;
            indexes.push(i32::try_from(index).map_err(|_| FrameError::BadMessageIndexes)?);
        }
        indexes
    };
    Ok(Framed {
        schema_id,
        message_indexes,
        payload: rest,
    })
}

fn header(bytes: &[u8]) -> Result<(i32, &[u8]), FrameError> {
    match bytes {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => Ok((i32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [first, ..] if *first != MAGIC_BYTE => Err(FrameError::UnknownMagicByte),
        _ => Err(FrameError::TooShort(bytes.len())),
    }
}

fn write_zigzag(out: &mut Vec<u8>, value: i64) {
    let mut encoded = ((value << 1) ^ (value >> 63)) as u64;
    while encoded >= 0x80 {
        out.push((encoded as u8) | 0x80);
        encoded >>= 7;
    }
    out.push(encoded as u8);
}

fn read_zigzag(input: &mut &[u8]) -> Option<i64> {
    let mut result: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(((result >> 1) as i64) ^ -((result & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avro_framing_is_magic_then_big_endian_id() {
        let framed = frame(258, b"xy");
        assert_eq!(framed, [0, 0, 0, 1, 2, b'x', b'y']);
        let parsed = unframe(&framed).unwrap();
        assert_eq!(parsed.schema_id, 258);
        assert_eq!(parsed.payload, b"xy");
    }

    #[test]
    fn protobuf_first_message_is_one_zero_byte() {
        let framed = frame_protobuf(1, &[0], b"p");
        assert_eq!(framed, [0, 0, 0, 0, 1, 0, b'p']);
        let parsed = unframe_protobuf(&framed).unwrap();
        assert_eq!(parsed.message_indexes, [0]);
        assert_eq!(parsed.payload, b"p");
    }

    #[test]
    fn protobuf_nested_indexes_round_trip_as_zigzag() {
        let framed = frame_protobuf(7, &[1, 0, 70], b"");
        // count 3 → 6, indexes 1 → 2, 0 → 0, 70 → 140 = 0x8c 0x01.
        assert_eq!(&framed[5..], [6, 2, 0, 0x8c, 0x01]);
        assert_eq!(
            unframe_protobuf(&framed).unwrap().message_indexes,
            [1, 0, 70]
        );
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(unframe(b"\x01abcd"), Err(FrameError::UnknownMagicByte));
        assert_eq!(unframe(b"\x00ab"), Err(FrameError::TooShort(3)));
        assert_eq!(
            unframe_protobuf(b"\x00\x00\x00\x00\x01\x7e"),
            Err(FrameError::BadMessageIndexes)
        );
    }
}
