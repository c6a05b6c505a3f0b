//! `kafka-gateway doctor`: flags in, report out. The checks themselves live in
//! the `doctor` crate so that tests run exactly what operators run.

use std::process::ExitCode;
use std::time::Duration;

use ::doctor::{DoctorOptions, diagnose};

use crate::cli::DoctorArgs;

fn options(args: &DoctorArgs) -> DoctorOptions {
    DoctorOptions {
        bootstrap: args.bootstrap.clone(),
        properties: args.properties.clone(),
        timeout: Duration::from_secs(args.timeout_seconds.max(1)),
        // Set from `--check-topic` / `--check-group` once `DoctorArgs` has them.
        check_topic: args.check_topic.clone(),
        check_group: args.check_group.clone(),
    }
}

pub(crate) async fn doctor(args: &DoctorArgs) -> ExitCode {
    match diagnose(&options(args)).await {
        Ok(report) => {
            for line in &report.lines {
                println!("{line}");
            }
            if report.problems.is_empty() {
                println!("no problems found");
                ExitCode::SUCCESS
            } else {
                println!("{} problem(s):", report.problems.len());
                for problem in &report.problems {
                    println!("  - {problem}");
                }
                ExitCode::FAILURE
            }
        }
        Err(usage) => {
            eprintln!("error: {usage}");
            ExitCode::from(2)
        }
    }
}
