//! A fault injector for the page's recovery test (tests/e2e/recovery.test.mjs): makes
//! the next analysis of one tensor under one scheme trap the module for real, by a
//! panic, an allocation that cannot be met, or an `unreachable` instruction. Nothing in
//! the core traps on a user's input (that would be a bug to fix), so the test needs a way
//! to get the module into the state a trap leaves it in. It is an export of the raw
//! module only, never of the package's typed API, and it is armed only by a call.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

#[derive(Clone, Copy)]
enum Trap {
    Panic,
    Alloc,
    Unreachable,
}

struct Armed {
    tensor: String,
    scheme: String,
    trap: Trap,
}

thread_local! {
    static ARMED: RefCell<Option<Armed>> = const { RefCell::new(None) };
}

/// Arms the injector: the next `analyze`, `summarize` or `layer*` call on `tensor`
/// under `scheme` (the string as passed) traps the module with `kind`: `panic`,
/// `alloc` or `unreachable`.
#[doc(hidden)]
#[wasm_bindgen(js_name = debugTrapOn)]
pub fn debug_trap_on(tensor: &str, scheme: &str, kind: &str) -> Result<(), JsError> {
    let trap = match kind {
        "panic" => Trap::Panic,
        "alloc" => Trap::Alloc,
        "unreachable" => Trap::Unreachable,
        _ => {
            return Err(JsError::new(&format!(
                "trap kind `{kind}`: expected panic, alloc or unreachable"
            )))
        }
    };
    ARMED.with(|a| {
        a.replace(Some(Armed {
            tensor: tensor.to_string(),
            scheme: scheme.to_string(),
            trap,
        }))
    });
    Ok(())
}

/// Disarms the injector.
#[doc(hidden)]
#[wasm_bindgen(js_name = debugTrapOff)]
pub fn debug_trap_off() {
    ARMED.with(|a| a.replace(None));
}

/// Traps if the injector is armed for this tensor and scheme; returns otherwise.
pub(super) fn check(tensor: &str, scheme: &str) {
    let hit = ARMED.with(|a| {
        let hit = a
            .borrow()
            .as_ref()
            .filter(|x| x.tensor == tensor && x.scheme == scheme)
            .map(|x| x.trap);
        if hit.is_some() {
            a.replace(None);
        }
        hit
    });
    match hit {
        None => {}
        Some(Trap::Panic) => panic!("debug trap: panic on `{tensor}` under {scheme}"),
        Some(Trap::Alloc) => {
            // Blocks of 256 MiB, kept, until wasm32's 4 GiB cannot hold another: the
            // failed allocation ends in the alloc error handler, which aborts (a trap).
            let mut held: Vec<Vec<u8>> = Vec::new();
            loop {
                // black_box: the optimiser may not drop an allocation nobody reads.
                held.push(std::hint::black_box(Vec::with_capacity(256 << 20)));
            }
        }
        Some(Trap::Unreachable) => core::arch::wasm32::unreachable(),
    }
}
