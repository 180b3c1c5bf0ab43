//! Runs the native `quantscope` binary from the crate root, as a user would: shared by
//! tests/cli.rs, tests/cli_compare.rs and tests/export_cli.rs.

use std::process::Command;

/// (exit status was success, stdout, stderr).
pub fn quantscope(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quantscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}
