//! The user's function, parsed into what the macros need of it.
//!
//! Only the signature is looked at, a token at a time; types, the body and
//! everything else stay tokens, emitted as written. So the macros need
//! `syn` for its errors, literals and token types only, without its
//! `derive` and `full` features: `syn` was the longest step of a clean
//! build of a program that uses the macros (`scripts/compile-time.sh`).

use proc_macro2::{Delimiter, Group, Ident, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};

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

    /// What to say when the item is not a function.
    fn not_a_function(self) -> &'static str {
        match self {
            Macro::Register => "`#[atexit::register]` applies to functions; put it on a `fn` without parameters",
            Macro::Handler => "`#[atexit::handler]` applies to functions; put it on the `fn` that `register!` calls",
            Macro::Main => "`#[atexit::main]` applies to the `fn main` of a binary",
        }
    }
}

/// A function item: what the macros check or rewrite, and the rest as written.
pub(crate) struct Function {
    /// Outer attributes, each `#[...]` as written.
    pub(crate) attrs: Vec<TokenStream>,
    pub(crate) vis: TokenStream,
    /// `const`, `async`, `unsafe`, `extern "C"`, as written.
    pub(crate) qualifiers: TokenStream,
    pub(crate) asyncness: Option<Ident>,
    pub(crate) unsafety: Option<Ident>,
    pub(crate) has_abi: bool,
    pub(crate) fn_token: Ident,
    pub(crate) ident: Ident,
    /// `<...>` as written (brackets included), and what each parameter is.
    pub(crate) generics: TokenStream,
    pub(crate) generic_params: Vec<GenericParam>,
    /// The parameter list as written, parentheses included.
    pub(crate) params_group: Group,
    pub(crate) inputs: Vec<Input>,
    /// `...`: a C variadic.
    pub(crate) variadic: Option<TokenStream>,
    /// `-> T` as written, and `T`.
    pub(crate) arrow_output: TokenStream,
    pub(crate) output: Option<TokenStream>,
    pub(crate) where_clause: TokenStream,
    pub(crate) body: Group,
}

pub(crate) enum GenericParam {
    Lifetime,
    /// A type or const parameter, by name.
    Named(Ident),
}

/// One entry of the parameter list.
pub(crate) enum Input {
    /// `self`, `&self`, `mut self`, `self: Box<Self>`: as written.
    Receiver(TokenStream),
    Typed(Param),
}

pub(crate) struct Param {
    pub(crate) pattern: Pattern,
    pub(crate) ty: TokenStream,
}

pub(crate) enum Pattern {
    /// `name` or `mut name`.
    Name(Ident),
    /// Anything else (`(a, b)`, `_`, `ref x`), as written.
    Other(TokenStream),
}

