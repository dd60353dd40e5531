//! Smart batching: calls that arrive while earlier ones are in flight, or
//! during one turn of the scheduler after the first, are sent together in one
//! script call. A lone call goes out after that turn (no timer, so no added
//! wait beyond the tasks already runnable); under load, Redis runs one script
//! for many jobs instead of one each, which is where most of its time per job
//! went.

use crate::QueueError;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, oneshot};

type Reply<Resp> = oneshot::Sender<Result<Resp, QueueError>>;

pub(super) struct Batcher<Req, Resp> {
    tx: mpsc::UnboundedSender<(Req, Reply<Resp>)>,
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// `run` gets up to `max` requests and answers them in order. At most
    /// `in_flight` batches run at once; the rest wait and grow.
    pub(super) fn spawn<F, Fut>(max: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Resp>, QueueError>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Req, Reply<Resp>)>();
        let run = Arc::new(run);
        let slots = Arc::new(Semaphore::new(in_flight));
        tokio::spawn(async move {
            // Ends when the owner (and so every sender) is gone.
            while let Some(first) = rx.recv().await {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
                // Calls that other tasks are about to make (say, the submitters woken by one done
                // message) join this batch: one turn of the scheduler, not a timer.
                tokio::task::yield_now().await;
                let mut batch = vec![first];
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let run = Arc::clone(&run);
                tokio::spawn(async move {
                    let _slot = slot;
                    let (requests, replies): (Vec<Req>, Vec<Reply<Resp>>) = batch.into_iter().unzip();
                    let expected = requests.len();
                    match run(requests).await {
                        Ok(responses) if responses.len() == expected => {
                            for (reply, response) in replies.into_iter().zip(responses) {
                                let _ = reply.send(Ok(response));
                            }
                        }
                        Ok(responses) => {
                            let e = QueueError::Corrupt(format!("{} answers to {expected} requests", responses.len()));
                            for reply in replies {
                                let _ = reply.send(Err(QueueError::Corrupt(e.to_string())));
                            }
                        }
                        Err(e) => {
                            for reply in replies {
                                let _ = reply.send(Err(clone_error(&e)));
                            }
                        }
                    }
                });
            }
        });
        Self { tx }
    }

    pub(super) async fn call(&self, request: Req) -> Result<Resp, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((request, reply)).map_err(|_| QueueError::Unavailable("the queue handle is closed".to_owned()))?;
        answer.await.map_err(|_| QueueError::Unavailable("the queue handle is closed".to_owned()))?
    }
}

fn clone_error(e: &QueueError) -> QueueError {
    match e {
        QueueError::Unavailable(m) => QueueError::Unavailable(m.clone()),
        QueueError::Corrupt(m) => QueueError::Corrupt(m.clone()),
        QueueError::Config(m) => QueueError::Config(m.clone()),
        QueueError::Invalid(m) => QueueError::Invalid(m.clone()),
        QueueError::KeyReused { existing, fingerprint } => {
            QueueError::KeyReused { existing: existing.clone(), fingerprint: fingerprint.clone() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_calls_share_batches_and_each_gets_its_own_answer() {
        let batches = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&batches);
        let doubler = Batcher::spawn(64, 1, move |xs: Vec<u32>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                Ok(xs.into_iter().map(|x| x * 2).collect())
            }
        });
        let answers = futures::future::join_all((0..200u32).map(|x| doubler.call(x))).await;
        for (x, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap(), x as u32 * 2);
        }
        assert!(batches.load(Ordering::SeqCst) < 200, "calls were batched");
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_calls() {
        let failing =
            Batcher::spawn(8, 1, |_: Vec<u32>| async { Err::<Vec<u32>, _>(QueueError::Unavailable("down".into())) });
        assert!(matches!(failing.call(1).await, Err(QueueError::Unavailable(m)) if m == "down"));
    }
}
