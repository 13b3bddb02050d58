//! Compile-fail and compile-pass tests of `#[barbacane_middleware]` and
//! `#[barbacane_dispatcher]`: a plugin author's mistakes must give an error that points at
//! the mistake and says what to do.
//!
//! The expected `.stderr` files in `tests/ui/fail/` depend on the rustc version (wording,
//! spans, notes). After a toolchain upgrade, regenerate them, then read the diff:
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p barbacane-plugin-sdk --test macros
//! ```

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