impl Function {
    /// Parses `item` as a function, or says what the macro applies to.
    pub(crate) fn parse(which: Macro, item: TokenStream) -> syn::Result<Function> {
        let mut tokens = Cursor::new(item);
        let mut attrs = Vec::new();
        while tokens.is_punct('#') {
            let pound = tokens.next_tree();
            let group = tokens.next_tree();
            attrs.push(pound.into_iter().chain(group).collect());
        }
        let mut vis = TokenStream::new();
        if tokens.is_ident("pub") {
            vis.extend(tokens.next_tree());
            if let Some(TokenTree::Group(g)) = tokens.peek() {
                if g.delimiter() == Delimiter::Parenthesis {
                    vis.extend(tokens.next_tree());
                }
            }
        }
        let (mut qualifiers, mut asyncness, mut unsafety, mut has_abi) = (TokenStream::new(), None, None, false);
        loop {
            match tokens.peek() {
                Some(TokenTree::Ident(i)) if i == "const" || i == "async" || i == "unsafe" || i == "extern" => {
                    let keyword = i.clone();
                    qualifiers.extend(tokens.next_tree());
                    if keyword == "async" {
                        asyncness = Some(keyword);
                    } else if keyword == "unsafe" {
                        unsafety = Some(keyword);
                    } else if keyword == "extern" {
                        has_abi = true;
                        if matches!(tokens.peek(), Some(TokenTree::Literal(_))) {
                            qualifiers.extend(tokens.next_tree());
                        }
                    }
                }
                _ => break,
            }
        }
        let not_a_function = |span: Span| syn::Error::new(span, which.not_a_function());
        let fn_token = match tokens.next_tree() {
            Some(TokenTree::Ident(i)) if i == "fn" => i,
            other => {
                // The item's keyword (`struct`, `const`, ...), or where it should be.
                let span =
                    qualifiers.clone().into_iter().chain(other).next().map_or_else(Span::call_site, |t| t.span());
                return Err(not_a_function(span));
            }
        };
        let ident = match tokens.next_tree() {
            Some(TokenTree::Ident(i)) => i,
            other => return Err(syn::Error::new(span_of(other.as_ref(), &fn_token), "expected the function's name")),
        };
        let mut generics = TokenStream::new();
        let mut generic_params = Vec::new();
        if tokens.is_punct('<') {
            let (list, written) = tokens.angle_bracketed();
            generic_params = split_top_level(list, ',').into_iter().filter_map(generic_param).collect();
            generics = written;
        }
        let params_group = match tokens.next_tree() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => g,
            other => return Err(syn::Error::new(span_of(other.as_ref(), &ident), "expected the parameter list")),
        };
        let (inputs, variadic) = parse_inputs(params_group.stream());
        let mut arrow_output = TokenStream::new();
        let mut output = None;
        if tokens.is_punct('-') {
            arrow_output.extend(tokens.next_tree());
            arrow_output.extend(tokens.next_tree());
            let ty = tokens.collect_until(|t| is_ident(t, "where") || is_brace(t));
            arrow_output.extend(ty.clone());
            output = Some(ty);
        }
        let where_clause = tokens.collect_until(is_brace);
        let body = match tokens.next_tree() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g,
            other => return Err(syn::Error::new(span_of(other.as_ref(), &ident), "expected the function's body")),
        };
        Ok(Function {
            attrs,
            vis,
            qualifiers,
            asyncness,
            unsafety,
            has_abi,
            fn_token,
            ident,
            generics,
            generic_params,
            params_group,
            inputs,
            variadic,
            arrow_output,
            output,
            where_clause,
            body,
        })
    }

    pub(crate) fn params(&self) -> impl Iterator<Item = &Param> {
        self.inputs.iter().filter_map(|input| match input {
            Input::Typed(param) => Some(param),
            Input::Receiver(_) => None,
        })
    }

    /// The signature with another name: qualifiers, `fn`, name, generics,
    /// parameters, output and `where` clause.
    pub(crate) fn signature_named(&self, ident: &Ident) -> TokenStream {
        self.signature_returning(ident, self.arrow_output.clone())
    }

    /// The signature, named `ident`, with another `-> Output`.
    pub(crate) fn signature_returning(&self, ident: &Ident, arrow_output: TokenStream) -> TokenStream {
        let Function { qualifiers, fn_token, generics, params_group, where_clause, .. } = self;
        quote! { #qualifiers #fn_token #ident #generics #params_group #arrow_output #where_clause }
    }

    /// The type and const parameters' names.
    pub(crate) fn type_generics(&self) -> Vec<String> {
        self.generic_params
            .iter()
            .filter_map(|p| match p {
                GenericParam::Named(name) => Some(name.to_string()),
                GenericParam::Lifetime => None,
            })
            .collect()
    }
}

fn span_of(tt: Option<&TokenTree>, after: &Ident) -> Span {
    tt.map_or_else(|| after.span(), TokenTree::span)
}

fn generic_param(tokens: TokenStream) -> Option<GenericParam> {
    let mut tokens = Cursor::new(tokens);
    while tokens.is_punct('#') {
        tokens.next_tree();
        tokens.next_tree();
    }
    match tokens.next_tree()? {
        TokenTree::Punct(p) if p.as_char() == '\'' => Some(GenericParam::Lifetime),
        TokenTree::Ident(i) if i == "const" => match tokens.next_tree()? {
            TokenTree::Ident(name) => Some(GenericParam::Named(name)),
            _ => None,
        },
        TokenTree::Ident(name) => Some(GenericParam::Named(name)),
        _ => None,
    }
}

