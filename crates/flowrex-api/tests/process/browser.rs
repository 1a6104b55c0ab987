//! The browser transport in a real headless Chromium (Debian's package): a page on another
//! loopback origin logs in with CORS credentials, the refresh token lives only in the
//! HttpOnly cookie, refresh works with the CSRF header and is refused without it, and a
//! cross-site form post (from 127.0.0.1, another site than localhost) cannot use the
//! session. `#[ignore]`d by default; `.ci/run` installs Chromium and runs it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{BINARY, CHROMIUM, spare_port, start_quiet};

/// Serves `pages` (path → HTML) on `listener` for as long as the test runs.
fn serve_pages(listener: TcpListener, pages: Vec<(String, String)>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..read]);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = pages
                .iter()
                .find(|(page, _)| *page == path)
                .map_or(("404 Not Found", String::new()), |(_, html)| {
                    ("200 OK", html.clone())
                });
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

/// Loads `url` in headless Chromium with the profile in `profile` (cookies persist between
/// loads) and returns the final document.
fn chromium(profile: &Path, url: &str) -> String {
    let output = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{CHROMIUM} (install Debian's chromium): {e}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The JSON a page wrote into `<pre id="out">`.
fn page_result(document: &str) -> Value {
    let start = document
        .find("<pre id=\"out\">")
        .map(|i| i + "<pre id=\"out\">".len());
    let text = start
        .and_then(|start| document[start..].split("</pre>").next())
        .unwrap_or_default()
        .replace("&quot;", "\"");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("page result ({e}): {document}"))
}

fn flow_page(api: &str, steps: &str) -> String {
    format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
const api = "{api}";
const json = {{"Content-Type": "application/json"}};
const creds = JSON.stringify({{email: "browser@example.com", password: "Browser123"}});
const out = {{}};
(async () => {{
  try {{ {steps} }} catch (e) {{ out.error = String(e); }}
  document.getElementById("out").textContent = JSON.stringify(out);
}})();
</script></body></html>"#
    )
}

fn form_post_page(action: &str) -> String {
    format!(
        r#"<!doctype html><html><body>
<form id="f" method="POST" action="{action}" enctype="text/plain"><input name="x" value="y"></form>
<script>document.getElementById("f").submit();</script></body></html>"#
    )
}

