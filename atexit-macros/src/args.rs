//! Attribute options (`#[atexit::register(priority = 5)]`) and the arguments
//! of `register!(f, a, key = b)`.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token};

/// Which options a macro accepts, for parsing and for the error that lists them.
#[derive(Clone, Copy)]
pub(crate) struct Accepted {
    pub(crate) macro_name: &'static str,
    pub(crate) priority: bool,
    pub(crate) name: bool,
    pub(crate) krate: bool,
}

impl Accepted {
    fn list(&self) -> String {
        let mut options = Vec::new();
        if self.priority {
            options.push("`priority = N`");
        }
        if self.name {
            options.push("`name = \"...\"`");
        }
        if self.krate {
            options.push("`crate = path`");
        }
        match options.len() {
            0 => "no options".to_owned(),
            1 => format!("only {}", options[0]),
            _ => {
                let last = options.pop().unwrap();
                format!("{} and {last}", options.join(", "))
            }
        }
    }
}

/// The options of an attribute, each at most once.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) priority: Option<Expr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

impl Options {
    /// The path generated code reaches the runtime through.
    pub(crate) fn crate_path(&self) -> Path {
        self.krate.clone().unwrap_or_else(|| syn::parse_quote!(::atexit))
    }
}

/// Collects every error of an input, so one compile shows them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `value`, unless an error was pushed.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// Parses `key = value, ...`. Every mistake is reported, not just the first.
pub(crate) fn parse_options(tokens: TokenStream, accepted: Accepted) -> syn::Result<Options> {
    let mut options = Options::default();
    let mut errors = Errors::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
        let duplicate = |what: &str| {
            syn::Error::new_spanned(&meta.path, format!("duplicate `{what}` option in `{}`", accepted.macro_name))
        };
        match key.as_str() {
            "priority" if accepted.priority => {
                let value: Expr = meta.value()?.parse()?;
                if options.priority.replace(value).is_some() {
                    errors.push(duplicate("priority"));
                }
            }
            "name" if accepted.name => {
                let value: LitStr = meta.value()?.parse()?;
                if options.name.replace(value).is_some() {
                    errors.push(duplicate("name"));
                }
            }
            "crate" if accepted.krate => {
                let value: Path = meta.value()?.call(Path::parse_mod_style)?;
                if options.krate.replace(value).is_some() {
                    errors.push(duplicate("crate"));
                }
            }
            _ => {
                errors.push(syn::Error::new_spanned(
                    &meta.path,
                    format!("unknown option in `{}`; it takes {}", accepted.macro_name, accepted.list()),
                ));
                // Skip the value, so the options after it are still checked.
                if meta.input.peek(Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
            }
        }
        Ok(())
    });
    parser.parse2(tokens)?;
    errors.finish(options)
}

/// `register!(f, positional..., keyword = value...)`, as the facade's
/// `macro_rules!` forwards it: `$crate; f, ...`, so generated code names the
/// runtime through whatever path the user reached the macro by.
pub(crate) struct RegisterCall {
    pub(crate) krate: Path,
    pub(crate) func: Expr,
    pub(crate) positional: Vec<Expr>,
    pub(crate) keywords: Vec<(Ident, Expr)>,
}

enum Arg {
    Positional(Expr),
    Keyword(Ident, Expr),
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key: Ident = input.parse()?;
            let _: Token![=] = input.parse()?;
            Ok(Arg::Keyword(key, input.parse()?))
        } else {
            Ok(Arg::Positional(input.parse()?))
        }
    }
}

impl Parse for RegisterCall {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate = Path::parse_mod_style(input)?;
        let _: Token![;] = input.parse()?;
        if input.is_empty() {
            return Err(input.error("`register!` needs a function: `register!(f)` or `register!(f, args...)`"));
        }
        let func: Expr = input.parse()?;
        let mut call = RegisterCall { krate, func, positional: Vec::new(), keywords: Vec::new() };
        if input.is_empty() {
            return Ok(call);
        }
        let _: Token![,] = input.parse()?;
        let args = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        let mut errors = Errors::default();
        for arg in args {
            match arg {
                Arg::Positional(value) if !call.keywords.is_empty() => errors.push(syn::Error::new_spanned(
                    value,
                    "positional argument after a keyword argument in `register!`; \
                     put positional arguments first, or name this one too",
                )),
                Arg::Positional(value) => call.positional.push(value),
                Arg::Keyword(key, value) => {
                    if call.keywords.iter().any(|(k, _)| *k == key) {
                        errors.push(syn::Error::new_spanned(
                            &key,
                            format!("`{key}` is given twice in `register!`; give each argument once"),
                        ));
                    } else {
                        call.keywords.push((key, value));
                    }
                }
            }
        }
        errors.finish(call)
    }
}
