//! Implementation detail of the [`atexit`](https://docs.rs/atexit) crate: its
//! procedural macros. Depend on `atexit`, which re-exports and documents them.
//!
//! Each macro parses its input here and hands it to one module per stage:
//! `args` (attribute options and `register!` arguments), `parse` (the
//! user's function into a typed struct), `validate` (what each macro
//! accepts) and `expand` (infallible: typed input to tokens).

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod args;
mod expand;
mod parse;
mod validate;

#[cfg(test)]
mod snapshots;

// The three attributes are documented where users meet them, on the
// `atexit` crate's re-exports: a doc comment here would be appended to
// those pages.
#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn register(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::register_attribute(args.into(), item.into()).into()
}

#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::handler_attribute(args.into(), item.into()).into()
}

#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::main_attribute(args.into(), item.into()).into()
}

/// `atexit::prelude::register!`: see the `atexit` crate. Named apart here
/// because one crate cannot export an attribute and a function-like macro
/// under one name. The facade's `register!` calls it as
/// `register_call!($crate; f, args...)`.
#[proc_macro]
pub fn register_call(input: TokenStream) -> TokenStream {
    expand::register_call(input.into()).into()
}
