//! A titled row of widgets the user can hide. Hiding unmounts the widgets,
//! which withdraws what they declared they need: the page stops receiving
//! channels only they showed, and on showing them again resubscribes,
//! starting those channels from a snapshot so nothing published meanwhile
//! is missing.

use leptos::prelude::*;

/// A row of widgets with a Hide/Show toggle (`data-testid` = `testid`, the
/// toggle `{testid}-toggle`, `data-open` = whether it shows its widgets).
#[component]
pub fn PanelRow<C>(
    /// The row's heading.
    #[prop(into)]
    title: String,
    /// The row's `data-testid`.
    #[prop(into)]
    testid: String,
    /// The widgets (typed, not boxed: a boxed view brings the whole
    /// type-erased rendering machinery into the bundle).
    children: TypedChildrenFn<C>,
) -> impl IntoView
where
    C: IntoView + 'static,
{
    let (open, set_open) = signal(true);
    let children = children.into_inner();
    let toggle = format!("{testid}-toggle");
    view! {
        <section class="panel-row" data-testid=testid data-open=move || open.get().to_string()>
            <header class="panel-row__header">
                <h2 class="panel-row__title">{title}</h2>
                <button
                    class="panel-row__toggle"
                    data-testid=toggle
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| set_open.update(|open| *open = !*open)
                >
                    {move || if open.get() { "Hide" } else { "Show" }}
                </button>
            </header>
            {move || {
                open.get().then(|| view! { <div class="panel-row__body">{children()}</div> })
            }}
        </section>
    }
}
