//! The controller id, from a Metadata v1 request written by hand: librdkafka's safe API does
//! not expose it. Sent over PLAINTEXT listeners only.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A Metadata v1 request for no topics: api key 3, version 1, correlation id 7, client id
/// `kafka-gateway-doctor`, an empty topic array.
fn metadata_v1_request() -> Vec<u8> {
    let client_id = b"kafka-gateway-doctor";
    let mut body = Vec::new();
    body.extend_from_slice(&3_i16.to_be_bytes());
    body.extend_from_slice(&1_i16.to_be_bytes());
    body.extend_from_slice(&7_i32.to_be_bytes());
    body.extend_from_slice(&i16::try_from(client_id.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&0_i32.to_be_bytes());
    let mut request = u32::try_from(body.len())
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    request.extend_from_slice(&body);
    request
}

/// Reads the controller id from a Metadata v1 response body (after the size).
fn parse_controller_id(body: &[u8]) -> Option<i32> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = body.get(at..at + n)?;
        at += n;
        Some(slice)
    };
    let int32 = |bytes: &[u8]| i32::from_be_bytes(bytes.try_into().unwrap_or([0; 4]));
    let int16 = |bytes: &[u8]| i16::from_be_bytes(bytes.try_into().unwrap_or([0; 2]));
    if int32(take(4)?) != 7 {
        return None;
    }
    let brokers = int32(take(4)?);
    for _ in 0..brokers.max(0) {
        take(4)?; // node id
        let host = usize::try_from(int16(take(2)?)).ok()?;
        take(host)?;
        take(4)?; // port
        let rack = int16(take(2)?);
        if rack > 0 {
            take(usize::try_from(rack).ok()?)?;
        }
    }
    Some(int32(take(4)?))
}

pub(super) async fn controller_id(server: &str, timeout: Duration) -> Result<i32, String> {
    let address = server.rsplit_once("://").map_or(server, |(_, rest)| rest);
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        stream.write_all(&metadata_v1_request()).await?;
        let size = stream.read_i32().await?;
        let mut body = vec![0; usize::try_from(size).unwrap_or(0).min(16 * 1024 * 1024)];
        stream.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(body)) => {
            parse_controller_id(&body).ok_or_else(|| "unexpected metadata answer".to_owned())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_request_is_framed() {
        let request = metadata_v1_request();
        let size = u32::from_be_bytes(request[..4].try_into().unwrap()) as usize;
        assert_eq!(size, request.len() - 4);
        assert_eq!(&request[4..8], &[0, 3, 0, 1]);
    }

    #[test]
    fn controller_id_is_read_after_the_brokers() {
        let mut body = Vec::new();
        body.extend_from_slice(&7_i32.to_be_bytes());
        body.extend_from_slice(&2_i32.to_be_bytes());
        for (id, host, rack) in [(1_i32, "b1", None), (2, "broker-two", Some("r1"))] {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&(host.len() as i16).to_be_bytes());
            body.extend_from_slice(host.as_bytes());
            body.extend_from_slice(&9092_i32.to_be_bytes());
            match rack {
                Some(rack) => {
                    body.extend_from_slice(&(rack.len() as i16).to_be_bytes());
                    body.extend_from_slice(rack.as_bytes());
                }
                None => body.extend_from_slice(&(-1_i16).to_be_bytes()),
            }
        }
        body.extend_from_slice(&2_i32.to_be_bytes());
        body.extend_from_slice(&0_i32.to_be_bytes());
        assert_eq!(parse_controller_id(&body), Some(2));
        assert_eq!(parse_controller_id(&body[..10]), None);
    }
}
