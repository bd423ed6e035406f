//! A series key as the head keeps it: the name and labels packed into one
//! exactly sized allocation.
//!
//! The wire's [`SeriesKey`] is a `String` and a `BTreeMap` of `String`s:
//! for three labels that is eight allocations, the map's node alone 560
//! bytes, about 1 KiB a series. The head holds a key for every series it
//! has ever seen, so it packs each into one shared byte string instead:
//! `len name (len label len value)*`, lengths as LEB128 varints, labels in
//! the key's (sorted) order. Packing is canonical (one key, one byte
//! string), so the bytes are what the index hashes and compares: an
//! incoming point's key is packed into a reused buffer and looked up by
//! those bytes, with no allocation for a series already known.
//!
//! Bytes are only ever made by [`PackedKey::pack`] from a checked key, so
//! every part is valid UTF-8; the readers check anyway and read a part
//! that is not as empty rather than trusting it.

use std::{borrow::Borrow, sync::Arc};

use app::protocol::SeriesKey;

/// A series key packed into one allocation, shared by the head's index and
/// its series.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackedKey(Arc<[u8]>);

impl Borrow<[u8]> for PackedKey {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

/// Appends `key` packed to `out` (cleared first): the bytes a
/// [`PackedKey`] of it holds, to look it up without allocating.
pub fn pack_into(key: &SeriesKey, out: &mut Vec<u8>) {
    out.clear();
    put(out, &key.name);
    for (label, value) in &key.labels {
        put(out, label);
        put(out, value);
    }
}

fn put(out: &mut Vec<u8>, part: &str) {
    let mut len = part.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(part.as_bytes());
}

impl PackedKey {
    /// `key`, packed.
    pub fn pack(key: &SeriesKey) -> Self {
        let mut bytes = Vec::new();
        pack_into(key, &mut bytes);
        Self(bytes.into())
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        self.parts().next().unwrap_or("")
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.parts().skip(1);
        std::iter::from_fn(move || Some((parts.next()?, parts.next()?)))
    }

    /// The value of `label`, if the key has it.
    pub fn label(&self, label: &str) -> Option<&str> {
        self.labels()
            .find(|(name, _)| *name == label)
            .map(|(_, v)| v)
    }

    /// The key unpacked, for answers and the log.
    pub fn unpack(&self) -> SeriesKey {
        SeriesKey {
            name: self.name().to_string(),
            labels: self
                .labels()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn parts(&self) -> impl Iterator<Item = &str> {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            let mut len = 0usize;
            let mut shift = 0;
            loop {
                let (&byte, tail) = rest.split_first()?;
                rest = tail;
                len |= usize::from(byte & 0x7f).checked_shl(shift)?;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            if len > rest.len() {
                rest = &[];
                return None;
            }
            let (part, tail) = rest.split_at(len);
            rest = tail;
            Some(std::str::from_utf8(part).unwrap_or(""))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(
            name,
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .expect("a valid key")
    }

    #[test]
    fn packed_key_reads_back_the_same_name_and_labels() {
        let long = "v".repeat(300);
        for original in [
            key("up", &[]),
            key(
                "http_requests_total",
                &[("code", "200"), ("service", "api")],
            ),
            key("m", &[("path", "C:\\dir \"x\"\n\0next"), ("long", &long)]),
            key("unicode", &[("city", "Zürich ☃")]),
        ] {
            let packed = PackedKey::pack(&original);
            assert_eq!(packed.unpack(), original);
            assert_eq!(packed.name(), original.name);
            for (label, value) in &original.labels {
                assert_eq!(packed.label(label), Some(value.as_str()));
            }
            assert_eq!(packed.label("absent"), None);
        }
    }

    #[test]
    fn equal_keys_pack_equal_and_different_keys_differ() {
        // Label order on input does not matter; a value that looks like a
        // label boundary does not alias another key.
        let a = key("m", &[("a", "1"), ("b", "2")]);
        let b = key("m", &[("b", "2"), ("a", "1")]);
        assert_eq!(PackedKey::pack(&a), PackedKey::pack(&b));
        let c = key("m", &[("a", "1b2")]);
        let d = key("m", &[("a", "1"), ("b", "2")]);
        assert_ne!(PackedKey::pack(&c), PackedKey::pack(&d));
        let mut rng = Rng(7);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..2_000 {
            let n = rng.below(4) as usize;
            let labels: Vec<(String, String)> = (0..n)
                .map(|i| (format!("l{i}"), format!("{}", rng.below(3))))
                .collect();
            let k = SeriesKey::new("m", labels).expect("a valid key");
            let packed = PackedKey::pack(&k);
            if let Some(other) = seen.insert(packed.clone(), k.clone()) {
                assert_eq!(other, k, "two keys packed to the same bytes");
            }
            let mut buf = Vec::new();
            pack_into(&k, &mut buf);
            assert_eq!(&buf[..], Borrow::<[u8]>::borrow(&packed));
        }
    }

    #[test]
    fn damaged_bytes_read_as_short_not_as_a_panic() {
        for bytes in [&[0xff_u8, 0xff, 0xff][..], &[5, b'a'], &[1, 0xc3], &[]] {
            let packed = PackedKey(Arc::from(bytes));
            let _ = packed.unpack();
            let _ = packed.label("a");
        }
    }
}
