//! What each macro accepts. Every rule broken is reported, spanned on the
//! tokens that break it, with what to do instead.

use quote::ToTokens;

use crate::args::Errors;
use crate::parse::{Function, Input, Macro, Pattern, is_unit, mentions_impl};

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
                format!(
                    "`{name}` cannot run an `async fn` at exit; register it at run time with \
                     `atexit::register_async(time_limit, || flush())` (feature `tokio`), or make it a plain `fn` \
                     that blocks on the work"
                ),
            ),
            Macro::Handler => errors.spanned(
                asyncness,
                format!(
                    "`{name}` cannot call an `async fn` at exit; register it at run time with \
                     `atexit::register_async(time_limit, || f(..))` (feature `tokio`), or make it a plain `fn` \
                     that blocks on the work"
                ),
            ),
        }
    }
    if let Some(unsafety) = &f.unsafety {
        errors.spanned(unsafety, format!("`{name}` needs a safe function; call the unsafe code from a safe `fn`"));
    }
    if let Some(variadic) = &f.variadic {
        errors.spanned(variadic, format!("`{name}` cannot take C variadic arguments"));
    }

    let type_generics = !f.type_generics().is_empty();
    let any_generics = !f.generic_params.is_empty() || !f.where_clause.is_empty();
    if (which == Macro::Handler && type_generics) || (which != Macro::Handler && any_generics) {
        let fix = match which {
            Macro::Register => "register one concrete instance with `register!(f::<T>)`",
            Macro::Handler => "write a non-generic wrapper that names the types",
            Macro::Main => "remove the generic parameters",
        };
        let tokens: &dyn ToTokens = if f.generics.is_empty() { &f.where_clause } else { &f.generics };
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
                if mentions_impl(param.ty.clone()) {
                    errors.push(syn::Error::new_spanned(
                        &param.ty,
                        format!("`{name}` cannot take `impl Trait` parameters; name the type the handler stores"),
                    ));
                }
            }
        }
        _ => {}
    }

    let returns_a_value = f.output.as_ref().is_some_and(|ty| !is_unit(ty));
    if which == Macro::Register && returns_a_value {
        errors.spanned(
            &f.arrow_output,
            format!("`{name}` needs a function that returns `()`; handle the result inside the handler"),
        );
    }
    errors.finish(())
}
