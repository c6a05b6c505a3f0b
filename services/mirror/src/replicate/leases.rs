//! Which exactly-once tasks of a flow this process runs, when several processes share it.
//!
//! An exactly-once task owns a fixed share of the source partitions and the transactional
//! id `<replication.group.id>.<task>`; two processes running one task at once would fence
//! each other in turn. The processes of a flow agree through a consumer group on the target
//! cluster, `<replication.group.id>.tasks`, whose members subscribe to the flow's task
//! topic ([`crate::policy::ReplicationPolicy::tasks_topic`]), one partition per task: the
//! partitions a member is assigned are the tasks it runs. No record is ever read from it;
//! the group coordinator is the whole point. This is Kafka Connect's design for
//! exactly-once source tasks (KIP-618) without a Connect cluster: membership through a
//! group, zombie fencing through the transactional id.
//!
//! - A process joining or leaving moves only the tasks it must (cooperative-sticky
//!   assignment).
//! - A task moves in two steps: the old owner drains it (flush, commit the open
//!   transaction) inside the revocation, before the coordinator hands it out again; the
//!   new owner's `init_transactions` then fences whatever is left of the old producer and
//!   aborts its open transaction before it reads the offset map, the task's position.
//!   Nothing is copied twice for `read_committed` readers whichever step is cut short.
//! - A process killed with -9 keeps its tasks until the coordinator expires its session
//!   (10 s unless `<target>.consumer.session.timeout.ms` says otherwise).
//! - Dynamic membership on purpose: a static member does not leave the group on a graceful
//!   stop, and its tasks would wait for the session timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use broker_core::metadata::ClusterInspector;
use broker_core::{KafkaClients, Shutdown};
use rdkafka::ClientContext;
use rdkafka::admin::{AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::TaskContext;
use crate::error::MirrorError;

/// How long a revocation waits for its tasks to drain before it lets the rebalance go on
/// (the new owner fences what is left).
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// What the group changed for this process.
#[derive(Debug)]
enum LeaseChange {
    Gained(Vec<usize>),
    /// Tasks to stop; the rebalance waits for the answer on the channel.
    Released(Vec<usize>, std::sync::mpsc::SyncSender<()>),
}

struct LeaseContext {
    flow: String,
    changes: mpsc::UnboundedSender<LeaseChange>,
}

impl ClientContext for LeaseContext {}

impl ConsumerContext for LeaseContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let tasks = tasks_of(list);
            if tasks.is_empty() {
                return;
            }
            tracing::info!(flow = %self.flow, ?tasks, lost = consumer.assignment_lost(), "exactly-once tasks leaving this process");
            let (done, wait) = std::sync::mpsc::sync_channel(1);
            if self
                .changes
                .send(LeaseChange::Released(tasks, done))
                .is_ok()
                && wait.recv_timeout(DRAIN_LIMIT).is_err()
            {
                tracing::warn!(flow = %self.flow, "tasks did not drain in time; their new owner fences them");
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let tasks = tasks_of(list);
                if !tasks.is_empty() {
                    tracing::info!(flow = %self.flow, ?tasks, "exactly-once tasks assigned to this process");
                    let _ = self.changes.send(LeaseChange::Gained(tasks));
                }
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => {
                tracing::warn!(flow = %self.flow, %error, "task group rebalance failed");
            }
        }
    }
}

fn tasks_of(list: &rdkafka::TopicPartitionList) -> Vec<usize> {
    list.elements()
        .iter()
        .filter_map(|e| usize::try_from(e.partition()).ok())
        .collect()
}

