fn main() {
    zokio_codegen::build("zokio.toml");
}
