//! A fence checked after a call's permit is granted, just before it is sent: a caller that may
//! lose its right to call while waiting for a place (a provisioning job whose lease lapses) runs
//! its calls inside [`fenced`], and a call whose fence no longer holds is not sent
//! ([`crate::ClientError::Fenced`]).

use std::future::Future;
use std::sync::Arc;

type Holds = Arc<dyn Fn() -> bool + Send + Sync>;

tokio::task_local! {
    static FENCE: Holds;
}

/// Runs `work` so that every call it makes (in this task) is sent only while `holds()` is true.
pub async fn fenced<F: Future>(holds: impl Fn() -> bool + Send + Sync + 'static, work: F) -> F::Output {
    FENCE.scope(Arc::new(holds), work).await
}

/// Whether the current task's fence (if any) still holds.
pub(crate) fn holds() -> bool {
    FENCE.try_with(|holds| holds()).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn a_fence_holds_until_its_check_fails_and_none_always_holds() {
        assert!(holds(), "no fence: calls go");
        let held = Arc::new(AtomicBool::new(true));
        let check = held.clone();
        fenced(move || check.load(Ordering::Acquire), async {
            assert!(holds());
            held.store(false, Ordering::Release);
            assert!(!holds());
        })
        .await;
    }
}
