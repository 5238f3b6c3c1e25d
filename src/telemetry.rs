//! Logs (text or JSON, with request ids) and Prometheus metrics.

use crate::config::LogFormat;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

/// Installs the global subscriber once; later calls (tests spawning many apps) are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry.with(fmt::layer().json().with_current_span(true)).try_init(),
        LogFormat::Text => registry.with(fmt::layer()).try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
            .and_then(|b| {
                // Counted in reports, not seconds; a batch holds at most 64.
                b.set_buckets_for_metric(
                    Matcher::Full("meterguard_report_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
                )
            })
            .and_then(|b| b.install_recorder())
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            })
    })
}

/// Counts requests and times them per route template (never per concrete path) and method: each
/// label takes a bounded set of values, whatever clients send, so no client can grow /metrics.
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method.to_string()), ("route", route), ("status", status)];
    metrics::counter!("meterguard_http_requests_total", &labels).increment(1);
    metrics::histogram!("meterguard_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

/// The standard methods by name; any other (`curl -X ZZ1`) is `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// A request's URI as logged: the query's parameter names stay, their values are replaced, since
/// any of them may be a credential (`?x-auth-token=`) or personal data.
pub fn loggable_uri(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) => format!("{name}={REDACTED}"),
            None if param.is_empty() => String::new(),
            // A bare word may be the secret itself.
            None => REDACTED.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

const REDACTED: &str = "[redacted]";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_uris_keep_parameter_names_and_lose_their_values() {
        let logged = |uri: &str| loggable_uri(&uri.parse().expect("uri"));
        assert_eq!(logged("/api/users/"), "/api/users/");
        assert_eq!(
            logged("/api/events/?x-auth-token=0123abcd&page=2"),
            "/api/events/?x-auth-token=[redacted]&page=[redacted]"
        );
        assert_eq!(logged("/api/events/?0123abcd"), "/api/events/?[redacted]");
        assert_eq!(
            logged("/api/events/?a=1=2&&b="),
            "/api/events/?a=[redacted]&&b=[redacted]"
        );
        assert_eq!(logged("/api/?"), "/api/?");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for name in ["ZZ1", "ZZ2", "get", "PROPFIND"] {
            let method = Method::from_bytes(name.as_bytes()).expect("method");
            assert_eq!(method_label(&method), "OTHER");
        }
    }
}
