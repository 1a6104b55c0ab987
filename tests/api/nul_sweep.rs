//! A NUL character in every query parameter, path parameter and body string of every route
//! the OpenAPI document lists (and of the link pages, which it does not): never a 5xx.
//! PostgreSQL refuses NUL in text, so a value that reaches a query unchecked fails there;
//! CI runs this file on SQLite, PostgreSQL and MariaDB. The routes come from the served
//! `/openapi.json`, so a route or field added later is swept without editing this test.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{PASSWORD, TestApp, access, body, spawn_app_with};

const NUL: &str = "nul\u{0}here";
const ROOT: &str = "root@example.com";

/// The pages the mailed links open: `GET` with the token in the query, `POST` with a form.
const PAGES: [&str; 3] = ["/verify-email", "/reset-password", "/confirm-email"];

/// One request of the sweep.
struct Probe {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

/// A plausible value for a string field called `name`, so that the request reaches as far
/// as it can with only one field wrong.
fn plausible(name: &str) -> Value {
    let value = if name.contains("email") {
        "someone@example.com".to_owned()
    } else if name.contains("password") {
        PASSWORD.to_owned()
    } else if name.contains("token") || name.contains("ceremony") {
        "ab".repeat(32)
    } else if name.contains("code") {
        "123456".to_owned()
    } else {
        "x".to_owned()
    };
    Value::String(value)
}

/// The schema `schema` names, following a `$ref` (and a `oneOf` of null and a ref).
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return &document["components"]["schemas"][name];
    }
    if let Some(options) = schema["oneOf"].as_array()
        && let Some(object) = options.iter().find(|o| o.get("$ref").is_some())
    {
        return resolve(document, object);
    }
    schema
}

/// The string properties of a request body schema, and a body with plausible values.
fn body_fields(document: &Value, operation: &Value) -> Option<(Vec<String>, Map<String, Value>)> {
    let schema = operation["requestBody"]["content"]["application/json"]["schema"].clone();
    if schema.is_null() {
        return None;
    }
    let schema = resolve(document, &schema);
    let mut strings = Vec::new();
    let mut plausible_body = Map::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let kind = property["type"].clone();
        let is_string = kind == "string"
            || kind
                .as_array()
                .is_some_and(|k| k.contains(&json!("string")));
        if is_string {
            strings.push(name.clone());
            plausible_body.insert(name.clone(), plausible(name));
        } else if name == "credential" {
            plausible_body.insert(name.clone(), json!({}));
        }
    }
    Some((strings, plausible_body))
}

/// Every probe of one operation: NUL in each path parameter, each query parameter and
/// each body string alone, and in all of them at once.
fn probes(document: &Value, path: &str, method: &str, operation: &Value) -> Vec<Probe> {
    let method: Method = method.to_uppercase().parse().expect("method");
    let parameters: Vec<(String, String)> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["in"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let with_path = |nul: bool| {
        parameters.iter().filter(|(_, place)| place == "path").fold(
            path.to_owned(),
            |path, (name, _)| {
                path.replace(&format!("{{{name}}}"), if nul { "nul%00here" } else { "1" })
            },
        )
    };
    let query_names: Vec<&String> = parameters
        .iter()
        .filter(|(_, place)| place == "query")
        .map(|(name, _)| name)
        .collect();
    let fields = body_fields(document, operation);
    let plausible_body = fields.as_ref().map(|(_, body)| Value::Object(body.clone()));
    let mut probes = Vec::new();
    let probe = |path: String, query: Vec<(String, String)>, body: Option<Value>| Probe {
        method: method.clone(),
        path,
        query,
        body,
    };
    if parameters.iter().any(|(_, place)| place == "path") {
        probes.push(probe(with_path(true), Vec::new(), plausible_body.clone()));
    }
    for name in &query_names {
        let query = vec![((*name).clone(), NUL.to_owned())];
        probes.push(probe(with_path(false), query, plausible_body.clone()));
    }
    if query_names.len() > 1 {
        let query = query_names
            .iter()
            .map(|name| ((*name).clone(), NUL.to_owned()))
            .collect();
        probes.push(probe(with_path(false), query, plausible_body.clone()));
    }
    if let Some((strings, plausible_body)) = fields {
        for name in &strings {
            let mut body = plausible_body.clone();
            body.insert(name.clone(), json!(NUL));
            probes.push(probe(
                with_path(false),
                Vec::new(),
                Some(Value::Object(body)),
            ));
        }
        let all: Map<String, Value> = strings
            .iter()
            .map(|name| (name.clone(), json!(NUL)))
            .chain(
                plausible_body
                    .iter()
                    .filter(|(name, _)| !strings.contains(name))
                    .map(|(name, value)| (name.clone(), value.clone())),
            )
            .collect();
        probes.push(probe(
            with_path(false),
            Vec::new(),
            Some(Value::Object(all)),
        ));
    }
    probes
}

/// A server with no limit in the way, mail on (queued for a mail server that never
/// answers: no flow stops at "mail is not configured"), and a superuser with a verified
/// address.
async fn app() -> TestApp {
    let app = spawn_app_with(&[
        ("SMTP_URL", "smtp://127.0.0.1:9"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "0"),
        ("LOGIN_MAX_FAILURES_PER_IP", "0"),
    ])
    .await;
    app.register_superuser(ROOT).await;
    app.mark_verified(ROOT).await;
    app
}

#[tokio::test]
async fn a_nul_anywhere_in_any_route_is_never_a_server_error() {
    let app = app().await;
    let document = body(app.get("/openapi.json").await).await;
    let mut probes = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            probes.extend(self::probes(&document, path, method, operation));
        }
    }
    for page in PAGES {
        for (method, body) in [(Method::GET, None), (Method::POST, Some(json!({})))] {
            probes.push(Probe {
                method,
                path: page.to_owned(),
                query: vec![("token".to_owned(), NUL.to_owned())],
                body,
            });
        }
    }
    assert!(
        probes.len() > 80,
        "the document lists the routes: {}",
        probes.len()
    );
    let mut failures = Vec::new();
    for probe in &probes {
        // A session of its own: a probe may end the one it is sent with (logout).
        let bearer = access(&app.sign_in(ROOT).await).to_owned();
        let mut request = app
            .client
            .request(probe.method.clone(), app.url(&probe.path))
            .bearer_auth(&bearer)
            .query(&probe.query);
        if let Some(body) = &probe.body {
            request = request.json(body);
        }
        let response = request.send().await.expect("an answer");
        if response.status().is_server_error() {
            failures.push(format!(
                "{} {} {:?} {:?} → {}",
                probe.method,
                probe.path,
                probe.query,
                probe.body,
                response.status()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "server errors:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_nul_in_the_user_lists_address_filter_is_the_usual_422() {
    let app = app().await;
    let bearer = access(&app.sign_in(ROOT).await).to_owned();
    for filter in ["%00", "a%00b"] {
        let response = app
            .get_as(&format!("/api/v1/admin/users?email={filter}"), &bearer)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{filter}"
        );
        let detail = body(response).await["detail"].clone();
        assert_eq!(detail[0]["loc"], json!(["query", "email"]), "{detail}");
        assert_eq!(detail[0]["type"], "value_error", "{detail}");
    }
    // An ordinary filter still works.
    let listed = app.get_as("/api/v1/admin/users?email=root", &bearer).await;
    assert_eq!(listed.status(), StatusCode::OK);
}
