//! Attribute macros of `barbacane-plugin-sdk`. Use them through the SDK, which re-exports
//! them: `use barbacane_plugin_sdk::prelude::*;`.
//!
//! Each macro goes on the struct holding a plugin's configuration. The struct is kept as
//! written; the macro adds the WebAssembly exports of ABI v1 (`init`, `on_request` and
//! `on_response`, or `dispatch`, plus `barbacane_alloc` and `barbacane_abi_version`), which
//! exist only when compiling for `wasm32`. On every target it also checks that the struct
//! implements the plugin trait and `serde::Deserialize`, so a mistake shows up in
//! `cargo check` and in native unit tests, not only in the wasm build.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{Item, ItemStruct, parse_macro_input};

/// Makes a struct a middleware plugin. The struct is its configuration (deserialized from
/// the `config` of each use with serde) and must implement
/// `barbacane_plugin_sdk::Middleware`.
#[proc_macro_attribute]
pub fn barbacane_middleware(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, Kind::Middleware)
}

/// Makes a struct a dispatcher plugin. The struct is its configuration and must implement
/// `barbacane_plugin_sdk::Dispatcher`.
#[proc_macro_attribute]
pub fn barbacane_dispatcher(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, Kind::Dispatcher)
}

#[derive(Clone, Copy)]
enum Kind {
    Middleware,
    Dispatcher,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Middleware => "barbacane_middleware",
            Kind::Dispatcher => "barbacane_dispatcher",
        }
    }
}

fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let attribute = kind.attribute();
    if !args.is_empty() {
        let args = Tokens::from(args);
        return syn::Error::new_spanned(
            args,
            format!("#[{attribute}] takes no arguments; the plugin's settings are the fields of the struct"),
        )
        .to_compile_error()
        .into();
    }
    let item = parse_macro_input!(item as Item);
    match check(item, attribute) {
        Ok(strukt) => generate(&strukt, kind).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Only a plain (non-generic) struct can be a plugin: the exports need one concrete type.
fn check(item: Item, attribute: &str) -> syn::Result<ItemStruct> {
    let strukt = match item {
        Item::Struct(s) => s,
        Item::Fn(f) => {
            return Err(syn::Error::new_spanned(
                f.sig.ident,
                format!(
                    "#[{attribute}] goes on a struct holding the plugin's configuration, not on a function; implement the trait's methods in an `impl` block"
                ),
            ));
        }
        Item::Enum(e) => {
            return Err(syn::Error::new_spanned(
                e.ident,
                format!(
                    "#[{attribute}] goes on a struct, not an enum; put the enum in a field of a configuration struct"
                ),
            ));
        }
        Item::Union(u) => {
            return Err(syn::Error::new_spanned(
                u.ident,
                format!("#[{attribute}] goes on a struct, not a union"),
            ));
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!("#[{attribute}] goes on a struct holding the plugin's configuration"),
            ));
        }
    };
    if !strukt.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &strukt.generics,
            format!(
                "#[{attribute}] needs a struct without generic parameters: the plugin's exports need one concrete type"
            ),
        ));
    }
    Ok(strukt)
}

