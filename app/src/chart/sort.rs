//! One stable sort for the chart code. Every `slice::sort_by` with another
//! element type or closure is its own copy of the standard library's sort
//! (some 3 KB of WASM each); these helpers sort positions with one shared
//! copy and then move the items into place, so a new caller costs only its
//! comparison.

use std::cmp::Ordering;

/// The positions `0..len` in the order `cmp` gives them; equal ones keep
/// their order.
pub fn sorted_order(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

/// Sorts `items` by `cmp`, stably.
pub fn sort_stable<T>(items: &mut Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) {
    let order = sorted_order(items.len(), &|a, b| cmp(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .into_iter()
            .filter_map(|position| slots.get_mut(position).and_then(Option::take)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_keeps_equal_items_in_their_order() {
        let mut items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_stable(&mut items, |x, y| x.0.cmp(&y.0));
        assert_eq!(items, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: Vec<u8> = Vec::new();
        sort_stable(&mut empty, u8::cmp);
        assert!(empty.is_empty());
    }

    #[test]
    fn order_names_positions() {
        let values = [0.5_f64, -1.0, 2.0];
        assert_eq!(
            sorted_order(3, &|a, b| values[a].total_cmp(&values[b])),
            [1, 0, 2]
        );
    }
}
