//! A tower layer that caps how many orders of one lane are handled at once.
//!
//! apalis pulls the next task from the backend only when the service stack is ready, so a
//! service that is not ready while `concurrency` calls run also stops the lane from claiming
//! more work than it can start. (tower's own `ConcurrencyLimit` needs a tower feature this crate
//! does not enable; this is the same idea in a few lines.)

use futures::future::BoxFuture;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

/// Caps in-flight calls at `max`.
#[derive(Debug, Clone)]
pub struct ConcurrencyLayer {
    semaphore: Arc<Semaphore>,
}

impl ConcurrencyLayer {
    /// A layer allowing `max` calls at once (at least one).
    pub fn new(max: usize) -> Self {
        ConcurrencyLayer {
            semaphore: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl<S> Layer<S> for ConcurrencyLayer {
    type Service = Concurrency<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Concurrency {
            inner,
            semaphore: self.semaphore.clone(),
            acquiring: None,
            permit: None,
        }
    }
}

/// The service made by [`ConcurrencyLayer`].
pub struct Concurrency<S> {
    inner: S,
    semaphore: Arc<Semaphore>,
    acquiring: Option<BoxFuture<'static, OwnedSemaphorePermit>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<S: Clone> Clone for Concurrency<S> {
    fn clone(&self) -> Self {
        Concurrency {
            inner: self.inner.clone(),
            semaphore: self.semaphore.clone(),
            acquiring: None,
            permit: None,
        }
    }
}

impl<S, Req> Service<Req> for Concurrency<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            let semaphore = self.semaphore.clone();
            let acquiring = self.acquiring.get_or_insert_with(|| {
                Box::pin(async move {
                    semaphore
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed")
                })
            });
            match acquiring.as_mut().poll(cx) {
                Poll::Ready(permit) => {
                    self.acquiring = None;
                    self.permit = Some(permit);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let permit = self.permit.take().expect("poll_ready before call");
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            drop(permit);
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    #[tokio::test]
    async fn no_more_than_max_calls_run_at_once() {
        // Arrange: a service that records how many calls overlap.
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (r, p) = (running.clone(), peak.clone());
        let inner = tower::service_fn(move |_: u32| {
            let (r, p) = (r.clone(), p.clone());
            async move {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                // Stay in flight across a poll so that calls can overlap.
                tokio::task::yield_now().await;
                r.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, std::convert::Infallible>(())
            }
        });
        let svc = ConcurrencyLayer::new(2).layer(inner);

        // Act: start 20 calls concurrently.
        let calls = (0..20).map(|i| svc.clone().oneshot(i));
        futures::future::join_all(calls).await;

        // Assert
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
        assert!(peak.load(Ordering::SeqCst) >= 1);
    }
}
