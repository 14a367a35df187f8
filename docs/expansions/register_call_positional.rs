// Input:
register!(goodbye, "Donny", 3)

// Output:
fn register_goodbye() -> ::atexit::Handle {
    {
        let f = goodbye;
        let arg0 = ::atexit::__private::argument("Donny");
        let arg1 = ::atexit::__private::argument(3);
        let handler = move || {
            f(arg0, arg1);
        };
        ::atexit::__private::Registration::new(handler)
            .name(::core::any::type_name_of_val(&f))
            .identity_of(&f)
            .register()
    }
}
