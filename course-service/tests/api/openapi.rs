//! The OpenAPI document: served, 3.1, and describing exactly the routes the server is built from;
//! and the docs page, served from the binary.

use crate::helpers::TestApp;
use course_service::routes::{endpoints, openapi::ApiDoc};
use reqwest::{Method, StatusCode};
use service_kit::endpoints::{check_operation_ids, document_operations, table_operations};
use utoipa::OpenApi;

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let app = TestApp::spawn().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        reply.body["openapi"]
    );
    assert_eq!(reply.body["info"]["title"], "course-service");
    assert!(reply.body["components"]["schemas"]["Problem"].is_object());
    assert!(reply.body["components"]["securitySchemes"]["bearer"].is_object());
    let example = &reply.body["components"]["schemas"]["Course"]["example"];
    assert!(example["seats_total"].is_number(), "schemas carry examples");
}

#[test]
fn every_operation_has_an_operation_id_of_its_own() {
    check_operation_ids(&ApiDoc::openapi()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_a_route() {
    let documented = document_operations(&ApiDoc::openapi());
    let routed = table_operations(&endpoints());
    assert_eq!(documented, routed);
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::now_v7().to_string();
    for (method, path) in document_operations(&ApiDoc::openapi()) {
        let concrete = path
            .replace("{course_id}", &id)
            .replace("{reservation_id}", &id);
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let reply = app.send(method.clone(), &concrete, None, None).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(reply.code() != "not_found", "{method} {path} is not routed");
    }
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let redirect = client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .expect("docs");
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    let page = client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    let config = client
        .get(format!("{}/docs/swagger-initializer.js", app.address))
        .send()
        .await
        .expect("js");
    assert_eq!(config.status(), StatusCode::OK);
    assert!(config.text().await.expect("js").contains("/openapi.json"));
    let bundle = client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.address))
        .send()
        .await
        .expect("bundle");
    assert_eq!(
        bundle.status(),
        StatusCode::OK,
        "assets are served locally, not from a CDN"
    );
}

#[test]
fn the_document_lists_the_currencies_a_course_may_have() {
    let document = serde_json::to_value(ApiDoc::openapi()).expect("json");
    let create = &document["components"]["schemas"]["CreateCourse"];
    let currencies = create["properties"]["currency"]["enum"]
        .as_array()
        .expect("an enum of currencies");
    for code in ["USD", "EUR", "JPY"] {
        assert!(currencies.contains(&code.into()), "{code}");
    }
    assert!(!currencies.contains(&"XYZ".into()));
    let required = create["required"].as_array().cloned().unwrap_or_default();
    assert!(
        !required.contains(&"currency".into()),
        "currency is optional"
    );
}
