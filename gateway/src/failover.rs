//! `kafka-gateway mirror failover` and `mirror status`: the command line around
//! [`mirror::failover`] and [`mirror::status`].

use std::time::Duration;

use broker_core::telemetry;

use crate::cli::{FailoverArgs, FailoverOutput};
use crate::run::{GatewayError, load_mirror, mirror_config_error};

pub(crate) async fn failover(args: &FailoverArgs) -> Result<(), GatewayError> {
    let config = load_mirror(&args.config)?;
    let groups = group_filter(args.group.as_deref())?;
    telemetry::init_tracing(telemetry::LogFormat::Text, "error");
    let options = mirror::failover::FailoverOptions {
        from: args.from.clone(),
        to: args.to.clone(),
        groups,
        dry_run: args.dry_run,
        force: args.force,
        source_timeout: Duration::from_secs(args.source_timeout_seconds.max(1)),
    };
    let report = mirror::failover::failover(&config, &options)
        .await
        .map_err(|error| match error {
            mirror::MirrorError::UnknownFlow { .. } => GatewayError::Usage(format!(
                "{error}: --from and --to must name an enabled flow of {}",
                args.config.display()
            )),
            other => mirror_config_error(other),
        })?;
    print_report(args.output, &report, mirror::failover::render_table)?;
    if report.refused() > 0 || report.skipped() > 0 {
        return Err(GatewayError::FailoverIncomplete {
            refused: report.refused(),
            skipped: report.skipped(),
        });
    }
    Ok(())
}

pub(crate) async fn status(
    config: &std::path::Path,
    output: FailoverOutput,
) -> Result<(), GatewayError> {
    let mirror = load_mirror(config)?;
    telemetry::init_tracing(telemetry::LogFormat::Text, "error");
    let flows = mirror::status::status(&mirror, Duration::from_secs(10))
        .await
        .map_err(mirror_config_error)?;
    print_report(output, &flows, |flows: &Vec<_>| {
        mirror::status::render_table(flows)
    })
}

/// `--group`, a regular expression.
pub(crate) fn group_filter(group: Option<&str>) -> Result<Option<regex::Regex>, GatewayError> {
    group
        .map(regex::Regex::new)
        .transpose()
        .map_err(|error| GatewayError::Usage(format!("--group: {error}")))
}

/// Prints a report as the table `render` makes of it or as JSON.
pub(crate) fn print_report<T: serde::Serialize>(
    output: FailoverOutput,
    report: &T,
    render: impl FnOnce(&T) -> String,
) -> Result<(), GatewayError> {
    match output {
        FailoverOutput::Table => print!("{}", render(report)),
        FailoverOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).map_err(|error| GatewayError::Service {
                service: "mirror",
                message: error.to_string(),
            })?
        ),
    }
    Ok(())
}
