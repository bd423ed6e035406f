//! The editor's requests to the dashboards API: a method, a body, an
//! `If-Match`; the answer's status, text and `ETag`.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// An answer: its status, its body and its `ETag` (quotes taken off).
pub struct Answer {
    pub status: u16,
    pub text: String,
    pub etag: String,
}

impl Answer {
    /// Whether it is a 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error's message of a refusal (`{"error": {"message"}}`), or
    /// its status.
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.text)
            .ok()
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }
}

/// Sends a request; `Err` says, for a person, why no answer came.
pub async fn send(
    method: &str,
    url: &str,
    body: Option<String>,
    if_match: Option<&str>,
) -> Result<Answer, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(|_| "no headers")?;
    if let Some(body) = body {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&JsValue::from_str(&body));
    }
    if let Some(revision) = if_match {
        let _ = headers.set("If-Match", &format!("\"{revision}\""));
    }
    init.set_headers(&headers);
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| "the server cannot be reached".to_string())?
        .dyn_into()
        .map_err(|_| "not an HTTP response".to_string())?;
    let etag = response
        .headers()
        .get("ETag")
        .ok()
        .flatten()
        .unwrap_or_default()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string();
    let text = JsFuture::from(response.text().map_err(|_| "no body".to_string())?)
        .await
        .map_err(|_| "the answer was cut off".to_string())?
        .as_string()
        .unwrap_or_default();
    Ok(Answer {
        status: response.status(),
        text,
        etag,
    })
}

/// The names (or values) a picker endpoint answers, or none.
pub async fn names(url: &str) -> Vec<String> {
    match send("GET", url, None, None).await {
        Ok(answer) if answer.ok() => serde_json::from_str::<serde_json::Value>(&answer.text)
            .ok()
            .and_then(|v| {
                v.get("data")?.as_array().map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Encodes a query parameter's value.
pub fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text).into()
}
