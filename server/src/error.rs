//! Errors as HTTP clients see them: a status code and a JSON body
//! `{"error": {"code": "...", "message": "..."}}` whose `code` is stable.
//! Domain errors are converted here, once, at the edge.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// An error answered to an HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or body field has an invalid value.
    #[error("{message}")]
    InvalidParameter {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong, for a person.
        message: String,
    },
    /// The server is shutting down and takes no new streams.
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl ApiError {
    /// A 400 with the given code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidParameter { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = Json(json!({"error": {"code": code, "message": self.to_string()}}));
        (status, body).into_response()
    }
}
