//! From parsed, validated input to tokens. The entry points take the raw
//! tokens, run the stages, and on error emit the user's item next to the
//! errors (with whatever `register!` calls of it need), so one mistake
//! gives one message and the item stays usable.
//!
//! Every expansion is also a snapshot, checked by the tests below and shown
//! in the crate docs (`docs/expansions/`).

use proc_macro2::Ident;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::args::{Accepted, Errors, Key, Options, RegisterCall, first_span};
use crate::parse::{Function, Macro, Param, Pattern, borrowed_referent, mentions_any, mentions_impl, static_lifetimes};
use crate::validate;

const REGISTER: Accepted = Accepted {
    macro_name: "#[atexit::register]",
    keys: &[Key::Priority, Key::Name, Key::InheritOnFork, Key::SelfType, Key::Crate],
};
const HANDLER: Accepted = Accepted { macro_name: "#[atexit::handler]", keys: &[Key::Crate] };
const MAIN: Accepted = Accepted { macro_name: "#[atexit::main]", keys: &[Key::Crate] };

/// Parses options and item, validates, expands; on any error, the item as
/// written (or its fallback) plus every error.
fn attribute(
    which: Macro,
    accepted: &Accepted,
    args: TokenStream,
    item: TokenStream,
    expand: fn(&Options, &Function, TokenStream) -> TokenStream,
) -> TokenStream {
    let options = Options::parse(args, accepted);
    let function = Function::parse(which, item.clone());
    let valid = function.as_ref().map_err(Clone::clone).and_then(|f| validate::function(which, f));
    match (options, valid) {
        (Ok(options), Ok(())) => expand(&options, function.as_ref().expect("validated"), item),
        (options, valid) => {
            let mut errors = Errors::default();
            for error in [options.as_ref().err().cloned(), valid.err()].into_iter().flatten() {
                errors.push(error);
            }
            let error = errors.finish(()).expect_err("an error was pushed").into_compile_error();
            let krate = options.unwrap_or_default().crate_path();
            let fallback = match (which, function) {
                (Macro::Main, Ok(f)) => main_fallback(&f),
                (Macro::Handler, Ok(f)) => {
                    let fallback = handler_fallback(&krate, &f);
                    quote! { #item #fallback }
                }
                _ => item,
            };
            quote! { #fallback #error }
        }
    }
}

pub(crate) fn register_attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Macro::Register, &REGISTER, args, item, expand_register)
}

pub(crate) fn handler_attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Macro::Handler, &HANDLER, args, item, expand_handler)
}

pub(crate) fn main_attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Macro::Main, &MAIN, args, item, expand_main)
}

