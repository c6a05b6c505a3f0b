//! `kafka-gateway mirror failback`: the command line around [`mirror::failback`].

use broker_core::telemetry;

use crate::cli::FailbackArgs;
use crate::run::{GatewayError, load_mirror, mirror_config_error};

pub(crate) async fn failback(args: &FailbackArgs) -> Result<(), GatewayError> {
    let config = load_mirror(&args.config)?;
    let groups = crate::failover::group_filter(args.group.as_deref())?;
    telemetry::init_tracing(telemetry::LogFormat::Text, "error");
    let options = mirror::failback::FailbackOptions {
        from: args.from.clone(),
        to: args.to.clone(),
        groups,
        dry_run: args.dry_run,
        force: args.force,
    };
    let report = mirror::failback::failback(&config, &options)
        .await
        .map_err(|error| match error {
            mirror::MirrorError::UnknownFlow { .. } => GatewayError::Usage(format!(
                "{error}: --from and --to must name an enabled flow of {} (the flow that \
                 copies back, e.g. `B->A.enabled = true`)",
                args.config.display()
            )),
            other => mirror_config_error(other),
        })?;
    crate::failover::print_report(args.output, &report, mirror::failback::render_table)?;
    if report.refused() > 0 || report.skipped() > 0 {
        return Err(GatewayError::FailbackIncomplete {
            refused: report.refused(),
            skipped: report.skipped(),
        });
    }
    Ok(())
}
