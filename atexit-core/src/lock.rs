//! The registry's lock: a spin lock that yields, biased towards one thread.
//!
//! Every critical section of the registry is a few dozen instructions (push
//! a slot, pop a slot), never user code. Almost always one thread does all
//! the registering and the running: the main thread. On this machine's kind
//! of hardware an atomic read-modify-write costs about as much as the rest
//! of a registration, so the lock is *biased*: the first thread to take it
//! becomes its owner, and the owner takes and releases it with plain stores
//! and loads, no atomic read-modify-write and no hardware fence.
//!
//! Any other thread takes the inner spin lock, raises `want`, and waits for
//! the owner to be outside (`busy` false). The owner raises `busy` and then
//! reads `want`; the other thread raises `want` and then reads `busy`. That
//! is Dekker's mutual exclusion, which needs a full fence between the store
//! and the load on both sides. The owner's side is only a compiler fence:
//! the other thread makes up for it with a *heavy* fence, Linux's
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes every running
//! thread of the process execute a full fence (the technique of `folly`'s
//! asymmetric fences and of userspace RCU). A heavy fence costs micro-
//! seconds (about 18 µs on a 2-core VM when another thread is running), so
//! after [`REVOKE_AFTER`] acquisitions by threads other than the owner the
//! bias is revoked for good and everyone uses the spin lock, which costs one
//! atomic read-modify-write. Where there is no `membarrier` (other systems,
//! old or sandboxed kernels) the lock is never biased. Under Miri both
//! sides use a full `SeqCst` fence, so Miri checks the protocol itself.
//!
//! A waiter backs off exponentially (see `backoff`), then yields its time
//! slice, so a waiter whose holder was preempted does not burn its core.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use crate::runlock::thread_token;

/// Acquisitions by other threads after which a lock stops being biased.
pub(crate) const REVOKE_AFTER: u32 = 8;

/// `Bias::owner` before the first acquisition.
const UNBIASED: usize = 0;
/// `Bias::owner` once the bias is revoked, or where it cannot be had.
/// Thread tokens are addresses of a byte-sized thread-local, never 1.
const REVOKED: usize = 1;

pub(crate) struct Lock<T> {
    locked: Flag,
    bias: Bias,
    value: UnsafeCell<T>,
}

/// The spin lock word, alone on its cache lines: waiters spin on it, and
/// must not keep stealing the line that holds the data the holder writes.
#[repr(align(128))]
struct Flag(AtomicBool);

/// The owner's side, on its own lines: the owner writes `busy` twice per
/// acquisition, and nothing else is there for another core to want.
#[repr(align(128))]
struct Bias {
    /// The owner's thread token, or `UNBIASED` or `REVOKED`. Changes only
    /// under the spin lock: `UNBIASED` to a token, a token to `REVOKED`.
    owner: AtomicUsize,
    /// Written only by the owner: it is inside.
    busy: AtomicBool,
    /// Written only by the holder of the spin lock: the owner must stay out.
    want: AtomicBool,
    /// Acquisitions by other threads while biased (under the spin lock).
    foreign: AtomicU32,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (see
// the module docs for the owner's side; acquire/release orderings carry the
// value's writes from one holder to the next), so sharing it only needs
// `T: Send`, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Lock<T> {}

pub(crate) struct Guard<'a, T> {
    lock: &'a Lock<T>,
    how: Held,
}

#[derive(Clone, Copy)]
enum Held {
    /// By the owner, through its fast path: `busy` is raised.
    Biased,
    /// Through the spin lock.
    Spin,
    /// Through the spin lock, with `want` raised to keep the owner out.
    SpinOverOwner,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Self {
        Lock {
            locked: Flag(AtomicBool::new(false)),
            bias: Bias {
                owner: AtomicUsize::new(UNBIASED),
                busy: AtomicBool::new(false),
                want: AtomicBool::new(false),
                foreign: AtomicU32::new(0),
            },
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        let me = thread_token();
        let bias = &self.bias;
        if bias.owner.load(Ordering::Relaxed) == me {
            bias.busy.store(true, Ordering::Relaxed);
            fence::light();
            // `Acquire`: a thread that held the lock over the owner released
            // it by lowering `want`; the owner must see its writes. Seeing
            // `want` down after a revocation also shows the new `owner`.
            if !bias.want.load(Ordering::Acquire) && bias.owner.load(Ordering::Relaxed) == me {
                return Guard { lock: self, how: Held::Biased };
            }
            bias.busy.store(false, Ordering::Release);
        }
        self.lock_slow(me)
    }

    #[cold]
    fn lock_slow(&self, me: usize) -> Guard<'_, T> {
        self.spin();
        let bias = &self.bias;
        match bias.owner.load(Ordering::Relaxed) {
            // No bias, or the owner turned away by another thread that has
            // since left: holding the spin lock shuts out everyone else.
            owner if owner == me || owner == REVOKED => Guard { lock: self, how: Held::Spin },
            UNBIASED => {
                let owner = if fence::can_bias() { me } else { REVOKED };
                bias.owner.store(owner, Ordering::Relaxed);
                Guard { lock: self, how: Held::Spin }
            }
            _ => {
                bias.want.store(true, Ordering::Relaxed);
                fence::heavy();
                let mut round = 0u32;
                while bias.busy.load(Ordering::Acquire) {
                    backoff(&mut round);
                }
                let foreign = bias.foreign.load(Ordering::Relaxed) + 1;
                bias.foreign.store(foreign, Ordering::Relaxed);
                if foreign >= REVOKE_AFTER {
                    bias.owner.store(REVOKED, Ordering::Relaxed);
                }
                Guard { lock: self, how: Held::SpinOverOwner }
            }
        }
    }

