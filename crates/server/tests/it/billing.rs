//! Billing events over HTTP: Stripe-signed events at `POST /webhooks/billing`
//! change the plan, suspend, and leave a notice for the tenant admin; bad,
//! stale and wrongly keyed signatures are refused; a replayed id changes
//! nothing a second time.

use coffer_domain::webhook;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const SECRET: &str = "whsec_e2e_billing";

async fn billing_server(mode: Mode) -> TestServer {
    TestServer::start_with(
        mode,
        tempfile::tempdir().unwrap(),
        &[("COFFER__BILLING__WEBHOOK_SECRET", SECRET)],
    )
    .await
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "type": kind,
        "created": unix_now(), "livemode": false, "data": { "object": object },
    }))
    .unwrap()
}

fn subscription(tenant_id: &str, lookup_key: &str) -> Value {
    json!({
        "id": "sub_1", "object": "subscription", "status": "active",
        "metadata": { "tenant_id": tenant_id },
        "items": { "object": "list", "data": [{ "id": "si_1", "price": { "id": "price_1", "lookup_key": lookup_key } }] },
    })
}

/// POST `body` with `signature` (none: no header).
async fn post(server: &TestServer, body: &[u8], signature: Option<String>) -> Response {
    let mut request = server
        .http
        .post(server.url("/webhooks/billing"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    request.send().await.unwrap()
}

/// POST `body` signed now with the configured secret; expects 200 and returns the receipt.
async fn deliver(server: &TestServer, body: &[u8]) -> Value {
    let signature = webhook::sign(SECRET.as_bytes(), unix_now(), body);
    ok_json(post(server, body, Some(signature)).await, StatusCode::OK).await
}

/// A tenant, its admin's token and its id.
async fn onboard(server: &TestServer) -> (String, String, String) {
    let slug = server.tenant(json!({})).await;
    let admin = server.token(Some(&slug), "boss", &["admin"]).await;
    let id = tenant_view(server, &admin).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (slug, admin, id)
}

async fn platform_view(server: &TestServer, id: &str) -> Value {
    let root = server.platform_admin().await;
    ok_json(
        server
            .req(Method::GET, &format!("/api/v1/tenants/{id}"), &root)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

async fn audit(server: &TestServer, admin: &str, action: &str) -> Vec<Value> {
    let page = ok_json(
        server
            .req(
                Method::GET,
                &format!("/api/v1/audit?action={action}&actor=system:billing"),
                admin,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn billing_changes_plan_suspends_and_leaves_a_notice(mode: Mode) {
    let server = billing_server(mode).await;
    let (slug, admin, id) = onboard(&server).await;
    let viewer = server.token(Some(&slug), "vic", &["viewer"]).await;
    assert_eq!(platform_view(&server, &id).await["plan"], "starter");

    // Subscription updated: the plan follows the price's lookup key.
    let receipt = deliver(
        &server,
        &event(
            "evt_up_1",
            "customer.subscription.updated",
            subscription(&id, "professional_monthly"),
        ),
    )
    .await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    assert_eq!(receipt["id"], "evt_up_1");
    let view = platform_view(&server, &id).await;
    assert_eq!(view["plan"], "professional");
    assert_eq!(view["status"], "active");
    assert_eq!(tenant_view(&server, &admin).await["plan"], "professional");
    let changes = audit(&server, &admin, "tenant.updated").await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["detail"]["billing_event"], "evt_up_1");

    // The same, by slug in `metadata.tenant` and `metadata.plan`.
    let receipt = deliver(
        &server,
        &event(
            "evt_up_2",
            "customer.subscription.updated",
            json!({ "id": "sub_1", "metadata": { "tenant": slug, "plan": "enterprise" }, "items": { "data": [] } }),
        ),
    )
    .await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    assert_eq!(platform_view(&server, &id).await["plan"], "enterprise");

    // Payment failed: a notice for the admin, the tenant stays active.
    assert_eq!(tenant_view(&server, &admin).await["billing"], Value::Null);
    let invoice = json!({
        "id": "in_1", "object": "invoice", "amount_due": 4900, "currency": "eur", "attempt_count": 1,
        "hosted_invoice_url": "https://invoice.stripe.com/i/in_1",
        "metadata": {},
        "subscription_details": { "metadata": { "tenant_id": id } },
    });
    let receipt = deliver(
        &server,
        &event("evt_pf_1", "invoice.payment_failed", invoice),
    )
    .await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    let view = tenant_view(&server, &admin).await;
    assert_eq!(view["status"], "active");
    assert_eq!(view["billing"]["invoice"], "in_1", "{view}");
    assert_eq!(view["billing"]["amount_due"], 4900);
    assert_eq!(view["billing"]["currency"], "eur");
    assert!(view["billing"]["payment_failed_at"].is_string(), "{view}");
    assert_eq!(
        platform_view(&server, &id).await["billing"]["invoice"],
        "in_1"
    );
    // Members see their tenant, not its billing.
    assert_eq!(tenant_view(&server, &viewer).await["billing"], Value::Null);
    // Files still work.
    let files = server
        .req(Method::GET, "/api/v1/files", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), StatusCode::OK);
    assert_eq!(
        audit(&server, &admin, "billing.payment_failed").await.len(),
        1
    );

    // Paid: the notice goes.
    let paid = json!({ "id": "in_1", "object": "invoice", "subscription_details": { "metadata": { "tenant_id": id } } });
    let receipt = deliver(&server, &event("evt_paid_1", "invoice.paid", paid)).await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    assert_eq!(tenant_view(&server, &admin).await["billing"], Value::Null);

    // Subscription deleted: suspended, tenant calls answer 402.
    let receipt = deliver(
        &server,
        &event(
            "evt_del_1",
            "customer.subscription.deleted",
            subscription(&id, "enterprise"),
        ),
    )
    .await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    let view = platform_view(&server, &id).await;
    assert_eq!(view["status"], "suspended");
    assert!(view["suspended_at"].is_string());
    for token in [&admin, &viewer] {
        problem(
            server
                .req(Method::GET, "/api/v1/files", token)
                .send()
                .await
                .unwrap(),
            StatusCode::PAYMENT_REQUIRED,
            "tenant_suspended",
        )
        .await;
    }
    let receipt = deliver(
        &server,
        &event(
            "evt_del_2",
            "customer.subscription.deleted",
            subscription(&id, "enterprise"),
        ),
    )
    .await;
    assert_eq!(
        (receipt["outcome"].as_str(), receipt["reason"].as_str()),
        (Some("unchanged"), Some("already_suspended"))
    );
}

#[actix_web::test]
async fn billing_changes_plan_suspends_and_leaves_a_notice_in_production() {
    billing_changes_plan_suspends_and_leaves_a_notice(Mode::Production).await;
}

#[actix_web::test]
async fn billing_changes_plan_suspends_and_leaves_a_notice_embedded() {
    billing_changes_plan_suspends_and_leaves_a_notice(Mode::Embedded).await;
}

async fn billing_replayed_ids_change_nothing_again(mode: Mode) {
    let server = billing_server(mode).await;
    let (_, admin, id) = onboard(&server).await;
    let upgrade = event(
        "evt_replay",
        "customer.subscription.updated",
        subscription(&id, "enterprise"),
    );
    assert_eq!(deliver(&server, &upgrade).await["outcome"], "applied");
    assert_eq!(platform_view(&server, &id).await["plan"], "enterprise");

    // A platform admin changes the plan back meanwhile.
    let root = server.platform_admin().await;
    let patched = server
        .req(Method::PATCH, &format!("/api/v1/tenants/{id}"), &root)
        .json(&json!({ "plan": "starter" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);

    // The same event again (freshly signed, as Stripe's retries are): 200, nothing done.
    let receipt = deliver(&server, &upgrade).await;
    assert_eq!(receipt["outcome"], "replay", "{receipt}");
    assert_eq!(platform_view(&server, &id).await["plan"], "starter");
    // Another body under a used id is a replay too: the id is the key.
    let deletion = event(
        "evt_replay",
        "customer.subscription.deleted",
        subscription(&id, "enterprise"),
    );
    assert_eq!(deliver(&server, &deletion).await["outcome"], "replay");
    assert_eq!(platform_view(&server, &id).await["status"], "active");
    assert_eq!(audit(&server, &admin, "tenant.updated").await.len(), 1);
}

#[actix_web::test]
async fn billing_replayed_ids_change_nothing_again_in_production() {
    billing_replayed_ids_change_nothing_again(Mode::Production).await;
}

#[actix_web::test]
async fn billing_replayed_ids_change_nothing_again_embedded() {
    billing_replayed_ids_change_nothing_again(Mode::Embedded).await;
}

#[actix_web::test]
async fn billing_refuses_bad_stale_and_wrongly_keyed_signatures() {
    let server = billing_server(Mode::Production).await;
    let (_, admin, id) = onboard(&server).await;
    let body = event(
        "evt_sig",
        "customer.subscription.updated",
        subscription(&id, "enterprise"),
    );
    let now = unix_now();
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'e').unwrap();
    tampered[at] = b'E';
    let cases: Vec<(&str, Vec<u8>, Option<String>, &str)> = vec![
        ("no signature", body.clone(), None, "invalid_signature"),
        (
            "garbage",
            body.clone(),
            Some("v1=deadbeef".into()),
            "invalid_signature",
        ),
        (
            "wrong secret",
            body.clone(),
            Some(webhook::sign(b"whsec_someone_else", now, &body)),
            "invalid_signature",
        ),
        (
            "tampered body",
            tampered,
            Some(webhook::sign(SECRET.as_bytes(), now, &body)),
            "invalid_signature",
        ),
        (
            "stale",
            body.clone(),
            Some(webhook::sign(SECRET.as_bytes(), now - 600, &body)),
            "stale_signature",
        ),
        (
            "from the future",
            body.clone(),
            Some(webhook::sign(SECRET.as_bytes(), now + 600, &body)),
            "stale_signature",
        ),
        (
            "not JSON",
            b"{\"id\": ".to_vec(),
            Some(webhook::sign(SECRET.as_bytes(), now, b"{\"id\": ")),
            "malformed_json",
        ),
        (
            "no id",
            br#"{"type":"invoice.paid"}"#.to_vec(),
            Some(webhook::sign(
                SECRET.as_bytes(),
                now,
                br#"{"type":"invoice.paid"}"#,
            )),
            "malformed_event",
        ),
    ];
    for (what, body, signature, code) in cases {
        let response = post(&server, &body, signature).await;
        let problem = problem(response, StatusCode::BAD_REQUEST, code).await;
        assert!(problem["detail"].is_string(), "{what}");
    }
    assert_eq!(platform_view(&server, &id).await["plan"], "starter");
    assert!(audit(&server, &admin, "tenant.updated").await.is_empty());
    // None of the refused deliveries consumed the id.
    assert_eq!(deliver(&server, &body).await["outcome"], "applied");
    assert_eq!(platform_view(&server, &id).await["plan"], "enterprise");
}

#[actix_web::test]
async fn billing_ignores_what_it_cannot_map_with_200() {
    let server = billing_server(Mode::Production).await;
    let (_, _, id) = onboard(&server).await;
    for (event_id, kind, object, reason) in [
        (
            "evt_i1",
            "customer.created",
            json!({ "metadata": { "tenant_id": id } }),
            "unhandled_type",
        ),
        (
            "evt_i2",
            "customer.subscription.updated",
            json!({ "metadata": {} }),
            "no_tenant",
        ),
        (
            "evt_i3",
            "customer.subscription.updated",
            json!({ "metadata": { "tenant": "no-such-tenant" } }),
            "unknown_tenant",
        ),
        (
            "evt_i4",
            "customer.subscription.updated",
            subscription(&id, "platinum"),
            "unknown_plan",
        ),
    ] {
        let receipt = deliver(&server, &event(event_id, kind, object)).await;
        assert_eq!(receipt["outcome"], "ignored", "{receipt}");
        assert_eq!(receipt["reason"], reason, "{receipt}");
        // Recorded as seen: the same id again is a replay.
        assert_eq!(
            deliver(&server, &event(event_id, kind, json!({}))).await["outcome"],
            "replay"
        );
    }
    let view = platform_view(&server, &id).await;
    assert_eq!(
        (view["plan"].as_str(), view["status"].as_str()),
        (Some("starter"), Some("active"))
    );
}

#[actix_web::test]
async fn billing_is_not_found_without_a_secret() {
    let server = TestServer::start(Mode::Embedded).await;
    let body = event("evt_off", "invoice.paid", json!({}));
    let signature = webhook::sign(SECRET.as_bytes(), unix_now(), &body);
    problem(
        post(&server, &body, Some(signature)).await,
        StatusCode::NOT_FOUND,
        "billing_not_configured",
    )
    .await;
}

/// An event body like [`event`], created `created` (unix seconds).
fn event_at(id: &str, kind: &str, object: Value, created: i64) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&event(id, kind, object)).unwrap();
    body["created"] = json!(created);
    serde_json::to_vec(&body).unwrap()
}

async fn billing_events_out_of_order_apply_the_latest(mode: Mode) {
    let server = billing_server(mode).await;
    let (_slug, admin, id) = onboard(&server).await;
    let now = unix_now();
    // Invoices: a payment that failed before the one that succeeded,
    // delivered after it, leaves no notice behind.
    let invoice = json!({ "id": "in_1", "object": "invoice", "amount_due": 4900, "currency": "eur",
        "subscription_details": { "metadata": { "tenant_id": id } }, "metadata": { "tenant_id": id } });
    let failed = event_at(
        "evt_fail",
        "invoice.payment_failed",
        invoice.clone(),
        now - 30,
    );
    let paid = event_at("evt_paid", "invoice.paid", invoice.clone(), now - 5);
    let first_failed = event_at("evt_fail0", "invoice.payment_failed", invoice, now - 40);
    // A notice first, so that the payment clears something.
    assert_eq!(deliver(&server, &first_failed).await["outcome"], "applied");
    assert_eq!(deliver(&server, &paid).await["outcome"], "applied");
    let stale = deliver(&server, &failed).await;
    assert_eq!(stale["reason"], "superseded", "{stale}");
    assert!(
        audit(&server, &admin, "billing.payment_failed").await.len() == 1,
        "only the first failure is on the tenant's record"
    );

    // The provider made the plan professional, then deleted the
    // subscription; the deletion is delivered first.
    let deleted = event_at(
        "evt_del",
        "customer.subscription.deleted",
        subscription(&id, "professional_monthly"),
        now - 10,
    );
    let updated = event_at(
        "evt_upd",
        "customer.subscription.updated",
        subscription(&id, "professional_monthly"),
        now - 20,
    );
    assert_eq!(deliver(&server, &deleted).await["outcome"], "applied");
    let late = deliver(&server, &updated).await;
    assert_eq!(late["outcome"], "ignored", "{late}");
    assert_eq!(late["reason"], "superseded", "{late}");
    let view = platform_view(&server, &id).await;
    assert_eq!(view["status"], "suspended", "{view}");
    assert_eq!(
        view["plan"], "starter",
        "the late plan change was not made: {view}"
    );
    // On record: the same late event again is a replay.
    assert_eq!(deliver(&server, &updated).await["outcome"], "replay");
}

#[actix_web::test]
async fn billing_events_out_of_order_apply_the_latest_in_production() {
    billing_events_out_of_order_apply_the_latest(Mode::Production).await;
}

#[actix_web::test]
async fn billing_events_out_of_order_apply_the_latest_embedded() {
    billing_events_out_of_order_apply_the_latest(Mode::Embedded).await;
}

#[actix_web::test]
async fn a_plan_a_billing_event_upgrades_moves_the_tenant_to_its_placement() {
    let mut extra = vec![
        ("COFFER__BILLING__WEBHOOK_SECRET", SECRET),
        DEDICATED_DATABASES,
    ];
    extra.extend_from_slice(crate::tenant_moves::MOVES);
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &extra).await;
    let (_, admin, id) = onboard(&server).await;
    let file = upload(&server, &admin, "kept.pdf", PDF, json!({})).await;
    let receipt = deliver(
        &server,
        &event(
            "evt_move_1",
            "customer.subscription.updated",
            subscription(&id, "enterprise_yearly"),
        ),
    )
    .await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    let placed = crate::tenant_moves::wait_for(&server, &id, |v| {
        v["placement_status"] == "placed" && !v["dedicated_database"].is_null()
    })
    .await;
    assert_eq!(placed["plan"], "enterprise");
    let database = placed["dedicated_database"].as_str().unwrap();
    assert_eq!(
        server
            .db()
            .unwrap()
            .count_rows(database, "files", id.parse().unwrap())
            .await
            .unwrap(),
        1
    );
    let read = server
        .req(
            Method::GET,
            &format!("/api/v1/files/{}/content", file["id"].as_str().unwrap()),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.bytes().await.unwrap().as_ref(), PDF);
}
