//! Attribute options (`#[atexit::register(priority = 5)]`), the arguments
//! of `register!(f, a, key = b)`, and the error collector every stage uses.

use proc_macro2::{Delimiter, Ident, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::LitStr;

use crate::parse::split_top_level;

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
    /// `Self = Type`: the type of the `impl` block the function is in,
    /// which an attribute cannot see.
    SelfType,
}

impl Key {
    const ALL: [Key; 5] = [Key::Priority, Key::Name, Key::Crate, Key::InheritOnFork, Key::SelfType];

    fn word(self) -> &'static str {
        match self {
            Key::Priority => "priority",
            Key::Name => "name",
            Key::Crate => "crate",
            Key::InheritOnFork => "inherit_on_fork",
            Key::SelfType => "Self",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Key::Priority => "`priority = N`",
            Key::Name => "`name = \"...\"`",
            Key::Crate => "`crate = path`",
            Key::InheritOnFork => "`inherit_on_fork`",
            Key::SelfType => "`Self = Type` (in an `impl` block)",
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

    fn unknown(&self, tokens: &TokenStream, written: &str) -> syn::Error {
        let nearest = self
            .keys
            .iter()
            .map(|k| k.word())
            .filter(|word| edit_distance(word, written) <= 2)
            .min_by_key(|word| edit_distance(word, written));
        let message = match nearest {
            Some(word) => format!("unknown option `{written}` in `{}`; did you mean `{word}`?", self.macro_name),
            None if self.keys.is_empty() => format!("`{}` takes no options; remove `{written}`", self.macro_name),
            None => format!("unknown option `{written}` in `{}`; it takes {}", self.macro_name, self.list()),
        };
        syn::Error::new_spanned(tokens, message)
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

/// The options of an attribute, each at most once; values as written.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) priority: Option<TokenStream>,
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<TokenStream>,
    pub(crate) inherit_on_fork: Option<Ident>,
    /// `Self = Type`: the `Self` token as written, and the type, a path.
    pub(crate) self_type: Option<(Ident, TokenStream)>,
}

impl Options {
    /// The path generated code reaches the runtime through.
    pub(crate) fn crate_path(&self) -> TokenStream {
        self.krate.clone().unwrap_or_else(|| quote::quote!(::atexit))
    }

    /// Parses `key = value, flag, ...`. Every mistake is reported, not just the first.
    pub(crate) fn parse(tokens: TokenStream, accepted: &Accepted) -> syn::Result<Options> {
        let mut options = Options::default();
        let mut errors = Errors::default();
        for option in split_top_level(tokens, ',') {
            let parts = split_top_level(option.clone(), '=');
            let (written, value) = match parts.as_slice() {
                [key] => (key.clone(), None),
                [key, value] => (key.clone(), Some(value.clone())),
                _ => {
                    errors.spanned(&option, "expected `key = value`".to_owned());
                    continue;
                }
            };
            let name = written.to_string().replace(' ', "");
            let Some(key) = Key::ALL.into_iter().find(|k| k.word() == name && accepted.keys.contains(k)) else {
                errors.push(accepted.unknown(&written, &name));
                continue;
            };
            let needs_value = |value: Option<TokenStream>| {
                value.filter(|v| !v.is_empty()).ok_or_else(|| {
                    syn::Error::new_spanned(&written, format!("`{name}` needs a value: {}", key.usage()))
                })
            };
            let fresh = match key {
                Key::Priority => store(&mut options.priority, needs_value(value), &mut errors),
                Key::Name => store(&mut options.name, needs_value(value).and_then(syn::parse2::<LitStr>), &mut errors),
                Key::Crate => {
                    let path = needs_value(value).and_then(|path| {
                        is_path(&path).then_some(path).ok_or_else(|| {
                            syn::Error::new_spanned(&written, "`crate` needs a path, such as `crate = my_lib::atexit`")
                        })
                    });
                    store(&mut options.krate, path, &mut errors)
                }
                Key::SelfType => {
                    let ty = needs_value(value).and_then(|ty| {
                        is_path(&ty).then_some(ty).ok_or_else(|| {
                            syn::Error::new_spanned(
                                &written,
                                "`Self` needs the path of the `impl` block's type, such as `Self = Database`; \
                                 for a type with generic arguments, name it with a `type` alias",
                            )
                        })
                    });
                    let token = first_ident(&written);
                    store(&mut options.self_type, ty.map(|ty| (token, ty)), &mut errors)
                }
                Key::InheritOnFork => {
                    if value.is_some() {
                        errors.spanned(
                            &written,
                            "`inherit_on_fork` takes no value; write just `inherit_on_fork`".to_owned(),
                        );
                    }
                    options.inherit_on_fork.replace(first_ident(&written)).is_none()
                }
            };
            if !fresh {
                errors.spanned(&written, format!("duplicate `{name}` option in `{}`", accepted.macro_name));
            }
        }
        errors.finish(options)
    }
}

/// The option's name as written (for its span).
fn first_ident(written: &TokenStream) -> Ident {
    let ident = written.clone().into_iter().find_map(|t| match t {
        TokenTree::Ident(i) => Some(i),
        _ => None,
    });
    ident.unwrap_or_else(|| Ident::new("option", Span::call_site()))
}

/// Stores an option's value; whether it was not given before. A value
/// that did not parse is reported (and counts as not given before).
fn store<T>(slot: &mut Option<T>, parsed: syn::Result<T>, errors: &mut Errors) -> bool {
    match parsed {
        Ok(value) => slot.replace(value).is_none(),
        Err(e) => {
            errors.push(e);
            true
        }
    }
}

/// A path: names joined by `::`, maybe with a leading `::` (`$crate` counts
/// as a name).
pub(crate) fn is_path(tokens: &TokenStream) -> bool {
    let mut expect_name = true;
    let mut tokens = tokens.clone().into_iter().peekable();
    if matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':') {
        tokens.next();
        if !matches!(tokens.next(), Some(TokenTree::Punct(p)) if p.as_char() == ':') {
            return false;
        }
    }
    while let Some(tt) = tokens.next() {
        match tt {
            TokenTree::Ident(_) if expect_name => expect_name = false,
            TokenTree::Punct(p) if !expect_name && p.as_char() == ':' && p.spacing() == Spacing::Joint => {
                if !matches!(tokens.next(), Some(TokenTree::Punct(q)) if q.as_char() == ':') {
                    return false;
                }
                expect_name = true;
            }
            _ => return false,
        }
    }
    !expect_name
}

/// `register!(f, positional..., keyword = value...)`, as the facade's
/// `macro_rules!` forwards it: `$crate; (f) (value) (= key value) ...`, each
/// argument already parsed as an expression by `macro_rules!`, so that this
/// crate needs no expression parser. `$crate` lets generated code name the
/// runtime through whatever path the user reached the macro by.
pub(crate) struct RegisterCall {
    pub(crate) krate: TokenStream,
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
    pub(crate) fn func_path(&self) -> Option<&TokenStream> {
        is_path(&self.func).then_some(&self.func)
    }
}

impl RegisterCall {
    pub(crate) fn parse(input: TokenStream) -> syn::Result<Self> {
        let mut input = input.into_iter();
        let krate: TokenStream =
            input.by_ref().take_while(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ';')).collect();
        let group = |tt: Option<TokenTree>| match tt {
            Some(TokenTree::Group(g)) => Ok(g),
            _ => Err(syn::Error::new(Span::call_site(), "malformed `register!` input")),
        };
        let func: TokenStream = group(input.next())?.stream().into_iter().map(unwrap_invisible).collect();
        let mut call =
            RegisterCall { krate, func_span: first_span(&func), func, positional: Vec::new(), keywords: Vec::new() };
        let mut errors = Errors::default();
        for tt in input {
            let arg = group(Some(tt))?;
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
