//! `spawn_app()` starts the real server on a free port with a fresh SQLite database of its
//! own; `TestApp` has one verb per route, and `send`/`request` (with `get_as`, `post_as`, …)
//! for any other request. The `assert_*` functions check the answers that recur: a status
//! with its exact `{"detail": …}` body, a refused login, a logout, an ended session.

use flowrex_api::{Application, SettingsSources};
use flowrex_infrastructure::test_support;
use migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The JWT secret every test server signs with, so that tests can forge tokens.
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef";
/// A password that passes the policy.
pub const PASSWORD: &str = "Test1234";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    handle: flowrex_api::startup::ServerHandle,
    dir: Option<TempDir>,
}

/// A server with the test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A server with the test defaults overridden by `vars` (SPEC variable names).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_on(dir, vars).await
}

/// A server on a database of the caller's (a private server in fault tests).
pub async fn spawn_app_on_database(database_url: String, vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_with_database(dir, database_url, vars).await
}

async fn spawn_on(dir: TempDir, vars: &[(&str, &str)]) -> TestApp {
    let database_url = test_support::fresh_database(dir.path())
        .await
        .expect("test database")
        .expose()
        .to_owned();
    spawn_with_database(dir, database_url, vars).await
}

async fn spawn_with_database(dir: TempDir, database_url: String, vars: &[(&str, &str)]) -> TestApp {
    let mut env: Vec<(String, String)> = [
        ("APP_ENV", "test"),
        ("JWT_SECRET_KEY", JWT_SECRET),
        ("APP_SECRET_KEY", "test-app-secret"),
        ("DATABASE_URL", database_url.as_str()),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("BCRYPT_COST", "4"),
        ("WORKERS", "2"),
        ("DEBUG", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let settings = SettingsSources::only(env).load().expect("test settings");
    let application = Application::build(settings)
        .await
        .expect("the app should start");
    let address = format!("http://127.0.0.1:{}", application.port());
    let handle = application.handle();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        database_url,
        handle,
        dir: Some(dir),
    }
}

impl TestApp {
    /// Stops this server and starts a new one on the same database file.
    pub async fn restart(self) -> TestApp {
        self.restart_with(&[]).await
    }

    /// Stops this server and starts a new one on the same database file, with the test
    /// defaults overridden by `vars` (as an operator changes the configuration).
    pub async fn restart_with(mut self, vars: &[(&str, &str)]) -> TestApp {
        self.handle.stop(true).await;
        let dir = self.dir.take().expect("no database dir");
        spawn_with_database(dir, self.database_url.clone(), vars).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post_register(&self, body: &Value) -> Response {
        self.post_json("/api/v1/auth/register", body).await
    }

    pub async fn post_login(&self, body: &Value) -> Response {
        self.post_json("/api/v1/auth/login", body).await
    }

    /// `POST /login` with `email` and `password`.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_login(&json!({ "email": email, "password": password }))
            .await
    }

    pub async fn post_refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    pub async fn get_me(&self, access_token: &str) -> Response {
        self.get_as("/api/v1/auth/me", access_token).await
    }

    pub async fn post_logout(&self) -> Response {
        self.logout(None, None).await
    }

    /// `POST /logout` with an optional access token and an optional body.
    pub async fn logout(&self, bearer: Option<&str>, body: Option<&Value>) -> Response {
        self.send(Method::POST, "/api/v1/auth/logout", bearer, body)
            .await
    }

    /// Registers `email` with [`PASSWORD`] and returns the user body.
    pub async fn register(&self, email: &str) -> Value {
        let response = self
            .post_register(&json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "registering {email}"
        );
        body(response).await
    }

    /// Registers `email` and logs in, returning the tokens body.
    pub async fn register_and_login(&self, email: &str) -> Value {
        self.register(email).await;
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {email}");
        body(response).await
    }

    /// Registers `email`, marks its address verified (by SQL: the mail's link is another
    /// test's) and logs in, returning the tokens body: a user who may add a way to sign in.
    pub async fn register_verified_and_login(&self, email: &str) -> Value {
        self.register(email).await;
        self.mark_verified(email).await;
        self.sign_in(email).await
    }

    /// Marks the address of `email`'s account verified (or not), by SQL.
    pub async fn mark_verified(&self, email: &str) {
        self.execute_sql(&format!(
            "UPDATE users SET is_verified = true WHERE email = '{email}'"
        ))
        .await;
    }

    /// `method path` with an optional bearer token, extra `headers` and an optional JSON
    /// body; a request that gets no answer fails the test.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method.clone(), self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `method path` with an optional bearer token and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        self.request(method, path, bearer, &[], body).await
    }

    /// `method path` without a token, with extra `headers` and an optional JSON body.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        self.request(method, path, None, headers, body).await
    }

    /// `method path` with a JSON body (`{}` where the route takes none), as the holder of
    /// `bearer` if any.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Response {
        self.send(method, path, bearer, Some(body)).await
    }

    /// `GET path` with extra `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request_with(Method::GET, path, headers, None).await
    }

    /// `POST path` with a JSON body and extra `headers`.
    pub async fn post_json_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Response {
        self.request_with(Method::POST, path, headers, Some(body))
            .await
    }

    /// `GET path` as the holder of `bearer`.
    pub async fn get_as(&self, path: &str, bearer: &str) -> Response {
        self.send(Method::GET, path, Some(bearer), None).await
    }

    /// `POST path` with a JSON body as the holder of `bearer`.
    pub async fn post_as(&self, path: &str, bearer: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(bearer), Some(body))
            .await
    }

    /// `PATCH path` with a JSON body as the holder of `bearer`.
    pub async fn patch_as(&self, path: &str, bearer: &str, body: &Value) -> Response {
        self.send(Method::PATCH, path, Some(bearer), Some(body))
            .await
    }

    /// `DELETE path` (no body) as the holder of `bearer`.
    pub async fn delete_as(&self, path: &str, bearer: &str) -> Response {
        self.send(Method::DELETE, path, Some(bearer), None).await
    }

    /// The status of a login.
    pub async fn login_status(&self, email: &str, password: &str) -> StatusCode {
        self.login(email, password).await.status()
    }

    /// Logs `email` in with [`PASSWORD`] (another session), asserting 200: the tokens body.
    pub async fn sign_in(&self, email: &str) -> Value {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {email}");
        body(response).await
    }

    /// Registers `email` and makes it a superuser by SQL (no route can).
    pub async fn register_superuser(&self, email: &str) {
        self.register(email).await;
        self.execute_sql(&format!(
            "UPDATE users SET is_superuser = true WHERE email = '{email}'"
        ))
        .await;
    }

    /// Asserts that both tokens of the session `tokens` are refused (401).
    pub async fn assert_session_ended(&self, tokens: &Value) {
        assert_eq!(
            self.get_me(access(tokens)).await.status(),
            StatusCode::UNAUTHORIZED,
            "the access token is refused"
        );
        assert_eq!(
            self.post_refresh(refresh(tokens)).await.status(),
            StatusCode::UNAUTHORIZED,
            "the refresh token is refused"
        );
    }

    /// Runs SQL against the server's database, for states no route can make.
    pub async fn execute_sql(&self, sql: &str) {
        let db: DatabaseConnection = Database::connect(self.database_url.as_str())
            .await
            .expect("connect");
        db.execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = db.close().await;
    }
}

