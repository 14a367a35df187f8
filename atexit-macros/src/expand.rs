//! From parsed, validated input to tokens. The entry points take the raw
//! tokens, run the stages, and on error emit the user's item unchanged next
//! to the errors, so one mistake gives one message and the item stays usable.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, ItemFn, Path};

use crate::args::{self, Accepted, Options, RegisterCall};
use crate::parse::{self, Macro, Param};
use crate::validate;

const REGISTER: Accepted = Accepted { macro_name: "#[atexit::register]", priority: true, name: true, krate: true };
const HANDLER: Accepted = Accepted { macro_name: "#[atexit::handler]", priority: false, name: false, krate: false };
const MAIN: Accepted = Accepted { macro_name: "#[atexit::main]", priority: false, name: false, krate: true };

/// Parses options and item, validates, expands; on any error, the item as
/// written plus every error.
fn attribute(
    which: Macro,
    accepted: Accepted,
    args: TokenStream,
    item: TokenStream,
    expand: fn(&Options, &ItemFn) -> TokenStream,
) -> TokenStream {
    let options = args::parse_options(args, accepted);
    let function = parse::function(which, item.clone()).and_then(|f| validate::function(which, &f).map(|()| f));
    match (options, function) {
        (Ok(options), Ok(f)) => expand(&options, &f),
        (options, function) => {
            let mut errors = args::Errors::default();
            for error in [options.err(), function.err()].into_iter().flatten() {
                errors.push(error);
            }
            let error = errors.finish(()).unwrap_err().into_compile_error();
            let item = if which == Macro::Main { main_fallback(item) } else { item };
            quote! { #item #error }
        }
    }
}

/// The item to emit next to a `#[atexit::main]` error. The user's `main` as
/// written would add rustc's own error about `main` (async, parameters) to
/// ours, so it is kept under another name, still type-checked, beside an
/// empty `main`.
fn main_fallback(item: TokenStream) -> TokenStream {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(mut f) if f.sig.ident == "main" => {
            f.sig.ident = Ident::new("__atexit_main_with_errors", f.sig.ident.span());
            quote! {
                #[allow(dead_code)]
                #f
                fn main() {}
            }
        }
        _ => item,
    }
}

pub(crate) fn register_attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Macro::Register, REGISTER, args, item, expand_register)
}

pub(crate) fn handler_attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Macro::Handler, HANDLER, args, item, |_, f| expand_handler(f))
}

pub(crate) fn main_attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Macro::Main, MAIN, args, item, expand_main)
}

pub(crate) fn register_call(input: TokenStream) -> TokenStream {
    match syn::parse2::<RegisterCall>(input) {
        Ok(call) => expand_register_call(&call),
        Err(error) => {
            let error = error.into_compile_error();
            // Still an expression of the type `register!` returns, so one
            // mistake does not cascade into type errors at the call site.
            quote! {{ #error; ::core::unreachable!() }}
        }
    }
}

// Input:
//     #[atexit::register(priority = 5, name = "flush logs")]
//     fn flush() { ... }
// Output:
//     fn flush() { ... }
//     const _: () = {
//         static __ATEXIT_HANDLER: ::atexit::__private::StaticHandler = ::atexit::__private::StaticHandler::new(
//             flush,
//             ::atexit::__private::identity_fn(&flush),
//             ::core::module_path!(),
//             "flush logs", // by default: concat!(module_path!(), "::", stringify!(flush))
//             ::core::line!(),
//             5,
//         );
//         ::atexit::__private::inventory::submit! {
//             ::atexit::__private::StaticRef(&__ATEXIT_HANDLER)
//         }
//     };
fn expand_register(options: &Options, f: &ItemFn) -> TokenStream {
    let krate = options.crate_path();
    let ident = &f.sig.ident;
    let name = match &options.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident))),
    };
    let priority = match &options.priority {
        Some(priority) => quote_spanned!(priority.span()=> #priority),
        None => quote!(0),
    };
    let line = quote_spanned!(ident.span()=> ::core::line!());
    // The function itself is the `fn()`; one of another ABI is called from
    // a closure.
    let call = match &f.sig.abi {
        None => quote!(#ident),
        Some(_) => quote!(|| #ident()),
    };
    quote! {
        #f
        const _: () = {
            static __ATEXIT_HANDLER: #krate::__private::StaticHandler = #krate::__private::StaticHandler::new(
                #call,
                #krate::__private::identity_fn(&#ident),
                ::core::module_path!(),
                #name,
                #line,
                #priority,
            );
            #krate::__private::inventory::submit! {
                #krate::__private::StaticRef(&__ATEXIT_HANDLER)
            }
        };
    }
}

/// The name of the struct that carries the keyword arguments of `f` when
/// the first `positional` arguments are given by position.
fn keywords_struct(f: &Ident, positional: usize) -> Ident {
    format_ident!("__atexit_keywords_{}_{}", f, positional, span = f.span())
}

