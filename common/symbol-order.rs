//! The build script of every exporter: in release builds for
//! x86_64-unknown-linux-gnu, whose linker is rust-lld, it hands the linker
//! the exporter's `symbol-order.txt` (written by bench/order.sh). The
//! functions a scrape runs are then laid out together, then those of
//! start-up, so a running exporter keeps far fewer code pages resident
//! (docs/benchmarks.md, "Code order"). Names the file lists that the code
//! no longer has are skipped; without the file nothing changes.
//!
//! `SIDEWATCH_SYMBOL_ORDER=0` turns it off, for a linker other than lld.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=symbol-order.txt");
    println!("cargo:rerun-if-env-changed=SIDEWATCH_SYMBOL_ORDER");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("SIDEWATCH_SYMBOL_ORDER") == "0"
    {
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
