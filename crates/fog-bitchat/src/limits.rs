//! Rate limits (PROTOCOL.md §3.5): token buckets and sliding windows, keyed per peer or per
//! content, with bounded memory. Pure: the caller passes the clock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Keys idle this long are forgotten when a map grows past [`MAX_KEYS`].
const IDLE_MS: u64 = 60_000;
const MAX_KEYS: usize = 4096;

/// `burst` tokens at most, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    fn take(&mut self, rate: Rate, now_ms: u64) -> bool {
        let elapsed_s = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed_s * rate.per_second).min(rate.burst);
        self.last_ms = self.last_ms.max(now_ms);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// One token bucket per key; a key first seen starts full.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Rate,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq> Buckets<K> {
    pub fn new(rate: Rate) -> Self {
        Self { rate, buckets: HashMap::new() }
    }

    /// True when `key` may do one more thing now (and counts it).
    pub fn take(&mut self, key: K, now_ms: u64) -> bool {
        if self.buckets.len() >= MAX_KEYS {
            self.buckets.retain(|_, b| now_ms.saturating_sub(b.last_ms) < IDLE_MS);
        }
        let rate = self.rate;
        self.buckets.entry(key).or_insert(Bucket { tokens: rate.burst, last_ms: now_ms }).take(rate, now_ms)
    }
}

/// At most `max` events in any `span_ms`.
#[derive(Debug, Clone)]
pub struct Window {
    max: usize,
    span_ms: u64,
    times: VecDeque<u64>,
}

impl Window {
    pub fn new(max: usize, span_ms: u64) -> Self {
        Self { max, span_ms, times: VecDeque::new() }
    }

    /// True when one more event fits now (and counts it).
    pub fn admit(&mut self, now_ms: u64) -> bool {
        while self.times.front().is_some_and(|t| now_ms.saturating_sub(*t) >= self.span_ms) {
            self.times.pop_front();
        }
        if self.times.len() >= self.max {
            return false;
        }
        self.times.push_back(now_ms);
        true
    }

    fn last(&self) -> u64 {
        self.times.back().copied().unwrap_or(0)
    }
}

/// One sliding window per key.
#[derive(Debug)]
pub struct Windows<K> {
    max: usize,
    span_ms: u64,
    windows: HashMap<K, Window>,
}

impl<K: Hash + Eq> Windows<K> {
    pub fn new(max: usize, span_ms: u64) -> Self {
        Self { max, span_ms, windows: HashMap::new() }
    }

    pub fn admit(&mut self, key: K, now_ms: u64) -> bool {
        if self.windows.len() >= MAX_KEYS {
            let keep = self.span_ms.max(IDLE_MS);
            self.windows.retain(|_, w| now_ms.saturating_sub(w.last()) < keep);
        }
        let (max, span_ms) = (self.max, self.span_ms);
        self.windows.entry(key).or_insert_with(|| Window::new(max, span_ms)).admit(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let mut buckets = Buckets::new(Rate { burst: 3.0, per_second: 0.5 });
        assert_eq!((0..5).filter(|_| buckets.take("a", 0)).count(), 3);
        assert!(buckets.take("b", 0), "keys are separate");
        assert!(!buckets.take("a", 1_999));
        assert!(buckets.take("a", 2_000), "one token back after 2 s at 0.5/s");
        assert!(!buckets.take("a", 2_000));
        assert_eq!((0..5).filter(|_| buckets.take("a", 60_000)).count(), 3, "never above the burst");
    }

    #[test]
    fn a_clock_going_back_takes_no_tokens_and_gives_none() {
        let mut buckets = Buckets::new(Rate { burst: 1.0, per_second: 1.0 });
        assert!(buckets.take(1, 10_000));
        assert!(!buckets.take(1, 5_000));
        assert!(buckets.take(1, 11_000));
    }

    #[test]
    fn a_window_slides() {
        let mut window = Window::new(2, 60_000);
        assert!(window.admit(0) && window.admit(10));
        assert!(!window.admit(59_999));
        assert!(window.admit(60_000), "the first has left the window");
        assert!(!window.admit(60_005));
    }

    #[test]
    fn maps_stay_bounded() {
        let mut windows = Windows::new(1, 1_000);
        let mut buckets = Buckets::new(Rate { burst: 1.0, per_second: 1.0 });
        for key in 0..3 * MAX_KEYS as u64 {
            windows.admit(key, key * 100);
            buckets.take(key, key * 100);
        }
        assert!(windows.windows.len() <= MAX_KEYS && buckets.buckets.len() <= MAX_KEYS);
    }
}
