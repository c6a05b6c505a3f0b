//! Forwarding a request to the node that owns its instance: a reverse proxy of one request,
//! method, path, query, headers and body unchanged, the answer passed back as it came.
//!
//! The body is already in memory (the edge bounds it by `max_body_bytes`), and so is the
//! owner's answer, which the owner bounded by `max_bytes` of the records request.

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;

/// How many times a request was forwarded; a forwarded request is forwarded at most once
/// more (when ownership moved meanwhile), never in a loop.
pub(crate) const HOPS_HEADER: &str = "x-kafka-gateway-bridge-hops";

/// Most forwards of one request.
pub(crate) const MAX_HOPS: u8 = 2;

/// Why a forward got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// Nobody answered at the owner's address (refused, reset, closed before an answer):
    /// the owner is presumed dead and its instance may be taken over.
    #[error("the owner node did not answer: {}", with_causes(.0))]
    Unreachable(reqwest::Error),
    /// The owner was reached but did not answer in time: it may still be serving the
    /// request, so it is not taken over.
    #[error("the owner node timed out: {}", with_causes(.0))]
    TimedOut(reqwest::Error),
}

/// reqwest's message names the URL only; the cause (refused, reset) is in its sources.
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The hop count a request arrived with.
pub(crate) fn hops(headers: &HeaderMap) -> u8 {
    headers
        .get(HOPS_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and the
/// ones the HTTP client sets itself.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::TE
        || name == header::TRAILER
        || name == header::UPGRADE
        || name == header::PROXY_AUTHORIZATION
        || name == header::PROXY_AUTHENTICATE
        || name.as_str() == "keep-alive"
        || name.as_str() == HOPS_HEADER
}

/// Sends the request to `node_url` and returns the owner's answer.
pub(crate) async fn forward(
    http: &reqwest::Client,
    node_url: &str,
    parts: &Parts,
    body: Bytes,
) -> Result<Response, ForwardError> {
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        HeaderName::from_static(HOPS_HEADER),
        HeaderValue::from(u16::from(hops(&parts.headers)) + 1),
    );
    let sent = http
        .request(parts.method.clone(), format!("{node_url}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(error) if error.is_timeout() => return Err(ForwardError::TimedOut(error)),
        Err(error) => return Err(ForwardError::Unreachable(error)),
    };
    let status = answer.status();
    let mut answer_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) {
            answer_headers.append(name.clone(), value.clone());
        }
    }
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(error) if error.is_timeout() => return Err(ForwardError::TimedOut(error)),
        Err(error) => return Err(ForwardError::Unreachable(error)),
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = answer_headers;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_count_is_read_and_hop_by_hop_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        assert_eq!(hops(&headers), 0);
        headers.insert(HOPS_HEADER, HeaderValue::from_static("1"));
        assert_eq!(hops(&headers), 1);
        assert!(is_hop_by_hop(&header::HOST));
        assert!(is_hop_by_hop(&HeaderName::from_static(HOPS_HEADER)));
        assert!(!is_hop_by_hop(&header::AUTHORIZATION));
        assert!(!is_hop_by_hop(&header::ACCEPT));
    }
}
