//! The committed OpenAPI documents are exactly what the wire types generate.

use std::path::Path;

use upload_contract::Spec;

#[test]
fn committed_openapi_documents_match_the_wire_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for which in [Spec::Published, Spec::Dev] {
        let path = root.join(which.file_name());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == upload_contract::spec(which),
            "{} differs from what the wire types generate: run \
             `cargo run -p upload-contract --features openapi --bin openapi` and commit the result",
            path.display()
        );
    }
}

#[test]
fn published_document_has_no_local_identity() {
    let published = upload_contract::spec(Spec::Published);
    assert!(!published.contains("x-user-id"));
    assert!(!published.contains("127.0.0.1"));
    assert!(upload_contract::spec(Spec::Dev).contains("x-user-id"));
}
