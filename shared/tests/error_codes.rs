//! Every error code the server can answer is in the contract's `ErrorCode` enum (which the OpenAPI
//! spec lists), so generated clients know them all. Reads the sources: any `"UPPER_SNAKE"` literal
//! that is not an environment variable (those are named in template.yaml) must be a known code.

use std::path::{Path, PathBuf};

use upload_contract::{ErrorCode, UploadStatus};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn literals(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() > 3
                && s.contains('_')
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_code_the_server_answers_is_in_the_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("shared/src"), &mut files);
    rust_files(&root.join("local-api/src"), &mut files);
    let mut unknown = Vec::new();
    for file in &files {
        if file.ends_with("config.rs") || file.ends_with("lambda.rs") {
            continue; // environment variable names only
        }
        if file.ends_with("metrics.rs") {
            continue; // server-error causes: metric dimension values, never an answer's code
        }
        let text = std::fs::read_to_string(file).unwrap();
        for literal in literals(&text) {
            let env_var = template.contains(&format!("{literal}:"))
                || literal.starts_with("AWS_")
                || ["RUST_LOG", "CORS_ALLOWED_ORIGINS", "_X_AMZN_TRACE_ID"]
                    .contains(&literal.as_str());
            // The local API's guard against DNS rebinding answers before any route: a `make dev`
            // code that the deployed API never answers, so not in the contract.
            let local_only =
                file.ends_with("local-api/src/host_check.rs") && literal == "HOST_NOT_ALLOWED";
            if !env_var && !local_only && !ErrorCode::parse(&literal).is_known() {
                unknown.push(format!("{}: {literal}", file.display()));
            }
        }
    }
    assert!(ErrorCode::parse("UNAUTHENTICATED").is_known());
    assert!(
        unknown.is_empty(),
        "codes missing from contract's ErrorCode: {unknown:#?}"
    );
    assert_eq!(UploadStatus::KNOWN.len(), 5);
}
