//! Asynchronous filesystem operations (in progress).
