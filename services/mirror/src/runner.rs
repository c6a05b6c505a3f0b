//! Starting, supervising and stopping every flow of a mirror.
//!
//! Per flow: internal topics are created, topic discovery and topic ACL sync run, `tasks.max` replication
//! tasks run on their own threads, and the checkpoint/heartbeat tasks run on the runtime.
//! A replication task that fails with a retriable error is restarted with exponential
//! backoff (1 s → 30 s) from its last committed position; a definite error stops the
//! whole mirror. On shutdown each task drains (flush, write the offset map, commit) before
//! `run` returns. If the `run` future is dropped instead, the tasks stop at once without
//! draining: that is the crash the delivery guarantees are built for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use broker_core::task;
use broker_core::telemetry::MetricsRegistry;
use broker_core::{KafkaClients, Shutdown};
use tokio::task::JoinSet;

use crate::acls::AclSync;
use crate::config::{Delivery, OffsetSyncsLocation, ValidatedMirror};
use crate::error::MirrorError;
use crate::lag::FlowLag;
use crate::metrics::MirrorMetrics;
use crate::offsets::checkpoints::OffsetTasks;
use crate::policy::HEARTBEATS_TOPIC;
use crate::replicate::{SlotRegistry, TaskContext, leases, run_task};
use crate::topics::{TopicSync, ensure_compacted_topic};

