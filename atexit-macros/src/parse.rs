//! The user's function, parsed into what the macros need of it.
//!
//! Only the signature is parsed; the body stays tokens, so the macros need
//! `syn` without its `full` feature (which parses every expression and
//! statement, and made `syn` the longest step of a clean build).

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::ParseStream;
use syn::{Abi, Attribute, Generics, Ident, ReturnType, Token, Type, Visibility};

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

/// A function item: its signature parsed, its body kept as written.
pub(crate) struct Function {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) constness: Option<Token![const]>,
    pub(crate) asyncness: Option<Token![async]>,
    pub(crate) unsafety: Option<Token![unsafe]>,
    pub(crate) abi: Option<Abi>,
    pub(crate) fn_token: Token![fn],
    pub(crate) ident: Ident,
    /// With the `where` clause, which comes after the output.
    pub(crate) generics: Generics,
    /// The parameter list as written, parentheses included.
    pub(crate) params_group: Group,
    pub(crate) inputs: Vec<Input>,
    /// `...`: a C variadic.
    pub(crate) variadic: Option<TokenStream>,
    pub(crate) output: ReturnType,
    pub(crate) body: Group,
}

/// One entry of the parameter list.
pub(crate) enum Input {
    /// `self`, `&self`, `mut self`, `self: Box<Self>`: as written.
    Receiver(TokenStream),
    Typed(Box<Param>),
}

pub(crate) struct Param {
    pub(crate) pattern: Pattern,
    pub(crate) ty: Type,
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
        syn::parse::Parser::parse2(|input: ParseStream| parse_function(which, input), item)
    }

    pub(crate) fn params(&self) -> impl Iterator<Item = &Param> {
        self.inputs.iter().filter_map(|input| match input {
            Input::Typed(param) => Some(&**param),
            Input::Receiver(_) => None,
        })
    }

    /// The signature with another name: qualifiers, `fn`, name, generics,
    /// parameters, output and `where` clause.
    pub(crate) fn signature_named(&self, ident: &Ident) -> TokenStream {
        let Function { constness, asyncness, unsafety, abi, fn_token, generics, params_group, output, .. } = self;
        let where_clause = &generics.where_clause;
        quote! { #constness #asyncness #unsafety #abi #fn_token #ident #generics #params_group #output #where_clause }
    }
}

fn parse_function(which: Macro, input: ParseStream) -> syn::Result<Function> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    if !starts_a_function(input) {
        let keyword = input.cursor().token_tree().map(|(tt, _)| tt.span()).unwrap_or_else(Span::call_site);
        return Err(syn::Error::new(keyword, which.not_a_function()));
    }
    let constness = input.parse()?;
    let asyncness = input.parse()?;
    let unsafety = input.parse()?;
    let abi = input.parse()?;
    let fn_token = input.parse()?;
    let ident = input.parse()?;
    let mut generics: Generics = input.parse()?;
    let params_group: Group = input.parse()?;
    let (inputs, variadic) = syn::parse::Parser::parse2(parse_inputs, params_group.stream())?;
    let output = input.parse()?;
    generics.where_clause = input.parse()?;
    let body: Group = input.parse()?;
    if body.delimiter() != Delimiter::Brace {
        return Err(syn::Error::new(body.span(), "expected the function's body"));
    }
    Ok(Function {
        attrs,
        vis,
        constness,
        asyncness,
        unsafety,
        abi,
        fn_token,
        ident,
        generics,
        params_group,
        inputs,
        variadic,
        output,
        body,
    })
}

/// Whether the qualifiers ahead (`const`, `async`, `unsafe`, `extern "C"`)
/// lead to `fn`, rather than to another item (`const X`, `unsafe impl`).
fn starts_a_function(input: ParseStream) -> bool {
    let ahead = input.fork();
    let _: Option<Token![const]> = ahead.parse().ok().flatten();
    let _: Option<Token![async]> = ahead.parse().ok().flatten();
    let _: Option<Token![unsafe]> = ahead.parse().ok().flatten();
    let _: Option<Abi> = ahead.parse().ok().flatten();
    ahead.peek(Token![fn])
}

fn parse_inputs(input: ParseStream) -> syn::Result<(Vec<Input>, Option<TokenStream>)> {
    let mut inputs = Vec::new();
    let mut variadic = None;
    while !input.is_empty() {
        let _attrs = input.call(Attribute::parse_outer)?;
        if input.peek(Token![...]) {
            variadic = Some(until_comma(input)?);
        } else if is_receiver(input) {
            inputs.push(Input::Receiver(until_comma(input)?));
        } else {
            let pattern = if input.peek(Token![mut]) && input.peek2(Ident) && input.peek3(Token![:]) {
                let _: Token![mut] = input.parse()?;
                Pattern::Name(input.parse()?)
            } else if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
                Pattern::Name(input.parse()?)
            } else {
                Pattern::Other(until_colon(input)?)
            };
            let _: Token![:] = input.parse()?;
            inputs.push(Input::Typed(Box::new(Param { pattern, ty: input.parse()? })));
        }
        if !input.is_empty() {
            let _: Token![,] = input.parse()?;
        }
    }
    Ok((inputs, variadic))
}

fn is_receiver(input: ParseStream) -> bool {
    let ahead = input.fork();
    let _ = ahead.parse::<Option<Token![&]>>();
    let _ = ahead.parse::<Option<syn::Lifetime>>();
    let _ = ahead.parse::<Option<Token![mut]>>();
    ahead.peek(Token![self])
}

/// The tokens up to the next `,` at this level.
fn until_comma(input: ParseStream) -> syn::Result<TokenStream> {
    collect_until(input, |input| input.peek(Token![,]))
}

/// The tokens up to the `:` that ends a pattern.
fn until_colon(input: ParseStream) -> syn::Result<TokenStream> {
    collect_until(input, |input| input.peek(Token![:]) && !input.peek(Token![::]))
}

fn collect_until(input: ParseStream, stop: fn(ParseStream) -> bool) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !stop(input) {
        if input.peek(Token![::]) {
            input.parse::<Token![::]>()?.to_tokens(&mut tokens);
        } else {
            tokens.extend([input.parse::<TokenTree>()?]);
        }
    }
    Ok(tokens)
}

/// Whether `tokens` contain `impl` (an `impl Trait` type) at any depth.
pub(crate) fn mentions_impl(tokens: TokenStream) -> Option<Span> {
    tokens.into_iter().find_map(|tt| match tt {
        TokenTree::Ident(ident) if ident == "impl" => Some(ident.span()),
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => None,
    })
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
                let span = p.span();
                out.push(TokenTree::Punct(p));
                if elided {
                    out.extend(quote::quote_spanned!(span=> 'static));
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
