//! atexit
