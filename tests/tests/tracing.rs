//! The `tracing` feature: a subscriber sees a span per task poll and an
//! event per spawn, both naming the task's id and spawn location, and
//! events when the worker parks and is unparked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the subscriber saw: (kind, name or message, fields).
type Seen = Arc<Mutex<Vec<(String, String, Vec<(String, String)>)>>>;

struct Capture {
    seen: Seen,
    next: AtomicU64,
}

#[derive(Default)]
struct Fields(Vec<(String, String)>, Option<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.1 = Some(format!("{value:?}"));
        } else {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("zokio")
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        self.seen.lock().unwrap().push((
            "span".into(),
            format!("{}:{}", span.metadata().target(), span.metadata().name()),
            fields.0,
        ));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.seen.lock().unwrap().push((
            "event".into(),
            format!(
                "{}:{}",
                event.metadata().target(),
                fields.1.unwrap_or_default()
            ),
            fields.0,
        ));
    }

    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

zokio::runtime! { Ct { flavor = "current_thread" } }

#[test]
fn spans_and_events_name_the_task_and_its_spawn_location() {
    let seen: Seen = Arc::default();
    let subscriber = Capture {
        seen: seen.clone(),
        next: AtomicU64::new(0),
    };
    let line = tracing::subscriber::with_default(subscriber, || {
        Ct::block_on(async {
            let (tx, rx) = zokio::sync::oneshot::channel::<()>();
            let line = line!() + 1;
            let task = zokio::spawn(async move { rx.await.unwrap() });
            // The task waits for `tx` while this one parks the thread: the
            // sleep gives the worker a reason to park.
            zokio::time::sleep(std::time::Duration::from_millis(1)).await;
            tx.send(()).unwrap();
            task.await.unwrap();
            line
        })
    });
    let seen = seen.lock().unwrap();
    let location = format!("{}:{line}:", file!());
    let spawn = seen
        .iter()
        .find(|(kind, what, fields)| {
            kind == "event"
                && what == "zokio::task:spawn"
                && fields
                    .iter()
                    .any(|(k, v)| k == "spawned_at" && v.contains(&location))
        })
        .unwrap_or_else(|| panic!("no spawn event at {location}: {seen:#?}"));
    let id = &spawn
        .2
        .iter()
        .find(|(k, _)| k == "task_id")
        .expect("the spawn event names the task")
        .1;
    let polls = seen
        .iter()
        .filter(|(kind, what, fields)| {
            kind == "span"
                && what == "zokio::task:poll"
                && fields.iter().any(|(k, v)| k == "task_id" && v == id)
                && fields
                    .iter()
                    .any(|(k, v)| k == "spawned_at" && v.contains(&location))
        })
        .count();
    assert!(
        polls >= 2,
        "the task is polled at least twice (it waits once): {polls}"
    );
    assert!(
        seen.iter().any(|(_, what, _)| what == "zokio::park:park"),
        "a park event: {seen:#?}"
    );
}
