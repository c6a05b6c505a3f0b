//! `PUT /connector-plugins/{plugin}/config/dry-run` and `POST /connectors/{name}/dry-run`:
//! a config applied to sample input, nothing written (see [`crate::dry_run`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use connect_api::ConfigMap;

use super::AppState;
use super::connectors::query_pairs;
use crate::dry_run::{DEFAULT_SAMPLES, DryRunAnswer, MAX_SAMPLES, StartAt, dry_run};
use crate::error::{ErrorBody, RestError};
use crate::herder;

/// `samples` (1–1000, default 10) and `offset` (where a sink starts reading each partition;
/// default the beginning).
fn parameters(query: Option<&str>) -> Result<(usize, StartAt), RestError> {
    let mut samples = DEFAULT_SAMPLES;
    let mut start = StartAt::Beginning;
    for (key, text) in query_pairs(query) {
        match key.as_str() {
            "samples" => {
                samples = text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_SAMPLES).contains(n))
                    .ok_or_else(|| {
                        RestError::bad_request(format!(
                            "Invalid value {text} for query parameter samples: expected a number from 1 to {MAX_SAMPLES}"
                        ))
                    })?;
            }
            "offset" => {
                start = StartAt::Offset(text.parse::<i64>().ok().filter(|o| *o >= 0).ok_or_else(
                    || {
                        RestError::bad_request(format!(
                            "Invalid value {text} for query parameter offset: expected a non-negative number"
                        ))
                    },
                )?);
            }
            _ => {}
        }
    }
    Ok((samples, start))
}

/// A JSON object of string config values, as the document describes it; an empty body is
/// nothing unless `required` (the plugin form, which has no stored config to start from).
fn config_body(body: &Bytes, required: bool) -> Result<ConfigMap, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        if required {
            return Err(RestError::bad_request(
                "The body must be a JSON object of config values".to_owned(),
            ));
        }
        return Ok(BTreeMap::new());
    }
    serde_json::from_slice(body).map_err(|error| {
        RestError::bad_request(format!(
            "The body must be a JSON object of string config values: {error}"
        ))
    })
}

#[utoipa::path(put, path = "/connector-plugins/{plugin}/config/dry-run", tag = "plugins",
    params(("plugin" = String, Path),
        ("samples" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "inputs to run, 1 to 1000 (default 10)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "sinks: the offset each partition is read from (default: its beginning)")),
    request_body = BTreeMap<String, String>,
    responses((status = 200, description = "The validation and, when it has no errors, one output per input; nothing is written", body = DryRunAnswer),
        (status = 400, description = "A missing body or one that is not a JSON object, another plugin's class, a bad parameter, or an input the plugin cannot read", body = ErrorBody),
        (status = 404, description = "Unknown plugin, or a plugin without a dry run", body = ErrorBody)))]
pub async fn plugin_dry_run(
    State(runtime): State<AppState>,
    Path(plugin): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<DryRunAnswer>, RestError> {
    let (samples, start) = parameters(query.as_deref())?;
    let found = runtime
        .plugins
        .find(&plugin)
        .ok_or_else(|| RestError::not_found(format!("Unknown plugin {plugin}.")))?;
    let mut config = config_body(&body, true)?;
    let class = config
        .entry("connector.class".to_owned())
        .or_insert_with(|| found.info().class.to_owned())
        .clone();
    if runtime
        .plugins
        .find(&class)
        .is_none_or(|named| named.info().class != found.info().class)
    {
        return Err(RestError::bad_request(format!(
            "Included connector type {class} does not match request type {plugin}"
        )));
    }
    dry_run(&runtime, &config, samples, start).await.map(Json)
}

#[utoipa::path(post, path = "/connectors/{name}/dry-run", tag = "connectors",
    params(("name" = String, Path),
        ("samples" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "inputs to run, 1 to 1000 (default 10)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "sinks: the offset each partition is read from (default: its beginning)")),
    request_body(content = BTreeMap<String, String>, description = "Optional: config values that override the connector's"),
    responses((status = 200, description = "The validation and, when it has no errors, one output per input; nothing is written", body = DryRunAnswer),
        (status = 400, description = "A body that is not a JSON object, a bad parameter, or an input the plugin cannot read", body = ErrorBody),
        (status = 404, description = "Unknown connector, or a plugin without a dry run", body = ErrorBody)))]
pub async fn connector_dry_run(
    State(runtime): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<DryRunAnswer>, RestError> {
    let (samples, start) = parameters(query.as_deref())?;
    let mut config = herder::stored_config(&runtime, &name)?;
    config.extend(config_body(&body, false)?);
    dry_run(&runtime, &config, samples, start).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bounded() {
        assert_eq!(parameters(None).unwrap(), (10, StartAt::Beginning));
        assert_eq!(
            parameters(Some("samples=1000&offset=5")).unwrap(),
            (1000, StartAt::Offset(5))
        );
        assert!(parameters(Some("samples=0")).is_err());
        assert!(parameters(Some("samples=1001")).is_err());
        assert!(parameters(Some("offset=-1")).is_err());
    }
}