impl TestApp {
    /// The first row's column `v` (as text) of a query against the server's database.
    pub async fn query_string(&self, sql: &str) -> String {
        let db: DatabaseConnection = Database::connect(self.database_url.as_str())
            .await
            .expect("connect");
        let row = db
            .query_one_raw(migration::sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: no row"));
        let value: String = row
            .try_get("", "v")
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = db.close().await;
        value
    }
}

/// The JSON body of a response.
pub async fn body(response: Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts status and the exact JSON body, returning the response headers.
pub async fn assert_json(
    response: Response,
    status: StatusCode,
    expected: Value,
) -> reqwest::header::HeaderMap {
    let headers = response.headers().clone();
    assert_eq!(response.status(), status, "status");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "every answer is JSON"
    );
    assert_eq!(body(response).await, expected);
    headers
}

/// The single 422 error of a response.
pub async fn only_error(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = body(response).await["detail"].clone();
    assert_eq!(detail.as_array().map(Vec::len), Some(1), "{detail}");
    detail[0].clone()
}

/// Asserts status and the body `{"detail": detail}`, returning the response headers.
pub async fn assert_detail(
    response: Response,
    status: StatusCode,
    detail: &str,
) -> reqwest::header::HeaderMap {
    assert_json(response, status, json!({ "detail": detail })).await
}

/// Asserts the one answer of `POST /logout`: 200 `{"message": "Logged out"}`.
pub async fn assert_logged_out(response: Response) {
    assert_json(response, StatusCode::OK, json!({"message": "Logged out"})).await;
}

/// Asserts a registration of a taken address: 400 `Email already registered`.
pub async fn assert_already_registered(response: Response) {
    assert_detail(
        response,
        StatusCode::BAD_REQUEST,
        "Email already registered",
    )
    .await;
}

/// Asserts a refresh (or logout) token refused: 401 `Invalid token`.
pub async fn assert_invalid_token(response: Response) {
    assert_detail(response, StatusCode::UNAUTHORIZED, "Invalid token").await;
}

/// Asserts an access token refused: 401 `Invalid credentials`.
pub async fn assert_invalid_credentials(response: Response) {
    assert_detail(response, StatusCode::UNAUTHORIZED, "Invalid credentials").await;
}

/// The one answer to a login that does not check out (wrong password, unknown or
/// inactive account).
pub const REFUSED: &str = "Invalid email or password";
/// The answer to a login refused without checking the password.
pub const THROTTLED: &str = "Too many failed login attempts, try again later";

/// Asserts a login refused as [`REFUSED`] (401).
pub async fn assert_refused(response: Response) {
    assert_detail(response, StatusCode::UNAUTHORIZED, REFUSED).await;
}

/// Asserts a login throttled as [`THROTTLED`] (429).
pub async fn assert_throttled(response: Response) {
    assert_detail(response, StatusCode::TOO_MANY_REQUESTS, THROTTLED).await;
}

/// The access token of a tokens body.
pub fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().expect("access token")
}

