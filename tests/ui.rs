//! Every misuse of the macros (and of the API where the types can tell) is
//! a compile error on the offending tokens,
//! saying what to do instead: one mistake per file in `tests/ui/`, each
//! with its reviewed `.stderr`.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
