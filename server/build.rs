//! A release build carries the site in `target/site` (see src/http/site.rs): rebuild it when
//! the site changes. Debug builds read the site from disk and need nothing here.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    // A missing folder counts as changed at every build, so the binary picks the site up as
    // soon as it is built.
    println!("cargo:rerun-if-changed=../target/site");
    if !std::path::Path::new("../target/site/pkg").is_dir() {
        println!(
            "cargo:warning=target/site is missing: this ward binary carries no UI assets; \
             run scripts/build-site.sh --release before building it"
        );
    }
}
