//! The local API serves exactly the template's routes, each by the function the template names.

use std::collections::BTreeSet;
use std::path::Path;

use shared::{Endpoint, ROUTES};

/// (method, path, CodeUri) of every HttpApi event in `template.yaml`, read as text.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
            .expect("template.yaml exists");
    let mut routes = BTreeSet::new();
    let (mut code_uri, mut path) = (String::new(), String::new());
    for line in template.lines() {
        let line = line.trim();
        let value = |prefix: &str| {
            line.strip_prefix(prefix)
                .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
        };
        if let Some(v) = value("CodeUri:") {
            code_uri = v.trim_end_matches('/').to_owned();
        } else if let Some(v) = value("Path:") {
            path = v;
        } else if let Some(v) = value("Method:") {
            routes.insert((
                v.to_uppercase(),
                std::mem::take(&mut path),
                code_uri.clone(),
            ));
        }
    }
    routes
}

#[test]
fn template_and_local_routes_match() {
    let template = template_routes();
    let local: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                format!("functions/{}", r.endpoint.name()),
            )
        })
        .collect();
    assert_eq!(template, local);
    for route in ROUTES {
        let main = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(route.endpoint.name())
            .join("src/main.rs");
        let source =
            std::fs::read_to_string(&main).unwrap_or_else(|_| panic!("{} exists", main.display()));
        assert!(
            source.contains(&format!("{:?}", route.endpoint)),
            "{} serves {:?}",
            main.display(),
            route.endpoint
        );
    }
}

/// (METHOD, path) of every operation in `openapi.yaml`, read as text: a path is a line at two
/// spaces' indent starting with `/`, an operation a method name at four.
fn openapi_routes() -> BTreeSet<(String, String)> {
    let spec =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml"))
            .expect("openapi.yaml exists");
    let mut routes = BTreeSet::new();
    let mut path = None;
    for line in spec.lines() {
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end_matches(':')));
        } else if !line.starts_with("  ") {
            path = None;
        } else if let (Some(path), Some(method)) = (&path, line.strip_prefix("    ")) {
            let method = method.trim_end_matches(':');
            if ["get", "post", "put", "delete", "patch"].contains(&method) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn openapi_documents_exactly_the_template_routes() {
    let documented = openapi_routes();
    let template: BTreeSet<_> = template_routes()
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    assert_eq!(documented, template);
    assert_eq!(documented.len(), Endpoint::ALL.len());
}

/// The IAM actions each function's policy grants in `template.yaml`, by function name (its
/// `CodeUri` folder), read as text.
fn template_actions() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
            .expect("template.yaml exists");
    let mut granted = std::collections::BTreeMap::new();
    let (mut function, mut actions) = (None::<String>, BTreeSet::new());
    let mut flush = |function: &mut Option<String>, actions: &mut BTreeSet<String>| {
        if let Some(name) = function.take() {
            granted.insert(name, std::mem::take(actions));
        }
        actions.clear();
    };
    for raw in template.lines() {
        let line = raw.trim();
        // A new resource: two spaces of indent and a name.
        if raw.starts_with("  ") && !raw.starts_with("   ") && line.ends_with(':') {
            flush(&mut function, &mut actions);
        }
        if let Some(uri) = line.strip_prefix("CodeUri:") {
            let uri = uri.trim().trim_end_matches('/');
            function = uri.strip_prefix("functions/").map(str::to_owned);
        }
        let action = line
            .strip_prefix("Action:")
            .or_else(|| line.strip_prefix("- "))
            .map(str::trim)
            .filter(|a| a.starts_with("s3:") || a.starts_with("dynamodb:"));
        if let Some(action) = action {
            actions.insert(action.to_owned());
        }
    }
    flush(&mut function, &mut actions);
    granted
}

#[test]
fn each_function_may_make_every_call_its_code_makes() {
    let granted = template_actions();
    let mut functions: Vec<(&str, &[&str])> = shared::Endpoint::ALL
        .iter()
        .map(|e| (e.name(), e.operations()))
        .collect();
    functions.push((shared::cleanup::FUNCTION_NAME, shared::cleanup::OPERATIONS));
    for (function, operations) in functions {
        let policy = granted
            .get(function)
            .unwrap_or_else(|| panic!("template.yaml has no function for {function}"));
        for operation in operations {
            let needed = shared::adapters::iam_actions(operation);
            assert!(!needed.is_empty(), "{operation} maps to no IAM action");
            for action in needed {
                assert!(
                    policy.contains(*action),
                    "{function} calls {operation}, but its policy lacks {action} (it has {policy:?})"
                );
            }
        }
    }
}
