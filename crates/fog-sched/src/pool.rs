//! Worker threads that live as long as one optimiser run and take its batches of work, so a
//! generation does not pay for spawning threads. Results come back in input order whatever
//! thread computed them, so a seeded run is the same on any number of threads.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

struct Batch<T, R> {
    items: Vec<Mutex<Option<T>>>,
    results: Vec<Mutex<Option<R>>>,
    /// The next item to claim.
    next: AtomicUsize,
    /// Items not finished yet.
    left: AtomicUsize,
}

impl<T, R> Batch<T, R> {
    /// Claims and computes items until none is left to claim.
    fn work(&self, f: &impl Fn(T) -> R) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = self.items.get(i) else { return };
            let item = slot.lock().unwrap_or_else(|p| p.into_inner()).take().expect("claimed once");
            *self.results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(f(item));
            self.left.fetch_sub(1, Ordering::Release);
        }
    }
}

struct Shared<T, R> {
    batch: Mutex<Option<Arc<Batch<T, R>>>>,
    /// Bumped for every batch, so a worker knows there is new work.
    epoch: AtomicU64,
    stop: AtomicBool,
}

/// `threads - 1` workers plus the calling thread, all applying `f`.
pub struct Pool<'scope, T, R, F> {
    shared: Arc<Shared<T, R>>,
    workers: Vec<ScopedJoinHandle<'scope, ()>>,
    f: &'scope F,
}

/// Spins this many times for new work before sleeping until woken.
const SPINS: u32 = 100_000;

impl<'scope, T, R, F> Pool<'scope, T, R, F>
where
    T: Send + 'scope,
    R: Send + 'scope,
    F: Fn(T) -> R + Sync,
{
    pub fn new<'env>(scope: &'scope Scope<'scope, 'env>, threads: usize, f: &'scope F) -> Self {
        let shared =
            Arc::new(Shared { batch: Mutex::new(None), epoch: AtomicU64::new(0), stop: AtomicBool::new(false) });
        let workers = (1..threads.max(1))
            .map(|_| {
                let shared = shared.clone();
                scope.spawn(move || {
                    let mut seen = 0;
                    loop {
                        let mut spins = 0;
                        while shared.epoch.load(Ordering::Acquire) == seen && !shared.stop.load(Ordering::Acquire) {
                            if spins < SPINS {
                                spins += 1;
                                std::hint::spin_loop();
                            } else {
                                std::thread::park();
                            }
                        }
                        if shared.stop.load(Ordering::Acquire) {
                            return;
                        }
                        seen = shared.epoch.load(Ordering::Acquire);
                        let batch = shared.batch.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        if let Some(batch) = batch {
                            batch.work(f);
                        }
                    }
                })
            })
            .collect();
        Pool { shared, workers, f }
    }

    /// `f` of every item, in order.
    pub fn map(&self, items: Vec<T>) -> Vec<R> {
        if self.workers.is_empty() || items.len() < 2 {
            return items.into_iter().map(self.f).collect();
        }
        let n = items.len();
        let batch = Arc::new(Batch {
            items: items.into_iter().map(|t| Mutex::new(Some(t))).collect(),
            results: (0..n).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            left: AtomicUsize::new(n),
        });
        *self.shared.batch.lock().unwrap_or_else(|p| p.into_inner()) = Some(batch.clone());
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        for worker in &self.workers {
            worker.thread().unpark();
        }
        batch.work(self.f);
        // The last items may still be in a worker's hands.
        while batch.left.load(Ordering::Acquire) > 0 {
            std::hint::spin_loop();
        }
        *self.shared.batch.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // A worker may still hold the batch for a moment after its last item: take the results
        // out rather than unwrapping it.
        batch.results.iter().map(|r| r.lock().unwrap_or_else(|p| p.into_inner()).take().expect("computed")).collect()
    }
}

impl<T, R, F> Drop for Pool<'_, T, R, F> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for worker in &self.workers {
            worker.thread().unpark();
        }
    }
}
