//! One broker connection: size-prefixed frames, request headers with increasing
//! correlation ids, and the API versions the broker announced.
//!
//! Requests are strictly sequential (one in flight per connection), so a response whose
//! correlation id is not the one just sent means the stream is out of step: the connection
//! is unusable and the caller drops it. Every read and write is bounded by a timeout; a
//! timeout leaves a half-read frame behind, so it breaks the connection too.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::WireError;

/// Largest response frame accepted. Kafka's own clients have no such limit, but a
/// garbage length (a TLS alert read as plaintext, a wrong port) must not allocate 2 GiB.
const MAX_FRAME_BYTES: usize = 100 * 1024 * 1024;

/// A byte stream to a broker: TCP, or TLS over TCP.
pub(crate) trait BrokerStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> BrokerStream for T {}

/// Writes the frame of one request: `size:i32`, header, body.
pub(crate) fn encode_frame<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes, String> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    header
        .encode(&mut frame, R::header_version(version))
        .map_err(|e| format!("encoding request header: {e}"))?;
    request
        .encode(&mut frame, version)
        .map_err(|e| format!("encoding request body: {e}"))?;
    let size = i32::try_from(frame.len() - 4).map_err(|_| "request too large".to_owned())?;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    Ok(frame.freeze())
}

/// Reads the header and body of one response frame (without its size prefix).
pub(crate) fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
    expected_correlation_id: i32,
) -> Result<R::Response, String> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let header = ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| format!("decoding response header: {e}"))?;
    if header.correlation_id != expected_correlation_id {
        return Err(format!(
            "correlation id {} where {expected_correlation_id} was expected",
            header.correlation_id
        ));
    }
    let response = R::Response::decode(&mut frame, version)
        .map_err(|e| format!("decoding {:?} v{version} response: {e}", api_name::<R>()))?;
    if frame.has_remaining() {
        // Kafka adds fields only in new versions or as tagged fields, so leftovers mean
        // we decoded the wrong version.
        return Err(format!(
            "{} bytes left after the {:?} v{version} response",
            frame.remaining(),
            api_name::<R>()
        ));
    }
    Ok(response)
}

pub(crate) fn api_name<R: Request>() -> &'static str {
    match ApiKey::try_from(R::KEY) {
        Ok(ApiKey::ApiVersions) => "ApiVersions",
        Ok(ApiKey::SaslHandshake) => "SaslHandshake",
        Ok(ApiKey::SaslAuthenticate) => "SaslAuthenticate",
        Ok(ApiKey::DescribeAcls) => "DescribeAcls",
        Ok(ApiKey::CreateAcls) => "CreateAcls",
        Ok(ApiKey::DeleteAcls) => "DeleteAcls",
        Ok(ApiKey::FindCoordinator) => "FindCoordinator",
        Ok(ApiKey::OffsetFetch) => "OffsetFetch",
        Ok(ApiKey::Metadata) => "Metadata",
        Ok(ApiKey::IncrementalAlterConfigs) => "IncrementalAlterConfigs",
        _ => "request",
    }
}

