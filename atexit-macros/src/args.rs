//! Attribute options (`#[atexit::register(priority = 5)]`), the arguments
//! of `register!(f, a, key = b)`, and the error collector every stage uses.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Expr, Ident, LitStr, Path, Token};

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

    /// Adds an error spanned on `tokens`.
    pub(crate) fn spanned(&mut self, tokens: &dyn ToTokens, message: String) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// `value`, unless an error was pushed.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// One option a macro can take.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Priority,
    Name,
    Crate,
    InheritOnFork,
}

impl Key {
    const ALL: [Key; 4] = [Key::Priority, Key::Name, Key::Crate, Key::InheritOnFork];

    fn word(self) -> &'static str {
        match self {
            Key::Priority => "priority",
            Key::Name => "name",
            Key::Crate => "crate",
            Key::InheritOnFork => "inherit_on_fork",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Key::Priority => "`priority = N`",
            Key::Name => "`name = \"...\"`",
            Key::Crate => "`crate = path`",
            Key::InheritOnFork => "`inherit_on_fork`",
        }
    }
}

/// A macro's name and the options it takes: how its options are parsed and
/// what its errors say.
pub(crate) struct Accepted {
    pub(crate) macro_name: &'static str,
    pub(crate) keys: &'static [Key],
}

impl Accepted {
    fn list(&self) -> String {
        let mut options: Vec<&str> = self.keys.iter().map(|k| k.usage()).collect();
        match options.len() {
            0 => "no options".to_owned(),
            1 => format!("only {}", options[0]),
            _ => {
                let last = options.pop().unwrap_or_default();
                format!("{} and {last}", options.join(", "))
            }
        }
    }

    fn unknown(&self, path: &Path) -> syn::Error {
        let written = path.to_token_stream().to_string().replace(' ', "");
        let nearest = self
            .keys
            .iter()
            .map(|k| k.word())
            .filter(|word| edit_distance(word, &written) <= 2)
            .min_by_key(|word| edit_distance(word, &written));
        let message = match nearest {
            Some(word) => format!("unknown option `{written}` in `{}`; did you mean `{word}`?", self.macro_name),
            None if self.keys.is_empty() => format!("`{}` takes no options; remove `{written}`", self.macro_name),
            None => format!("unknown option `{written}` in `{}`; it takes {}", self.macro_name, self.list()),
        };
        syn::Error::new_spanned(path, message)
    }
}

/// How many single-character edits turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The options of an attribute, each at most once.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) priority: Option<Expr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    pub(crate) inherit_on_fork: Option<Ident>,
}

impl Options {
    /// The path generated code reaches the runtime through.
    pub(crate) fn crate_path(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote::quote!(::atexit),
        }
    }

    /// Parses `key = value, flag, ...`. Every mistake is reported, not just the first.
    pub(crate) fn parse(tokens: TokenStream, accepted: &Accepted) -> syn::Result<Options> {
        let mut options = Options::default();
        let mut errors = Errors::default();
        let parser = syn::meta::parser(|meta| {
            let key = Key::ALL.into_iter().find(|k| meta.path.is_ident(k.word()) && accepted.keys.contains(k));
            let duplicate = || {
                let key = meta.path.to_token_stream();
                syn::Error::new_spanned(&meta.path, format!("duplicate `{key}` option in `{}`", accepted.macro_name))
            };
            let fresh = match key {
                Some(Key::Priority) => options.priority.replace(meta.value()?.parse()?).is_none(),
                Some(Key::Name) => options.name.replace(meta.value()?.parse()?).is_none(),
                Some(Key::Crate) => options.krate.replace(meta.value()?.call(Path::parse_mod_style)?).is_none(),
                Some(Key::InheritOnFork) => {
                    if meta.input.peek(Token![=]) {
                        return Err(meta.error("`inherit_on_fork` takes no value; write just `inherit_on_fork`"));
                    }
                    let ident = meta.path.get_ident().cloned();
                    options
                        .inherit_on_fork
                        .replace(ident.unwrap_or_else(|| Ident::new("inherit_on_fork", Span::call_site())))
                        .is_none()
                }
                None => {
                    errors.push(accepted.unknown(&meta.path));
                    // Skip the value, so the options after it are still checked.
                    if meta.input.peek(Token![=]) {
                        let _: Expr = meta.value()?.parse()?;
                    }
                    true
                }
            };
            if !fresh {
                errors.push(duplicate());
            }
            Ok(())
        });
        parser.parse2(tokens)?;
        errors.finish(options)
    }
}

