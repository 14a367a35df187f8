// Input:
#[atexit::register(priority = 5, name = "flush logs")]
fn flush() { save_state(); }

// Output:
fn flush() {
    save_state();
}
#[doc(hidden)]
#[allow(non_upper_case_globals, dead_code)]
const __atexit_register_flush: () = {
    ::atexit::__private::inventory::submit! {
        ::atexit::__private::StaticHandler::new(flush, ::atexit::__private::identity_fn(&
        flush), ::core::module_path!(), "flush logs", ::core::line!(), 5, false,
        ::core::option_env!("CARGO_BIN_NAME") .is_some(),)
    }
};
