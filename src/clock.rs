//! Time comes from here, so tests can move it across month and year boundaries without sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Clone)]
pub enum Clock {
    System,
    /// A clock that only moves when told to; shared by a test and the app it spawned.
    Manual(Arc<ManualClock>),
}

pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: Notify,
}

impl Clock {
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(ManualClock {
            now: Mutex::new(start),
            moved: Notify::new(),
        }))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(m) => *m.now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    pub fn now_micros(&self) -> i64 {
        self.now().timestamp_micros()
    }

    /// Moves a manual clock, waking whoever sleeps on it; the system clock cannot be moved.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Clock::Manual(m) = self {
            *m.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
            m.moved.notify_waiters();
        }
    }

    pub fn advance(&self, by: Duration) {
        self.set(self.now() + by);
    }

    /// Returns once the clock reads `deadline` or later.
    pub async fn sleep_until(&self, deadline: DateTime<Utc>) {
        match self {
            Clock::System => {
                if let Ok(wait) = (deadline - Utc::now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
            }
            Clock::Manual(m) => loop {
                let moved = m.moved.notified();
                if self.now() >= deadline {
                    return;
                }
                moved.await;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_moved_past_their_deadline() {
        let start = DateTime::parse_from_rfc3339("2026-01-31T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(start + Duration::minutes(1)).await }
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::seconds(30));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::seconds(30));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .unwrap()
            .unwrap();
    }
}
