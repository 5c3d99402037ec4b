//! The build script of every exporter. In release builds on Linux it
//! strips the binary's symbols at link time (`SIDEWATCH_STRIP=0` keeps
//! them, for the twin bench/order.sh profiles), and for
//! x86_64-unknown-linux-gnu, whose linker is rust-lld, it hands the linker
//! the exporter's `symbol-order.txt` (written by bench/order.sh). The
//! functions a scrape runs are then laid out together, then those of
//! start-up, so that a running exporter keeps far fewer code pages resident
//! (docs/benchmarks.md, "Code order"). Names the file lists that the code no
//! longer has are skipped; without the file nothing changes.
//!
//! The symbols are stripped here rather than by cargo's `strip`: cargo
//! hashes its profile into the symbol names, so a twin built with another
//! `strip` would have other names than the shipped binary.
//!
//! `SIDEWATCH_SYMBOL_ORDER=0` turns the ordering off, for a linker other
//! than lld.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=symbol-order.txt");
    println!("cargo:rerun-if-env-changed=SIDEWATCH_SYMBOL_ORDER");
    println!("cargo:rerun-if-env-changed=SIDEWATCH_STRIP");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("PROFILE") != "release" || var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    if var("SIDEWATCH_STRIP") != "0" {
        println!("cargo:rustc-link-arg-bins=-Wl,--strip-all");
    }
    if var("TARGET") != "x86_64-unknown-linux-gnu" || var("SIDEWATCH_SYMBOL_ORDER") == "0" {
        return;
    }
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    if file.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
