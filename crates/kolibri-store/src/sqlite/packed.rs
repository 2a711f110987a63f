//! The in-memory index's form of a live key's newest state: the value LZ4-compressed.
//! Stored objects are JSON with the same field names over and over (most of all in
//! `managedFields`), so they shrink two to three times; the index holds every live object
//! for the server's lifetime, while a read decompresses one value in microseconds.

use bytes::Bytes;

use crate::{KeyValue, Revision};

#[derive(Clone, Debug)]
pub(super) struct Packed {
    /// The value, compressed with its length in front.
    value: Box<[u8]>,
    create_revision: Revision,
    mod_revision: Revision,
}

impl Packed {
    pub(super) fn new(kv: &KeyValue) -> Packed {
        Packed {
            value: lz4_flex::compress_prepend_size(&kv.value).into_boxed_slice(),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
        }
    }

    /// The key's state (`key` is the index's key).
    pub(super) fn unpack(&self, key: &str) -> KeyValue {
        // Only `new` makes these bytes: decompression cannot fail short of memory
        // corruption, and an empty value would then fail to decode with a clear error.
        let value = lz4_flex::decompress_size_prepended(&self.value).unwrap_or_default();
        KeyValue {
            key: key.to_owned(),
            value: Bytes::from(value),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_unchanged_and_smaller_in_memory() {
        let value = format!(
            r#"{{"metadata":{{"managedFields":[{}]}}}}"#,
            (0..20)
                .map(|i| format!(r#"{{"manager":"m{i}","fieldsV1":{{"f:spec":{{"f:containers":{{}}}}}}}}"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        let kv = KeyValue { key: "/k".into(), value: Bytes::from(value.clone()), create_revision: 3, mod_revision: 7 };
        let packed = Packed::new(&kv);
        assert!(packed.value.len() * 2 < value.len(), "{} of {}", packed.value.len(), value.len());
        assert_eq!(packed.unpack("/k"), kv);
        let empty = KeyValue { value: Bytes::new(), ..kv };
        assert_eq!(Packed::new(&empty).unpack("/k"), empty);
    }
}
