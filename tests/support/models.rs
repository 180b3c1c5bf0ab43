//! A real model or tool a test needs and does not find: under `npm test`
//! (scripts/test-all.sh sets QUANTSCOPE_REQUIRE_MODELS=1) that fails the test; elsewhere
//! it says so loudly on the terminal and the test returns.

/// Call where a test returns early because `what` is missing; `how` says how to get it.
pub fn skip(what: &str, how: &str) {
    assert!(
        std::env::var_os("QUANTSCOPE_REQUIRE_MODELS").is_none(),
        "{what} is missing, and this run requires the real models (QUANTSCOPE_REQUIRE_MODELS, set by scripts/test-all.sh): {how}"
    );
    use std::io::Write;
    // Straight to the terminal: the harness captures eprintln! of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {what} is missing.\n!!!!!!!! {how}\n"
    );
}
