//! The lane on a virtual clock: time moves only when the lane sleeps or a test advances it, so
//! the measured durations are the limiter's, not the machine's.

use super::*;
use crate::lanes::MAX_PAUSE;

struct Virtual {
    time: Arc<VirtualTime>,
    lane: LocalLane,
}

fn lane(rate: f64) -> Virtual {
    let time = Arc::new(VirtualTime {
        origin: Instant::now(),
        offset_nanos: Default::default(),
    });
    let lane = LocalLane::with_clock(rate, LaneClock::Virtual(time.clone()));
    Virtual { time, lane }
}

impl Virtual {
    fn now(&self) -> Instant {
        LaneClock::Virtual(self.time.clone()).instant()
    }

    fn advance(&self, by: Duration) {
        self.time.advance_to(self.now() + by);
    }

    async fn acquire_n(&self, n: usize) -> Duration {
        let start = self.now();
        for _ in 0..n {
            self.lane.acquire().await;
        }
        self.now() - start
    }
}

#[tokio::test]
async fn permits_come_at_the_configured_rate_after_a_small_burst() {
    // Arrange: 10 calls/s, burst 1.
    let v = lane(10.0);

    // Act: 21 calls: the first at once, then one every 100 ms.
    let took = v.acquire_n(21).await;

    // Assert
    assert!(
        took >= Duration::from_millis(1_990) && took <= Duration::from_millis(2_010),
        "{took:?}"
    );
    assert_eq!(v.lane.stats().permits, 21);
}

#[tokio::test]
async fn a_rate_limited_answer_pauses_the_lane_until_retry_after() {
    // Arrange
    let v = lane(100.0);
    v.lane.acquire().await;

    // Act
    v.lane.record(true, Some(Duration::from_secs(3)));
    let took = v.acquire_n(1).await;

    // Assert
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert_eq!(v.lane.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_retry_after_of_years_pauses_the_lane_for_an_hour_and_does_not_panic() {
    // Arrange
    let v = lane(100.0);
    v.lane.acquire().await;

    // Act: what a provider sending `Retry-After: 18446744073709551615` would ask for.
    v.lane.record(true, Some(Duration::MAX));
    let took = v.acquire_n(1).await;

    // Assert
    assert!(took >= MAX_PAUSE - Duration::from_millis(20), "{took:?}");
    assert!(took <= MAX_PAUSE + Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn a_burst_of_rate_limited_answers_halves_the_rate_once() {
    // Arrange
    let v = lane(40.0);

    // Act: the 8 calls that were in flight all come back 429 at once.
    for _ in 0..8 {
        v.lane.record(true, None);
    }

    // Assert
    assert_eq!(v.lane.stats().effective_rate, 20.0);
    assert_eq!(v.lane.stats().rate_limited, 8);

    // Act: still limited more than a second later: a second cut.
    v.advance(Duration::from_millis(1_100));
    v.lane.record(true, None);
    assert_eq!(v.lane.stats().effective_rate, 10.0);
}

#[tokio::test]
async fn the_slowed_lane_lets_calls_through_at_the_cut_rate() {
    // Arrange: 20/s cut to 10/s.
    let v = lane(20.0);
    v.lane.record(true, None);

    // Act: 11 calls at 10/s (burst 1) take a second.
    let took = v.acquire_n(11).await;

    // Assert
    assert!(
        took >= Duration::from_millis(990) && took <= Duration::from_millis(1_010),
        "{took:?}"
    );
}

#[tokio::test]
async fn the_rate_recovers_by_a_tenth_per_clean_second_up_to_the_configured_rate() {
    // Arrange
    let v = lane(50.0);
    v.lane.record(true, None);
    assert_eq!(v.lane.stats().effective_rate, 25.0);

    // Act / Assert: a clean call less than a second later changes nothing.
    v.advance(Duration::from_millis(500));
    v.lane.record(false, None);
    assert_eq!(v.lane.stats().effective_rate, 25.0);

    // Each further clean second gives back 5/s.
    let mut seen = Vec::new();
    for _ in 0..8 {
        v.advance(Duration::from_secs(1));
        v.lane.record(false, None);
        seen.push(v.lane.stats().effective_rate);
    }
    assert_eq!(seen, vec![30.0, 35.0, 40.0, 45.0, 50.0, 50.0, 50.0, 50.0]);
}

#[tokio::test]
async fn a_rate_limited_answer_restarts_the_count_of_clean_seconds() {
    // Arrange: cut at t=0, second 429 at t=0.5 (no second cut).
    let v = lane(50.0);
    v.lane.record(true, None);
    v.advance(Duration::from_millis(500));
    v.lane.record(true, None);

    // Act: 0.9 s after the second 429 (1.4 s after the cut).
    v.advance(Duration::from_millis(900));
    v.lane.record(false, None);

    // Assert
    assert_eq!(v.lane.stats().effective_rate, 25.0);
}
