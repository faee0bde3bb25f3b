//! Generates the runtime type from `zokio.toml` (and any `ZOKIO_<KEY>`
//! environment overrides); a bad file fails the build with
//! `zokio.toml:LINE:COLUMN:` and what is allowed.

fn main() {
    zokio_codegen::build("zokio.toml");
}
