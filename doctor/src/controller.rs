//! The controller id the cluster reports, through broker-core's native protocol client so it
//! is read over every listener kind the gateway supports (PLAINTEXT, SSL, SASL_*).

use std::time::Duration;

use broker_core::ValidatedCluster;
use broker_core::wire::WireClient;

pub(super) async fn controller_id(
    cluster: &ValidatedCluster,
    timeout: Duration,
) -> Result<Option<i32>, String> {
    let client = WireClient::new(cluster, timeout).map_err(|error| error.to_string())?;
    match tokio::time::timeout(timeout, client.controller_id()).await {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}