#[test]
#[ignore = "needs Debian's chromium; run by .ci/run"]
fn a_browser_front_end_keeps_the_refresh_token_out_of_reach_and_cross_site_posts_fail() {
    let dir = tempfile::tempdir().unwrap();
    let page_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let page_port = page_listener.local_addr().map(|a| a.port()).unwrap();
    let api_port = spare_port();
    let api = format!("http://localhost:{api_port}");
    let database = format!("sqlite://{}", dir.path().join("browser.db").display());
    let _server = start_quiet(
        Command::new(BINARY).env_clear().envs([
            ("PORT", api_port.to_string()),
            ("DATABASE_URL", database),
            ("JWT_SECRET_KEY", "browser-test-secret".to_owned()),
            ("APP_SECRET_KEY", "browser-test-app-secret".to_owned()),
            ("BCRYPT_COST", "4".to_owned()),
            ("CORS_ORIGINS", format!("http://localhost:{page_port}")),
        ]),
        dir.path(),
        api_port,
    );
    let refresh = format!("{api}/api/v1/auth/refresh");
    serve_pages(
        page_listener,
        vec![
            (
                "/login.html".to_owned(),
                flow_page(
                    &api,
                    r#"
    out.register = (await fetch(api + "/api/v1/auth/register", {method: "POST", headers: json, body: creds})).status;
    const login = await fetch(api + "/api/v1/auth/login", {method: "POST", credentials: "include", headers: {...json, "X-Token-Transport": "cookie"}, body: creds});
    out.login = login.status;
    out.refresh_token_in_body = (await login.json()).refresh_token;
    out.cookie_visible_to_script = document.cookie.includes("flowrex_refresh");
    out.refresh_without_csrf = (await fetch(api + "/api/v1/auth/refresh", {method: "POST", credentials: "include"})).status;
    const refresh = await fetch(api + "/api/v1/auth/refresh", {method: "POST", credentials: "include", headers: {"X-CSRF-Token": "1"}});
    out.refresh = refresh.status;
    out.me = (await fetch(api + "/api/v1/auth/me", {headers: {Authorization: "Bearer " + (await refresh.json()).access_token}})).status;"#,
                ),
            ),
            ("/post.html".to_owned(), form_post_page(&refresh)),
            (
                "/still.html".to_owned(),
                flow_page(
                    &api,
                    r#"
    const refresh = await fetch(api + "/api/v1/auth/refresh", {method: "POST", credentials: "include", headers: {"X-CSRF-Token": "1"}});
    out.refresh = refresh.status;
    out.logout = (await fetch(api + "/api/v1/auth/logout", {method: "POST", credentials: "include", headers: {"X-CSRF-Token": "1"}})).status;
    out.refresh_after_logout = (await fetch(api + "/api/v1/auth/refresh", {method: "POST", credentials: "include", headers: {"X-CSRF-Token": "1"}})).status;"#,
                ),
            ),
        ],
    );
    let profile = dir.path().join("profile");
    let pages = format!("localhost:{page_port}");

    let flow = page_result(&chromium(&profile, &format!("http://{pages}/login.html")));
    assert_eq!(
        flow,
        json!({"register": 201, "login": 200, "refresh_token_in_body": null,
               "cookie_visible_to_script": false, "refresh_without_csrf": 403,
               "refresh": 200, "me": 200}),
        "the front end's flow"
    );

    // Another site (127.0.0.1 is not localhost) posts a form at the API: the SameSite=Strict
    // cookie stays home, so nothing is refreshed.
    let cross_site = chromium(&profile, &format!("http://127.0.0.1:{page_port}/post.html"));
    assert!(
        cross_site.contains("detail") && !cross_site.contains("access_token"),
        "{cross_site}"
    );
    // Same site, other origin, no CSRF header: the cookie travels but is refused.
    let same_site = chromium(&profile, &format!("http://{pages}/post.html"));
    assert!(same_site.contains("CSRF token missing"), "{same_site}");

    let after = page_result(&chromium(&profile, &format!("http://{pages}/still.html")));
    assert_eq!(
        after,
        // After logout the cookie is cleared: a refresh then has no token at all (422).
        json!({"refresh": 200, "logout": 200, "refresh_after_logout": 422}),
        "the session survived the attacks; logout ends it and clears the cookie"
    );
}

#[test]
#[ignore = "needs Debian's chromium; run by .ci/run"]
fn the_interactive_docs_render_offline_and_list_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let port = spare_port();
    let _server = start_quiet(
        Command::new(BINARY).env_clear().envs([
            ("PORT", port.to_string()),
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("docs.db").display()),
            ),
            ("JWT_SECRET_KEY", "docs-test-secret".to_owned()),
            ("APP_SECRET_KEY", "docs-test-app-secret".to_owned()),
        ]),
        dir.path(),
        port,
    );
    let profile = dir.path().join("profile");
    let url = format!("http://127.0.0.1:{port}/docs/");
    let document = chromium(&profile, &url);
    for operation in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/me",
        "/api/v1/auth/logout",
        "/api/v1/auth/sessions",
        "/health/ready",
    ] {
        assert!(document.contains(operation), "Swagger UI lists {operation}");
    }
    assert!(
        document.contains("opblock"),
        "operations are rendered as Swagger UI blocks"
    );

    // A picture of it, kept next to the build for whoever wants to look.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs.png");
    let status = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,1600",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let size = std::fs::metadata(&shot)
        .map(|m| m.len())
        .unwrap_or_default();
    assert!(
        size > 20_000,
        "a real picture, not a blank page: {size} bytes at {}",
        shot.display()
    );
    println!("screenshot: {}", shot.display());
}
