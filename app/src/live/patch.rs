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
#[serde(tag = "op", rename_all = "snake_case")]
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
    }
}
