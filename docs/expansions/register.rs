// Input:
#[atexit::register(priority = 5, name = "flush logs")]
fn flush() { save_state(); }

// Output:
fn flush() {
    save_state();
}
const _: () = {
    ::atexit::__private::inventory::submit! {
        ::atexit::__private::StaticHandler::new(flush, ::atexit::__private::identity_fn(&
        flush), ::core::module_path!(), "flush logs", ::core::line!(), 5, false,
        ::core::option_env!("CARGO_BIN_NAME") .is_some(),)
    }
};
