//! The C ABI of the model's WebAssembly module (`wasm32-unknown-unknown`): the host
//! copies a JSON request into memory it got from [`planton_alloc`], calls a verb, and
//! reads the JSON answer at the pointer and length packed into the returned `u64`
//! (pointer in the high 32 bits), then frees both buffers with [`planton_free`]. No
//! bindings generator: a handful of exports any host with a WebAssembly runtime can
//! call (Node's `WebAssembly`, Python's wasmtime).
//!
//! Every answer is `{"ok": ...}` or `{"error": "..."}`, so a host never has to guess
//! whether a malformed request was judged.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use planton_model::check;
use serde_json::{json, Value};

/// Version of the ABI and of the model it carries: a host refuses a module whose
/// version differs from the one it was written for.
pub const ABI_VERSION: u32 = 1;

/// Memory for a request of `len` bytes.
#[no_mangle]
pub extern "C" fn planton_alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len.max(1)].into_boxed_slice()).cast::<u8>()
}

/// Gives back a buffer from [`planton_alloc`] or an answer.
///
/// # Safety
/// `ptr` and `len` must be exactly what [`planton_alloc`] was given and returned, or an
/// answer's pointer and length, and the buffer must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn planton_free(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        let slice = std::ptr::slice_from_raw_parts_mut(ptr, len.max(1));
        // SAFETY: the caller passes a boxed slice this module allocated with this length.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// `{"ok": {"version": "...", "abi": 1, ...}}`, with the names a host needs to read a
/// template the way the function will (the resource type, its properties, the ones
/// CloudFormation adds, its attributes), so no host keeps its own list.
#[no_mangle]
pub extern "C" fn planton_version() -> u64 {
    use planton_model::spec;
    answer(Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "abi": ABI_VERSION,
        "resource_type": spec::RESOURCE_TYPE,
        "properties": spec::PROPERTIES,
        "ignored_properties": spec::IGNORED,
        "attributes": spec::ATTRIBUTES,
        "unresolved": planton_model::check::UNRESOLVED.to_string(),
    })))
}

/// The function's refusals of a resource's properties ([`check::check_json`]).
///
/// # Safety
/// `ptr`/`len` must be a buffer from [`planton_alloc`] holding the request.
#[no_mangle]
pub unsafe extern "C" fn planton_check(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: forwarded from the caller's contract.
    let raw = unsafe { request(ptr, len) };
    answer(raw.and_then(|r| respond(Verb::Check, &r)))
}

/// The judgement of policy documents ([`check::judge_json`]).
///
/// # Safety
/// `ptr`/`len` must be a buffer from [`planton_alloc`] holding the request.
#[no_mangle]
pub unsafe extern "C" fn planton_judge(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: forwarded from the caller's contract.
    let raw = unsafe { request(ptr, len) };
    answer(raw.and_then(|r| respond(Verb::Judge, &r)))
}

/// What the module can be asked.
#[derive(Debug, Clone, Copy)]
pub enum Verb {
    Check,
    Judge,
}

/// The answer to a request, before it is wrapped and copied out: what the exports
/// return, and what the native test of every host's cases (tests/hosts) computes.
pub fn respond(verb: Verb, raw: &str) -> Result<Value, String> {
    match verb {
        Verb::Check => {
            check::check_json(raw).and_then(|f| serde_json::to_value(f).map_err(|e| e.to_string()))
        }
        Verb::Judge => check::judge_json(raw),
    }
}

/// The JSON the host reads: `{"ok": ...}` or `{"error": "..."}`.
pub fn wrap(result: Result<Value, String>) -> Value {
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": e }),
    }
}

/// # Safety
/// `ptr` must point to `len` initialised bytes.
unsafe fn request(ptr: *const u8, len: usize) -> Result<String, String> {
    if ptr.is_null() {
        return Err("no request".into());
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("the request is not UTF-8: {e}"))
}

/// Packs the answer's buffer as `(ptr << 32) | len`; the host frees it.
fn answer(result: Result<Value, String>) -> u64 {
    let body = wrap(result);
    // Never empty (it is a JSON object), so its length is the one planton_free expects.
    let bytes = body.to_string().into_bytes().into_boxed_slice();
    let len = bytes.len();
    let ptr = Box::into_raw(bytes).cast::<u8>();
    ((ptr as usize as u64) << 32) | len as u64
}
