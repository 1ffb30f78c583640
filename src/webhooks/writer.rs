//! The inbox's group commit. Endpoints hand their verified event to one writer task and wait
//! for its answer; the writer takes every event queued meanwhile, inserts them in one
//! statement and one transaction, and only then answers each endpoint, which answers 200. So
//! nothing is acknowledged before it is durable, and under load a commit serves many requests.

use crate::store::{NewWebhookEvent, Store};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// Most events written by one statement.
const MAX_GROUP: usize = 512;
/// Events waiting for the writer before endpoints wait to hand theirs over.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<bool, String>>;

/// A handle on the writer task; the task ends when every handle is gone.
#[derive(Debug, Clone)]
pub(crate) struct InboxWriter {
    queue: mpsc::Sender<(NewWebhookEvent, Reply)>,
}

impl InboxWriter {
    /// Starts the writer over `store`; `wake` is notified after a commit that wrote a new
    /// event.
    pub(crate) fn start(store: Store, wake: Arc<Notify>) -> InboxWriter {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, wake, rx));
        InboxWriter { queue }
    }

    /// Persists `event`; returns whether it was new. `Err` when it could not be written.
    pub(crate) async fn write(&self, event: NewWebhookEvent) -> Result<bool, String> {
        let endpoint = event.endpoint.clone();
        let written = self.send(event).await;
        let outcome = match &written {
            Ok(true) => "new",
            Ok(false) => "duplicate",
            Err(_) => "error",
        };
        crate::telemetry::record_webhook_event(&endpoint, outcome);
        written
    }

    async fn send(&self, event: NewWebhookEvent) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((event, reply))
            .await
            .map_err(|_| "the inbox writer stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the inbox writer stopped".to_string())?
    }
}

async fn run(store: Store, wake: Arc<Notify>, mut rx: mpsc::Receiver<(NewWebhookEvent, Reply)>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (events, replies): (Vec<NewWebhookEvent>, Vec<Reply>) = group.drain(..).unzip();
        let now = chrono::Utc::now().timestamp_millis();
        match store.webhook_event_insert_many(&events, now).await {
            Ok(written) => {
                if written.iter().any(|w| *w) {
                    wake.notify_one();
                }
                for (reply, new) in replies.into_iter().zip(written) {
                    let _ = reply.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = events.len(), "the webhook inbox write failed");
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}
