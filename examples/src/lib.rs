//! Example programs live in `examples/`; run one with `cargo run -p zokio-examples --example hello`.
