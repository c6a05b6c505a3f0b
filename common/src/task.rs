//! Named tasks and threads: the one way the gateway spawns work.
//!
//! Every task, blocking call and thread gets a name, so that a stuck or failing one can be
//! told apart in the logs:
//!
//! - the work runs inside an `info` span `task{name=...}`, so every event it logs carries the
//!   name (threads also get it as their OS thread name, which `top -H` and core dumps show);
//! - its start and its end are logged at `debug`; a panic is logged at `warn` with its message
//!   and then resumed, so a [`JoinHandle`] still reports it exactly as a bare spawn would;
//! - a task dropped before it finished (aborted, or its runtime shut down) is logged at
//!   `debug` too.
//!
//! Tokio can name a task itself only through `tokio::task::Builder`, which needs the
//! `tokio_unstable` cfg; the gateway builds on stable cfgs, hence the span.
//!
//! `clippy.toml` disallows the bare `tokio::spawn`, `tokio::task::spawn_blocking`,
//! `std::thread::spawn` and friends everywhere else; this module is the one place allowed to
//! call them.
//!
//! ```ignore
//! let handle = broker_core::task::spawn("connect-supervisor", supervisor::run(runtime));
//! let metadata = broker_core::task::spawn_blocking("bridge-metadata", move || fetch()).await?;
//! ```

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use futures::FutureExt as _;
use tokio::runtime::Handle;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tracing::{Instrument as _, Span};

/// Runs `future` as a task named `name` on the current runtime.
///
/// # Panics
///
/// Like `tokio::spawn`, when called outside a tokio runtime.
#[allow(
    clippy::disallowed_methods,
    reason = "the named wrapper around tokio::spawn"
)]
pub fn spawn<F>(name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(named(name, future))
}

/// Runs `future` as a task named `name` on the runtime of `handle`, for code that may run
/// outside the runtime (a `Drop`, a constructor called from a plain thread).
#[allow(
    clippy::disallowed_methods,
    reason = "the named wrapper around Handle::spawn"
)]
pub fn spawn_on<F>(handle: &Handle, name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle.spawn(named(name, future))
}

/// Runs `future` as a task named `name` in `set`.
#[allow(
    clippy::disallowed_methods,
    reason = "the named wrapper around JoinSet::spawn"
)]
pub fn spawn_in<T, F>(set: &mut JoinSet<T>, name: &str, future: F) -> AbortHandle
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    set.spawn(named(name, future))
}

/// Runs the blocking `call` on tokio's blocking pool, named `name`: librdkafka calls, file
/// reads, password hashing — anything that must not stall a runtime thread.
///
/// # Panics
///
/// Like `tokio::task::spawn_blocking`, when called outside a tokio runtime.
#[allow(
    clippy::disallowed_methods,
    reason = "the named wrapper around tokio::task::spawn_blocking"
)]
pub fn spawn_blocking<F, R>(name: &str, call: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = task_span(name);
    tokio::task::spawn_blocking(move || run_named(&span, call))
}

/// [`spawn_blocking`] on the runtime of `handle`.
#[allow(
    clippy::disallowed_methods,
    reason = "the named wrapper around Handle::spawn_blocking"
)]
pub fn spawn_blocking_on<F, R>(handle: &Handle, name: &str, call: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = task_span(name);
    handle.spawn_blocking(move || run_named(&span, call))
}

/// Runs `body` on a new OS thread named `name`, for work that owns a thread for its whole
/// life (a replication loop on librdkafka's blocking API, a private runtime).
#[allow(
    clippy::disallowed_methods,
    reason = "the named wrapper around std::thread::Builder::spawn"
)]
pub fn spawn_thread<F, R>(name: &str, body: F) -> std::io::Result<std::thread::JoinHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = task_span(name);
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || run_named(&span, body))
}

fn task_span(name: &str) -> Span {
    tracing::info_span!("task", name)
}