fn parse_inputs(list: TokenStream) -> (Vec<Input>, Option<TokenStream>) {
    let mut inputs = Vec::new();
    let mut variadic = None;
    for segment in split_top_level(list, ',') {
        let mut tokens = Cursor::new(segment.clone());
        while tokens.is_punct('#') {
            tokens.next_tree();
            tokens.next_tree();
        }
        let rest: Vec<TokenTree> = tokens.rest();
        if rest.windows(3).any(|w| w.iter().all(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '.'))) {
            variadic = Some(segment);
        } else if is_receiver(&rest) {
            inputs.push(Input::Receiver(segment));
        } else {
            let colon =
                rest.iter().enumerate().position(|(i, t)| is_lone_colon(t) && !(i > 0 && is_joint_colon(&rest[i - 1])));
            let (pattern, ty) = match colon {
                Some(at) => (rest[..at].to_vec(), rest[at + 1..].iter().cloned().collect()),
                None => (rest.clone(), TokenStream::new()),
            };
            let pattern = match pattern.as_slice() {
                [TokenTree::Ident(name)] if name != "_" => Pattern::Name(name.clone()),
                [TokenTree::Ident(m), TokenTree::Ident(name)] if m == "mut" && name != "_" => {
                    Pattern::Name(name.clone())
                }
                other => Pattern::Other(other.iter().cloned().collect()),
            };
            inputs.push(Input::Typed(Param { pattern, ty }));
        }
    }
    (inputs, variadic)
}

/// `self`, `mut self`, `&self`, `&'a mut self`, `self: T`.
fn is_receiver(tokens: &[TokenTree]) -> bool {
    let mut at = 0;
    if matches!(tokens.get(at), Some(TokenTree::Punct(p)) if p.as_char() == '&') {
        at += 1;
        if matches!(tokens.get(at), Some(TokenTree::Punct(p)) if p.as_char() == '\'') {
            at += 2;
        }
    }
    if tokens.get(at).is_some_and(|t| is_ident(t, "mut")) {
        at += 1;
    }
    tokens.get(at).is_some_and(|t| is_ident(t, "self"))
}

fn is_ident(tt: &TokenTree, word: &str) -> bool {
    matches!(tt, TokenTree::Ident(i) if i == word)
}

fn is_brace(tt: &TokenTree) -> bool {
    matches!(tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
}

/// A `:` that is not the first half of `::`.
fn is_lone_colon(tt: &TokenTree) -> bool {
    matches!(tt, TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Alone)
}

fn is_joint_colon(tt: &TokenTree) -> bool {
    matches!(tt, TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
}

/// How `tt` changes the depth of `<...>`: a `>` of `->` or `=>` (after a
/// joint `-` or `=`) closes nothing.
fn angle_step(tt: &TokenTree, previous: Option<&TokenTree>) -> isize {
    let arrow = matches!(previous, Some(TokenTree::Punct(q)) if q.spacing() == Spacing::Joint && matches!(q.as_char(), '-' | '='));
    match tt {
        TokenTree::Punct(p) if p.as_char() == '<' => 1,
        TokenTree::Punct(p) if p.as_char() == '>' && !arrow => -1,
        _ => 0,
    }
}

/// Splits at `separator` outside `<...>` (groups are single tokens already).
/// An empty last part (a trailing separator) is dropped.
pub(crate) fn split_top_level(tokens: TokenStream, separator: char) -> Vec<TokenStream> {
    let mut parts = vec![Vec::new()];
    let mut depth = 0usize;
    let mut previous: Option<TokenTree> = None;
    for tt in tokens {
        depth = depth.saturating_add_signed(angle_step(&tt, previous.as_ref()));
        if depth == 0 && matches!(&tt, TokenTree::Punct(p) if p.as_char() == separator) {
            parts.push(Vec::new());
        } else {
            parts.last_mut().expect("one part at least").push(tt.clone());
        }
        previous = Some(tt);
    }
    if parts.last().is_some_and(Vec::is_empty) {
        parts.pop();
    }
    parts.into_iter().map(|part| part.into_iter().collect()).collect()
}

/// Token trees, one at a time.
struct Cursor {
    tokens: Vec<TokenTree>,
    at: usize,
}

impl Cursor {
    fn new(tokens: TokenStream) -> Cursor {
        Cursor { tokens: tokens.into_iter().collect(), at: 0 }
    }

    fn peek(&self) -> Option<&TokenTree> {
        self.tokens.get(self.at)
    }

    fn next_tree(&mut self) -> Option<TokenTree> {
        let tt = self.tokens.get(self.at).cloned();
        self.at += 1;
        tt
    }

    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(TokenTree::Punct(p)) if p.as_char() == c)
    }

    fn is_ident(&self, word: &str) -> bool {
        self.peek().is_some_and(|t| is_ident(t, word))
    }

    fn rest(&mut self) -> Vec<TokenTree> {
        let rest = self.tokens[self.at.min(self.tokens.len())..].to_vec();
        self.at = self.tokens.len();
        rest
    }

    fn collect_until(&mut self, stop: impl Fn(&TokenTree) -> bool) -> TokenStream {
        let mut out = TokenStream::new();
        while let Some(tt) = self.peek() {
            if stop(tt) {
                break;
            }
            out.extend(self.next_tree());
        }
        out
    }

    /// The tokens between `<` and its `>`, and the same with the brackets.
    fn angle_bracketed(&mut self) -> (TokenStream, TokenStream) {
        let open = self.next_tree();
        let mut close = None;
        let mut depth = 1usize;
        let mut out = Vec::new();
        while let Some(tt) = self.next_tree() {
            depth = depth.saturating_add_signed(angle_step(&tt, out.last()));
            if depth == 0 {
                close = Some(tt);
                break;
            }
            out.push(tt);
        }
        let written = open.into_iter().chain(out.iter().cloned()).chain(close).collect();
        (out.into_iter().collect(), written)
    }
}

