//! The expansions, checked against `docs/expansions/*.rs`, which the crate
//! docs show. `ATEXIT_BLESS=1 cargo test -p atexit-macros` rewrites them
//! after a change; review the diff.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

/// The file for `name`, its input as written, and the expansion.
fn snapshot(name: &str, input: &str, expansion: TokenStream) {
    let file: syn::File = syn::parse2(expansion.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{expansion}"));
    let text = format!("// Input:\n{input}\n\n// Output:\n{}", prettyplease::unparse(&file));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/expansions").join(format!("{name}.rs"));
    if !path.parent().is_some_and(|dir| dir.exists()) && std::env::var_os("ATEXIT_BLESS").is_none() {
        // Built from the published crate: the snapshots live in the repository.
        eprintln!("snapshot {name} not checked: docs/expansions is not beside this crate");
        return;
    }
    if std::env::var_os("ATEXIT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("create docs/expansions");
        std::fs::write(&path, &text).expect("write the snapshot");
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        recorded == text,
        "the expansion of {name} changed; rerun with ATEXIT_BLESS=1 and review docs/expansions/{name}.rs\n\
         --- recorded\n{recorded}\n--- now\n{text}"
    );
}

#[test]
fn register() {
    let item = quote! { fn flush() { save_state(); } };
    snapshot(
        "register",
        "#[atexit::register(priority = 5, name = \"flush logs\")]\nfn flush() { save_state(); }",
        expand::register_attribute(quote!(priority = 5, name = "flush logs"), item),
    );
}

#[test]
fn register_associated() {
    let item = quote! { fn close_all() { Self::flush_pool(); } };
    snapshot(
        "register_associated",
        "impl Database {\n    #[atexit::register(Self = Database)]\n    fn close_all() { Self::flush_pool(); }\n}",
        in_an_impl(expand::register_attribute(quote!(Self = Database), item)),
    );
}

#[test]
fn handler() {
    let item = quote! {
        fn goodbye(name: &str, times: u32) {
            println!("Goodbye {name} x{times}");
        }
    };
    snapshot(
        "handler",
        "#[atexit::handler]\nfn goodbye(name: &str, times: u32) {\n    println!(\"Goodbye {name} x{times}\");\n}",
        expand::handler_attribute(TokenStream::new(), item),
    );
}

#[test]
fn main() {
    let item = quote! { fn main() -> Result<(), Error> { run() } };
    snapshot(
        "main",
        "#[atexit::main]\nfn main() -> Result<(), Error> { run() }",
        expand::main_attribute(TokenStream::new(), item),
    );
}

#[test]
fn main_async() {
    let item = quote! {
        #[tokio::main]
        async fn main() {
            serve().await;
        }
    };
    snapshot(
        "main_async",
        "#[atexit::main]\n#[tokio::main]\nasync fn main() {\n    serve().await;\n}",
        expand::main_attribute(TokenStream::new(), item),
    );
}

#[test]
fn register_call() {
    // What the facade's `register!` passes on: `$crate;`, the function,
    // then each argument, parsed by `macro_rules!`, as `(value)` or `(= key value)`.
    snapshot(
        "register_call_positional",
        "register!(goodbye, \"Donny\", 3)",
        in_a_function(expand::register_call(quote!(::atexit; (goodbye) ("Donny") (3)))),
    );
    snapshot(
        "register_call_keywords",
        "register!(goodbye, \"Donny\", times = 3)",
        in_a_function(expand::register_call(quote!(::atexit; (goodbye) ("Donny") (= times 3)))),
    );
}

/// Associated items, in an `impl` block, so they print as a file.
fn in_an_impl(items: TokenStream) -> TokenStream {
    quote! { impl Database { #items } }
}

/// An expression, as the body of a function, so it prints as a file.
fn in_a_function(expression: TokenStream) -> TokenStream {
    quote! { fn register_goodbye() -> ::atexit::Handle { #expression } }
}
