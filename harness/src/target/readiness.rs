//! Waiting for a launcher the harness started, the same way for a host
//! process and a container: ask until it answers as ready, it has exited
//! (its last lines say why), Ctrl-C, or the deadline.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::TargetError;

/// What one look at a starting launcher found.
pub enum Check<T> {
    /// It answers, and this answer says it is ready.
    Ready(T),
    /// Not yet: ask again.
    Waiting,
    /// It will never be ready (it exited): why.
    Failed(TargetError),
}

/// When to give up, and how often to ask.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    pub timeout: Duration,
    pub interval: Duration,
}

impl Readiness {
    /// Ask `check` until it is ready or has failed; `started` is when the
    /// launcher was started (the timeout counts from there).
    pub async fn wait<T>(&self, started: Instant, cancel: Option<&CancellationToken>, mut check: impl AsyncFnMut() -> Check<T>) -> Result<T, TargetError> {
        let deadline = started + self.timeout;
        let never = CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        loop {
            match check().await {
                Check::Ready(answer) => return Ok(answer),
                Check::Failed(why) => return Err(why),
                Check::Waiting => {}
            }
            if Instant::now() > deadline {
                return Err(TargetError::StartupTimeout(self.timeout));
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                () = cancel.cancelled() => return Err(TargetError::Interrupted),
            }
        }
    }
}

/// The last `n` non-blank lines of a launcher's output, for error messages.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A launcher that exited while starting: its last lines logged, the last one said.
pub(super) fn exited(what: String, status: String, output: &str) -> TargetError {
    let tail = last_lines(output, 8);
    tracing::warn!("{what}'s last lines:\n{tail}");
    let last_line = tail.lines().last().unwrap_or("(it printed nothing)").trim().to_string();
    TargetError::Exited { what, status, last_line }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Readiness = Readiness { timeout: Duration::from_millis(200), interval: Duration::from_millis(1) };

    #[tokio::test]
    async fn asks_until_ready() {
        let mut asked = 0;
        let answer = QUICK
            .wait(Instant::now(), None, async || {
                asked += 1;
                if asked < 3 { Check::Waiting } else { Check::Ready(asked) }
            })
            .await;
        assert_eq!(answer.unwrap(), 3);
    }

    #[tokio::test]
    async fn an_exit_ends_the_wait_with_its_reason_and_so_do_the_deadline_and_ctrl_c() {
        let exited = QUICK.wait::<()>(Instant::now(), None, async || Check::Failed(TargetError::PortInUse(5000))).await;
        assert!(matches!(exited, Err(TargetError::PortInUse(5000))));
        let late = QUICK.wait::<()>(Instant::now(), None, async || Check::Waiting).await;
        assert!(matches!(late, Err(TargetError::StartupTimeout(_))));
        let cancel = CancellationToken::new();
        cancel.cancel();
        let slow = Readiness { timeout: Duration::from_secs(60), interval: Duration::from_secs(60) };
        let interrupted = slow.wait::<()>(Instant::now(), Some(&cancel), async || Check::Waiting).await;
        assert!(matches!(interrupted, Err(TargetError::Interrupted)));
    }

    #[test]
    fn last_lines_skips_blank_ones() {
        assert_eq!(last_lines("a\n\nb\n  \nc\n", 2), "b\nc");
        assert_eq!(last_lines("", 8), "");
    }
}
