//! The OpenAPI document describes exactly the routes the server is built from, and is served.

use order_service::routes::{endpoints, openapi::ApiDoc};
use service_kit::endpoints::{check_operation_ids, document_operations, table_operations};
use utoipa::OpenApi;

#[test]
fn every_operation_has_an_operation_id_of_its_own() {
    check_operation_ids(&ApiDoc::openapi()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_a_route() {
    assert_eq!(
        document_operations(&ApiDoc::openapi()),
        table_operations(&endpoints())
    );
}

#[test]
fn the_document_is_openapi_3_1_with_the_error_body_and_the_bearer_scheme() {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let create = &doc["paths"]["/api/orders"]["post"];
    for status in ["201", "202", "404", "409", "422", "503"] {
        assert!(
            create["responses"][status].is_object(),
            "POST /api/orders documents {status}"
        );
    }
}

#[test]
fn the_waitlist_routes_document_every_status_they_answer() {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
    for (path, method, statuses) in [
        (
            "/api/waitlist",
            "post",
            &["200", "201", "400", "401", "403", "404", "409", "503"][..],
        ),
        ("/api/waitlist", "get", &["200", "401", "403", "503"][..]),
        (
            "/api/waitlist/{entry_id}",
            "delete",
            &["200", "400", "401", "403", "404", "503"][..],
        ),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in statuses {
            assert!(
                responses[status].is_object(),
                "{method} {path} documents {status}"
            );
        }
    }
    assert!(doc["components"]["schemas"]["WaitlistEntry"].is_object());
}

/// The saga's steps, in the words every description of them uses.
const SAGA: &str = "record the order -> hold a seat -> (pay) -> confirm it";

#[test]
fn help_openapi_and_readme_describe_the_saga_in_one_order() {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    for (what, text) in [
        ("--help", env!("CARGO_PKG_DESCRIPTION").to_owned()),
        ("the OpenAPI info", doc["info"]["description"].to_string()),
        (
            "POST /api/orders",
            doc["paths"]["/api/orders"]["post"]["summary"].to_string(),
        ),
        ("the README", readme),
    ] {
        assert!(text.contains(SAGA), "{what} does not say {SAGA:?}: {text}");
    }
}