/// `future` inside its task span, logging its start, its end, a panic or a drop.
fn named<F: Future>(name: &str, future: F) -> impl Future<Output = F::Output> + use<F> {
    let span = task_span(name);
    async move {
        tracing::debug!("task started");
        let mut end = EndGuard { ended: false };
        let outcome = AssertUnwindSafe(future).catch_unwind().await;
        end.ended = true;
        finish(outcome)
    }
    .instrument(span)
}

fn run_named<R>(span: &Span, body: impl FnOnce() -> R) -> R {
    let _entered = span.enter();
    tracing::debug!("task started");
    finish(catch_unwind(AssertUnwindSafe(body)))
}

fn finish<R>(outcome: Result<R, Box<dyn Any + Send>>) -> R {
    match outcome {
        Ok(output) => {
            tracing::debug!("task exited");
            output
        }
        Err(payload) => {
            tracing::warn!(panic = panic_message(payload.as_ref()), "task panicked");
            resume_unwind(payload)
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

/// Logs a task that was dropped before it finished: aborted, or its runtime shut down.
struct EndGuard {
    ended: bool,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if !self.ended {
            tracing::debug!("task dropped before it finished");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::{Layer, Registry};

    use super::*;

    /// Collects `task-name: message` for every event inside a task span.
    #[derive(Clone, Default)]
    struct Events(Arc<Mutex<Vec<String>>>);

    struct TaskName(String);

    #[derive(Default)]
    struct Fields {
        name: Option<String>,
        message: Option<String>,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.message = Some(format!("{value:?}")),
                "name" => self.name = Some(format!("{value:?}")),
                _ => {}
            }
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "message" => self.message = Some(value.to_owned()),
                "name" => self.name = Some(value.to_owned()),
                _ => {}
            }
        }
    }

    impl<S> Layer<S> for Events
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            if let (Some(name), Some(span)) = (fields.name, ctx.span(id)) {
                span.extensions_mut().insert(TaskName(name));
            }
        }

        fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let task = ctx.event_scope(event).and_then(|scope| {
                scope
                    .from_root()
                    .find_map(|span| span.extensions().get::<TaskName>().map(|n| n.0.clone()))
            });
            if let Some(task) = task {
                self.0
                    .lock()
                    .unwrap()
                    .push(format!("{task}: {}", fields.message.unwrap_or_default()));
            }
        }
    }

    fn collect(events: &Events) -> tracing::subscriber::DefaultGuard {
        let subscriber = Registry::default().with(events.clone());
        tracing::subscriber::set_default(subscriber)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_task_logs_its_name_start_and_exit() {
        let events = Events::default();
        let _guard = collect(&events);
        let answer = spawn("answer", async {
            tracing::info!("working");
            42
        })
        .await
        .unwrap();
        assert_eq!(answer, 42);
        assert_eq!(
            *events.0.lock().unwrap(),
            [
                "answer: task started",
                "answer: working",
                "answer: task exited"
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_is_logged_and_still_reported_by_the_handle() {
        let events = Events::default();
        let _guard = collect(&events);
        let joined = spawn("doomed", async { panic!("boom") }).await;
        assert!(joined.unwrap_err().is_panic());
        let logged = events.0.lock().unwrap().clone();
        assert_eq!(logged, ["doomed: task started", "doomed: task panicked"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_aborted_task_logs_that_it_was_dropped() {
        let events = Events::default();
        let _guard = collect(&events);
        let handle = spawn("forever", std::future::pending::<()>());
        tokio::task::yield_now().await;
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
        assert_eq!(
            *events.0.lock().unwrap(),
            [
                "forever: task started",
                "forever: task dropped before it finished"
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn blocking_calls_and_threads_are_named() {
        let events = Events::default();
        let _guard = collect(&events);
        let sum = spawn_blocking("adder", || 1 + 1).await.unwrap();
        assert_eq!(sum, 2);
        let thread_name = spawn_thread("named-thread", || {
            std::thread::current().name().map(str::to_owned)
        })
        .unwrap()
        .join()
        .unwrap();
        assert_eq!(thread_name.as_deref(), Some("named-thread"));
        let mut set = JoinSet::new();
        spawn_in(&mut set, "in-set", async { 7 });
        assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    }
}
