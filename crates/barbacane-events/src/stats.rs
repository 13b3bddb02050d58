//! Counters kept by [`Brokers`](crate::Brokers), and the once-per-outage log lines.

use crate::PublishError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A snapshot of [`Brokers`](crate::Brokers)' counters, across every broker it talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Publishes the broker acknowledged.
    pub published: u64,
    /// Publishes that failed, whatever the reason (including timeouts).
    pub failed: u64,
    /// Connections re-established after a loss: NATS reconnections, Kafka clients rebuilt.
    pub reconnects: u64,
    /// Subscriptions open now.
    pub active_subscriptions: u64,
    /// Subscriptions ended because their reader fell behind.
    pub lagged_subscriptions: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    failed: AtomicU64,
    reconnects: AtomicU64,
    active_subscriptions: AtomicU64,
    lagged_subscriptions: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> BrokerStats {
        BrokerStats {
            published: self.published.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            active_subscriptions: self.active_subscriptions.load(Ordering::Relaxed),
            lagged_subscriptions: self.lagged_subscriptions.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn published(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn subscription_opened(&self) {
        self.active_subscriptions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn subscription_closed(&self) {
        self.active_subscriptions.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn lagged(&self) {
        self.lagged_subscriptions.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether one broker endpoint is in an outage, so that an outage logs one warning when it
/// starts and one line when it ends, however many calls fail in between.
#[derive(Debug)]
pub(crate) struct Health {
    kind: &'static str,
    /// The endpoint as it may be logged (credentials removed).
    target: String,
    down: AtomicBool,
}

impl Health {
    pub(crate) fn new(kind: &'static str, endpoint: &str) -> Health {
        Health {
            kind,
            target: redact(endpoint),
            down: AtomicBool::new(false),
        }
    }

    /// The endpoint, safe to log.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// Records a failure; warns if it starts an outage. Rejections are the message's fault,
    /// not the broker's, and do not count.
    pub(crate) fn failed(&self, error: &PublishError) {
        if matches!(error, PublishError::Rejected(_)) {
            return;
        }
        self.down_because(&error.to_string());
    }

    pub(crate) fn down_because(&self, reason: &str) {
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                broker = self.kind,
                target = %self.target,
                error = reason,
                "broker unreachable; calls fail until it is back (logged once per outage)"
            );
        }
    }

    /// Records a success; logs the end of an outage.
    pub(crate) fn ok(&self) {
        if self.down.load(Ordering::Acquire) && self.down.swap(false, Ordering::AcqRel) {
            tracing::info!(broker = self.kind, target = %self.target, "broker reachable again");
        }
    }
}

/// `endpoint` without the user information of any URL in it (`nats://user:pass@host` ->
/// `nats://***@host`), for logs and error messages.
pub(crate) fn redact(endpoint: &str) -> String {
    endpoint
        .split(',')
        .map(|one| {
            let (scheme, rest) = match one.find("://") {
                Some(i) => one.split_at(i + 3),
                None => ("", one),
            };
            match rest.rfind('@') {
                Some(at) => format!("{scheme}***{}", &rest[at..]),
                None => one.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credentials_are_not_logged() {
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("nats://u:p@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("tok@h:1,nats://a:b@c"), "***@h:1,nats://***@c");
        assert_eq!(redact("h1:9092, h2:9092"), "h1:9092, h2:9092");
    }
}
