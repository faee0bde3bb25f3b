// Doc comments and attributes on the declaration pass through to the
// generated type, and so does its visibility.
mod runtimes {
    zokio::runtime! {
        /// The runtime of this program.
        ///
        /// A second paragraph of documentation.
        #[derive(PartialEq, Eq, Hash)]
        #[must_use]
        pub(crate) Documented {
            flavor = "current_thread",
        }
    }
}

use runtimes::Documented;

fn main() {
    // `PartialEq` came from the attribute; `Default` and `Debug` are derived
    // by the macro.
    assert_eq!(Documented, Documented::default());
    assert_eq!(format!("{:?}", Documented), "Documented");
    assert_eq!(Documented::NAME, "Documented");
    assert_eq!(Documented::block_on(async { 42 }), 42);
}
