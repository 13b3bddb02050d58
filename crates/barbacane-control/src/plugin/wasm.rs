//! Checking a module against its manifest, by the ABI's rules (the data plane applies the same
//! ones at load time): it validates as WebAssembly, exports the linear memory, `init` and the
//! entry points of its type, and imports only functions the host defines, from the host
//! modules of its declared capabilities.

use barbacane_plugin_abi::{Capability, PluginManifest, PluginType, exports};
use std::collections::BTreeSet;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, Validator};

/// Every problem with the module (empty when it is acceptable).
pub fn check(bytes: &[u8], manifest: &PluginManifest) -> Vec<String> {
    if let Err(e) = Validator::new().validate_all(bytes) {
        return vec![format!("the module is not valid WebAssembly: {e}")];
    }
    let mut errors = Vec::new();
    let mut functions = BTreeSet::new();
    let mut memories = BTreeSet::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = match payload {
            Ok(p) => p,
            Err(e) => return vec![format!("the module cannot be read: {e}")],
        };
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import {
                        Ok(i) => check_import(i.module, i.name, i.ty, manifest, &mut errors),
                        Err(e) => errors.push(format!("cannot read an import: {e}")),
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    match export {
                        Ok(e) if e.kind == ExternalKind::Func => {
                            functions.insert(e.name.to_owned());
                        }
                        Ok(e) if e.kind == ExternalKind::Memory => {
                            memories.insert(e.name.to_owned());
                        }
                        Ok(_) => {}
                        Err(e) => errors.push(format!("cannot read an export: {e}")),
                    }
                }
            }
            _ => {}
        }
    }
    if !memories.contains(exports::MEMORY) {
        errors.push(format!(
            "the module must export its linear memory as `{}`",
            exports::MEMORY
        ));
    }
    let required: &[&str] = match manifest.kind {
        PluginType::Middleware => &[exports::INIT, exports::ON_REQUEST, exports::ON_RESPONSE],
        PluginType::Dispatcher => &[exports::INIT, exports::DISPATCH],
    };
    for name in required {
        if !functions.contains(*name) {
            errors.push(format!(
                "a {} must export the function `{name}`",
                manifest.kind.as_str()
            ));
        }
    }
    errors
}

fn check_import(
    module: &str,
    name: &str,
    ty: TypeRef,
    manifest: &PluginManifest,
    errors: &mut Vec<String>,
) {
    if !matches!(ty, TypeRef::Func(_)) {
        errors.push(format!(
            "imports `{module}.{name}`, which is not a function: only host functions may be imported"
        ));
        return;
    }
    match Capability::from_module(module) {
        None => errors.push(format!(
            "imports `{module}.{name}`: `{module}` is not a host module (barbacane:core, \
             barbacane:log, barbacane:context, barbacane:clock, barbacane:request, \
             barbacane:response)"
        )),
        Some(c) => {
            if !c.functions().contains(&name) {
                errors.push(format!(
                    "imports `{module}.{name}`: `{module}` has no function `{name}` (it has {})",
                    c.functions().join(", ")
                ));
            }
            if !manifest.allows(c) {
                errors.push(format!(
                    "imports `{module}.{name}` without declaring the `{c}` capability in plugin.toml"
                ));
            }
        }
    }
}
