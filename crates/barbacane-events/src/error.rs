//! The two ways a broker call fails: a publish (or the start of a subscription) that did not
//! happen, and a subscription that ended.

/// Why a publish, or the start of a subscription, failed.
///
/// The three kinds map onto what an HTTP bridge answers: [`Unavailable`](Self::Unavailable)
/// and [`Timeout`](Self::Timeout) are the broker's fault (retry later), [`Rejected`](Self::Rejected)
/// is the message's (retrying the same message will fail the same way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The broker could not be reached: connect failed, the connection is down, no route.
    /// The message was not published, or the connection was lost before the broker confirmed
    /// it (then it was most likely lost with the connection).
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// No answer within the caller's timeout. The outcome is unknown: the message may still
    /// reach the broker (as with any client whose acknowledgement is lost).
    #[error("no acknowledgement from the broker in time")]
    Timeout,
    /// The broker, or the client before sending, refused this message: unknown topic, no
    /// JetStream stream for the subject, too large, invalid subject or header.
    #[error("rejected: {0}")]
    Rejected(String),
}

/// Why a [`Subscription`](crate::Subscription) ended. It yields no more events after this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The reader fell behind: more than `buffer` events were waiting for it. Memory stays
    /// bounded; the subscriber is expected to reconnect.
    #[error("subscriber fell behind by more than {buffer} events")]
    Lagged {
        /// The buffer the subscription was opened with.
        buffer: usize,
    },
    /// The broker connection failed for good, or the broker ended the subscription.
    #[error("subscription ended by the broker: {0}")]
    Broker(String),
}