/// Sets the stop flag when dropped, so that replication threads never outlive `run`.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub(crate) async fn run(
    config: ValidatedMirror,
    registry: MetricsRegistry,
    shutdown: Shutdown,
) -> Result<(), MirrorError> {
    for warning in &config.warnings {
        tracing::warn!(%warning, "mirror configuration");
    }
    let config = Arc::new(config);
    let metrics = MirrorMetrics::new(&registry);
    let slots = SlotRegistry::default();
    // `abandon` (set on drop) stops threads without draining; `drain` on shutdown.
    let abandon = Arc::new(AtomicBool::new(false));
    let drain = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(Arc::clone(&abandon));
    let mut tasks: JoinSet<Result<(), MirrorError>> = JoinSet::new();
    let background = shutdown.child();

    verify_logins(&config).await?;
    let mut lags = Vec::new();
    for flow in &config.flows {
        let flow = Arc::new(flow.clone());
        let source = KafkaClients::new(config.cluster(&flow.source).cluster.clone());
        let target = KafkaClients::new(config.cluster(&flow.target).cluster.clone());
        let timeout = flow.admin_timeout.min(Duration::from_secs(30));
        let policy = &flow.policy;
        for internal in [
            policy.offset_map_topic(&flow.source),
            policy.source_ends_topic(&flow.source),
        ] {
            ensure_compacted_topic(
                &target,
                &internal,
                flow.checkpoints_replication_factor,
                timeout,
            )
            .await?;
        }
        if flow.checkpoints.is_some() {
            ensure_compacted_topic(
                &target,
                &policy.checkpoints_topic(&flow.source),
                flow.checkpoints_replication_factor,
                timeout,
            )
            .await?;
        }
        if flow.heartbeats.is_some() {
            ensure_compacted_topic(
                &target,
                HEARTBEATS_TOPIC,
                flow.heartbeats_replication_factor,
                timeout,
            )
            .await?;
            ensure_compacted_topic(
                &source,
                HEARTBEATS_TOPIC,
                flow.heartbeats_replication_factor,
                timeout,
            )
            .await?;
        }
        if let Some(syncs) = &flow.offset_syncs {
            let (clients, alias) = match syncs.location {
                OffsetSyncsLocation::Source => (&source, &flow.target),
                OffsetSyncsLocation::Target => (&target, &flow.source),
            };
            ensure_compacted_topic(
                clients,
                &policy.offset_syncs_topic(alias),
                syncs.replication_factor,
                timeout,
            )
            .await?;
        }

        if let Some(interval) = flow.sync_topic_acls {
            // ACL sync is on by default (as in MM2): a cluster setting the native client
            // cannot honour (GSSAPI, a JKS store) turns it off rather than the mirror.
            match AclSync::new(&config, Arc::clone(&flow), metrics.clone()) {
                Ok(acl_sync) => {
                    let acl_shutdown = background.clone();
                    task::spawn_in(&mut tasks, "mirror-acl-sync", async move {
                        acl_sync.run(interval, acl_shutdown).await;
                        Ok(())
                    });
                }
                Err(error) => tracing::warn!(
                    flow = %flow.name(), %error,
                    "topic acl sync is off; set sync.topic.acls.enabled=false to silence this"
                ),
            }
        }

        let (topic_sync, plan) = TopicSync::new(Arc::clone(&flow), &source, &target)?;
        lags.push(FlowLag::new(
            &config,
            Arc::clone(&flow),
            plan.clone(),
            metrics.clone(),
            Arc::clone(&slots),
        )?);
        topic_sync.refresh().await?;
        let wake_topics = Arc::clone(&topic_sync.wake);
        let topic_shutdown = background.clone();
        task::spawn_in(&mut tasks, "mirror-topic-sync", async move {
            topic_sync.run(topic_shutdown).await;
            Ok(())
        });

        let template = TaskContext {
            config: Arc::clone(&config),
            flow: Arc::clone(&flow),
            task: 0,
            plan: plan.clone(),
            wake_topics: Arc::clone(&wake_topics),
            metrics: metrics.clone(),
            slots: Arc::clone(&slots),
            stop: Arc::clone(&drain),
            abandon: Arc::clone(&abandon),
        };
        if flow.delivery == Delivery::ExactlyOnce {
            // The flow's processes share its tasks through a group on the target.
            leases::ensure_tasks_topic(
                &target,
                &policy.tasks_topic(&flow.source),
                flow.tasks,
                flow.checkpoints_replication_factor,
                timeout,
            )
            .await?;
            task::spawn_in(
                &mut tasks,
                "mirror-task-leases",
                leases::run(template, background.clone()),
            );
        } else {
            // At-least-once tasks share the source partitions through the source group.
            for task in 0..flow.tasks {
                let mut context = template.clone();
                context.task = task;
                task::spawn_in(
                    &mut tasks,
                    "mirror-task-supervisor",
                    supervise_task(context, background.clone(), false),
                );
            }
        }
        let offset_tasks = OffsetTasks::new(&config, Arc::clone(&flow), plan, metrics.clone());
        let offsets_shutdown = background.clone();
        task::spawn_in(
            &mut tasks,
            "mirror-offset-sync",
            offset_tasks.run(offsets_shutdown),
        );
    }
    task::spawn_in(
        &mut tasks,
        "mirror-lag",
        lag_loop(Arc::clone(&config), lags, background.clone()),
    );

    tokio::select! {
        () = shutdown.wait() => {}
        Some(joined) = tasks.join_next() => {
            let failure = match joined {
                Ok(Err(error)) => Some(error),
                Err(join_error) => Some(MirrorError::Task { task: "mirror".to_owned(), reason: join_error.to_string() }),
                Ok(Ok(())) => None,
            };
            drain.store(true, Ordering::Relaxed);
            background.trigger();
            while tasks.join_next().await.is_some() {}
            return failure.map_or(Ok(()), Err);
        }
    }
    tracing::info!("mirror shutting down, draining replication tasks");
    drain.store(true, Ordering::Relaxed);
    background.trigger();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Err(error)) = joined {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// A static member fenced again within this time of the previous fencing is taken to be
/// a twin process with the same instance id, not a stale session of its own.
const FENCED_AGAIN_WITHIN: Duration = Duration::from_secs(300);

/// Runs one replication task, restarting it after retriable errors. A `leased` task
/// (exactly-once, owned through the task group) that finds its producer fenced lost the
/// task to another process: the group's revocation stops it here soon, so it is retried
/// with backoff instead of stopping the mirror (if this process is a zombie whose session
/// expired, the revocation comes with its next heartbeat).
pub(crate) async fn supervise_task(
    context: TaskContext,
    shutdown: Shutdown,
    leased: bool,
) -> Result<(), MirrorError> {
    let mut backoff = Duration::from_secs(1);
    let mut last_fenced: Option<std::time::Instant> = None;
    loop {
        let attempt = context.clone();
        let result = run_task(attempt).await;
        match result {
            Ok(()) => return Ok(()),
            Err(error) if leased && error.is_fenced_producer() && !shutdown.is_triggered() => {
                tracing::warn!(flow = %context.flow.name(), task = context.task, %error, ?backoff, "exactly-once task fenced by another process; retrying unless the task group moves it");
                tokio::select! {
                    () = shutdown.wait() => return Ok(()),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(error @ MirrorError::InstanceFenced { .. })
                if last_fenced.is_some_and(|at| at.elapsed() < FENCED_AGAIN_WITHIN) =>
            {
                return Err(error);
            }
            Err(error) if error.is_retriable() && !shutdown.is_triggered() => {
                if matches!(error, MirrorError::InstanceFenced { .. }) {
                    last_fenced = Some(std::time::Instant::now());
                }
                tracing::warn!(flow = %context.flow.name(), task = context.task, %error, ?backoff, "replication task failed, restarting");
                context
                    .metrics
                    .restarts
                    .get_or_create(&vec![("flow", context.flow.name())])
                    .inc();
                tokio::select! {
                    () = shutdown.wait() => return Ok(()),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(error) => return Err(error),
        }
    }
}

/// How often an unchanged source end is written again, so that its `seen at` time stays
/// recent.
const SOURCE_END_REFRESH: Duration = Duration::from_secs(30);

/// Every 5 s: each flow's lag series ([`crate::lag`]); each partition's source log end
/// also goes to the flow's source-ends topic on the target when it changed (or every
/// [`SOURCE_END_REFRESH`]).
async fn lag_loop(
    config: Arc<ValidatedMirror>,
    mut lags: Vec<FlowLag>,
    shutdown: Shutdown,
) -> Result<(), MirrorError> {
    let mut end_writers = std::collections::HashMap::new();
    for flow in &config.flows {
        let target = KafkaClients::new(config.cluster(&flow.target).cluster.clone());
        end_writers.insert(
            flow.name(),
            (
                target.producer()?,
                flow.policy.source_ends_topic(&flow.source),
            ),
        );
    }
    let mut written: std::collections::HashMap<(String, String, i32), (i64, std::time::Instant)> =
        std::collections::HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = shutdown.wait() => return Ok(()),
            _ = tick.tick() => {}
        }
        for lag in &mut lags {
            let flow = lag.flow_name();
            for (topic, partition, end) in lag.measure().await {
                write_source_end(&end_writers, &mut written, (&flow, &topic, partition), end).await;
            }
        }
    }
}

/// Writes a partition's source log end to the target unless the same value was written
/// within [`SOURCE_END_REFRESH`]. Advisory: a failed write is logged and tried again next
/// tick.
async fn write_source_end(
    writers: &std::collections::HashMap<String, (rdkafka::producer::FutureProducer, String)>,
    written: &mut std::collections::HashMap<(String, String, i32), (i64, std::time::Instant)>,
    (flow, topic, partition): (&str, &str, i32),
    end: i64,
) {
    let key = (flow.to_owned(), topic.to_owned(), partition);
    if written
        .get(&key)
        .is_some_and(|(last, at)| *last == end && at.elapsed() < SOURCE_END_REFRESH)
    {
        return;
    }
    let Some((producer, ends_topic)) = writers.get(flow) else {
        return;
    };
    let record = crate::offsets::format::SourceEnd {
        topic: topic.to_owned(),
        partition,
        end,
        seen_ms: crate::offsets::now_millis(),
    };
    let (record_key, value) = (record.key(), record.value());
    let sent = producer
        .send(
            rdkafka::producer::FutureRecord::to(ends_topic)
                .partition(0)
                .key(&record_key)
                .payload(&value),
            Duration::from_secs(5),
        )
        .await;
    match sent {
        Ok(_) => {
            written.insert(key, (end, std::time::Instant::now()));
        }
        Err((error, _)) => {
            tracing::debug!(%flow, topic, partition, %error, "source end not written");
        }
    }
}

/// How long the start-up login check waits for each secured cluster.
const LOGIN_CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// librdkafka retries a rejected SASL login forever, so a wrong `{alias}.sasl.password` would
/// only show as flows that never copy anything. Each cluster with SASL or TLS is asked for
/// metadata once before any flow starts; a rejected login stops the mirror with an error
/// naming the cause. Unreachable clusters are left to the flows' own retries.
async fn verify_logins(config: &ValidatedMirror) -> Result<(), MirrorError> {
    let mut checked: Vec<&str> = Vec::new();
    for flow in &config.flows {
        for alias in [flow.source.as_str(), flow.target.as_str()] {
            if checked.contains(&alias) {
                continue;
            }
            checked.push(alias);
            let clients = KafkaClients::new(config.cluster(alias).cluster.clone());
            if clients.cluster().security_protocol() != "plaintext" {
                broker_core::login::verify_login(&clients, LOGIN_CHECK_TIMEOUT).await?;
            }
        }
    }
    Ok(())
}