fn generate(strukt: &ItemStruct, kind: Kind) -> Tokens {
    let name = &strukt.ident;
    let sdk = quote!(::barbacane_plugin_sdk);
    let (bound, init, hooks) = match kind {
        Kind::Middleware => (
            quote!(#sdk::Middleware),
            quote!(init_middleware),
            quote! {
                #[allow(unsafe_code)]
                #[unsafe(no_mangle)]
                pub extern "C" fn on_request() -> i32 {
                    SLOT.with_borrow_mut(|slot| #sdk::__private::run_on_request(slot))
                }
                #[allow(unsafe_code)]
                #[unsafe(no_mangle)]
                pub extern "C" fn on_response() -> i32 {
                    SLOT.with_borrow_mut(|slot| #sdk::__private::run_on_response(slot))
                }
            },
        ),
        Kind::Dispatcher => (
            quote!(#sdk::Dispatcher),
            quote!(init_dispatcher),
            quote! {
                #[allow(unsafe_code)]
                #[unsafe(no_mangle)]
                pub extern "C" fn dispatch() -> i32 {
                    SLOT.with_borrow_mut(|slot| #sdk::__private::run_dispatch(slot))
                }
            },
        ),
    };
    let checks = checks(name, kind, &bound);
    quote! {
        #strukt

        #checks

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                // One instance serves one request, so this is the plugin's state for it.
                static SLOT: ::std::cell::RefCell<Option<#name>> =
                    const { ::std::cell::RefCell::new(None) };
            }

            #[allow(unsafe_code)]
            #[unsafe(no_mangle)]
            pub extern "C" fn init(ptr: i32, len: i32) -> i32 {
                SLOT.with_borrow_mut(|slot| #sdk::__private::#init::<#name>(slot, ptr, len))
            }

            #[allow(unsafe_code)]
            #[unsafe(no_mangle)]
            pub extern "C" fn barbacane_alloc(size: i32) -> i32 {
                #sdk::__private::alloc(size)
            }

            #[allow(unsafe_code)]
            #[unsafe(no_mangle)]
            pub extern "C" fn barbacane_abi_version() -> i32 {
                #sdk::__private::ABI_VERSION
            }

            #hooks
        };
    }
}

/// Checks, on every target, that the struct implements the plugin trait and
/// `serde::Deserialize`. Each check goes through a local trait carrying its own
/// `#[diagnostic::on_unimplemented]`, so the error names the macro and says what to add
/// (rustc reports the message of the bound that was asked for, not of the one underneath).
fn checks(name: &syn::Ident, kind: Kind, bound: &Tokens) -> Tokens {
    let sdk = quote!(::barbacane_plugin_sdk);
    let attribute = kind.attribute();
    let (trait_name, method, other) = match kind {
        Kind::Middleware => (
            "Middleware",
            "fn on_request(&mut self, request: &mut Request) -> Action",
            "a dispatcher implements `Dispatcher` and uses #[barbacane_dispatcher]",
        ),
        Kind::Dispatcher => (
            "Dispatcher",
            "fn dispatch(&mut self, request: &mut Request) -> OutgoingResponse",
            "a middleware implements `Middleware` and uses #[barbacane_middleware]",
        ),
    };
    let plugin_message = format!(
        "`{name}` is marked #[{attribute}] but does not implement `barbacane_plugin_sdk::{trait_name}`"
    );
    let plugin_label = format!("`{name}` needs `impl {trait_name} for {name}`");
    let plugin_note = format!(
        "add `impl {trait_name} for {name} {{{{ {method} {{{{ ... }}}} }}}}` (`use barbacane_plugin_sdk::prelude::*;` brings the names in); {other}"
    );
    let config_message =
        format!("`{name}` is marked #[{attribute}] but does not implement `serde::Deserialize`");
    let config_label = format!("`{name}` is the plugin's configuration and must be deserializable");
    let config_note = format!(
        "add `#[derive(serde::Deserialize)]` to `{name}` (the gateway deserializes each use's `config` into it, from JSON)"
    );
    quote! {
        const _: () = {
            #[diagnostic::on_unimplemented(
                message = #plugin_message,
                label = #plugin_label,
                note = #plugin_note,
            )]
            trait BarbacanePlugin {}
            impl<T: #bound> BarbacanePlugin for T {}

            #[diagnostic::on_unimplemented(
                message = #config_message,
                label = #config_label,
                note = #config_note,
            )]
            trait BarbacaneConfig {}
            impl<T: #sdk::__private::serde::de::DeserializeOwned> BarbacaneConfig for T {}

            fn assert_plugin<T: BarbacanePlugin>() {}
            fn assert_config<T: BarbacaneConfig>() {}
            let _ = assert_plugin::<#name>;
            let _ = assert_config::<#name>;
        };
    }
}
