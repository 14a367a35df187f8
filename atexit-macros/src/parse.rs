//! The user's item, parsed into what the macros need of it.

use proc_macro2::TokenStream;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ItemFn, Lifetime, Pat, Type};

/// Which macro is at work, for its rules and its messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    Register,
    Handler,
    Main,
}

impl Macro {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Macro::Register => "#[atexit::register]",
            Macro::Handler => "#[atexit::handler]",
            Macro::Main => "#[atexit::main]",
        }
    }
}

/// Parses the annotated item as a function, or says what the macro applies to.
pub(crate) fn function(which: Macro, item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<syn::Item>(item)? {
        syn::Item::Fn(f) => Ok(f),
        other => Err(syn::Error::new_spanned(
            item_keyword(&other),
            match which {
                Macro::Register => "`#[atexit::register]` applies to functions; put it on a `fn` without parameters",
                Macro::Handler => {
                    "`#[atexit::handler]` applies to functions; put it on the `fn` that `register!` calls"
                }
                Macro::Main => "`#[atexit::main]` applies to the `fn main` of a binary",
            },
        )),
    }
}

/// The keyword that says what kind of item it is (`struct`, `const`, ...),
/// past its attributes and visibility, for the error's span.
fn item_keyword(item: &syn::Item) -> TokenStream {
    use proc_macro2::TokenTree;
    use quote::ToTokens;
    let tokens = item.to_token_stream();
    let keyword = tokens.clone().into_iter().find(|tt| matches!(tt, TokenTree::Ident(i) if i != "pub" && i != "crate"));
    keyword.map_or(tokens, TokenStream::from)
}

/// One parameter of a `#[atexit::handler]` function.
pub(crate) struct Param {
    pub(crate) name: Ident,
    /// The type with every lifetime made `'static`: the arguments are stored
    /// until exit, so they cannot borrow anything shorter.
    pub(crate) ty: Type,
}

/// The parameters, by name. Patterns other than a plain name are rejected
/// by `validate` before this runs.
pub(crate) fn params(f: &ItemFn) -> Vec<Param> {
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => {
                    let mut ty = (*typed.ty).clone();
                    StaticLifetimes.visit_type_mut(&mut ty);
                    Some(Param { name: pat.ident.clone(), ty })
                }
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

struct StaticLifetimes;

impl VisitMut for StaticLifetimes {
    fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
        let span = reference.and_token.span;
        reference.lifetime = Some(Lifetime::new("'static", span));
        syn::visit_mut::visit_type_reference_mut(self, reference);
    }

    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        *lifetime = Lifetime::new("'static", lifetime.apostrophe);
    }
}
