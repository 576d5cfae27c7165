//! A second thread that computes one half of a split product while the
//! calling thread computes the other.
//!
//! A training step of W2 runs five large products, each about a
//! millisecond, separated by small kernels of tens of microseconds. A
//! general pool (rayon) lets its idle workers fall asleep within those
//! gaps, and a call from outside the pool hands *both* halves to workers,
//! so every product pays two wake-ups. Here the caller computes one half
//! itself, and the one helper thread spins for a short while
//! ([`SPIN`]) after each job before it parks: within a step it is always
//! awake when the next product arrives, and between runs it sleeps.
//!
//! # Invariants
//!
//! - [`both`] returns only after the helper has finished its half, even
//!   when the caller's half panics (a guard waits in `Drop`), so the
//!   borrowed job never outlives the call.
//! - One caller at a time owns the helper (a `try_lock`); a concurrent
//!   caller, or a process that cannot start a thread, runs both halves
//!   itself, one after the other. The halves write disjoint memory and
//!   each is computed in a fixed order, so the results do not depend on
//!   which thread ran what.
//! - A busy machine never makes the caller wait for a helper that is not
//!   running: a job the helper has not claimed when the caller's own half
//!   is done is taken back and run by the caller. After [`SPIN`] the
//!   helper parks, and the caller yields its time slice while it waits
//!   for a half the helper has started.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the helper stays awake after a job, and how long the caller
/// spins before it starts yielding.
const SPIN: Duration = Duration::from_micros(200);

const IDLE: u32 = 0;
const POSTED: u32 = 1;
const RUNNING: u32 = 2;
const DONE: u32 = 3;
const FAILED: u32 = 4;

type Job = *const (dyn Fn() + Sync);

/// What the caller and the helper share.
struct Shared {
    state: AtomicU32,
    /// The posted job; written by the caller before `state` becomes
    /// `POSTED`, read by the helper after it sees `POSTED`.
    job: UnsafeCell<Option<Job>>,
}

// SAFETY: `job` is written only by the caller that owns the helper (under
// the mutex) while the helper is not reading it (state `IDLE`), and read
// only by the helper between seeing `POSTED` (acquire) and publishing
// `DONE` (release); the state machine orders the two.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// The helper thread and its shared state.
struct Helper {
    shared: Arc<Shared>,
    thread: Thread,
}

impl Helper {
    fn start() -> Option<Helper> {
        let shared = Arc::new(Shared {
            state: AtomicU32::new(IDLE),
            job: UnsafeCell::new(None),
        });
        let theirs = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("nnc-cpu-pair".into())
            .spawn(move || serve(&theirs))
            .ok()?;
        Some(Helper {
            shared,
            thread: handle.thread().clone(),
        })
    }
}

/// The helper's loop: wait for a job (spinning for [`SPIN`], then
/// parked), run it, report.
fn serve(shared: &Shared) {
    loop {
        let mut since = Instant::now();
        let mut spins = 0u32;
        loop {
            // Claim a posted job; the caller may have taken it back.
            if shared.state.load(Ordering::Acquire) == POSTED
                && shared
                    .state
                    .compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && since.elapsed() > SPIN {
                std::thread::park();
                since = Instant::now();
            } else {
                std::hint::spin_loop();
            }
        }
        // SAFETY: the caller wrote the job before publishing `POSTED`
        // and, once we hold it (`RUNNING`), keeps it alive until it sees
        // `DONE` or `FAILED`.
        let job = unsafe { *shared.job.get() };
        let ran = job.is_some_and(|job| {
            // SAFETY: as above, the pointee outlives this call.
            let job = unsafe { &*job };
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_ok()
        });
        shared
            .state
            .store(if ran { DONE } else { FAILED }, Ordering::Release);
    }
}

fn helper() -> Option<&'static Mutex<Helper>> {
    static HELPER: OnceLock<Option<Mutex<Helper>>> = OnceLock::new();
    HELPER
        .get_or_init(|| Helper::start().map(Mutex::new))
        .as_ref()
}

/// Waits until the helper has finished the posted job: in
/// [`Wait::finish`], or in `Drop` when the caller's half unwinds.
struct Wait<'a> {
    shared: &'a Shared,
    finished: bool,
}

