//! Cases live in `tests/pass` and `tests/fail`.
