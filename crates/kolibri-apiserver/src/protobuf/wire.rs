//! Protobuf wire format: varints, keys, length-delimited fields.

use super::ProtobufError;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const START_GROUP: u8 = 3;
pub(crate) const END_GROUP: u8 = 4;
pub(crate) const FIXED32: u8 = 5;

/// Groups are deprecated and never produced for Kubernetes types; this only
/// bounds the recursion when skipping one in an unknown field.
const MAX_GROUP_DEPTH: usize = 32;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value: u64 = 0;
        for (i, byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(if self.buf.len() < 10 {
            ProtobufError::Truncated
        } else {
            ProtobufError::Malformed("varint longer than 10 bytes".into())
        })
    }

    /// A field key: (field number, wire type).
    pub(crate) fn key(&mut self) -> Result<(u32, u8), ProtobufError> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| ProtobufError::Malformed(format!("invalid field key {key}")))?;
        // The mask keeps the value below 8.
        Ok((tag, (key & 7) as u8))
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtobufError> {
        if n > self.buf.len() {
            return Err(ProtobufError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn len_delimited(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| ProtobufError::Truncated)?;
        self.bytes(len)
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, ProtobufError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips the value of a field of an unknown tag.
    pub(crate) fn skip(&mut self, tag: u32, wire: u8) -> Result<(), ProtobufError> {
        self.skip_depth(tag, wire, 0)
    }

    fn skip_depth(&mut self, tag: u32, wire: u8, depth: usize) -> Result<(), ProtobufError> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.bytes(8).map(drop),
            LEN => self.len_delimited().map(drop),
            FIXED32 => self.bytes(4).map(drop),
            START_GROUP if depth < MAX_GROUP_DEPTH => loop {
                let (t, w) = self.key()?;
                if w == END_GROUP {
                    return if t == tag {
                        Ok(())
                    } else {
                        Err(ProtobufError::Malformed(format!("unbalanced group {tag}")))
                    };
                }
                self.skip_depth(t, w, depth + 1)?;
            },
            _ => Err(ProtobufError::Malformed(format!("field {tag}: unexpected wire type {wire}"))),
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        // Truncation to the low 7 bits is the encoding.
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_key(out: &mut Vec<u8>, tag: u32, wire: u8) {
    put_varint(out, (u64::from(tag) << 3) | u64::from(wire));
}

pub(crate) fn put_len_delimited(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(out, tag, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