impl Wait<'_> {
    /// Waits for the helper, clears the job and returns whether the
    /// helper's half ran to its end. When the helper has not claimed the
    /// job yet (on a busy machine it may not be running at all), the job
    /// is taken back and run here: `second` then runs on this thread.
    fn finish(&mut self, second: &(dyn Fn() + Sync)) -> bool {
        let taken_back = self
            .shared
            .state
            .compare_exchange(POSTED, IDLE, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        let ok = if taken_back {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(second)).is_ok()
        } else {
            let started = Instant::now();
            let state = loop {
                match self.shared.state.load(Ordering::Acquire) {
                    s @ (DONE | FAILED) => break s,
                    _ if started.elapsed() < SPIN => std::hint::spin_loop(),
                    _ => std::thread::yield_now(),
                }
            };
            state == DONE
        };
        // SAFETY: the helper is done with the job, or never claimed it (it
        // reads nothing more until the next `POSTED`).
        unsafe { *self.shared.job.get() = None };
        self.shared.state.store(IDLE, Ordering::Release);
        self.finished = true;
        ok
    }

    /// Waits until the helper no longer uses the job (for unwinding).
    fn release(&mut self) {
        if self
            .shared
            .state
            .compare_exchange(POSTED, IDLE, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while !matches!(self.shared.state.load(Ordering::Acquire), DONE | FAILED) {
                std::thread::yield_now();
            }
        }
        // SAFETY: as in `finish`.
        unsafe { *self.shared.job.get() = None };
        self.shared.state.store(IDLE, Ordering::Release);
        self.finished = true;
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.release();
        }
    }
}

/// Whether the machine has the two cores a split kernel needs (asked at
/// lowering: asking allocates).
pub(crate) fn two_cores() -> bool {
    cores() >= 2
}

/// The cores this process may use, asked of the system once: on Linux the
/// question reads the cgroup files, a tenth of a millisecond that a graph
/// of thousands of kernels would pay for each.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()))
}

/// Runs `first` on this thread and `second` on the helper thread, and
/// returns when both are done: `false` if `second` panicked (then its
/// work is incomplete). Runs both here, one after the other, when the
/// helper is busy with another caller or could not be started.
pub(crate) fn both(first: &(dyn Fn() + Sync), second: &(dyn Fn() + Sync)) -> bool {
    let guard = helper().and_then(|h| h.try_lock().ok());
    let Some(helper) = guard else {
        first();
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(second)).is_ok();
    };
    let shared: &Shared = &helper.shared;
    // SAFETY: erasing the lifetime of `second` is sound because `Wait`
    // (below) does not let this function return, or unwind, before the
    // helper has published that it is done with the job.
    let job: Job = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), Job>(second) };
    // SAFETY: the helper is idle (state `IDLE`, and we hold the lock), so
    // nobody reads the job while we write it.
    unsafe { *shared.job.get() = Some(job) };
    shared.state.store(POSTED, Ordering::Release);
    helper.thread.unpark();
    let mut wait = Wait {
        shared,
        finished: false,
    };
    first();
    wait.finish(second)
}

/// A half's work: its own state (`L`), its index (0 or 1) and its part
/// of the result (`T`).
pub(crate) type HalfJob<'a, L, T> = dyn Fn(&mut L, usize, &mut T) -> bool + Sync + 'a;

/// Runs `job` for both halves of a batch, at once on two cores ([`both`]),
/// one after the other on one; `false` if either failed.
pub(crate) fn on_halves<L: Send, T: Send>(
    lanes: &mut [L; 2],
    parts: [T; 2],
    job: &HalfJob<'_, L, T>,
) -> bool {
    let [l0, l1] = lanes;
    let [o0, o1] = parts;
    let ok = [
        std::sync::atomic::AtomicBool::new(true),
        std::sync::atomic::AtomicBool::new(true),
    ];
    let parts = [
        std::sync::Mutex::new((l0, o0)),
        std::sync::Mutex::new((l1, o1)),
    ];
    let half = |h: usize| {
        // Each half locks only its own part (never contended).
        let done = match parts[h].lock() {
            Ok(mut part) => {
                let (lane, out) = &mut *part;
                job(lane, h, out)
            }
            Err(_) => false,
        };
        if !done {
            ok[h].store(false, Ordering::Relaxed);
        }
    };
    let ran = if two_cores() {
        both(&|| half(0), &|| half(1))
    } else {
        half(0);
        half(1);
        true
    };
    ran && ok.iter().all(|o| o.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn both_halves_run_and_the_helper_survives_a_panic() {
        let count = AtomicUsize::new(0);
        let add = || {
            count.fetch_add(1, Ordering::SeqCst);
        };
        for _ in 0..100 {
            assert!(both(&add, &add));
        }
        assert_eq!(count.load(Ordering::SeqCst), 200);
        let boom = || panic!("a half that fails");
        assert!(!both(&add, &boom));
        assert!(both(&add, &add));
        assert_eq!(count.load(Ordering::SeqCst), 203);
    }

    #[test]
    fn concurrent_callers_all_finish() {
        let count = AtomicUsize::new(0);
        let add = || {
            count.fetch_add(1, Ordering::SeqCst);
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        assert!(both(&add, &add));
                    }
                });
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 4 * 200 * 2);
    }
}
