//! The dashboard's script and style sheet, compiled into the binary (assets/dashboard/), so the
//! page needs nothing from another origin and works offline.

use axum::http::header;
use axum::response::IntoResponse;

const SCRIPT: &str = include_str!("../../../assets/dashboard/dashboard.js");
const STYLE: &str = include_str!("../../../assets/dashboard/dashboard.css");

pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// They change only with the binary; a browser revalidates them on each load.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}
