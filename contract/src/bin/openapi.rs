//! Writes the OpenAPI documents generated from the wire types: `openapi.yaml` (published) and
//! `openapi.dev.yaml` (make dev's overlay) into the directory given, default the repository root.

use std::path::PathBuf;

use upload_contract::Spec;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    for which in [Spec::Published, Spec::Dev] {
        let path = dir.join(which.file_name());
        std::fs::write(&path, upload_contract::spec(which))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
