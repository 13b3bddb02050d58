//! The web UI's security, through the real router on a real Postgres: sign-in with an admin
//! token, session expiry, rotation and sign-out, CSRF refusals, the security headers on every
//! kind of answer, the IP allowlist, and observed values rendered as text. The end-to-end
//! flow in a real browser is `ui_browser.rs`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use barbacane_posture::Tokens;
use serde_json::json;

use crate::support::{AppOptions, Reply, TestApp, req};

const TOKEN: &str = "ui-test-token";

/// The headers every UI answer carries.
fn assert_secure(r: &Reply) {
    let csp = r.header("content-security-policy").unwrap_or_default();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "CSP `{csp}` lacks {directive}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

fn cookies(r: &Reply) -> Vec<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value<'a>(set: &'a [String], name: &str) -> Option<&'a str> {
    set.iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap())
}

/// `name="csrf" value="..."` of a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF field");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Reply {
    let mut r = req(Method::GET, path);
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    app.send(r.body(Body::empty()).unwrap()).await
}

async fn post_form(app: &TestApp, path: &str, cookie: Option<&str>, body: &str) -> Reply {
    let mut r =
        req(Method::POST, path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    app.send(r.body(Body::from(body.to_owned())).unwrap()).await
}

/// Signs in with `token`; returns the answer and the `Cookie` header to send next.
async fn sign_in(app: &TestApp, token: &str) -> (Reply, String) {
    let page = get(app, "/ui/login?next=%2Fui%2Ffleet", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_secure(&page);
    let set = cookies(&page);
    let login = cookie_value(&set, "barbacane_login").unwrap().to_owned();
    assert!(page.text().contains(&login));
    let r = post_form(
        app,
        "/ui/login",
        Some(&format!("barbacane_login={login}")),
        &format!("token={token}&login_csrf={login}&next=%2Fui%2Ffleet"),
    )
    .await;
    let set = cookies(&r);
    let cookie = cookie_value(&set, "barbacane_session")
        .map(|v| format!("barbacane_session={v}"))
        .unwrap_or_default();
    (r, cookie)
}

fn with_token() -> AppOptions {
    AppOptions {
        tokens: vec![TOKEN],
        workers: 0,
        ..Default::default()
    }
}

#[tokio::test]
async fn sign_in_opens_a_session_that_expires_rotates_out_and_signs_out() {
    let app = TestApp::with(with_token()).await;
    // No session: every page sends to the sign-in page, remembering where it was going.
    let r = get(&app, "/ui/drift?state=open", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        Some("/ui/login?next=%2Fui%2Fdrift%3Fstate%3Dopen")
    );
    assert_secure(&r);
    // Unknown paths too: the UI cannot be mapped without a session.
    let r = get(&app, "/ui/secret-page", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // A wrong token is refused, with no session.
    let (r, cookie) = sign_in(&app, "wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert!(cookie.is_empty());
    assert!(r.text().contains("not accepted"));
    // A sign-in without the login form's anti-forgery pair is refused.
    let r = post_form(&app, "/ui/login", None, &format!("token={TOKEN}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_secure(&r);

    // The right token: a session cookie, HttpOnly and SameSite=Strict, back to `next`.
    let (r, cookie) = sign_in(&app, TOKEN).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/ui/fleet"));
    let set = cookies(&r).join("\n");
    assert!(
        set.contains("barbacane_session=") && set.contains("HttpOnly"),
        "{set}"
    );
    assert!(
        set.contains("SameSite=Strict") && set.contains("Path=/ui"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    // Only the cookie's digest is stored.
    let raw = cookie.trim_start_matches("barbacane_session=").to_owned();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id_sha256 FROM ui_sessions")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, [barbacane_artifact::sha256_hex(raw.as_bytes())]);

    // Every page family answers, with the headers; the assets too.
    for path in [
        "/ui/",
        "/ui/fleet",
        "/ui/drift",
        "/ui/drift/audit",
        "/ui/webhooks",
    ] {
        let r = get(&app, path, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_secure(&r);
        assert!(!r.text().contains("<script>"), "no inline script on {path}");
        assert!(!r.text().contains("style="), "no inline style on {path}");
    }
    let css = get(&app, "/ui/assets/app.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_secure(&css);
    let missing = get(&app, "/ui/nothing-here", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_secure(&missing);
    let bad_id = get(&app, "/ui/projects/not-a-uuid", Some(&cookie)).await;
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
    // The session is not an API credential: the API's token rules are unchanged.
    let api = get(&app, "/projects", Some(&cookie)).await;
    api.assert_problem(401, "unauthorized");

    // Idle for more than 8 hours: gone.
    sqlx::query("UPDATE ui_sessions SET last_seen = now() - interval '8 hours 1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = get(&app, "/ui/", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Active but opened more than 12 hours ago: gone.
    let (_, cookie) = sign_in(&app, TOKEN).await;
    assert_eq!(
        get(&app, "/ui/", Some(&cookie)).await.status,
        StatusCode::OK
    );
    sqlx::query("UPDATE ui_sessions SET created_at = now() - interval '12 hours 1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/ui/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    // Expired sessions are deleted at the next sign-in.
    let (_, cookie) = sign_in(&app, TOKEN).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM ui_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 1);

    // Polling (the live views) does not extend a session.
    sqlx::query("UPDATE ui_sessions SET last_seen = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    let poll = app
        .send(
            req(Method::GET, "/ui/fleet")
                .header(header::COOKIE, &cookie)
                .header("x-barbacane-poll", "1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(poll.status, StatusCode::OK);
    let idle: bool =
        sqlx::query_scalar("SELECT last_seen < now() - interval '59 minutes' FROM ui_sessions")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(idle, "a poll extended the session");

    // Rotating the token out ends the sessions it opened.
    app.state.set_tokens(Tokens::from_values(["next-token"]));
    assert_eq!(
        get(&app, "/ui/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    app.state
        .set_tokens(Tokens::from_values([TOKEN, "next-token"]));
    assert_eq!(
        get(&app, "/ui/", Some(&cookie)).await.status,
        StatusCode::OK
    );

    // Sign-out needs the session's CSRF token, then the session is gone for good.
    let page = get(&app, "/ui/", Some(&cookie)).await.text();
    let r = post_form(&app, "/ui/logout", Some(&cookie), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &app,
        "/ui/logout",
        Some(&cookie),
        &format!("csrf={}", csrf_of(&page)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(cookies(&r).join(";").contains("Max-Age=0"));
    assert_eq!(
        get(&app, "/ui/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_wrong_csrf_token() {
    let app = TestApp::with(with_token()).await;
    let (_, cookie) = sign_in(&app, TOKEN).await;
    let page = get(&app, "/ui/", Some(&cookie)).await.text();
    let csrf = csrf_of(&page);
    let cookie = cookie.as_str();

    for body in [
        "name=evil".to_owned(),
        "name=evil&csrf=0000".to_owned(),
        format!("name=evil&csrf={csrf}&csrf=other"),
    ] {
        let r = post_form(&app, "/ui/projects", Some(cookie), &body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}: {}", r.text());
        assert_secure(&r);
        assert!(r.text().contains("anti-forgery"));
    }
    // Not a form at all (a JSON body a script could send): refused the same way.
    let r = app
        .send(
            req(Method::POST, "/ui/projects")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"name": "evil", "csrf": csrf}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "a refused form created something");

    // With the token: done.
    let r = post_form(
        &app,
        "/ui/projects",
        Some(cookie),
        &format!("name=shop&csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let project: uuid::Uuid = sqlx::query_scalar("SELECT id FROM projects")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    // The multipart upload: without its `csrf` part, refused before anything is stored.
    let boundary = "XbOuNdArY";
    let spec = crate::support::mini_spec("/hello", "{}");
    let part = |name: &str, file: Option<&str>, value: &str| match file {
        Some(f) => format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/yaml\r\n\r\n{value}\r\n"
        ),
        None => format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ),
    };
    let upload = |body: String| {
        req(Method::POST, &format!("/ui/projects/{project}/specs"))
            .header(header::COOKIE, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    };
    let without = part("spec", Some("api.yaml"), &spec) + &format!("--{boundary}--\r\n");
    let r = app.send(upload(without)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let wrong = part("csrf", None, "nope")
        + &part("spec", Some("api.yaml"), &spec)
        + &format!("--{boundary}--\r\n");
    assert_eq!(app.send(upload(wrong)).await.status, StatusCode::FORBIDDEN);
    let specs: i64 = sqlx::query_scalar("SELECT count(*) FROM specs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(specs, 0);
    let right = part("csrf", None, &csrf)
        + &part("spec", Some("api.yaml"), &spec)
        + &format!("--{boundary}--\r\n");
    let r = app.send(upload(right)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(r.header("location").unwrap().starts_with("/ui/specs/"));
    // A spec that does not compile: 422 with its diagnostics at file and pointer.
    let broken = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses: {'200': {description: ok}}\n";
    let bad = part("csrf", None, &csrf)
        + &part("spec", Some("broken.yaml"), broken)
        + &format!("--{boundary}--\r\n");
    let r = app.send(upload(bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains("broken.yaml") && r.text().contains("#/paths/"),
        "{}",
        r.text()
    );

    // The gate's forms, decisions included, need it too.
    for path in [
        format!("/ui/drift/findings/{}/propose", uuid::Uuid::new_v4()),
        format!("/ui/remediations/{}/approve", uuid::Uuid::new_v4()),
        format!("/ui/remediations/{}/reject", uuid::Uuid::new_v4()),
        format!("/ui/projects/{project}/deployments"),
        format!("/ui/projects/{project}/compile"),
        format!("/ui/projects/{project}/api-keys"),
    ] {
        let r = post_form(&app, &path, Some(cookie), "by=mallory&artifact_id=x&name=k").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text());
    }
}

#[tokio::test]
async fn the_ui_keeps_the_ip_allowlist() {
    let refused = TestApp::with(AppOptions {
        allow: vec!["10.0.0.0/8"],
        ..with_token()
    })
    .await;
    for path in [
        "/ui/login",
        "/ui/assets/app.js",
        "/ui/",
        "/ui/fleet",
        "/ui/unknown",
    ] {
        let r = get(&refused, path, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_secure(&r);
    }
    let r = post_form(&refused, "/ui/login", None, &format!("token={TOKEN}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // From an allowed address the same server signs in; a session opened there does not
    // open the door from a refused address (the allowlist is checked on every request).
    let allowed = TestApp::with(AppOptions {
        allow: vec!["10.0.0.0/8"],
        peer: "10.1.2.3:5000".parse().unwrap(),
        ..with_token()
    })
    .await;
    let (r, cookie) = sign_in(&allowed, TOKEN).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        get(&allowed, "/ui/", Some(&cookie)).await.status,
        StatusCode::OK
    );
    // The same server seen from 127.0.0.1, outside the allowlist.
    let elsewhere = barbacane_control::routes::router(allowed.state.clone()).layer(
        axum::extract::connect_info::MockConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            5000,
        ))),
    );
    let r = tower::ServiceExt::oneshot(
        elsewhere,
        req(Method::GET, "/ui/")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn observed_values_are_rendered_as_text() {
    let app = TestApp::with(with_token()).await;
    let (_, cookie) = sign_in(&app, TOKEN).await;
    let project = barbacane_control::db::projects::create(&app.pool, "p")
        .await
        .unwrap()
        .id;
    let markup = "<img src=x onerror=alert(1)>";
    let r = app
        .send(
            req(Method::POST, &format!("/projects/{project}/data-planes"))
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"name": markup, "admin_url": "http://127.0.0.1:1",
                           "admin_token": "env://NODE_TOKEN",
                           "labels": {"team": "</td><script>alert(2)</script>"}})
                    .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    for path in [
        "/ui/fleet".to_owned(),
        format!("/ui/projects/{project}/fleet"),
    ] {
        let page = get(&app, &path, Some(&cookie)).await.text();
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
    }
}
