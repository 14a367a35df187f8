// Input:
register!(goodbye, "Donny", times = 3)

// Output:
fn register_goodbye() -> ::atexit::Handle {
    {
        let f = goodbye;
        let arg0 = "Donny";
        #[allow(non_camel_case_types)]
        type __atexit_Keywords<'a> = <goodbye as ::atexit::__private::Keywords<
            1,
        >>::Struct<'a>;
        let handler = __atexit_Keywords { times: 3 }.bind(f, arg0);
        ::atexit::__private::Registration::new(handler)
            .name(::core::any::type_name_of_val(&f))
            .identity_of(&f)
            .register()
    }
}