/// An open, negotiated (and, when configured, authenticated) broker connection.
pub(crate) struct Connection {
    stream: Box<dyn BrokerStream>,
    broker: String,
    client_id: String,
    next_correlation_id: i32,
    /// API key → the broker's version range.
    versions: BTreeMap<i16, (i16, i16)>,
    timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.broker)
            .field("next_correlation_id", &self.next_correlation_id)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Wraps `stream` and asks the broker which API versions it speaks.
    pub(crate) async fn negotiate(
        stream: Box<dyn BrokerStream>,
        broker: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Self, WireError> {
        let mut connection = Self {
            stream,
            broker: broker.to_owned(),
            client_id: client_id.to_owned(),
            next_correlation_id: 0,
            versions: BTreeMap::new(),
            timeout,
        };
        // v3 (Kafka 2.4+, KIP-511) first. A broker that does not know it answers in the v0
        // layout, which does not decode as v3; the whole frame was read, so the same
        // connection can ask again in v0 (Kafka 2.0+ still has every ACL API we use).
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafka-gateway"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let response = match connection.send_version(&request, 3).await {
            Err(WireError::Protocol { .. }) => connection.send_version(&request, 0).await?,
            other => other?,
        };
        if let Some(error) = WireError::broker("api versions", response.error_code, None) {
            return Err(error);
        }
        connection.versions = response
            .api_keys
            .iter()
            .map(|api| (api.api_key, (api.min_version, api.max_version)))
            .collect();
        Ok(connection)
    }

    pub(crate) fn broker(&self) -> &str {
        &self.broker
    }

    /// The highest version both sides speak.
    pub(crate) fn version<R: Request>(&self) -> Result<i16, WireError> {
        let ours = R::VERSIONS;
        let unsupported = || WireError::UnsupportedVersion {
            broker: self.broker.clone(),
            api: api_name::<R>(),
            ours: ours.to_string(),
        };
        let (min, max) = self
            .versions
            .get(&R::KEY)
            .copied()
            .ok_or_else(unsupported)?;
        let version = max.min(ours.max);
        if version < min.max(ours.min) {
            return Err(unsupported());
        }
        Ok(version)
    }

    /// Sends `request` at the highest common version and waits for its response.
    pub(crate) async fn send<R: Request>(&mut self, request: &R) -> Result<R::Response, WireError> {
        let version = self.version::<R>()?;
        self.send_version(request, version).await
    }

    pub(crate) async fn send_version<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, WireError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = encode_frame(request, version, correlation_id, &self.client_id)
            .map_err(|reason| self.protocol(reason))?;
        let timeout = self.timeout;
        let exchange = async {
            self.stream.write_all(&frame).await?;
            self.stream.flush().await?;
            let size = self.stream.read_i32().await?;
            let size = usize::try_from(size)
                .ok()
                .filter(|size| *size <= MAX_FRAME_BYTES)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("response frame size {size} is out of range (not a Kafka listener, or TLS expected?)"),
                    )
                })?;
            let mut body = vec![0; size];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(Bytes::from(body))
        };
        let body = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(WireError::Timeout {
                    broker: self.broker.clone(),
                    operation: api_name::<R>(),
                    timeout,
                });
            }
            Ok(Err(source)) => {
                return Err(WireError::Io {
                    broker: self.broker.clone(),
                    source,
                });
            }
            Ok(Ok(body)) => body,
        };
        decode_response::<R>(body, version, correlation_id).map_err(|reason| self.protocol(reason))
    }

    fn protocol(&self, reason: String) -> WireError {
        WireError::Protocol {
            broker: self.broker.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{ApiVersionsResponse, ResponseHeader};

    use super::*;

    #[test]
    fn request_frame_has_size_header_and_body() {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("t"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let mut frame = encode_frame(&request, 3, 7, "cid").expect("encodes");
        let size = frame.get_i32();
        assert_eq!(usize::try_from(size).ok(), Some(frame.len()));
        // Request header v2: api key, version, correlation id, client id, tagged fields.
        assert_eq!(frame.get_i16(), 18);
        assert_eq!(frame.get_i16(), 3);
        assert_eq!(frame.get_i32(), 7);
        assert_eq!(frame.get_i16(), 3);
        assert_eq!(&frame[..3], b"cid");
        frame.advance(3);
        assert_eq!(frame.get_u8(), 0, "no tagged fields");
        let decoded = ApiVersionsRequest::decode(&mut frame, 3).expect("body decodes");
        assert_eq!(decoded, request);
    }

    fn response_frame(correlation_id: i32) -> Bytes {
        response_frame_version(correlation_id, 3)
    }

    fn response_frame_version(correlation_id: i32, version: i16) -> Bytes {
        let response = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(29)
                .with_min_version(1)
                .with_max_version(3),
        ]);
        let mut frame = BytesMut::new();
        // ApiVersions responses always use header v0, even when the body is flexible.
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut frame, 0)
            .expect("header");
        response.encode(&mut frame, version).expect("body");
        frame.freeze()
    }

    #[test]
    fn response_is_matched_by_correlation_id() {
        let response =
            decode_response::<ApiVersionsRequest>(response_frame(5), 3, 5).expect("decodes");
        assert_eq!(response.api_keys.len(), 1);
        let error =
            decode_response::<ApiVersionsRequest>(response_frame(4), 3, 5).expect_err("mismatch");
        assert!(error.contains("correlation id 4"), "{error}");
    }

    /// What a pre-2.4 broker sends back to ApiVersions v3 must fail to decode as v3 (that
    /// is what triggers the v0 retry) and decode as v0.
    #[test]
    fn a_v0_answer_is_not_taken_for_v3() {
        let old = response_frame_version(2, 0);
        assert!(decode_response::<ApiVersionsRequest>(old.clone(), 3, 2).is_err());
        let response = decode_response::<ApiVersionsRequest>(old, 0, 2).expect("v0 decodes");
        assert_eq!(response.api_keys.len(), 1);
    }

    #[test]
    fn truncated_response_is_an_error_not_a_panic() {
        let frame = response_frame(1);
        for cut in 0..frame.len() {
            let _ = decode_response::<ApiVersionsRequest>(frame.slice(..cut), 3, 1);
        }
    }
}
