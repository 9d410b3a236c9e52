//! The route table each service is built from, and its OpenAPI document and docs page.
//!
//! A service lists its routes once, as [`Endpoint`]s; [`register`] turns the list into actix
//! resources (405 for a known path with another method), and the service's OpenAPI document
//! describes the same list, which a test checks in both directions. `/openapi.json` serves the
//! document and `/docs/` a Swagger UI page built into the binary (it loads nothing from the
//! network).

use actix_web::{HttpResponse, Route, http::Method, web};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::{
    Modify,
    openapi::{
        Content, OpenApi, Ref, RefOr, ResponseBuilder,
        path::Operation,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// One route: method, path and handler.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: fn() -> Route,
}

impl Endpoint {
    pub fn new(method: Method, path: &'static str, route: fn() -> Route) -> Self {
        Endpoint {
            method,
            path,
            route,
        }
    }
}

/// Registers `endpoints`, one resource per path (in order of first appearance); paths under
/// `scope` are registered inside one scope, which is matched once for all of them (the hot path
/// of course-service).
pub fn register(cfg: &mut web::ServiceConfig, endpoints: &[Endpoint], scope: Option<&'static str>) {
    let mut paths: Vec<&'static str> = Vec::new();
    for e in endpoints {
        if !paths.contains(&e.path) {
            paths.push(e.path);
        }
    }
    let resource = |path: &'static str, at: &str| {
        endpoints
            .iter()
            .filter(|e| e.path == path)
            .fold(web::resource(at.to_owned()), |r, e| r.route((e.route)()))
    };
    if let Some(prefix) = scope {
        let scoped = paths
            .iter()
            .filter(|p| p.starts_with(prefix))
            .fold(web::scope(prefix), |s, p| {
                s.service(resource(p, &p[prefix.len()..]))
            });
        cfg.service(scoped);
    }
    for path in paths
        .into_iter()
        .filter(|p| scope.is_none_or(|prefix| !p.starts_with(prefix)))
    {
        cfg.service(resource(path, path));
    }
}

/// The (method, path) pairs of a table.
pub fn table_operations(endpoints: &[Endpoint]) -> BTreeSet<(String, String)> {
    endpoints
        .iter()
        .map(|e| (e.method.as_str().to_ascii_lowercase(), e.path.to_owned()))
        .collect()
}

/// The (method, path) pairs an OpenAPI document describes.
pub fn document_operations(doc: &OpenApi) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let value = serde_json::to_value(item).unwrap_or_default();
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if value.get(method).is_some() {
                operations.insert((method.to_owned(), path.clone()));
            }
        }
    }
    operations
}

/// Each operation's `operationId` in an OpenAPI document, by (method, path); `None` where an
/// operation has none. OpenAPI requires them unique within a document: clients and tools that
/// follow links name operations by them.
pub fn operation_ids(doc: &OpenApi) -> BTreeMap<(String, String), Option<String>> {
    let mut ids = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        let value = serde_json::to_value(item).unwrap_or_default();
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if let Some(operation) = value.get(method) {
                let id = operation["operationId"].as_str().map(str::to_owned);
                ids.insert((method.to_owned(), path.clone()), id);
            }
        }
    }
    ids
}

/// Checks that every operation of `doc` has an `operationId` and that no two share one; the
/// offending operations otherwise.
pub fn check_operation_ids(doc: &OpenApi) -> Result<(), String> {
    let mut seen = BTreeMap::new();
    for (operation, id) in operation_ids(doc) {
        let Some(id) = id else {
            return Err(format!("{operation:?} has no operationId"));
        };
        if let Some(other) = seen.insert(id.clone(), operation.clone()) {
            return Err(format!(
                "{operation:?} and {other:?} share the operationId {id}"
            ));
        }
    }
    Ok(())
}

/// Adds the bearer-token security scheme the documents refer to as `bearer`.
#[derive(Debug)]
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 token with `sub`, `role` (instructor, student or service) and `exp`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the answers every operation can give whatever its handler says: 400 for a bad
/// path or query parameter, 408, 413 and 415 for a body that is slow, too large or not JSON, and
/// 429 from the rate limiter. Handlers document only their own outcomes.
#[derive(Debug)]
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_common_responses(operation);
            }
        }
    }
}

fn add_common_responses(operation: &mut Operation) {
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = operation.request_body.is_some();
    let mut common = vec![(
        "429",
        "`rate_limited`: slow down; `Retry-After` says for how long",
    )];
    if has_parameters || has_body {
        common.push((
            "400",
            "`validation_failed`: a parameter or the body is invalid",
        ));
    }
    if has_body {
        common.push(("408", "`request_timeout`: the body did not arrive in time"));
        common.push(("413", "`payload_too_large`: the body is over 64 KiB"));
        common.push((
            "415",
            "`unsupported_media_type`: the body is not `application/json`",
        ));
    }
    for (status, description) in common {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    }
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
        .into()
}

/// The serialized document, computed once.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub web::Bytes);

impl OpenApiJson {
    pub fn new(doc: &OpenApi) -> Self {
        OpenApiJson(web::Bytes::from(
            serde_json::to_vec(doc).unwrap_or_default(),
        ))
    }
}

/// `GET /openapi.json`.
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// Registers `/docs/` (the Swagger UI page, reading `/openapi.json`) and `/docs`, which redirects
/// to it.
pub fn register_docs(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("location", "/docs/"))
                .finish()
        }),
    )
    .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/openapi.json"])));
}
