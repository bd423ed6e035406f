//! The versions panel: the versions each save kept, what restoring one
//! would change, and the restore itself.

use leptos::{
    either::{Either, EitherOf4},
    prelude::*,
    task::spawn_local,
};
use serde_json::Value;
use wasm_bindgen::JsValue;

use super::{http, Editor};
use crate::dashboard::{edit, Dashboard};

/// A version: its number and when it was replaced (Unix ms).
type Version = (u64, f64);

async fn list(editor: Editor) -> Result<Vec<Version>, String> {
    let answer = http::send("GET", &format!("{}/versions", editor.url()), None, None).await?;
    if !answer.ok() {
        return Err(answer.message());
    }
    let body: Value = serde_json::from_str(&answer.text).map_err(|e| e.to_string())?;
    Ok(body
        .get("versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter_map(|v| Some((v.get("number")?.as_u64()?, v.get("replaced")?.as_f64()?)))
                .collect()
        })
        .unwrap_or_default())
}

/// What restoring version `number` would change, a line each.
async fn changes(editor: Editor, number: u64) -> Result<Vec<String>, String> {
    let answer = http::send(
        "GET",
        &format!("{}/versions/{number}", editor.url()),
        None,
        None,
    )
    .await?;
    if !answer.ok() {
        return Err(answer.message());
    }
    let old = serde_json::from_str::<Value>(&answer.text)
        .ok()
        .and_then(|v| Dashboard::from_value(&v))
        .ok_or("that version does not read")?;
    let current = editor.base.get_untracked().ok_or("nothing loaded")?;
    let lines = edit::changes(&current, &old);
    Ok(if lines.is_empty() {
        vec!["nothing: it is the same as the saved dashboard".into()]
    } else {
        lines
    })
}

async fn restore(
    editor: Editor,
    number: u64,
    shown: RwSignal<Option<Result<Vec<Version>, String>>>,
) {
    let revision = editor.revision.get_untracked();
    let url = format!("{}/versions/{number}/restore", editor.url());
    match http::send("POST", &url, None, Some(&revision)).await {
        Ok(answer) if answer.ok() => {
            if let Ok((saved, revision)) = editor.fetch().await {
                editor.base.set(Some(saved.clone()));
                editor.revision.set(revision);
                editor.show(saved);
            }
            editor.message.set(format!("Restored version {number}."));
            shown.set(Some(list(editor).await));
        }
        Ok(answer) => editor
            .message
            .set(format!("Not restored: {}", answer.message())),
        Err(error) => editor.message.set(format!("Not restored: {error}")),
    }
}

fn when(ms: f64) -> String {
    js_sys::Date::new(&JsValue::from_f64(ms))
        .to_locale_string("en-GB", &JsValue::UNDEFINED)
        .into()
}

#[component]
pub fn Versions(editor: Editor) -> impl IntoView {
    let versions = RwSignal::new(None::<Result<Vec<Version>, String>>);
    let open = RwSignal::new(None::<(u64, Result<Vec<String>, String>)>);
    spawn_local(async move { versions.set(Some(list(editor).await)) });
    let item = move |(number, replaced): Version| {
        let show = move |_| {
            spawn_local(async move {
                let lines = changes(editor, number).await;
                open.set(Some((number, lines)));
            })
        };
        let restore_it = move |_| {
            if editor.dirty()
                && !window()
                    .confirm_with_message("Restore it and lose the changes you have not saved?")
                    .unwrap_or(false)
            {
                return;
            }
            spawn_local(restore(editor, number, versions));
        };
        view! {
            <li class="editor__version" data-testid="editor-version">
                <span>"Version " {number} " · until " {when(replaced)}</span>
                <button type="button" on:click=show aria-expanded=move || open.with(|o| o.as_ref().is_some_and(|(n, _)| *n == number)).to_string()>
                    "What restoring it changes"
                </button>
                <button type="button" on:click=restore_it data-testid="editor-restore">"Restore"</button>
                {move || open.get().filter(|(n, _)| *n == number).map(|(_, lines)| match lines {
                    Ok(lines) => Either::Left(view! {
                        <ul class="editor__changes">{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                    }),
                    Err(error) => Either::Right(view! { <p class="editor__error">{error}</p> }),
                })}
            </li>
        }
    };
    view! {
        <section class="editor__section editor__versions" data-testid="editor-versions">
            <h3 class="editor__subheading">"Versions"</h3>
            {move || match versions.get() {
                None => EitherOf4::A(view! { <p>"Loading…"</p> }),
                Some(Err(error)) => EitherOf4::B(view! { <p class="editor__error">{error}</p> }),
                Some(Ok(list)) if list.is_empty() => EitherOf4::C(view! {
                    <p>"No earlier versions yet: each save keeps the one it replaces (the last 50)."</p>
                }),
                Some(Ok(list)) => EitherOf4::D(view! {
                    <ol class="editor__version-list">{list.into_iter().map(item).collect_view()}</ol>
                }),
            }}
        </section>
    }
}
