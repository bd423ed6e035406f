//! What the page's widgets need from the server, and how that changes.
//!
//! Each mounted widget declares a channel and, optionally, the only keys of
//! it that it shows ([`Needs::add`]); unmounting withdraws the declaration.
//! The client subscribes to the union ([`Interest`]): a channel is filtered
//! only when every widget on it names keys, and then to all the keys they
//! name. When the union changes, [`Interest::changes_to`] says what to tell
//! the server: channels to add (they start with a snapshot), channels to
//! drop, new filters, and channels whose filter widened (the keys they now
//! let through need a snapshot too, since their history was never sent).

use std::collections::{BTreeMap, BTreeSet};

/// The union of what mounted widgets need.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Interest {
    /// The channels to subscribe to.
    pub channels: BTreeSet<String>,
    /// Per channel, the only keys wanted (no entry: every key).
    pub filters: BTreeMap<String, BTreeSet<String>>,
}

/// How to get from one [`Interest`] to another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Channels to subscribe to, starting from a snapshot.
    pub added: Vec<String>,
    /// Channels no widget needs any more.
    pub removed: Vec<String>,
    /// Channels kept whose filter changed (`None`: every key).
    pub refiltered: Vec<(String, Option<Vec<String>>)>,
    /// Channels kept whose filter lets more through: they need a snapshot.
    pub widened: Vec<String>,
}

impl Changes {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.refiltered.is_empty()
    }
}

impl Interest {
    /// The channels as a list.
    pub fn channel_list(&self) -> Vec<String> {
        self.channels.iter().cloned().collect()
    }

    /// The filters of `channels`, shaped as the server takes them (a JSON
    /// object of channel to keys: `{"metrics":["web-1"]}`); `None` when none
    /// of them is filtered.
    pub fn filters_of<'a>(
        &self,
        channels: impl IntoIterator<Item = &'a String>,
    ) -> Option<BTreeMap<&String, &BTreeSet<String>>> {
        let filters: BTreeMap<&String, &BTreeSet<String>> = channels
            .into_iter()
            .filter_map(|c| self.filters.get_key_value(c))
            .collect();
        (!filters.is_empty()).then_some(filters)
    }

    /// What changes from `self` to `next`.
    pub fn changes_to(&self, next: &Interest) -> Changes {
        let mut changes = Changes {
            added: next.channels.difference(&self.channels).cloned().collect(),
            removed: self.channels.difference(&next.channels).cloned().collect(),
            ..Changes::default()
        };
        for channel in self.channels.intersection(&next.channels) {
            let (old, new) = (self.filters.get(channel), next.filters.get(channel));
            if old == new {
                continue;
            }
            changes.refiltered.push((
                channel.clone(),
                new.map(|keys| keys.iter().cloned().collect()),
            ));
            let widened = match (old, new) {
                (Some(_), None) => true,
                (Some(old), Some(new)) => !new.is_subset(old),
                (None, _) => false,
            };
            if widened {
                changes.widened.push(channel.clone());
            }
        }
        changes
    }
}

impl Interest {
    /// What several tabs need together: every channel any of them names, a
    /// channel filtered only when every tab on it filters it, and then to
    /// all the keys they name.
    pub fn union(interests: &[&Interest]) -> Interest {
        let mut union = Interest::default();
        let mut unfiltered = BTreeSet::new();
        for interest in interests {
            for channel in &interest.channels {
                union.channels.insert(channel.clone());
                match interest.filters.get(channel) {
                    None => {
                        unfiltered.insert(channel.clone());
                    }
                    Some(keys) => union
                        .filters
                        .entry(channel.clone())
                        .or_default()
                        .extend(keys.iter().cloned()),
                }
            }
        }
        union
            .filters
            .retain(|channel, _| !unfiltered.contains(channel));
        union
    }

    /// Whether an event of `channel` with `key` is wanted (an event without
    /// a key passes any filter: it is not one of the filtered values).
    pub fn wants(&self, channel: &str, key: Option<&str>) -> bool {
        self.channels.contains(channel)
            && match (self.filters.get(channel), key) {
                (Some(keys), Some(key)) => keys.contains(key),
                _ => true,
            }
    }
}