/// The task topic with one partition per task, created or grown to `tasks.max`. Fewer
/// tasks than partitions (a smaller `tasks.max`) leaves the extra partitions unowned in
/// effect: their owners start nothing.
pub(crate) async fn ensure_tasks_topic(
    target: &KafkaClients,
    name: &str,
    tasks: usize,
    replication_factor: i32,
    timeout: Duration,
) -> Result<(), MirrorError> {
    let partitions = i32::try_from(tasks).unwrap_or(i32::MAX);
    let admin = target.admin()?;
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let topic = NewTopic::new(
        name,
        partitions,
        TopicReplication::Fixed(replication_factor),
    )
    .set("cleanup.policy", "compact");
    for result in admin
        .create_topics(&[topic], &options)
        .await
        .map_err(|e| MirrorError::kafka(name, "create task topic", e))?
    {
        match result {
            Ok(_) => return Ok(()),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((resource, code)) => {
                return Err(broker_core::BrokerError::Resource {
                    operation: "create task topic",
                    resource,
                    code,
                }
                .into());
            }
        }
    }
    let existing = ClusterInspector::new(target, timeout)?
        .topic(name)
        .await?
        .partitions
        .len();
    if existing < tasks {
        tracing::info!(
            topic = name,
            from = existing,
            to = tasks,
            "growing the task topic to tasks.max"
        );
        for result in admin
            .create_partitions(&[NewPartitions::new(name, tasks)], &options)
            .await
            .map_err(|e| MirrorError::kafka(name, "grow task topic", e))?
        {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::InvalidPartitions)) => {}
                Err((resource, code)) => {
                    return Err(broker_core::BrokerError::Resource {
                        operation: "grow task topic",
                        resource,
                        code,
                    }
                    .into());
                }
            }
        }
    }
    Ok(())
}

/// The group through which the processes of a flow share its exactly-once tasks.
pub(crate) fn task_group(replication_group: &str) -> String {
    format!("{replication_group}.tasks")
}

/// A running task of this process.
struct Running {
    /// The task's own drain flag and signal: set when the task leaves this process.
    stop: Arc<AtomicBool>,
    shutdown: Shutdown,
}

/// Runs the flow's exactly-once tasks that the task group assigns to this process until
/// `shutdown`; `template` is the context every task starts from (its `task` and `stop`
/// are set per task).
pub(crate) async fn run(template: TaskContext, shutdown: Shutdown) -> Result<(), MirrorError> {
    let flow = template.flow.name();
    let (changes, mut incoming) = mpsc::unbounded_channel();
    let leave = Arc::new(AtomicBool::new(false));
    let member = spawn_member(&template, changes, Arc::clone(&leave))?;
    let mut running: BTreeMap<usize, Running> = BTreeMap::new();
    let mut tasks: JoinSet<(usize, Result<(), MirrorError>)> = JoinSet::new();
    let owned = &template.metrics.tasks_owned;

    let outcome = loop {
        tokio::select! {
            () = shutdown.wait() => break Ok(()),
            change = incoming.recv() => match change {
                Some(LeaseChange::Gained(gained)) => {
                    for task in gained.into_iter().filter(|t| *t < template.flow.tasks) {
                        if running.contains_key(&task) {
                            continue;
                        }
                        let stop = Arc::new(AtomicBool::new(false));
                        let task_shutdown = shutdown.child();
                        let mut context = template.clone();
                        context.task = task;
                        context.stop = Arc::clone(&stop);
                        owned.get_or_create(&task_labels(&flow, task)).set(1);
                        running.insert(task, Running { stop, shutdown: task_shutdown.clone() });
                        broker_core::task::spawn_in(&mut tasks, "mirror-leased-task", async move {
                            (task, crate::runner::supervise_task(context, task_shutdown, true).await)
                        });
                    }
                }
                Some(LeaseChange::Released(released, done)) => {
                    // Logged by `stop_tasks`; the tasks are another process's now.
                    let _ = stop_tasks(&released, &mut running, &mut tasks, &flow).await;
                    for task in &released {
                        owned.get_or_create(&task_labels(&flow, *task)).set(0);
                    }
                    let _ = done.send(());
                }
                None => break Err(MirrorError::Task {
                    task: format!("{flow} task group member"),
                    reason: "the task group member stopped".to_owned(),
                }),
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                let (task, result) = match joined {
                    Ok(done) => done,
                    Err(error) => break Err(MirrorError::Task {
                        task: format!("{flow} exactly-once task"),
                        reason: error.to_string(),
                    }),
                };
                running.remove(&task);
                owned.get_or_create(&task_labels(&flow, task)).set(0);
                if let Err(error) = result {
                    break Err(error);
                }
            }
        }
    };
    // Drain what still runs, then leave the group so that the others take the tasks at once.
    let all: Vec<usize> = running.keys().copied().collect();
    let failure = stop_tasks(&all, &mut running, &mut tasks, &flow).await;
    for task in all {
        owned.get_or_create(&task_labels(&flow, task)).set(0);
    }
    leave.store(true, Ordering::Relaxed);
    // The leave itself revokes: answer until the member thread is gone.
    let member_gone =
        broker_core::task::spawn_blocking("mirror-task-group-leave", move || member.join());
    tokio::pin!(member_gone);
    loop {
        tokio::select! {
            _ = &mut member_gone => break,
            Some(change) = incoming.recv() => {
                if let LeaseChange::Released(_, done) = change {
                    let _ = done.send(());
                }
            }
        }
    }
    match (outcome, failure) {
        (Err(error), _) | (Ok(()), Some(error)) => Err(error),
        (Ok(()), None) => Ok(()),
    }
}

