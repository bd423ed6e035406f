//! What one connection asks the server for, and the WebSocket messages
//! that ask it.
//!
//! A connection subscribes to the page's [`Interest`] from the last
//! position the client received. Channels added (or whose filter widened)
//! after that position was taken are *fresh*: the client holds nothing of
//! their history, so they must start from a snapshot instead. SSE and
//! polling name them in `fresh=`; a new WebSocket subscribes to them in a
//! second `subscribe` without `since`. While a WebSocket stays open, a
//! change of interest becomes `subscribe`, `unsubscribe`, `set_filter` and
//! `request_snapshot` messages instead of a new connection.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::{
    live::interest::{Changes, Interest},
    protocol::{ClientMessage, Position},
};

/// The `request_id` of the subscriptions a new WebSocket sends.
const OPENING_REQUEST_ID: &str = "live";

/// What one connection (or one poll) asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Every channel, in name order.
    pub channels: Vec<String>,
    /// Per filtered channel, the only keys wanted.
    pub filters: BTreeMap<String, BTreeSet<String>>,
    /// Where the client left off (`None`: start from a snapshot).
    pub since: Option<Position>,
    /// Channels that start from a snapshot although `since` is set (always
    /// empty without `since`: then every channel does).
    pub fresh: Vec<String>,
}

impl Subscription {
    /// The subscription to `interest` from `since`, with the channels of
    /// `fresh` that are still wanted starting from a snapshot.
    pub fn new(interest: &Interest, since: Option<Position>, fresh: &BTreeSet<String>) -> Self {
        let fresh = match since {
            Some(_) => fresh.intersection(&interest.channels).cloned().collect(),
            None => Vec::new(),
        };
        // A clone and a retain, not a collect: collecting into a map sorts,
        // and every sort of another element type is more code in the page.
        let mut filters = interest.filters.clone();
        filters.retain(|channel, _| interest.channels.contains(channel));
        Self {
            channels: interest.channel_list(),
            filters,
            since,
            fresh,
        }
    }

    /// The `subscribe` messages a new WebSocket sends: the channels that
    /// resume from `since`, then the fresh ones (which start from a
    /// snapshot). Either is left out when it has no channel.
    pub fn opening_messages(&self) -> Vec<ClientMessage> {
        let (fresh, resumed): (Vec<&String>, Vec<&String>) = self
            .channels
            .iter()
            .partition(|channel| self.fresh.contains(channel));
        [(resumed, self.since), (fresh, None)]
            .into_iter()
            .filter(|(channels, _)| !channels.is_empty())
            .map(|(channels, since)| ClientMessage::Subscribe {
                filter: wire_filter(&self.filters, channels.iter().copied()),
                channels: channels.into_iter().cloned().collect(),
                since,
                request_id: Some(Value::from(OPENING_REQUEST_ID)),
            })
            .collect()
    }
}

/// The filters of `channels` as the protocol carries them; `None` when none
/// of them is filtered.
fn wire_filter<'a>(
    filters: &BTreeMap<String, BTreeSet<String>>,
    channels: impl IntoIterator<Item = &'a String>,
) -> Option<HashMap<String, Vec<String>>> {
    let filter: HashMap<String, Vec<String>> = channels
        .into_iter()
        .filter_map(|channel| {
            let keys = filters.get(channel)?;
            Some((channel.clone(), keys.iter().cloned().collect()))
        })
        .collect();
    (!filter.is_empty()).then_some(filter)
}

