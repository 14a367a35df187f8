//! The environment variables that tune the runtime (`ATEXIT_TRACE`,
//! `ATEXIT_DEADLINE_MS`, `ATEXIT_HANDLER_TIME_LIMIT_MS`).
//!
//! They are ignored in a setuid or setgid process (Linux's `AT_SECURE`,
//! `issetugid()` elsewhere), as glibc ignores its own there: otherwise an
//! unprivileged caller could make a privileged program end early, leave its
//! handlers behind, or print their names.

use std::ffi::OsString;

/// The value of the setting `name`, unless unset or the process is privileged.
pub(crate) fn var(name: &str) -> Option<OsString> {
    if privileged() {
        return None;
    }
    std::env::var_os(name)
}

/// A setting in whole milliseconds; a value that is not one is reported once
/// on stderr and ignored.
pub(crate) fn millis(name: &str) -> Option<u64> {
    let value = var(name)?;
    match value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(ms) => Some(ms),
        None => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "atexit: ignoring {name}={value:?}: expected whole milliseconds, such as 10000"
            );
            None
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn privileged() -> bool {
    // SAFETY: `getauxval` reads the auxiliary vector; no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
fn privileged() -> bool {
    // SAFETY: `issetugid` takes nothing and has no preconditions.
    unsafe { libc::issetugid() != 0 }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd"
)))]
fn privileged() -> bool {
    false
}
