fn main() {
    // tauri.conf.json lives at the repository root, the one source of truth for cargo and the CLI.
    let attributes = tauri_build::Attributes::new().config_path("../tauri.conf.json");
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {e:#}");
    }
}
