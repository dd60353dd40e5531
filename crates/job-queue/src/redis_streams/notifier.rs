//! Wake-ups for `wait` from the job-finished channel: one pub/sub connection
//! per queue handle, re-established with backoff when it drops. After every
//! (re)subscription all local waiters re-read their job, which covers the
//! notifications published while the connection was down.

use super::state::parse_done;
use crate::waiters::Waiters;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const PING_EVERY: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the listener; `ready` turns true once subscribed (and false while reconnecting).
pub(crate) fn spawn(
    redis: redis_connect::Redis,
    channel: String,
    waiters: Arc<Waiters>,
    stop: CancellationToken,
) -> watch::Receiver<bool> {
    let (ready_tx, ready_rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = listen(&redis, &channel, &waiters, &ready_tx, &mut backoff) => {}
            }
            ready_tx.send_replace(false);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    });
    ready_rx
}

async fn listen(
    redis: &redis_connect::Redis,
    channel: &str,
    waiters: &Waiters,
    ready: &watch::Sender<bool>,
    backoff: &mut Duration,
) {
    // Asked at every (re)connection: with Sentinel, the primary of now.
    let client = match redis.client().await {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "job notification channel: no Redis primary to connect to; retrying");
            return;
        }
    };
    let mut pubsub = match client.get_async_pubsub().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "job notification channel: cannot connect; retrying");
            return;
        }
    };
    if let Err(e) = pubsub.subscribe(channel).await {
        tracing::warn!(error = %e, "job notification channel: cannot subscribe; retrying");
        return;
    }
    *backoff = Duration::from_millis(50);
    ready.send_replace(true);
    waiters.wake_all();
    let (mut sink, mut messages) = pubsub.split();
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    let states = parse_done(message.get_payload_bytes());
                    if states.is_empty() {
                        tracing::warn!("ignored a malformed job notification");
                    }
                    for state in states {
                        waiters.deliver(state);
                    }
                }
                None => {
                    tracing::warn!("job notification channel closed; reconnecting");
                    return;
                }
            },
            // A half-open TCP connection delivers nothing and reports nothing: probe it.
            _ = pings.tick() => {
                if !answers(&mut sink).await {
                    tracing::warn!("job notification channel does not answer; reconnecting");
                    return;
                }
            }
        }
    }
}

/// Whether the subscribed connection answers a `PING`. In RESP2's subscribed mode the answer is
/// the array `["pong", ""]`, not the `PONG` status: any answer will do (read as a string, every
/// probe failed, and the channel was dropped and subscribed again every 15 s).
async fn answers(sink: &mut redis::aio::PubSubSink) -> bool {
    matches!(tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subscribed_connection_that_answers_its_ping_is_alive() {
        let client = redis::Client::open(test_support::redis_url()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.expect("the tests need Redis at REDIS_URL");
        pubsub.subscribe("job-queue-notifier-test").await.unwrap();
        let (mut sink, _messages) = pubsub.split();
        assert!(answers(&mut sink).await);
    }
}
