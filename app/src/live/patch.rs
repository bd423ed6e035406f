//! Differential updates of keyed collections.
//!
//! Instead of resending a whole collection, the server may send `patch`
//! events whose data is `{"op": "add" | "replace" | "remove", "key": "...",
//! "value": ...}`. [`KeyedCollection`] applies them in order; a snapshot
//! replaces the collection wholesale.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The event type of a patch.
pub const PATCH_EVENT: &str = "patch";

/// One change to a keyed collection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", try_from = "PatchWire")]
pub enum Patch {
    /// Adds an item (replaces it if the key exists).
    Add {
        /// The item's key.
        key: String,
        /// The item.
        value: Value,
    },
    /// Replaces an existing item (adds it if missing).
    Replace {
        /// The item's key.
        key: String,
        /// The new item.
        value: Value,
    },
    /// Removes an item (nothing if missing).
    Remove {
        /// The item's key.
        key: String,
    },
}

/// A [`Patch`] as read: one object with every field. Read through this
/// rather than as an internally tagged enum, which buffers each patch into
/// an intermediate form (kilobytes of the browser's bundle).
#[derive(Deserialize)]
struct PatchWire {
    op: String,
    key: String,
    #[serde(default)]
    value: Present,
}

/// A field that may be absent; `null` is a value.
#[derive(Default)]
struct Present(Option<Value>);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|value| Present(Some(value)))
    }
}

impl TryFrom<PatchWire> for Patch {
    type Error = String;

    fn try_from(wire: PatchWire) -> Result<Self, String> {
        let PatchWire { op, key, value } = wire;
        let value = || {
            value
                .0
                .ok_or_else(|| format!("a patch {op:?} needs a value"))
        };
        match op.as_str() {
            "add" => Ok(Patch::Add {
                key,
                value: value()?,
            }),
            "replace" => Ok(Patch::Replace {
                key,
                value: value()?,
            }),
            "remove" => Ok(Patch::Remove { key }),
            _ => Err(format!("unknown patch op {op:?}: add, replace or remove")),
        }
    }
}

/// A collection of items by key, in key order, bounded in size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyedCollection {
    items: BTreeMap<String, Value>,
}

/// Most items a collection holds; adding past it drops the first key.
pub const MAX_ITEMS: usize = 10_000;

impl KeyedCollection {
    /// Applies one patch.
    pub fn apply(&mut self, patch: Patch) {
        match patch {
            Patch::Add { key, value } | Patch::Replace { key, value } => {
                self.items.insert(key, value);
                while self.items.len() > MAX_ITEMS {
                    self.items.pop_first();
                }
            }
            Patch::Remove { key } => {
                self.items.remove(&key);
            }
        }
    }

    /// Replaces everything with `items`.
    pub fn replace_all(&mut self, items: impl IntoIterator<Item = (String, Value)>) {
        self.items = items.into_iter().collect();
    }

    /// The items, in key order.
    pub fn items(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.items.iter()
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patches_add_replace_and_remove_by_key() {
        let mut collection = KeyedCollection::default();
        for patch in [
            json!({"op": "add", "key": "b", "value": 2}),
            json!({"op": "add", "key": "a", "value": 1}),
            json!({"op": "replace", "key": "b", "value": 20}),
            json!({"op": "remove", "key": "a"}),
            json!({"op": "remove", "key": "missing"}),
            json!({"op": "add", "key": "c", "value": 3}),
        ] {
            collection.apply(serde_json::from_value(patch).unwrap());
        }
        let items: Vec<_> = collection
            .items()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(items, [("b", json!(20)), ("c", json!(3))]);
    }

    #[test]
    fn unknown_operations_are_rejected() {
        assert!(serde_json::from_value::<Patch>(json!({"op": "move", "key": "a"})).is_err());
        assert!(serde_json::from_value::<Patch>(json!({"op": "add", "key": "a"})).is_err());
        assert!(serde_json::from_value::<Patch>(json!({"op": "remove"})).is_err());
    }

    #[test]
    fn every_patch_reads_back_as_written_and_null_is_a_value() {
        for patch in [
            Patch::Add {
                key: "a".into(),
                value: json!({"x": 1}),
            },
            Patch::Replace {
                key: "b".into(),
                value: Value::Null,
            },
            Patch::Remove { key: "c".into() },
        ] {
            let value = serde_json::to_value(&patch).unwrap();
            assert_eq!(
                serde_json::from_value::<Patch>(value.clone()).unwrap(),
                patch,
                "{value}"
            );
            let text = value.to_string();
            assert_eq!(
                serde_json::from_str::<Patch>(&text).unwrap(),
                patch,
                "{text}"
            );
        }
    }
}
