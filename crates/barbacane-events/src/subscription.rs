//! [`Subscription`]: the reader's end of a subscription, and [`Feed`], the end the broker
//! task writes to.
//!
//! Between the two sits a bounded channel of `buffer` events. The broker task never waits on
//! it: when the reader is so far behind that the channel is full, the feed records
//! [`SubscriptionError::Lagged`] and the task stops (a slow reader is disconnected, memory
//! stays bounded). Dropping the [`Subscription`] aborts the task, which drops the broker-side
//! subscription (NATS unsubscribes, Kafka consumers close their connections).

use crate::stats::Counters;
use crate::{Event, SubscriptionError};
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// A live subscription: a stream of [`Event`]s, ending with one `Err` that says why.
///
/// Read it with [`next`](Self::next) or as a [`futures_util::Stream`]. Events buffered before
/// an error are delivered before it; after the error the stream yields `None`. Dropping it
/// ends the subscription at the broker.
#[derive(Debug)]
pub struct Subscription {
    events: mpsc::Receiver<Event>,
    end: Option<oneshot::Receiver<SubscriptionError>>,
    task: AbortHandle,
    counters: Arc<Counters>,
}

/// The broker task's end of a [`Subscription`].
#[derive(Debug)]
pub(crate) struct Feed {
    events: mpsc::Sender<Event>,
    end: Option<oneshot::Sender<SubscriptionError>>,
    buffer: usize,
    counters: Arc<Counters>,
}

/// A subscription's two ends; `buffer` is at least 1.
pub(crate) fn channel(buffer: usize, counters: Arc<Counters>) -> (Feed, Pending) {
    let buffer = buffer.max(1);
    let (tx, rx) = mpsc::channel(buffer);
    let (end_tx, end_rx) = oneshot::channel();
    (
        Feed {
            events: tx,
            end: Some(end_tx),
            buffer,
            counters: Arc::clone(&counters),
        },
        Pending {
            events: rx,
            end: end_rx,
            counters,
        },
    )
}

/// The reader's end before the broker task is spawned.
#[derive(Debug)]
pub(crate) struct Pending {
    events: mpsc::Receiver<Event>,
    end: oneshot::Receiver<SubscriptionError>,
    counters: Arc<Counters>,
}

impl Pending {
    /// The subscription, owning `task` (the broker task feeding it).
    pub(crate) fn start(self, task: AbortHandle) -> Subscription {
        self.counters.subscription_opened();
        Subscription {
            events: self.events,
            end: Some(self.end),
            task,
            counters: self.counters,
        }
    }
}

impl Feed {
    /// Hands `event` to the reader without waiting. `false`: the subscription is over (the
    /// reader fell behind or went away) and the task should stop.
    pub(crate) fn push(&mut self, event: Event) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.lagged();
                self.finish(SubscriptionError::Lagged {
                    buffer: self.buffer,
                });
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Ends the subscription with `error` (the first reason given wins).
    pub(crate) fn finish(&mut self, error: SubscriptionError) {
        if let Some(end) = self.end.take() {
            let _ = end.send(error);
        }
    }
}

impl Subscription {
    /// The next event, the error that ended the subscription, or `None` after that error.
    pub async fn next(&mut self) -> Option<Result<Event, SubscriptionError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Subscription {
    type Item = Result<Event, SubscriptionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(event) = ready!(self.events.poll_recv(cx)) {
            return Poll::Ready(Some(Ok(event)));
        }
        // Every sender is gone, so the task has stopped; it gave its reason before that.
        Poll::Ready(self.end.take().map(|mut end| {
            Err(end.try_recv().unwrap_or_else(|_| {
                SubscriptionError::Broker("the broker runtime stopped".to_owned())
            }))
        }))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
        self.counters.subscription_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(n: usize) -> Event {
        Event {
            id: n.to_string(),
            subject: "s".into(),
            headers: vec![],
            payload: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_gets_the_buffer_then_lagged() {
        let counters = Arc::new(Counters::default());
        let (mut feed, pending) = channel(2, counters.clone());
        let task = tokio::spawn(async move {
            let mut n = 0;
            while feed.push(event(n)) {
                n += 1;
            }
            n
        });
        let mut sub = pending.start(task.abort_handle());
        assert_eq!(task.await.unwrap(), 2);
        assert_eq!(sub.next().await.unwrap().unwrap().id, "0");
        assert_eq!(sub.next().await.unwrap().unwrap().id, "1");
        assert_eq!(
            sub.next().await.unwrap(),
            Err(SubscriptionError::Lagged { buffer: 2 })
        );
        assert!(sub.next().await.is_none());
        assert_eq!(counters.snapshot().lagged_subscriptions, 1);
        assert_eq!(counters.snapshot().active_subscriptions, 1);
        drop(sub);
        assert_eq!(counters.snapshot().active_subscriptions, 0);
    }

    #[tokio::test]
    async fn dropping_the_subscription_stops_the_task() {
        let counters = Arc::new(Counters::default());
        let (feed, pending) = channel(4, counters);
        let task = tokio::spawn(async move {
            let _feed = feed;
            std::future::pending::<()>().await
        });
        let sub = pending.start(task.abort_handle());
        drop(sub);
        assert!(task.await.unwrap_err().is_cancelled());
    }
}
