//! Errors as HTTP clients see them: a status code and a JSON body
//! `{"error": {"code": "...", "message": "..."}}` whose `code` is stable.
//! Domain errors are converted here, once, at the edge.

use app::protocol::ErrorBody;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

use crate::hub::PublishError;

use crate::origin::Refusal;

/// An error answered to an HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter, header or body field has an invalid value.
    #[error("{message}")]
    InvalidParameter {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong, for a person.
        message: String,
    },
    /// The request is valid but not allowed (e.g. publishing to a
    /// server-owned channel).
    #[error("{message}")]
    Forbidden {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was refused, for a person.
        message: String,
    },
    /// The request names something that does not exist.
    #[error("{message}")]
    NotFound {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was not found, for a person.
        message: String,
    },
    /// The body is not of a media type the endpoint takes (publishing
    /// takes `application/json` only, see `publish`).
    #[error("the body must be sent as application/json, not {content_type}")]
    UnsupportedMediaType {
        /// The request's `Content-Type`, or a phrase saying it had none.
        content_type: String,
    },
    /// A browser page of another origin tried to act on this server (see
    /// `origin`).
    #[error("pages of origin {origin:?} may not publish or open WebSockets here; if they should, add the origin to --allowed-origins")]
    OriginNotAllowed {
        /// The request's `Origin`.
        origin: String,
    },
    /// The request names a host this server does not answer for: a DNS
    /// rebinding attempt, or a name missing from `--public-hosts`.
    #[error("this server does not answer for host {host:?}; if it should, add the host to --public-hosts")]
    HostNotAllowed {
        /// The host the request named.
        host: String,
    },
    /// The request body is larger than the limit.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The server is shutting down and takes no new streams.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// `--max-connections` streams are open.
    #[error("the server holds its maximum of {limit} streaming connections; retry later")]
    OverCapacity {
        /// The cap.
        limit: usize,
    },
    /// A publish that would break one of the hub's bounds.
    #[error(transparent)]
    Bound(PublishError),
    /// The metrics store failed to write (the disk is full or failing).
    #[error("the metrics store cannot write: {0}")]
    Storage(String),
    /// Too many requests of one kind in a short time.
    #[error("{message}")]
    RateLimited {
        /// Stable machine-readable code.
        code: &'static str,
        /// What to do, for a person.
        message: String,
    },
}

impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> Self {
        match error {
            PublishError::Encode(e) => ApiError::invalid("invalid_body", e.to_string()),
            bound => ApiError::Bound(bound),
        }
    }
}

impl ApiError {
    /// A 400 with the given code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            code,
            message: message.into(),
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidParameter { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::UnsupportedMediaType { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::OriginNotAllowed { .. } => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            ApiError::HostNotAllowed { .. } => {
                (StatusCode::MISDIRECTED_REQUEST, "host_not_allowed")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            ApiError::OverCapacity { .. } => (StatusCode::SERVICE_UNAVAILABLE, "over_capacity"),
            ApiError::Bound(PublishError::TooLarge { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "event_too_large")
            }
            ApiError::Bound(PublishError::TooManyChannels { .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "channel_limit")
            }
            ApiError::Bound(PublishError::Encode(_)) => (StatusCode::BAD_REQUEST, "invalid_body"),
            ApiError::RateLimited { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            ApiError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_failed"),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::MissingHost => ApiError::invalid("missing_host", refusal.to_string()),
            Refusal::InvalidHost { .. } => ApiError::invalid("invalid_host", refusal.to_string()),
            Refusal::HostNotAllowed { host } => ApiError::HostNotAllowed { host },
            Refusal::OriginNotAllowed { origin } => ApiError::OriginNotAllowed { origin },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = Json(ErrorBody::new(code, self.to_string()));
        (status, body).into_response()
    }
}
