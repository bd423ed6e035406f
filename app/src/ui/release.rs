//! Memos that leave nothing behind in the page's signals.
//!
//! Leptos takes a disposed effect or memo out of the subscribers of a
//! signal only when that subscriber runs again, which a disposed one never
//! does: a page-level signal (the time range, the count of missed series)
//! would so keep an entry, and the memory behind it, for every read of
//! every chart that ever went away, and a wall screen that cycles through
//! dashboards would grow all day.
//!
//! So widgets read page-level signals only through memos of their own
//! made by [`detached_memo`] ([`TimeControl::view`](super::TimeControl::view),
//! [`LiveStore::missed`](super::LiveStore::missed)): when the widget is
//! cleaned up, each such memo takes itself out of the subscribers of what
//! it read. Everything else the widget reads dies with it.

use leptos::{
    prelude::*,
    reactive::{
        computed::ArcMemo,
        graph::{Subscriber, ToAnySubscriber},
    },
};

/// A memo of `f` that, when the calling widget is cleaned up, unsubscribes
/// from the signals it read.
pub fn detached_memo<T>(f: impl Fn(Option<&T>) -> T + Send + Sync + 'static) -> Memo<T>
where
    T: PartialEq + Send + Sync + 'static,
{
    let memo = ArcMemo::new(f);
    let shared = Memo::from(memo.clone());
    on_cleanup(move || memo.clear_sources(&memo.to_any_subscriber()));
    shared
}