/// The refresh token of a tokens body.
pub fn refresh(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().expect("refresh token")
}

/// The claims of an access token the test server signed (HS256, audience `flowrex`).
pub fn claims(access_token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["flowrex"]);
    jsonwebtoken::decode::<Value>(
        access_token,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("our token")
    .claims
}

/// A token signed with the test secret, with the given claims.
pub fn forge_token(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("forge")
}

/// An `exp` claim `seconds` from now.
pub fn exp_in(seconds: i64) -> i64 {
    chrono::Utc::now().timestamp() + seconds
}

/// Sends every login at once, spread over `apps` in turn; how many were checked (401) and
/// how many throttled (429). Any other answer fails the test.
pub async fn login_burst(apps: &[&TestApp], attempts: &[(String, String)]) -> (usize, usize) {
    let sends = attempts.iter().enumerate().map(|(n, (email, password))| {
        let app = apps[n % apps.len()];
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    let (checked, throttled) = (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
    );
    assert_eq!(checked + throttled, attempts.len(), "{statuses:?}");
    (checked, throttled)
}

/// `count` wrong passwords for `email`.
pub fn guesses(email: &str, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|n| (email.to_owned(), format!("Wrong{n}Pass")))
        .collect()
}

/// A response header as text.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The keys of a JSON object, sorted.
pub fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}