/// Whether `tokens` contain `impl` (an `impl Trait` type) at any depth.
pub(crate) fn mentions_impl(tokens: TokenStream) -> bool {
    mentions_any(tokens, &["impl".to_owned()])
}

/// Whether `tokens` name any of `names` (a type parameter), at any depth.
pub(crate) fn mentions_any(tokens: TokenStream, names: &[String]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => names.iter().any(|n| ident == n),
        TokenTree::Group(group) => mentions_any(group.stream(), names),
        _ => false,
    })
}

/// Whether `ty` is `()`.
pub(crate) fn is_unit(ty: &TokenStream) -> bool {
    let mut tokens = ty.clone().into_iter();
    matches!((tokens.next(), tokens.next()), (Some(TokenTree::Group(g)), None) if g.delimiter() == Delimiter::Parenthesis && g.stream().is_empty())
}

/// A shared reference type `&T` or `&'a T` (not `&'static T`, not `&mut T`):
/// its `T`.
pub(crate) fn borrowed_referent(ty: &TokenStream) -> Option<TokenStream> {
    let tokens: Vec<TokenTree> = ty.clone().into_iter().collect();
    let mut at = match tokens.first() {
        // `&&T` arrives as a joint `&` then `&`: the referent is `&T`.
        Some(TokenTree::Punct(p)) if p.as_char() == '&' => 1,
        _ => return None,
    };
    if matches!(tokens.get(at), Some(TokenTree::Punct(p)) if p.as_char() == '\'') {
        if tokens.get(at + 1).is_some_and(|t| is_ident(t, "static")) {
            return None;
        }
        at += 2;
    }
    if tokens.get(at).is_some_and(|t| is_ident(t, "mut")) {
        return None;
    }
    Some(tokens[at..].iter().cloned().collect())
}

/// `ty` with every lifetime made `'static`, for a value stored until exit:
/// `&T` becomes `&'static T`, `Cow<'a, str>` becomes `Cow<'static, str>`.
pub(crate) fn static_lifetimes(ty: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut tokens = ty.into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '\'' => {
                // A lifetime: the quote, then its name.
                let name = tokens.next();
                let span = name.as_ref().map_or(p.span(), TokenTree::span);
                out.extend(quote::quote_spanned!(span=> 'static));
            }
            TokenTree::Punct(p) if p.as_char() == '&' => {
                let elided = !matches!(tokens.peek(), Some(TokenTree::Punct(q)) if q.as_char() == '\'');
                if elided {
                    // `&&T` arrives as a joint `&` then `&`: no longer joint.
                    let mut alone = proc_macro2::Punct::new('&', Spacing::Alone);
                    alone.set_span(p.span());
                    out.push(TokenTree::Punct(alone));
                    out.extend(quote::quote_spanned!(p.span()=> 'static));
                } else {
                    out.push(TokenTree::Punct(p));
                }
            }
            TokenTree::Group(group) if group.delimiter() != Delimiter::Brace => {
                let mut inner = Group::new(group.delimiter(), static_lifetimes(group.stream()));
                inner.set_span(group.span());
                out.push(TokenTree::Group(inner));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

impl ToTokens for Pattern {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Pattern::Name(name) => name.to_tokens(tokens),
            Pattern::Other(other) => other.to_tokens(tokens),
        }
    }
}