/// The messages that take an open WebSocket from one interest to `next`:
/// subscribe to the added channels (from a snapshot), unsubscribe from the
/// removed ones, set each changed filter, and ask for a snapshot of each
/// channel whose filter widened.
pub fn change_messages(changes: &Changes, next: &Interest) -> Vec<ClientMessage> {
    let mut messages = Vec::new();
    if !changes.added.is_empty() {
        messages.push(ClientMessage::Subscribe {
            channels: changes.added.clone(),
            since: None,
            filter: wire_filter(&next.filters, &changes.added),
            request_id: None,
        });
    }
    if !changes.removed.is_empty() {
        messages.push(ClientMessage::Unsubscribe {
            channels: changes.removed.clone(),
            request_id: None,
        });
    }
    for (channel, keys) in &changes.refiltered {
        messages.push(ClientMessage::SetFilter {
            channel: channel.clone(),
            keys: keys.clone(),
            request_id: None,
        });
    }
    for channel in &changes.widened {
        messages.push(ClientMessage::RequestSnapshot {
            channel: channel.clone(),
            request_id: None,
        });
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::interest::Needs;

    fn interest(declarations: &[(&str, Option<&[&str]>)]) -> Interest {
        let mut needs = Needs::default();
        for (channel, keys) in declarations {
            needs.add(
                channel,
                keys.map(|k| k.iter().map(|k| k.to_string()).collect()),
            );
        }
        needs.interest()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn fresh_channels_count_only_when_resuming_and_only_while_wanted() {
        let wanted = interest(&[("metrics", Some(&["web-1"])), ("dashboard:main", None)]);
        let fresh = BTreeSet::from(["dashboard:main".to_string(), "gone".to_string()]);
        let resuming = Subscription::new(&wanted, Some(Position::new(1, 5)), &fresh);
        assert_eq!(resuming.channels, names(&["dashboard:main", "metrics"]));
        assert_eq!(resuming.fresh, names(&["dashboard:main"]));
        assert_eq!(
            resuming.filters["metrics"],
            BTreeSet::from(["web-1".to_string()])
        );
        let from_nothing = Subscription::new(&wanted, None, &fresh);
        assert!(from_nothing.fresh.is_empty(), "every channel starts fresh");
    }

    #[test]
    fn a_new_websocket_resumes_old_channels_and_starts_fresh_ones_from_a_snapshot() {
        let wanted = interest(&[("metrics", Some(&["web-1"])), ("dashboard:main", None)]);
        let fresh = BTreeSet::from(["dashboard:main".to_string()]);
        let since = Position::new(1, 5);
        let messages = Subscription::new(&wanted, Some(since), &fresh).opening_messages();
        assert_eq!(
            messages,
            [
                ClientMessage::Subscribe {
                    channels: names(&["metrics"]),
                    since: Some(since),
                    filter: Some(HashMap::from([("metrics".into(), names(&["web-1"]))])),
                    request_id: Some(Value::from("live")),
                },
                ClientMessage::Subscribe {
                    channels: names(&["dashboard:main"]),
                    since: None,
                    filter: None,
                    request_id: Some(Value::from("live")),
                },
            ]
        );
        let text = messages[0].to_json();
        assert!(text.starts_with(r#"{"type":"subscribe","#), "{text}");
        assert!(text.contains(r#""since":"1-5""#), "{text}");
    }

    #[test]
    fn a_websocket_without_a_position_subscribes_once_from_a_snapshot() {
        let wanted = interest(&[("metrics", None), ("dashboard:main", None)]);
        let messages = Subscription::new(&wanted, None, &BTreeSet::new()).opening_messages();
        assert_eq!(messages.len(), 1);
        let ClientMessage::Subscribe {
            channels, since, ..
        } = &messages[0]
        else {
            panic!("a subscribe: {messages:?}");
        };
        assert_eq!(channels, &names(&["dashboard:main", "metrics"]));
        assert_eq!(since, &None);
    }

    #[test]
    fn a_change_of_interest_becomes_one_message_per_kind_of_change() {
        let before = interest(&[("metrics", Some(&["web-1"])), ("alerts", None)]);
        let after = interest(&[
            ("metrics", Some(&["web-1", "web-2"])),
            ("dashboard:main", None),
        ]);
        let messages = change_messages(&before.changes_to(&after), &after);
        let types: Vec<String> = messages
            .iter()
            .map(|m| {
                let value: Value = serde_json::from_str(&m.to_json()).unwrap();
                value["type"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(
            types,
            ["subscribe", "unsubscribe", "set_filter", "request_snapshot"]
        );
        assert_eq!(
            messages[0],
            ClientMessage::Subscribe {
                channels: names(&["dashboard:main"]),
                since: None,
                filter: None,
                request_id: None,
            }
        );
        assert_eq!(
            messages[2],
            ClientMessage::SetFilter {
                channel: "metrics".into(),
                keys: Some(names(&["web-1", "web-2"])),
                request_id: None,
            }
        );
    }
}