pub(crate) fn register_call(input: TokenStream) -> TokenStream {
    match RegisterCall::parse(input) {
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
// Output: the function, and a static handler submitted to `inventory`,
// inside `const _` so that no name it defines can meet the user's.
// Snapshot: docs/expansions/register.rs.
//
// With `Self = Database`, in an `impl` block, where `const _` is not
// allowed and a nested item cannot name `Self`: the handler in an
// associated const named after the function, reaching it through the type
// given, which is checked to be `Self`. Snapshot:
// docs/expansions/register_associated.rs.
fn expand_register(options: &Options, f: &Function, item: TokenStream) -> TokenStream {
    let krate = options.crate_path();
    let ident = &f.ident;
    let (function, path) = match &options.self_type {
        Some((_, ty)) => (quote!(<#ty>::#ident), format!("{}::{ident}", ty.to_string().replace(' ', ""))),
        None => (quote!(#ident), ident.to_string()),
    };
    let name = match &options.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", #path)),
    };
    let priority = match &options.priority {
        Some(priority) => quote_spanned!(first_span(priority)=> #priority),
        None => quote!(0),
    };
    let inherited = options.inherit_on_fork.is_some();
    let line = quote_spanned!(ident.span()=> ::core::line!());
    // The function itself is the `fn()`; one of another ABI is called from
    // a closure.
    let call = if f.has_abi { quote!(|| #function()) } else { function.clone() };
    let registration = quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::StaticHandler::new(
                #call,
                #krate::__private::identity_fn(&#function),
                ::core::module_path!(),
                #name,
                #line,
                #priority,
                #inherited,
                ::core::option_env!("CARGO_BIN_NAME").is_some(),
            )
        }
    };
    // Named (not `const _`) so that in an `impl` without `Self = Type` the one error is about the function's name.
    let constant = format_ident!("__atexit_register_{}", ident);
    let Some((self_token, ty)) = &options.self_type else {
        return quote! {
            #item
            #[doc(hidden)]
            #[allow(non_upper_case_globals, dead_code)]
            const #constant: () = { #registration };
        };
    };
    // `Self = Type` must be the impl's type: an error on the option if not
    // ("expected `PhantomData<Database>`, found `PhantomData<Cache>`").
    let self_type = quote_spanned!(self_token.span()=> ::core::marker::PhantomData<Self>);
    let given = quote_spanned!(first_span(ty)=> ::core::marker::PhantomData::<#ty>);
    quote! {
        #item
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const #constant: () = {
            let _: #self_type = #given;
            #registration
        };
    }
}

/// How a handler's parameter is stored until exit.
enum Stored {
    /// `&T` (any lifetime but `'static`): the argument is cloned into
    /// `T::Owned` when `register!` runs; the handler gets a `&T` to it.
    Borrowed(TokenStream),
    /// Anything else, with every lifetime `'static`: moved in as it is.
    Moved(TokenStream),
}

impl Stored {
    fn of(ty: &TokenStream) -> Stored {
        match borrowed_referent(ty) {
            Some(referent) => Stored::Borrowed(static_lifetimes(referent)),
            None => Stored::Moved(static_lifetimes(ty.clone())),
        }
    }

    /// The type `register!` passes: `&'a T` for a borrowed parameter.
    fn given(&self, lifetime: &TokenStream) -> TokenStream {
        match self {
            Stored::Borrowed(inner) => quote!(&#lifetime #inner),
            Stored::Moved(ty) => ty.clone(),
        }
    }
}

// Input:
//     #[atexit::handler]
//     fn goodbye(name: &str, adjective: &str) { ... }
// Output: the function; a marker struct of the same name (a type, so
// `register!` can name it; braced, so it does not clash with the function);
// and for each number `k` of leading positional arguments, a struct with
// the remaining parameters as fields, reached through
// `<goodbye as Keywords<k>>::Struct`, whose `bind` takes the positional
// arguments and returns the closure to register. Snapshot:
// docs/expansions/handler.rs.
fn expand_handler(options: &Options, f: &Function, item: TokenStream) -> TokenStream {
    let handler = handler_items(&options.crate_path(), f, true);
    quote! { #item #handler }
}

/// What `register!` calls of a handler need when the handler is in error:
/// the same items, but `bind` takes anything and registers nothing, and a
/// parameter whose type cannot be stored is left out, so that the
/// handler's own error is the only one.
fn handler_fallback(krate: &TokenStream, f: &Function) -> TokenStream {
    handler_items(krate, f, false)
}

fn handler_items(krate: &TokenStream, f: &Function, checked: bool) -> TokenStream {
    let ident = &f.ident;
    let vis = &f.vis;
    let type_generics = f.type_generics();
    let storable = |ty: &TokenStream| !mentions_impl(ty.clone()) && !mentions_any(ty.clone(), &type_generics);
    // `None` for a parameter `register!` cannot pass by keyword (only in a fallback).
    let params: Vec<Option<(&Ident, Stored)>> = f
        .params()
        .map(|Param { pattern, ty }| match pattern {
            Pattern::Name(name) if storable(ty) => Some((name, Stored::of(ty))),
            _ => None,
        })
        .collect();
    let lifetime = quote!('a);
    // Items and generic parameters are not hygienic: names no user writes.
    let function_type = Ident::new("__atexit_F", Span::call_site());
    // Locals: mixed-site, so a parameter named like the function
    // (`fn tally(tally: u32)`) cannot hide it.
    let local = |i: usize| Ident::new(&format!("arg{i}"), Span::mixed_site());
    let f_local = Ident::new("f", Span::mixed_site());
    let splits = (0..params.len()).map(|k| {
        let (given, keywords) = params.split_at(k);
        let n = proc_macro2::Literal::usize_unsuffixed(k);
        let keywords: Vec<&(&Ident, Stored)> = keywords.iter().flatten().collect();
        let has_lifetime = keywords.iter().any(|(_, s)| matches!(s, Stored::Borrowed(_)));
        let generics = if has_lifetime { quote!(<#lifetime>) } else { quote!() };
        let fields = keywords.iter().map(|(name, stored)| {
            let ty = stored.given(&lifetime);
            quote!(pub #name: #ty)
        });
        let bind = if checked {
            let params = params.iter().flatten();
            let positional = given.iter().flatten().enumerate().map(|(i, (_, stored))| {
                let (name, ty) = (local(i), stored.given(&quote!()));
                quote!(#name: #ty)
            });
            let bound_types = params.clone().map(|(_, stored)| match stored {
                Stored::Borrowed(inner) => quote!(&#inner),
                Stored::Moved(ty) => ty.clone(),
            });
            let sources =
                (0..k).map(|i| local(i).into_token_stream()).chain(keywords.iter().map(|(name, _)| quote!(self.#name)));
            let stores = params.clone().zip(sources).enumerate().map(|(i, ((_, stored), source))| {
                let name = local(i);
                match stored {
                    Stored::Borrowed(inner) => {
                        quote!(let #name = <#inner as ::std::borrow::ToOwned>::to_owned(#source);)
                    }
                    Stored::Moved(_) => quote!(let #name = #source;),
                }
            });
            let uses = params.enumerate().map(|(i, (_, stored))| {
                let name = local(i);
                match stored {
                    Stored::Borrowed(inner) => quote! {
                        <<#inner as ::std::borrow::ToOwned>::Owned as ::core::borrow::Borrow<#inner>>::borrow(&#name)
                    },
                    Stored::Moved(_) => name.into_token_stream(),
                }
            });
            quote! {
                pub fn bind<#function_type>(self, #f_local: #function_type, #(#positional),*)
                    -> impl ::core::ops::FnOnce() + ::core::marker::Send + 'static + use<#function_type>
                where
                    #function_type: ::core::ops::FnOnce(#(#bound_types),*) + ::core::marker::Send + 'static,
                {
                    #(#stores)*
                    move || { #f_local(#(#uses),*); }
                }
            }
        } else {
            let types: Vec<Ident> = (0..k).map(|i| format_ident!("__atexit_P{i}")).collect();
            quote! {
                pub fn bind<#function_type, #(#types),*>(self, _: #function_type, #(_: #types),*) -> fn() { || {} }
            }
        };
        quote! {
            const _: () = {
                pub struct #ident #generics { #(#fields,)* }
                impl #krate::__private::Keywords<#n> for __atexit_Handler {
                    type Struct<#lifetime> = #ident #generics;
                }
                impl #generics #ident #generics {
                    #bind
                }
            };
        }
    });
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}
        #[allow(non_camel_case_types, dead_code)]
        const _: () = {
            type __atexit_Handler = #ident;
            #(#splits)*
        };
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
// Snapshot: docs/expansions/main.rs.
fn expand_main(options: &Options, f: &Function, _item: TokenStream) -> TokenStream {
    let krate = options.crate_path();
    let inner = Ident::new("__atexit_main", Span::mixed_site());
    let (attrs, vis, outer) = (&f.attrs, &f.vis, &f.ident);
    let mut signature = f.signature_named(&inner);
    let body = match &f.asyncness {
        // On an async `main` the exit run is awaited at the end of `main`'s
        // future, on its runtime, so async handlers run there; on a panic
        // out of it too, before the panic goes on.
        Some(_) => {
            let output = f.output.clone().unwrap_or_else(|| quote!(()));
            let body = &f.body;
            let value = Ident::new("output", Span::mixed_site());
            let code = Ident::new("code", Span::mixed_site());
            // `main`'s value is reported before the run, which needs its status.
            signature = f.signature_returning(&inner, quote!(-> ::std::process::ExitCode));
            let payload = Ident::new("payload", Span::mixed_site());
            quote! {{
                match #krate::__private::CatchUnwind::new(async move #body).await {
                    ::std::result::Result::Ok(#value) => {
                        let #value: #output = #value;
                        let #code = ::std::process::Termination::report(#value);
                        #krate::__private::run_exit_async(::std::option::Option::Some(#code)).await;
                        #code
                    }
                    ::std::result::Result::Err(#payload) => {
                        #krate::__private::run_exit_async(::std::option::Option::None).await;
                        ::std::panic::resume_unwind(#payload)
                    }
                }
            }}
        }
        None => f.body.to_token_stream(),
    };
    // A plain `main` that `#[tokio::main]` above this attribute wrote (it ends by `Builder::…block_on(body)`): its
    // runtime is gone when the handlers run, which the runtime says if an async handler is pending then.
    let run_main = match f.asyncness.is_none() && blocks_on_its_body(f.body.to_token_stream()) {
        true => quote!(run_main_after_its_runtime),
        false => quote!(run_main),
    };
    quote! {
        #vis fn #outer() -> ::std::process::ExitCode {
            #(#attrs)*
            #signature #body
            #krate::__private::#run_main(#inner)
        }
    }
}

/// Whether `tokens` hold, at any depth, `block_on(body)` (the call `#[tokio::main]` ends its `main` with).
fn blocks_on_its_body(tokens: TokenStream) -> bool {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.windows(2).any(|pair| match pair {
        [TokenTree::Ident(call), TokenTree::Group(arguments)] if call == "block_on" => {
            arguments.stream().to_string() == "body"
        }
        _ => false,
    }) || tokens.into_iter().any(|token| matches!(token, TokenTree::Group(group) if blocks_on_its_body(group.stream())))
}

/// The item to emit next to a `#[atexit::main]` error. The user's `main` as
/// written would add rustc's own error about `main` (async, parameters) to
/// ours, so it is kept under another name, still type-checked, beside an
/// empty `main`.
fn main_fallback(f: &Function) -> TokenStream {
    let inner = Ident::new("main_with_errors", Span::mixed_site());
    let (attrs, body) = (&f.attrs, &f.body);
    let signature = f.signature_named(&inner);
    quote! {
        #[allow(dead_code)]
        #(#attrs)*
        #signature #body
        fn main() {}
    }
}

// Input:
//     register!(goodbye, "Donny", adjective = "nice")
// Output: the function, the arguments in the order written, then the
// handler `bind` returns, registered as `goodbye` and named after it. With
// positional arguments only, the closure calls `f(args...)` directly, so
// any callable works and rustc checks the count and types. Locals are
// hygienic and the one item has a name no user writes, so the arguments
// mean what they mean where they are written. Snapshots:
// docs/expansions/register_call*.rs.
fn expand_register_call(call: &RegisterCall) -> TokenStream {
    let krate = &call.krate;
    let func = &call.func;
    let f = Ident::new("f", call.func_span.resolved_at(Span::mixed_site()));
    let arg_names: Vec<Ident> = (0..call.positional.len())
        .map(|i| Ident::new(&format!("arg{i}"), first_span(&call.positional[i]).resolved_at(Span::mixed_site())))
        .collect();
    let handler = Ident::new("handler", Span::mixed_site());
    // Named after `f`, as `atexit::register(f)` names it, not after the
    // closure that calls it.
    let registration = quote! {
        #krate::__private::Registration::new(#handler)
            .name(::core::any::type_name_of_val(&#f))
            .identity_of(&#f)
            .register()
    };
    if call.keywords.is_empty() {
        let krate = krate.to_token_stream();
        let arg_values = call.positional.iter().map(|value| argument(&krate, value));
        // Spanned on the function, where rustc puts a wrong argument count.
        let move_call = quote_spanned!(call.func_span=> move || { #f(#(#arg_names),*); });
        return quote! {{
            let #f = #func;
            #(let #arg_names = #arg_values;)*
            let #handler = #move_call;
            #registration
        }};
    }
    let Some(marker) = call.func_path() else {
        return syn::Error::new(
            call.func_span,
            "keyword arguments need the function by name (`register!(goodbye, name = ...)`), \
             marked `#[atexit::handler]`",
        )
        .into_compile_error();
    };
    let k = proc_macro2::Literal::usize_unsuffixed(call.positional.len());
    let keys = call.keywords.iter().map(|(key, _)| key);
    let values = call.keywords.iter().map(|(_, value)| value);
    let positional = &call.positional;
    // The values are written in the struct literal, so that each field's
    // type guides their inference (a closure's parameter types, `&String`
    // to `&str`). The literal names its type through an alias, as it cannot
    // start with `<goodbye as Keywords<1>>` on stable Rust
    // (`more_qualified_paths`, rust-lang/rust#86935). The alias, the one
    // item the values can see, has a name no user writes. It is spanned on
    // the function as written (the user's syntax context, like the
    // fields'), so that rustc points there and suggests field names.
    let alias = Ident::new("__atexit_Keywords", call.func_span);
    let keywords = quote_spanned!(call.func_span=> #alias { #(#keys: #values),* });
    quote! {{
        let #f = #func;
        #(let #arg_names = #positional;)*
        #[allow(non_camel_case_types)]
        type #alias<'a> = <#marker as #krate::__private::Keywords<#k>>::Struct<'a>;
        let #handler = #keywords.bind(#f, #(#arg_names),*);
        #registration
    }}
}

/// An argument, checked to be storable until exit, with errors on its tokens.
fn argument(krate: &TokenStream, value: &TokenStream) -> TokenStream {
    quote_spanned!(first_span(value)=> #krate::__private::argument(#value))
}