/// `register!(f, positional..., keyword = value...)`, as the facade's
/// `macro_rules!` forwards it: `$crate; (f) (value) (= key value) ...`, each
/// argument already parsed as an expression by `macro_rules!`, so that this
/// crate needs no expression parser. `$crate` lets generated code name the
/// runtime through whatever path the user reached the macro by.
pub(crate) struct RegisterCall {
    pub(crate) krate: Path,
    /// The function, as written.
    pub(crate) func: TokenStream,
    pub(crate) func_span: Span,
    pub(crate) positional: Vec<TokenStream>,
    pub(crate) keywords: Vec<(Ident, TokenStream)>,
}

/// The tokens of an argument, out of the invisible group `macro_rules!`
/// put it in, whose span is the whole macro call: so that errors and
/// spans land on the argument as written.
pub(crate) fn unwrap_invisible(tt: TokenTree) -> TokenStream {
    match tt {
        TokenTree::Group(group) if group.delimiter() == Delimiter::None => {
            let mut inner = group.stream().into_iter();
            match (inner.next(), inner.next()) {
                (Some(only), None) => unwrap_invisible(only),
                (first, second) => first.into_iter().chain(second).chain(inner).collect(),
            }
        }
        other => other.into(),
    }
}

/// Where an argument starts, for `quote_spanned!`.
pub(crate) fn first_span(tokens: &TokenStream) -> Span {
    tokens.clone().into_iter().next().map_or_else(Span::call_site, |tt| tt.span())
}

impl RegisterCall {
    /// The function as a path, if it is one (`goodbye`, `logs::flush`).
    pub(crate) fn func_path(&self) -> Option<Path> {
        syn::parse2::<Path>(self.func.clone()).ok()
    }
}

impl Parse for RegisterCall {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate = Path::parse_mod_style(input)?;
        let _: Token![;] = input.parse()?;
        let func: TokenStream =
            input.parse::<proc_macro2::Group>()?.stream().into_iter().map(unwrap_invisible).collect();
        let mut call =
            RegisterCall { krate, func_span: first_span(&func), func, positional: Vec::new(), keywords: Vec::new() };
        let mut errors = Errors::default();
        while !input.is_empty() {
            let arg = input.parse::<proc_macro2::Group>()?;
            let mut tokens = arg.stream().into_iter();
            let first = tokens.next();
            match first {
                Some(TokenTree::Punct(eq)) if eq.as_char() == '=' => {
                    let (Some(TokenTree::Ident(key)), Some(value)) = (tokens.next(), tokens.next()) else {
                        return Err(syn::Error::new(arg.span(), "malformed `register!` argument"));
                    };
                    if call.keywords.iter().any(|(k, _)| *k == key) {
                        errors.push(syn::Error::new(
                            key.span(),
                            format!("`{key}` is given twice in `register!`; give each argument once"),
                        ));
                    } else {
                        call.keywords.push((key, unwrap_invisible(value)));
                    }
                }
                Some(value) if !call.keywords.is_empty() => errors.push(syn::Error::new_spanned(
                    unwrap_invisible(value),
                    "positional argument after a keyword argument in `register!`; \
                     put positional arguments first, or name this one too",
                )),
                Some(value) => call.positional.push(unwrap_invisible(value)),
                None => return Err(syn::Error::new(arg.span(), "malformed `register!` argument")),
            }
            debug_assert!(arg.delimiter() == Delimiter::Parenthesis);
        }
        errors.finish(call)
    }
}
