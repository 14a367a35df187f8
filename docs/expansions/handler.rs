// Input:
#[atexit::handler]
fn goodbye(name: &str, times: u32) {
    println!("Goodbye {name} x{times}");
}

// Output:
fn goodbye(name: &str, times: u32) {
    println!("Goodbye {name} x{times}");
}
#[doc(hidden)]
#[allow(non_camel_case_types, dead_code)]
struct goodbye {}
#[allow(non_camel_case_types, dead_code)]
const _: () = {
    type __atexit_Handler = goodbye;
    const _: () = {
        pub struct goodbye<'a> {
            pub name: &'a str,
            pub times: u32,
        }
        impl ::atexit::__private::Keywords<0> for __atexit_Handler {
            type Struct<'a> = goodbye<'a>;
        }
        impl<'a> goodbye<'a> {
            pub fn bind<__atexit_F>(
                self,
                f: __atexit_F,
            ) -> impl ::core::ops::FnOnce(
            ) + ::core::marker::Send + 'static + use<__atexit_F>
            where
                __atexit_F: ::core::ops::FnOnce(&str, u32) + ::core::marker::Send
                    + 'static,
            {
                let arg0 = <str as ::std::borrow::ToOwned>::to_owned(self.name);
                let arg1 = self.times;
                move || {
                    f(
                        <<str as ::std::borrow::ToOwned>::Owned as ::core::borrow::Borrow<
                            str,
                        >>::borrow(&arg0),
                        arg1,
                    );
                }
            }
        }
    };
    const _: () = {
        pub struct goodbye {
            pub times: u32,
        }
        impl ::atexit::__private::Keywords<1> for __atexit_Handler {
            type Struct<'a> = goodbye;
        }
        impl goodbye {
            pub fn bind<__atexit_F>(
                self,
                f: __atexit_F,
                arg0: &str,
            ) -> impl ::core::ops::FnOnce(
            ) + ::core::marker::Send + 'static + use<__atexit_F>
            where
                __atexit_F: ::core::ops::FnOnce(&str, u32) + ::core::marker::Send
                    + 'static,
            {
                let arg0 = <str as ::std::borrow::ToOwned>::to_owned(arg0);
                let arg1 = self.times;
                move || {
                    f(
                        <<str as ::std::borrow::ToOwned>::Owned as ::core::borrow::Borrow<
                            str,
                        >>::borrow(&arg0),
                        arg1,
                    );
                }
            }
        }
    };
};
