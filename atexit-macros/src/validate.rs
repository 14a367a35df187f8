//! What each macro accepts. Every rule broken is reported, spanned on the
//! tokens that break it, with what to do instead.

use quote::ToTokens;
use syn::{ReturnType, Type};

use crate::args::Errors;
use crate::parse::{Function, Input, Macro, Pattern, mentions_impl};

pub(crate) fn function(which: Macro, f: &Function) -> syn::Result<()> {
    let name = which.name();
    let mut errors = Errors::default();

    if let Some(asyncness) = &f.asyncness {
        match which {
            // A runtime attribute below (`#[tokio::main]`) turns it into a plain fn.
            Macro::Main if !f.attrs.is_empty() => {}
            Macro::Main => errors.spanned(
                asyncness,
                format!("`{name}` on an `async fn` needs a runtime attribute below it, such as `#[tokio::main]`"),
            ),
            Macro::Register => errors.spanned(
                asyncness,
                format!("`{name}` cannot run an `async fn` at exit; make it a plain `fn` that blocks on the work"),
            ),
            Macro::Handler => errors.spanned(
                asyncness,
                format!("`{name}` cannot call an `async fn` at exit; make it a plain `fn` that blocks on the work"),
            ),
        }
    }
    if let Some(unsafety) = &f.unsafety {
        errors.spanned(unsafety, format!("`{name}` needs a safe function; call the unsafe code from a safe `fn`"));
    }
    if let Some(variadic) = &f.variadic {
        errors.spanned(variadic, format!("`{name}` cannot take C variadic arguments"));
    }

    let generics = &f.generics;
    let type_generics = generics.params.iter().any(|p| !matches!(p, syn::GenericParam::Lifetime(_)));
    let any_generics = !generics.params.is_empty() || generics.where_clause.is_some();
    if (which == Macro::Handler && type_generics) || (which != Macro::Handler && any_generics) {
        let fix = match which {
            Macro::Register => "register one concrete instance with `register!(f::<T>)`",
            Macro::Handler => "write a non-generic wrapper that names the types",
            Macro::Main => "remove the generic parameters",
        };
        let tokens: &dyn ToTokens = if generics.params.is_empty() { &generics.where_clause } else { generics };
        errors.spanned(tokens, format!("`{name}` cannot be used on a generic function; {fix}"));
    }

    for input in &f.inputs {
        if let Input::Receiver(receiver) = input {
            errors.spanned(receiver, format!("`{name}` applies to free functions, not to methods taking `self`"));
        }
    }
    let has_params = f.params().next().is_some();
    match which {
        Macro::Register if has_params => errors.spanned(
            &f.params_group.stream(),
            format!(
                "`{name}` needs a function without parameters; \
                 mark it `#[atexit::handler]` and use `register!({}, args...)` to register it with arguments",
                f.ident
            ),
        ),
        Macro::Main if has_params => {
            errors.spanned(&f.params_group.stream(), format!("`{name}` needs a `main` without parameters"))
        }
        Macro::Handler => {
            for param in f.params() {
                if let Pattern::Other(pattern) = &param.pattern {
                    errors.spanned(
                        pattern,
                        format!(
                            "`{name}` needs a plain name for each parameter, so `register!` can pass it by keyword"
                        ),
                    );
                }
                if mentions_impl(param.ty.to_token_stream()).is_some() {
                    errors.push(syn::Error::new_spanned(
                        &param.ty,
                        format!("`{name}` cannot take `impl Trait` parameters; name the type the handler stores"),
                    ));
                }
            }
        }
        _ => {}
    }

    let returns_a_value = match &f.output {
        ReturnType::Type(_, ty) => !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
        ReturnType::Default => false,
    };
    if which == Macro::Register && returns_a_value {
        errors.spanned(
            &f.output,
            format!("`{name}` needs a function that returns `()`; handle the result inside the handler"),
        );
    }
    errors.finish(())
}
