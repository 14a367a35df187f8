//! Environment variables tuning the runtime (`ATEXIT_TRACE`, `ATEXIT_DEADLINE_MS`, `ATEXIT_HANDLER_TIME_LIMIT_MS`),
//! ignored when setuid or setgid (`AT_SECURE` on Linux, `issetugid()` elsewhere) as glibc ignores its own: else an
//! unprivileged caller could make a privileged program end early, leave its handlers behind, or print their names.

use std::ffi::OsString;
use std::sync::atomic::{AtomicU64, Ordering};

/// A duration set from code, or else read once from an environment variable in whole ms; zero is none.
pub(crate) struct DurationSetting {
    /// Nanoseconds; `UNSET` until set or read.
    nanos: AtomicU64,
    var: &'static str,
}

const UNSET: u64 = u64::MAX;

impl DurationSetting {
    pub(crate) const fn new(var: &'static str) -> DurationSetting {
        DurationSetting { nanos: AtomicU64::new(UNSET), var }
    }

    /// A value too long to tell from `UNSET` becomes the longest possible, which never elapses either.
    pub(crate) fn set(&self, value: std::time::Duration) {
        self.nanos.store(u64::try_from(value.as_nanos()).unwrap_or(UNSET).min(UNSET - 1), Ordering::SeqCst);
    }

    /// Read for every handler of a run: the environment only the first time.
    #[inline]
    pub(crate) fn get(&self) -> Option<std::time::Duration> {
        match self.nanos.load(Ordering::SeqCst) {
            0 => None,
            UNSET => self.read_env(),
            nanos => Some(std::time::Duration::from_nanos(nanos)),
        }
    }

    #[cold]
    fn read_env(&self) -> Option<std::time::Duration> {
        let from_env = millis(self.var).map_or(0, |ms| ms.saturating_mul(1_000_000).min(UNSET - 1));
        // A `set` in the meantime wins.
        let _ = self.nanos.compare_exchange(UNSET, from_env, Ordering::SeqCst, Ordering::SeqCst);
        self.get()
    }
}

/// The value of the setting `name`, unless unset or the process is privileged.
pub(crate) fn var(name: &str) -> Option<OsString> {
    if privileged() {
        return None;
    }
    std::env::var_os(name)
}

/// A setting in whole milliseconds; any other value is reported once on stderr and ignored.
pub(crate) fn millis(name: &str) -> Option<u64> {
    let value = var(name)?;
    let ms = value.to_str().and_then(|v| v.trim().parse::<u64>().ok());
    if ms.is_none() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "atexit: ignoring {name}={value:?}: expected whole milliseconds, such as 10000"
        );
    }
    ms
}

// Miri cannot read the auxiliary vector: it runs as an ordinary program.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
fn privileged() -> bool {
    // SAFETY: `getauxval` reads the auxiliary vector; no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

#[cfg(all(
    any(target_os = "macos", target_os = "ios", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"),
    not(miri)
))]
fn privileged() -> bool {
    // SAFETY: `issetugid` takes nothing and has no preconditions.
    unsafe { libc::issetugid() != 0 }
}

#[cfg(any(
    miri,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))
))]
fn privileged() -> bool {
    false
}