// Input:
//     #[atexit::handler]
//     fn goodbye(name: &str, adjective: &str) { ... }
// Output: the function, and for each number of leading positional arguments
// a struct with the rest as fields, which `register!` fills by keyword:
//     fn goodbye(name: &str, adjective: &str) { ... }
//     struct __atexit_keywords_goodbye_0 { pub name: &'static str, pub adjective: &'static str }
//     impl __atexit_keywords_goodbye_0 {
//         fn __call(self) { goodbye(self.name, self.adjective); }
//     }
//     struct __atexit_keywords_goodbye_1 { pub adjective: &'static str }
//     impl __atexit_keywords_goodbye_1 {
//         fn __call(self, name: &'static str) { goodbye(name, self.adjective); }
//     }
fn expand_handler(f: &ItemFn) -> TokenStream {
    let vis = &f.vis;
    let ident = &f.sig.ident;
    let params = parse::params(f);
    let structs = (0..params.len()).map(|positional| {
        let (given, named): (&[Param], &[Param]) = params.split_at(positional);
        let strukt = keywords_struct(ident, positional);
        let given_names = given.iter().map(|p| &p.name);
        let given_types = given.iter().map(|p| &p.ty);
        let field_names: Vec<_> = named.iter().map(|p| &p.name).collect();
        let field_types = named.iter().map(|p| &p.ty);
        let call_args = given.iter().map(|p| {
            let name = &p.name;
            quote!(#name)
        });
        let field_args = field_names.iter().map(|name| quote!(self.#name));
        let all_args = call_args.chain(field_args);
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #strukt {
                #(pub #field_names: #field_types,)*
            }

            #[allow(dead_code)]
            impl #strukt {
                #[doc(hidden)]
                #vis fn __call(self, #(#given_names: #given_types),*) {
                    #ident(#(#all_args),*);
                }
            }
        }
    });
    quote! {
        #f
        #(#structs)*
    }
}

// Input:
//     #[atexit::main]
//     fn main() -> Result<(), Error> { ... }
// Output:
//     fn main() -> ::std::process::ExitCode {
//         fn __atexit_main() -> Result<(), Error> { ... }
//         ::atexit::__private::run_main(__atexit_main)
//     }
// Other attributes (`#[tokio::main]`) move to the inner function, so a
// runtime attribute below this one turns the `async fn` into a plain one.
fn expand_main(options: &Options, f: &ItemFn) -> TokenStream {
    let krate = options.crate_path();
    let ItemFn { attrs, vis, sig, block } = f;
    let mut inner = sig.clone();
    inner.ident = Ident::new("__atexit_main", Span::mixed_site());
    let outer_ident = &sig.ident;
    let inner_ident = &inner.ident;
    quote! {
        #vis fn #outer_ident() -> ::std::process::ExitCode {
            #(#attrs)*
            #inner #block
            #krate::__private::run_main(#inner_ident)
        }
    }
}

// Input:
//     register!(goodbye, "Donny", adjective = "nice")
// Output:
//     {
//         let __atexit_f = goodbye;
//         let __atexit_arg0 = ::atexit::__private::argument("Donny");
//         let __atexit_keywords = ::atexit::__private::argument(
//             __atexit_keywords_goodbye_1 { adjective: "nice" },
//         );
//         ::atexit::__private::Registration::new(move || __atexit_keywords.__call(__atexit_arg0))
//             .identity_of(&__atexit_f)
//             .register()
//     }
// With positional arguments only, the closure calls `__atexit_f(args...)`
// directly, so any callable works and rustc checks the count and types.
fn expand_register_call(call: &RegisterCall) -> TokenStream {
    let krate = &call.krate;
    let func = &call.func;
    let f = Ident::new("__atexit_f", func.span().resolved_at(Span::mixed_site()));
    let arg_names: Vec<Ident> = (0..call.positional.len())
        .map(|i| Ident::new(&format!("__atexit_arg{i}"), call.positional[i].span().resolved_at(Span::mixed_site())))
        .collect();
    let arg_values = call.positional.iter().map(|value| argument(krate, value));
    let (keywords, handler) = if call.keywords.is_empty() {
        (quote!(), quote_spanned!(func.span()=> move || { #f(#(#arg_names),*); }))
    } else {
        let Some(path) = function_path(func) else {
            return syn::Error::new_spanned(
                func,
                "keyword arguments need the function by name (`register!(goodbye, name = ...)`), \
                 marked `#[atexit::handler]`",
            )
            .into_compile_error();
        };
        let mut strukt = path.clone();
        let last = strukt.segments.last_mut().expect("a path has a segment");
        last.ident = keywords_struct(&last.ident, call.positional.len());
        let keys = call.keywords.iter().map(|(key, _)| key);
        let values = call.keywords.iter().map(|(_, value)| value);
        let bound = Ident::new("__atexit_keywords", Span::mixed_site());
        // The fields' types check each value, with the error on the value;
        // `argument` checks the struct as a whole is `Send`.
        let fill = quote_spanned!(func.span()=> #krate::__private::argument(#strukt { #(#keys: #values),* }));
        (quote!(let #bound = #fill;), quote!(move || #bound.__call(#(#arg_names),*)))
    };
    quote! {{
        let #f = #func;
        #(let #arg_names = #arg_values;)*
        #keywords
        #krate::__private::Registration::new(#handler)
            .identity_of(&#f)
            .register()
    }}
}

/// An argument, checked to be storable until exit, with errors on its tokens.
fn argument(krate: &Path, value: &Expr) -> TokenStream {
    quote_spanned!(value.span()=> #krate::__private::argument(#value))
}

fn function_path(func: &Expr) -> Option<&Path> {
    match func {
        Expr::Path(p) if p.qself.is_none() => Some(&p.path),
        _ => None,
    }
}
