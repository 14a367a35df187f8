//! Implementation detail of the [`atexit`](https://docs.rs/atexit) crate: its
//! procedural macros. Depend on `atexit`, which re-exports them.
#![forbid(unsafe_code)]
