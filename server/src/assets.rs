//! The site embedded in the binary: WASM, JS, CSS and public files, each
//! with its precompressed variants (see `build.rs`).
//!
//! Responses carry the right content type, a strong ETag per encoding (a
//! matching `If-None-Match` gets 304), `Vary: Accept-Encoding`, and a cache
//! lifetime of a year for files whose names carry a content hash (a new
//! release has new names, so it is never served stale); other files are
//! revalidated on every use.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
};

/// One embedded file.
#[derive(Debug)]
pub struct EmbeddedFile {
    /// Its URL path.
    pub path: &'static str,
    /// Its bytes.
    pub identity: &'static [u8],
    /// Its gzip-compressed bytes, when the build made them.
    pub gzip: Option<&'static [u8]>,
    /// Its brotli-compressed bytes, when the build made them.
    pub brotli: Option<&'static [u8]>,
    /// A hash of the content, the base of its ETags.
    pub etag: &'static str,
    /// True when the name carries a content hash: cache it for a year.
    pub immutable: bool,
}

mod site {
    use super::EmbeddedFile;
    include!(concat!(env!("OUT_DIR"), "/site.rs"));
}

/// The front end's URLs, for the page's `<head>`.
pub fn page_assets() -> app::ui::PageAssets {
    app::ui::PageAssets {
        stylesheet: site::STYLESHEET.map(str::to_string),
        script: site::SCRIPT.map(str::to_string),
        wasm: site::WASM.map(str::to_string),
    }
}

/// How many files are embedded.
pub fn file_count() -> usize {
    site::FILES.len()
}

fn find(path: &str) -> Option<&'static EmbeddedFile> {
    site::FILES.iter().find(|f| f.path == path)
}

/// The content encodings the server can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// Picks the best encoding the client accepts (`q=0` means refused).
fn negotiate(accept: &str, file: &EmbeddedFile) -> Encoding {
    let accepts = |wanted: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case(wanted) && !refused
        })
    };
    if file.brotli.is_some() && accepts("br") {
        Encoding::Brotli
    } else if file.gzip.is_some() && accepts("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Serves an embedded file, or 404.
pub async fn handler(uri: Uri, headers: HeaderMap) -> Response {
    let Some(file) = find(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = negotiate(accept, file);
    let (body, suffix, content_encoding) = match encoding {
        Encoding::Brotli => (file.brotli.unwrap_or(file.identity), "-br", Some("br")),
        Encoding::Gzip => (file.gzip.unwrap_or(file.identity), "-gz", Some("gzip")),
        Encoding::Identity => (file.identity, "", None),
    };
    let etag = format!("\"{}{suffix}\"", file.etag);
    let cache = if file.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };

    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(body));
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(file.path)),
        );
        if let Some(encoding) = content_encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    response
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    static FILE: EmbeddedFile = EmbeddedFile {
        path: "/pkg/x.1.js",
        identity: b"x",
        gzip: Some(b"g"),
        brotli: Some(b"b"),
        etag: "1",
        immutable: true,
    };

    #[test]
    fn brotli_is_preferred_then_gzip_then_identity() {
        assert_eq!(negotiate("gzip, deflate, br", &FILE), Encoding::Brotli);
        assert_eq!(negotiate("gzip", &FILE), Encoding::Gzip);
        assert_eq!(negotiate("br;q=0, gzip", &FILE), Encoding::Gzip);
        assert_eq!(negotiate("", &FILE), Encoding::Identity);
        assert_eq!(negotiate("identity", &FILE), Encoding::Identity);
    }

    #[test]
    fn content_types_match_extensions() {
        assert_eq!(content_type("/pkg/a.b.wasm"), "application/wasm");
        assert_eq!(
            content_type("/pkg/a.b.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/favicon.svg"), "image/svg+xml");
    }

    #[test]
    fn if_none_match_accepts_lists_and_wildcards() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"0\", \"1-br\""),
        );
        assert!(if_none_match(&headers, "\"1-br\""));
        assert!(!if_none_match(&headers, "\"1\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&headers, "\"1\""));
    }
}
