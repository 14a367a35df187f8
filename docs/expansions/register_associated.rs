// Input:
impl Database {
    #[atexit::register(Self = Database)]
    fn close_all() { Self::flush_pool(); }
}

// Output:
impl Database {
    fn close_all() {
        Self::flush_pool();
    }
    #[doc(hidden)]
    #[allow(non_upper_case_globals, dead_code)]
    const __atexit_register_close_all: () = {
        let _: ::core::marker::PhantomData<Self> = ::core::marker::PhantomData::<
            Database,
        >;
        ::atexit::__private::inventory::submit! {
            ::atexit::__private::StaticHandler::new(< Database > ::close_all,
            ::atexit::__private::identity_fn(& < Database > ::close_all),
            ::core::module_path!(), ::core::concat!(::core::module_path!(), "::",
            "Database::close_all"), ::core::line!(), 0, false,
            ::core::option_env!("CARGO_BIN_NAME") .is_some(),)
        }
    };
}