    fn spin(&self) {
        let flag = &self.locked.0;
        if flag.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        let mut round = 0u32;
        loop {
            while flag.load(Ordering::Relaxed) {
                backoff(&mut round);
            }
            if flag.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }

    /// Whether the lock is biased towards the calling thread.
    #[cfg(test)]
    fn is_biased_to_me(&self) -> bool {
        self.bias.owner.load(Ordering::Relaxed) == thread_token()
    }
}

/// Waits a little longer at each call: pauses doubling from 1 to 256
/// between looks at the lock (256 pauses are a few microseconds), then, after
/// about 30 µs, yields the time slice: the holder may have been preempted.
/// Looking less often under contention lets the holder get through a run of
/// operations without its cache lines being pulled away at each one (two
/// threads registering at once: 10 M operations per second with a look after
/// every pause, over 40 M with this).
fn backoff(round: &mut u32) {
    if *round < 16 {
        for _ in 0..1u32 << (*round).min(8) {
            std::hint::spin_loop();
        }
        *round += 1;
    } else {
        std::thread::yield_now();
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the
        // value exists until it is dropped.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only
        // reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let lock = self.lock;
        match self.how {
            Held::Biased => lock.bias.busy.store(false, Ordering::Release),
            Held::Spin => lock.locked.0.store(false, Ordering::Release),
            Held::SpinOverOwner => {
                lock.bias.want.store(false, Ordering::Release);
                lock.locked.0.store(false, Ordering::Release);
            }
        }
    }
}

/// The two halves of the asymmetric fence.
mod fence {
    /// The owner's half: keeps the compiler from moving its load of `want`
    /// above its store of `busy`; the heavy half does the rest.
    #[inline(always)]
    pub(super) fn light() {
        #[cfg(miri)]
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        #[cfg(not(miri))]
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(miri)]
    pub(super) fn can_bias() -> bool {
        true
    }

    #[cfg(miri)]
    pub(super) fn heavy() {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    mod membarrier {
        use std::sync::atomic::{AtomicU8, Ordering};

        // From <linux/membarrier.h>.
        const CMD_QUERY: libc::c_long = 0;
        const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

        const UNKNOWN: u8 = 0;
        const YES: u8 = 1;
        const NO: u8 = 2;
        static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

        fn membarrier(cmd: libc::c_long) -> libc::c_long {
            // SAFETY: `membarrier` takes two integers and touches no memory
            // of ours; an unknown command fails with an error code.
            unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long, 0 as libc::c_long) }
        }

        /// Whether heavy fences work here: asked once, and the process
        /// registered for them. The registration is inherited by `fork()`.
        pub(crate) fn available() -> bool {
            match STATE.load(Ordering::Acquire) {
                YES => true,
                NO => false,
                _ => {
                    let supported = membarrier(CMD_QUERY);
                    let ok = supported >= 0
                        && supported & CMD_PRIVATE_EXPEDITED != 0
                        && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
                    STATE.store(if ok { YES } else { NO }, Ordering::Release);
                    ok
                }
            }
        }

        pub(crate) fn heavy() {
            if membarrier(CMD_PRIVATE_EXPEDITED) != 0 {
                // Cannot happen once registered (`available`); without the
                // fence the lock cannot exclude the owner, so stop here.
                let _ = std::io::Write::write_all(&mut std::io::stderr(), b"atexit: membarrier failed\n");
                std::process::abort();
            }
        }
    }

    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    pub(super) fn can_bias() -> bool {
        membarrier::available()
    }

    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    pub(super) fn heavy() {
        membarrier::heavy()
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", miri)))]
    pub(super) fn can_bias() -> bool {
        false
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", miri)))]
    pub(super) fn heavy() {
        unreachable!("a lock is only biased where heavy fences exist")
    }

    /// Asks for heavy fences early, while the process likely has one thread
    /// (registering then is cheapest).
    pub(crate) fn prepare() {
        let _ = can_bias();
    }
}

pub(crate) use fence::prepare;

#[cfg(test)]
mod tests {
    use super::{Lock, REVOKE_AFTER};
    use std::sync::Arc;

    fn hammer(lock: &Arc<Lock<u64>>, threads: u64, per_thread: u64) {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let lock = Arc::clone(lock);
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }

    #[test]
    fn excludes_across_threads() {
        let lock = Arc::new(Lock::new(0u64));
        let per_thread = if cfg!(miri) { 50 } else { 100_000 };
        hammer(&lock, 4, per_thread);
        assert_eq!(*lock.lock(), 4 * per_thread);
    }

    #[test]
    fn excludes_the_owner_and_the_others() {
        // The test thread owns the lock and keeps using it while the others
        // take it over its head, until the bias is revoked, and after.
        let lock = Arc::new(Lock::new(0u64));
        let mut owned = lock.lock();
        *owned += 1;
        drop(owned);
        assert!(lock.is_biased_to_me());
        let per_thread = if cfg!(miri) { 20 } else { 20_000 };
        let others = {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || hammer(&lock, 2, per_thread))
        };
        for _ in 0..per_thread {
            *lock.lock() += 1;
        }
        others.join().unwrap();
        assert_eq!(*lock.lock(), 1 + 3 * per_thread);
        assert!(per_thread < u64::from(REVOKE_AFTER) || !lock.is_biased_to_me());
    }

    #[test]
    fn the_owner_keeps_the_bias_while_alone() {
        let lock = Lock::new(0u64);
        for _ in 0..1000 {
            *lock.lock() += 1;
        }
        #[cfg(any(target_os = "linux", target_os = "android", miri))]
        if super::fence::can_bias() {
            assert!(lock.is_biased_to_me());
        }
        assert_eq!(*lock.lock(), 1000);
    }
}
