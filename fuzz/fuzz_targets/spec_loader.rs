//! Arbitrary documents through the whole compiler (parse, $ref, model, schemas, routes).
#![no_main]
use barbacane_compiler::{compile, CompileOptions, MemoryFs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fs = MemoryFs::default();
    fs.insert("p/api.yaml", data.to_vec());
    fs.insert("p/other.yaml", data.to_vec());
    let options = CompileOptions { specs: vec!["/p/api.yaml".into()], ..Default::default() };
    let _ = compile(&fs, &options);
});