fn task_labels(flow: &str, task: usize) -> Vec<(&'static str, String)> {
    vec![("flow", flow.to_owned()), ("task", task.to_string())]
}

/// Drains `which` of the running tasks and waits until they returned. A task that fails
/// to drain loses nothing (its next owner fences it and resumes from the last committed
/// transaction); a fenced one was already taken over. Any other failure is returned, for
/// the mirror's shutdown to report; a revocation only logs it.
async fn stop_tasks(
    which: &[usize],
    running: &mut BTreeMap<usize, Running>,
    tasks: &mut JoinSet<(usize, Result<(), MirrorError>)>,
    flow: &str,
) -> Option<MirrorError> {
    let mut waiting: BTreeSet<usize> = BTreeSet::new();
    for task in which {
        if let Some(run) = running.get(task) {
            run.stop.store(true, Ordering::Relaxed);
            run.shutdown.trigger();
            waiting.insert(*task);
        }
    }
    let mut failure = None;
    while !waiting.is_empty() {
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let Ok((task, result)) = joined else {
            continue;
        };
        waiting.remove(&task);
        running.remove(&task);
        match result {
            Ok(()) => {}
            Err(error) if error.is_fenced_producer() => {
                tracing::info!(%flow, task, "exactly-once task already taken over while stopping");
            }
            Err(error) => {
                tracing::warn!(%flow, task, %error, "exactly-once task failed while stopping; its next owner resumes from its last commit");
                failure.get_or_insert(error);
            }
        }
    }
    failure
}

/// The group member on its own thread: librdkafka's rebalance callbacks run inside
/// `poll`, and the revocation blocks there until the tasks drained.
fn spawn_member(
    template: &TaskContext,
    changes: mpsc::UnboundedSender<LeaseChange>,
    leave: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, MirrorError> {
    let flow = template.flow.name();
    let settings = template.config.cluster(&template.flow.target);
    let clients = KafkaClients::new(settings.cluster.clone());
    let mut config = clients.consumer_config(&task_group(&template.flow.group_id));
    config
        .set("session.timeout.ms", super::MIRROR_SESSION_TIMEOUT_MS)
        .set("heartbeat.interval.ms", super::MIRROR_HEARTBEAT_INTERVAL_MS);
    for (key, value) in &settings.consumer {
        if key.starts_with("session.") || key.starts_with("heartbeat.") {
            config.set(key, value);
        }
    }
    config
        .set(
            "client.id",
            format!("{}.tasks", template.config.instance_id()),
        )
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest");
    let consumer: BaseConsumer<LeaseContext> = config
        .create_with_context(LeaseContext {
            flow: flow.clone(),
            changes,
        })
        .map_err(|e| MirrorError::kafka(&flow, "task group member", e))?;
    let topic = template.flow.policy.tasks_topic(&template.flow.source);
    consumer
        .subscribe(&[&topic])
        .map_err(|e| MirrorError::kafka(&flow, "join the task group", e))?;
    let name = format!("mirror-tasks-{flow}");
    broker_core::task::spawn_thread(&name, move || {
        while !leave.load(Ordering::Relaxed) {
            if let Some(Err(error)) = consumer.poll(Duration::from_millis(200)) {
                tracing::debug!(%flow, %error, "task group member");
            }
        }
        // Dropping the consumer leaves the group (a revocation first, answered by `run`).
        drop(consumer);
    })
    .map_err(|error| MirrorError::Task {
        task: name,
        reason: error.to_string(),
    })
}
