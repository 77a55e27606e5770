//! Rebuild when anything under templates/ changes: include_dir embeds it at compile time.

fn main() {
    println!("cargo:rerun-if-changed=templates");
}
