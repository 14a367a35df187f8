//! What each macro accepts. Every rule broken is reported, spanned on the
//! tokens that break it, with what to do instead.

use syn::visit::Visit;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::args::Errors;
use crate::parse::Macro;

pub(crate) fn function(which: Macro, f: &ItemFn) -> syn::Result<()> {
    let name = which.name();
    let sig = &f.sig;
    let mut errors = Errors::default();
    let mut error = |tokens: &dyn quote::ToTokens, message: String| {
        errors.push(syn::Error::new_spanned(tokens, message));
    };

    if let Some(asyncness) = &sig.asyncness {
        match which {
            // A runtime attribute below (`#[tokio::main]`) turns it into a plain fn.
            Macro::Main if !f.attrs.is_empty() => {}
            Macro::Main => error(
                asyncness,
                format!("`{name}` on an `async fn` needs a runtime attribute below it, such as `#[tokio::main]`"),
            ),
            Macro::Register => error(
                asyncness,
                format!("`{name}` cannot run an `async fn` at exit; make it a plain `fn` that blocks on the work"),
            ),
            Macro::Handler => error(
                asyncness,
                format!("`{name}` cannot call an `async fn` at exit; make it a plain `fn` that blocks on the work"),
            ),
        }
    }
    if let Some(unsafety) = &sig.unsafety {
        error(unsafety, format!("`{name}` needs a safe function; call the unsafe code from a safe `fn`"));
    }
    if let Some(variadic) = &sig.variadic {
        error(variadic, format!("`{name}` cannot take C variadic arguments"));
    }

    let type_generics = sig.generics.params.iter().any(|p| !matches!(p, syn::GenericParam::Lifetime(_)));
    let any_generics = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    if (which == Macro::Handler && type_generics) || (which != Macro::Handler && any_generics) {
        let fix = match which {
            Macro::Register => "register one concrete instance with `register!(f::<T>)`",
            Macro::Handler => "write a non-generic wrapper that names the types",
            Macro::Main => "remove the generic parameters",
        };
        error(&sig.generics, format!("`{name}` cannot be used on a generic function; {fix}"));
    }

    for arg in &sig.inputs {
        if let FnArg::Receiver(receiver) = arg {
            error(receiver, format!("`{name}` applies to free functions, not to methods taking `self`"));
        }
    }
    let has_typed_params = sig.inputs.iter().any(|a| matches!(a, FnArg::Typed(_)));
    match which {
        Macro::Register if has_typed_params => error(
            &sig.inputs,
            format!(
                "`{name}` needs a function without parameters; \
                 mark it `#[atexit::handler]` and use `register!({}, args...)` to register it with arguments",
                sig.ident
            ),
        ),
        Macro::Main if has_typed_params => error(&sig.inputs, format!("`{name}` needs a `main` without parameters")),
        Macro::Handler => {
            for arg in &sig.inputs {
                let FnArg::Typed(typed) = arg else { continue };
                match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {}
                    pattern => error(
                        pattern,
                        format!(
                            "`{name}` needs a plain name for each parameter, so `register!` can pass it by keyword"
                        ),
                    ),
                }
                let mut finder = ImplTraitFinder(None);
                finder.visit_type(&typed.ty);
                if let Some(impl_trait) = finder.0 {
                    error(
                        &impl_trait,
                        format!("`{name}` cannot take `impl Trait` parameters; name the type the handler stores"),
                    );
                }
            }
        }
        _ => {}
    }

    if which == Macro::Register
        && let ReturnType::Type(_, ty) = &sig.output
        && !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty())
    {
        error(
            &sig.output,
            format!("`{name}` needs a function that returns `()`; handle the result inside the handler"),
        );
    }
    errors.finish(())
}

struct ImplTraitFinder(Option<syn::TypeImplTrait>);

impl<'ast> Visit<'ast> for ImplTraitFinder {
    fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
        self.0.get_or_insert_with(|| node.clone());
    }
}