/// The declarations of the mounted widgets.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    next_id: u64,
    declared: BTreeMap<u64, (String, Option<BTreeSet<String>>)>,
}

impl Needs {
    /// Declares a need of `channel` (only `keys` of it, when given);
    /// returns the id that withdraws it.
    pub fn add(&mut self, channel: &str, keys: Option<Vec<String>>) -> u64 {
        self.next_id += 1;
        self.declared.insert(
            self.next_id,
            (channel.to_string(), keys.map(|k| k.into_iter().collect())),
        );
        self.next_id
    }

    /// Withdraws a declaration.
    pub fn remove(&mut self, id: u64) {
        self.declared.remove(&id);
    }

    /// The union of the declarations.
    pub fn interest(&self) -> Interest {
        let mut interest = Interest::default();
        let mut unfiltered = BTreeSet::new();
        for (channel, keys) in self.declared.values() {
            interest.channels.insert(channel.clone());
            match keys {
                None => {
                    unfiltered.insert(channel.clone());
                }
                Some(keys) => interest
                    .filters
                    .entry(channel.clone())
                    .or_default()
                    .extend(keys.iter().cloned()),
            }
        }
        interest
            .filters
            .retain(|channel, _| !unfiltered.contains(channel));
        interest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn the_union_filters_a_channel_only_when_every_widget_names_keys() {
        let mut needs = Needs::default();
        needs.add("metrics", keys(&["web-1"]));
        let second = needs.add("metrics", keys(&["web-2"]));
        needs.add("dashboard:main", None);
        let interest = needs.interest();
        assert_eq!(interest.channel_list(), ["dashboard:main", "metrics"]);
        assert_eq!(
            serde_json::to_string(&interest.filters_of(&interest.channels)).unwrap(),
            r#"{"metrics":["web-1","web-2"]}"#
        );

        let everything = needs.add("metrics", None);
        assert!(
            needs.interest().filters.is_empty(),
            "one widget wants every key"
        );
        needs.remove(everything);
        needs.remove(second);
        assert_eq!(
            needs.interest().filters["metrics"],
            BTreeSet::from(["web-1".to_string()])
        );
    }

    #[test]
    fn withdrawn_declarations_drop_their_channel_once_no_one_needs_it() {
        let mut needs = Needs::default();
        let feed = needs.add("dashboard:main", None);
        let board = needs.add("dashboard:main", None);
        needs.add("metrics", None);
        needs.remove(feed);
        assert!(needs.interest().channels.contains("dashboard:main"));
        needs.remove(board);
        assert_eq!(needs.interest().channel_list(), ["metrics"]);
    }

    #[test]
    fn changes_name_added_removed_and_widened_channels() {
        let mut before = Needs::default();
        before.add("metrics", keys(&["web-1"]));
        before.add("alerts", None);
        let mut after = Needs::default();
        after.add("metrics", keys(&["web-1", "web-2"]));
        after.add("dashboard:main", None);
        let changes = before.interest().changes_to(&after.interest());
        assert_eq!(changes.added, ["dashboard:main"]);
        assert_eq!(changes.removed, ["alerts"]);
        assert_eq!(
            changes.refiltered,
            [("metrics".to_string(), keys(&["web-1", "web-2"]))]
        );
        assert_eq!(changes.widened, ["metrics"], "web-2 needs its state");

        // Narrowing needs no snapshot; dropping a filter widens.
        let narrowed = after.interest().changes_to(&before.interest());
        assert!(!narrowed.widened.contains(&"metrics".to_string()));
        let mut unfiltered = Needs::default();
        unfiltered.add("metrics", None);
        unfiltered.add("dashboard:main", None);
        let changes = after.interest().changes_to(&unfiltered.interest());
        assert_eq!(changes.refiltered, [("metrics".to_string(), None)]);
        assert_eq!(changes.widened, ["metrics"]);
        assert!(unfiltered
            .interest()
            .changes_to(&unfiltered.interest())
            .is_empty());
    }
}
