//! The JSON API of the real daemon at its edges: pushed batches that repeat an item or send
//! an empty id, the bearer scheme in any case, an acknowledge body that is really optional,
//! and every refusal in the API's own shape (`{"error": "…"}`), never the framework's words.

use serde_json::Value;

use crate::support::daemon::PushDaemon;
use crate::support::http::request;

fn serve() -> PushDaemon {
    PushDaemon::start("tok-123", "")
}

const AUTH_JSON: &str = "Authorization: Bearer tok-123\r\nContent-Type: application/json\r\n";

/// The `error` of a JSON refusal; fails when the body is not the API's shape.
fn error_of(status: u16, body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {body:?}"));
    let error = v["error"].as_str().unwrap_or_else(|| panic!("{status}: no \"error\" string: {body}"));
    assert!(!error.contains("Failed to"), "{status}: the framework's words leak: {error}");
    error.to_string()
}

#[test]
fn a_repeated_item_without_an_id_is_a_duplicate_and_an_empty_id_is_named() {
    let mut s = serve();
    let post = |body: &str| request(s.port, "POST", "/api/v1/ingest", AUTH_JSON, body);
    let (same, same_answer) = post(r#"[{"text": "Kroon Bank is down"}, {"text": "Kroon Bank is down"}]"#);
    let (empty, empty_answer) = post(r#"[{"id": "", "text": "Kroon Bank is down"}, {"id": "  ", "text": "x"}]"#);
    let (clash, clash_answer) = post(r#"[{"id": "7", "text": "Kroon Bank is down"}, {"id": 7, "text": "other"}]"#);
    let (twice, twice_answer) =
        post(r#"[{"id": "8", "text": "Kroon Bank is up"}, {"id": "8", "text": "Kroon Bank is up"}]"#);
    s.daemon.alive();

    assert_eq!(same, 200, "a repeated item is not an error: {same_answer}");
    let counts: Value = serde_json::from_str(&same_answer).expect("JSON");
    assert_eq!(
        (counts["received"].as_u64(), counts["new"].as_u64(), counts["duplicates"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{same_answer}"
    );
    assert_eq!(empty, 422, "{empty_answer}");
    let bad: Value = serde_json::from_str(&empty_answer).expect("JSON");
    assert_eq!(bad["items"][0]["index"], 0);
    assert!(bad["items"][0]["error"].as_str().is_some_and(|e| e.contains("\"id\" is empty")), "{empty_answer}");
    assert!(bad["items"][1]["error"].as_str().is_some_and(|e| e.contains("\"id\" is empty")), "{empty_answer}");
    assert_eq!(clash, 422, "two different items under one id are the sender's mistake: {clash_answer}");
    assert!(clash_answer.contains("duplicate id \\\"7\\\""), "{clash_answer}");
    assert_eq!(twice, 200, "the same item twice under its id is a duplicate: {twice_answer}");
    assert!(twice_answer.contains("\"new\":1") && twice_answer.contains("\"duplicates\":1"), "{twice_answer}");
}

#[test]
fn the_bearer_scheme_is_matched_in_any_case() {
    let s = serve();
    let ack = |auth: &str| request(s.port, "POST", "/api/v1/alerts/no-such-alert/ack", auth, "");
    let (lower, lower_answer) = ack("Authorization: bearer tok-123\r\n");
    let (upper, _) = ack("Authorization: BEARER  tok-123\r\n");
    let (wrong, wrong_answer) = ack("Authorization: bearer tok-124\r\n");
    let (basic, _) = ack("Authorization: Basic dG9rLTEyMw==\r\n");
    let (ingest, ingest_answer) = request(
        s.port,
        "POST",
        "/api/v1/ingest",
        "Authorization: bearer tok-123\r\nContent-Type: application/json\r\n",
        r#"[{"id": "1", "text": "Kroon Bank"}]"#,
    );

    assert_eq!(lower, 404, "the token was accepted (the alert does not exist): {lower_answer}");
    assert_eq!(upper, 404);
    assert_eq!(ingest, 200, "{ingest_answer}");
    assert_eq!((wrong, basic), (401, 401));
    assert!(error_of(wrong, &wrong_answer).contains("bearer token"), "{wrong_answer}");
}

#[test]
fn an_acknowledge_body_is_optional_and_every_refusal_is_json() {
    let s = serve();
    let auth = "Authorization: Bearer tok-123\r\n";
    let ack = |headers: &str, body: &str| request(s.port, "POST", "/api/v1/alerts/no-such-alert/ack", headers, body);
    // No alert of that id: a 404 means the body was taken.
    let (json_no_body, a) = ack(AUTH_JSON, "");
    assert_eq!(json_no_body, 404, "{a}");
    assert!(error_of(404, &a).contains("no-such-alert"), "{a}");
    let (body_no_type, b) = ack(auth, r#"{"by": "ann"}"#);
    assert_eq!(body_no_type, 404, "{b}");
    let (not_json, c) = ack(AUTH_JSON, "{by: ann");
    assert_eq!(not_json, 400, "{c}");
    assert!(error_of(400, &c).contains("JSON"), "{c}");
    let (form, d) = ack(&format!("{auth}Content-Type: application/x-www-form-urlencoded\r\n"), "by=ann");
    assert_eq!(form, 415, "{d}");
    assert!(error_of(415, &d).contains("application/json"), "{d}");
    let (not_object, e) = ack(AUTH_JSON, r#"{"by": 7}"#);
    assert_eq!(not_object, 400, "{e}");
    error_of(400, &e);

    // The framework's own refusals, in the API's shape.
    for (method, path, headers, want) in [
        ("POST", "/api/v1/ingest?source=crm&source=crm", AUTH_JSON, 400),
        ("GET", "/api/v1/nothing-here", "", 404),
        ("GET", "/api/v1/ingest", "", 405),
        ("DELETE", "/api/v1/alerts", "", 405),
        ("POST", "/api/v1/alerts/x/ack", "", 401),
        ("POST", "/api/v1/ingest", "", 401),
    ] {
        let (status, body) = request(s.port, method, path, headers, "[]");
        assert_eq!(status, want, "{method} {path}: {body}");
        error_of(status, &body);
    }
    // The acknowledge link's page says what is wrong with a link cut short, in its own words.
    let (cut, page) = request(s.port, "GET", "/ack/abc?exp=1", "", "");
    assert_eq!(cut, 400, "{page}");
    assert!(page.contains("incomplete") && !page.contains("Failed to"), "{page}");
}
