//! The API contract: `/openapi.json` is an OpenAPI 3.1 document that names every operation with
//! its errors, and what the API answers is what the document says: every status a probe gets
//! is documented for its operation, and every body matches the documented schema.

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestApp, TestAppOptions};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// The document and the checks made against it.
struct Contract {
    document: Value,
}

/// One documented operation.
struct Operation {
    method: Method,
    template: String,
    spec: Value,
}

impl Contract {
    async fn load(app: &TestApp) -> Self {
        let (status, document) = app.get_json_as(None, "/openapi.json").await;
        assert_eq!(status, 200);
        Self { document }
    }

    fn operations(&self) -> Vec<Operation> {
        let mut operations = Vec::new();
        for (template, item) in self.document["paths"].as_object().expect("paths") {
            for (method, spec) in item.as_object().expect("a path item") {
                let Ok(method) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                operations.push(Operation {
                    method,
                    template: template.clone(),
                    spec: spec.clone(),
                });
            }
        }
        operations
    }

    /// The operation documented for a method and path template.
    fn operation(&self, method: &Method, template: &str) -> Value {
        self.document["paths"][template][method.as_str().to_lowercase()].clone()
    }

    /// The response object for a status, with a `$ref` to a shared response resolved.
    fn response(&self, operation: &Value, status: u16) -> Option<Value> {
        let response = operation["responses"].get(status.to_string())?;
        Some(match response["$ref"].as_str() {
            Some(reference) => self.resolve(reference),
            None => response.clone(),
        })
    }

    fn resolve(&self, reference: &str) -> Value {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        self.document
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} resolves"))
            .clone()
    }

    /// Checks that `status` is documented for the operation and that `body` (sent as
    /// `content_type`) matches the documented schema.
    fn check(
        &self,
        method: &Method,
        template: &str,
        status: u16,
        content_type: &str,
        body: &Value,
    ) -> Result<(), String> {
        let operation = self.operation(method, template);
        let response = self.response(&operation, status).ok_or_else(|| {
            format!("{method} {template} answered {status}, which is not documented: {body}")
        })?;
        let Some(content) = response["content"].as_object() else {
            return Ok(());
        };
        let media = content.get(content_type).ok_or_else(|| {
            format!("{method} {template} {status} answered {content_type}, documented: {content:?}")
        })?;
        let Some(schema) = media.get("schema") else {
            return Ok(());
        };
        let mut root = match schema {
            Value::Object(map) => map.clone(),
            other => panic!("a schema object, not {other}"),
        };
        root.insert("components".into(), self.document["components"].clone());
        let validator = jsonschema::draft202012::new(&Value::Object(root))
            .map_err(|err| format!("{method} {template} {status}: bad schema: {err}"))?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {template} {status}: the body does not match its schema: {errors:?}\n{body}"
            ))
        }
    }
}

/// Sends a request and returns status, content type and JSON body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Body>,
) -> (u16, String, Value) {
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request = match body {
        Some(Body::Json(value)) => request.json(&value),
        Some(Body::Raw(text)) => request
            .header("content-type", "application/json")
            .body(text),
        None => request,
    };
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    // A JSON body is checked as JSON; any other (the Prometheus text of `/metrics`) as a string.
    let body = if content_type.contains("json") {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    } else {
        Value::String(text)
    };
    (status, content_type, body)
}

#[derive(Clone)]
enum Body {
    Json(Value),
    Raw(String),
}

/// The template with each `{parameter}` replaced.
fn fill(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closing brace") + start;
        path.push_str(&rest[..start]);
        path.push_str(&value(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    path
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_every_operation_with_its_errors() {
    let app = TestApp::spawn().await;
    let contract = Contract::load(&app).await;
    let document = &contract.document;

    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let operations = contract.operations();
    assert!(operations.len() >= 30, "{} operations", operations.len());
    let mut ids = std::collections::HashSet::new();
    for Operation {
        method,
        template,
        spec,
    } in &operations
    {
        let name = format!("{method} {template}");
        let id = spec["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.insert(id.to_owned()),
            "{name}: operationId `{id}` is unique"
        );
        assert!(spec["summary"].is_string(), "{name} has a summary");
        assert!(spec["tags"][0].is_string(), "{name} has a tag");
        let statuses: Vec<u16> = spec["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(|s| s.parse().expect("numeric statuses"))
            .collect();
        // A WebSocket's success is its switch of protocols (101).
        assert!(
            statuses.iter().any(|s| (200..300).contains(s) || *s == 101),
            "{name} documents success"
        );
        let takes_input = spec["parameters"].is_array()
            || spec["requestBody"].is_object()
            || spec["security"].is_array();
        if takes_input {
            assert!(
                statuses.iter().any(|s| (400..500).contains(s)),
                "{name} documents its 4xx"
            );
        }
        for status in statuses.iter().filter(|s| **s >= 400) {
            let response = contract.response(spec, *status).expect("documented");
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{name} {status} is a problem document"
            );
        }
        if spec["security"].as_array().is_some_and(|s| !s.is_empty()) {
            assert!(
                statuses.contains(&401),
                "{name} is secured and documents 401"
            );
        }
        if spec["requestBody"]["content"]["application/json"].is_object() {
            for status in [400, 413] {
                assert!(
                    statuses.contains(&status),
                    "{name} takes a body and documents {status}"
                );
            }
        }
    }
    let documented: Vec<String> = operations
        .iter()
        .map(|o| format!("{} {}", o.method, o.template))
        .collect();
    for expected in [
        "POST /auth/register",
        "POST /auth/login",
        "GET /customers/{id}/orders",
        "GET /products",
        "GET /inventory/check/{product_id}",
        "POST /cart/checkout",
        "POST /orders",
        "POST /orders/{id}/cancel",
        "POST /orders/{id}/refunds",
        "GET /shipping/track/{order_id}",
        "POST /webhooks/stripe",
    ] {
        assert!(
            documented.iter().any(|d| d == expected),
            "{expected} is documented"
        );
    }

    let response = app
        .http
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .expect("GET /docs");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let page = response.text().await.expect("a page");
    assert!(
        page.contains("api-reference") && page.contains("/openapi.json"),
        "the page loads the reference viewer with the document"
    );
    assert!(page.contains("Emporium API"), "{page}");
    assert!(
        !page.contains("https://") && !page.contains("http://"),
        "nothing from a CDN: {page}"
    );
    let viewer = app
        .http
        .get(format!("{}/docs/files/standalone.js", app.address))
        .send()
        .await
        .expect("the viewer");
    assert_eq!(viewer.status(), 200, "the viewer is served by us");
}

/// The storefront and the console come from the API's origin: their pages are the app's
/// `index.html`, never cached; its hashed assets are cached for a year; a path that is
/// neither a page nor the API's is still a problem+json 404.
#[tokio::test]
async fn the_web_app_is_served_from_one_origin_with_its_cache_rules() {
    let app = TestApp::spawn().await;
    for path in ["/", "/shop/cart", "/console", "/console/orders/0195"] {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("a page");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        let page = response.text().await.expect("html");
        assert!(page.contains(r#"<div id="app">"#), "{path}: {page}");
    }
    let page = app
        .http
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("a page")
        .text()
        .await
        .expect("html");
    let script = page
        .split('"')
        .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
        .expect("the app's script");
    let asset = app
        .http
        .get(format!("{}{script}", app.address))
        .send()
        .await
        .expect("an asset");
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let (status, problem) = app.get_json("/shopping").await;
    assert_eq!((status, &problem["code"]), (404, &json!("not_found")));
}

#[tokio::test]
async fn every_operation_answers_bad_requests_only_as_it_documents() {
    let app = TestApp::spawn_with(TestAppOptions {
        stripe_webhook_secret: Some("whsec_contract".into()),
        carrier_webhook_secrets: [("acme".to_owned(), "carrier-secret".to_owned())].into(),
        ..TestAppOptions::default()
    })
    .await;
    let contract = Contract::load(&app).await;
    let oversized = format!(r#"{{"pad": "{}"}}"#, "x".repeat(100 * 1024));
    let mut failures = Vec::new();
    let mut probes = 0;

    for Operation {
        method,
        template,
        spec,
    } in contract.operations()
    {
        let good_path = fill(&template, |name| match name {
            "sku" => "NO-SUCH-SKU".to_owned(),
            "carrier" => "acme".to_owned(),
            _ => NIL.to_owned(),
        });
        let bad_path = fill(&template, |_| "not-a-uuid".to_owned());
        let takes_body = spec["requestBody"].is_object();
        let has_query = spec["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
        let body = |value: Value| takes_body.then_some(Body::Json(value));

        let mut cases: Vec<(&str, String, Option<&str>, Option<Body>)> = vec![
            ("anonymous", good_path.clone(), None, body(json!({}))),
            (
                "a forged token",
                good_path.clone(),
                Some("not.a.token"),
                body(json!({})),
            ),
            (
                "a customer, unknown field",
                good_path.clone(),
                Some(&app.token),
                body(json!({"unexpected": true})),
            ),
            (
                "an admin, empty body",
                good_path.clone(),
                Some(&app.admin_token),
                body(json!({})),
            ),
            (
                "an admin, malformed path",
                bad_path,
                Some(&app.admin_token),
                body(json!({})),
            ),
        ];
        if takes_body {
            cases.push((
                "malformed JSON",
                good_path.clone(),
                Some(&app.admin_token),
                Some(Body::Raw("{\"oops\": ".into())),
            ));
            cases.push((
                "an oversized body",
                good_path.clone(),
                Some(&app.admin_token),
                Some(Body::Raw(oversized.clone())),
            ));
        }
        if has_query {
            cases.push((
                "an unknown query parameter",
                format!("{good_path}?unexpected=1"),
                Some(&app.admin_token),
                None,
            ));
        }
        for (what, path, token, body) in cases {
            probes += 1;
            let (status, content_type, answer) =
                send(&app, method.clone(), &path, token, body).await;
            let case = format!("{method} {path} as {what}");
            if status == 405 || answer["detail"] == "no such endpoint" {
                failures.push(format!("{case}: not routed ({status})"));
                continue;
            }
            if status >= 400 && content_type != "application/problem+json" {
                failures.push(format!(
                    "{case}: {status} is not problem+json but {content_type}"
                ));
                continue;
            }
            if let Err(err) = contract.check(&method, &template, status, &content_type, &answer) {
                failures.push(format!("{case}: {err}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {probes} probes broke the contract:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        app.workflows_started().await,
        0,
        "no probe started a workflow"
    );
}

#[tokio::test]
async fn what_a_shopper_gets_back_matches_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let contract = Contract::load(&app).await;
    app.seed_product("MUG", 1250, 10).await;
    let token = Some(app.token.as_str());
    let customer = app.customer.id.to_string();
    let mut checked = 0;

    let mut expect = async |method: Method,
                            template: &str,
                            path: &str,
                            token: Option<&str>,
                            body: Option<Value>| {
        let (status, content_type, answer) =
            send(&app, method.clone(), path, token, body.map(Body::Json)).await;
        assert!(status < 300, "{method} {path}: {status} {answer}");
        if let Err(err) = contract.check(&method, template, status, &content_type, &answer) {
            panic!("{err}");
        }
        checked += 1;
        answer
    };

    let email = "grace@example.com";
    expect(
        Method::POST,
        "/auth/register",
        "/auth/register",
        None,
        Some(json!({"email": email, "name": "Grace", "password": "correct horse battery"})),
    )
    .await;
    expect(
        Method::POST,
        "/auth/login",
        "/auth/login",
        None,
        Some(json!({"email": email, "password": "correct horse battery"})),
    )
    .await;
    let products = expect(Method::GET, "/products", "/products?q=mug", None, None).await;
    let product_id = products["items"][0]["id"]
        .as_str()
        .expect("a product")
        .to_owned();
    expect(
        Method::GET,
        "/products/{id}",
        &format!("/products/{product_id}"),
        None,
        None,
    )
    .await;
    expect(
        Method::GET,
        "/inventory/check/{product_id}",
        &format!("/inventory/check/{product_id}"),
        None,
        None,
    )
    .await;
    expect(Method::GET, "/categories", "/categories", None, None).await;
    expect(
        Method::POST,
        "/cart/items",
        "/cart/items",
        token,
        Some(json!({"sku": "MUG", "quantity": 2})),
    )
    .await;
    expect(
        Method::PUT,
        "/cart/items/{sku}",
        "/cart/items/MUG",
        token,
        Some(json!({"quantity": 1})),
    )
    .await;
    expect(Method::GET, "/cart", "/cart", token, None).await;
    let checked_out = expect(
        Method::POST,
        "/cart/checkout",
        "/cart/checkout",
        token,
        Some(json!({"shipping_address": TestApp::address(), "payment_method": "pm_card_visa"})),
    )
    .await;
    let order_id = checked_out["order_id"]
        .as_str()
        .expect("an order")
        .to_owned();
    expect(
        Method::GET,
        "/orders/{id}",
        &format!("/orders/{order_id}"),
        token,
        None,
    )
    .await;
    let placed = expect(Method::POST, "/orders", "/orders", token,
        Some(json!({"shipping_address": TestApp::address(), "lines": [{"sku": "MUG", "quantity": 1}], "payment_method": "pm_card_visa"}))).await;
    let second = placed["order_id"].as_str().expect("an order").to_owned();
    app.wait_for_final_order(&order_id).await;
    app.wait_for_final_order(&second).await;
    expect(
        Method::GET,
        "/orders/{id}",
        &format!("/orders/{second}"),
        token,
        None,
    )
    .await;
    expect(Method::GET, "/orders", "/orders", token, None).await;
    expect(
        Method::GET,
        "/customers/{id}",
        &format!("/customers/{customer}"),
        token,
        None,
    )
    .await;
    expect(
        Method::GET,
        "/customers/{id}/orders",
        &format!("/customers/{customer}/orders"),
        token,
        None,
    )
    .await;
    expect(
        Method::GET,
        "/shipping/track/{order_id}",
        &format!("/shipping/track/{second}"),
        token,
        None,
    )
    .await;
    expect(
        Method::GET,
        "/orders/{id}/refunds",
        &format!("/orders/{second}/refunds"),
        token,
        None,
    )
    .await;
    let admin = Some(app.admin_token.as_str());
    expect(
        Method::POST,
        "/orders/{id}/refunds",
        &format!("/orders/{second}/refunds"),
        admin,
        Some(json!({"amount_minor": 250, "reason": "scratched"})),
    )
    .await;
    expect(
        Method::GET,
        "/notifications",
        &format!(
            "/notifications?customer={}",
            app.customer_email.replace('+', "%2B")
        ),
        token,
        None,
    )
    .await;
    expect(
        Method::POST,
        "/inventory/adjustments",
        "/inventory/adjustments",
        admin,
        Some(json!({"sku": "MUG", "delta": 5, "reason": "delivery"})),
    )
    .await;
    let messages = format!("/orders/{second}/messages");
    let operator = Some(app.operator_token.as_str());
    let asked = Some(json!({"body": "Does it come gift-wrapped?"}));
    expect(
        Method::POST,
        "/orders/{id}/messages",
        &messages,
        token,
        asked,
    )
    .await;
    let answered = Some(json!({"id": uuid::Uuid::now_v7(), "body": "It can!"}));
    expect(
        Method::POST,
        "/orders/{id}/messages",
        &messages,
        operator,
        answered,
    )
    .await;
    let history = format!("{messages}?limit=1");
    expect(Method::GET, "/orders/{id}/messages", &history, token, None).await;
    let conversation = format!("/orders/{second}/conversation");
    expect(
        Method::GET,
        "/orders/{id}/conversation",
        &conversation,
        token,
        None,
    )
    .await;
    let inbox = "/support/conversations";
    expect(Method::GET, inbox, inbox, operator, None).await;
    let close = format!("{conversation}/close");
    expect(
        Method::POST,
        "/orders/{id}/conversation/close",
        &close,
        operator,
        None,
    )
    .await;
    expect(Method::GET, "/healthz", "/healthz", None, None).await;
    assert_eq!(checked, 28, "every call above was checked");
}

/// The five server errors the fuzzer found: a NUL in a string that reaches a text column. Each
/// is now a 422 naming the field, and nothing changed.
#[tokio::test]
async fn a_nul_character_is_refused_naming_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (admin, customer) = (Some(app.admin_token.as_str()), Some(app.token.as_str()));
    let messages = format!("/orders/{}/messages", uuid::Uuid::now_v7());
    let bodies = [
        (
            None,
            "/auth/login",
            json!({"email": "a\u{0}@example.com", "password": "whatever password"}),
            "email",
        ),
        (
            None,
            "/auth/register",
            json!({"email": "nul@example.com", "name": "N\u{0}L", "password": "a long enough password"}),
            "name",
        ),
        (
            customer,
            "/cart/items",
            json!({"sku": "MU\u{0}G", "quantity": 1}),
            "sku",
        ),
        (
            customer,
            messages.as_str(),
            json!({"body": "hello\u{0}"}),
            "body",
        ),
    ];
    for (token, path, body, field) in bodies {
        let (status, problem) = app.post_json_as(token, path, &body).await;
        assert_eq!(status, 422, "{path}: {problem}");
        assert_eq!(problem["code"], "invalid_character", "{path}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
    }
    for (path, field) in [
        ("/orders?customer=ab%00c", "customer"),
        ("/audit/logs?actor=x%00", "actor"),
    ] {
        let (status, problem) = app.get_json_as(admin, path).await;
        assert_eq!(status, 422, "{path}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
    }
    let (status, _) = app
        .post_json_as(
            None,
            "/auth/login",
            &json!({"email": "nul@example.com", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(status, 401, "the refused registration made no account");
    let (_, cart) = app.get_json_as(customer, "/cart").await;
    assert_eq!(cart["lines"].as_array().map_or(0, Vec::len), 0, "{cart}");

    // The fuzzer's next find: an email of white space only is empty once trimmed, and the audit
    // log refuses an empty actor. It is a failed login like any other.
    let (status, problem) = app
        .post_json_as(
            None,
            "/auth/login",
            &json!({"email": "\u{a0}", "password": "whatever password"}),
        )
        .await;
    assert_eq!(status, 401, "{problem}");
}

/// The domain events' schemas are published, one per event and version, and an event as
/// Emporium writes it is valid against its schema (and one missing a field is not).
#[tokio::test]
async fn the_event_schemas_are_published_and_describe_the_events() {
    use contracts::events::{EventLine, EventType, OrderCreated};
    let app = TestApp::spawn().await;
    let (status, schemas) = app.get_json_as(None, "/events/schemas").await;
    assert_eq!(status, 200, "{schemas}");
    let names: Vec<&str> = EventType::ALL.iter().map(|event| event.name()).collect();
    let served: Vec<&str> = schemas
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(served.len(), names.len());
    assert!(names.iter().all(|name| served.contains(name)), "{served:?}");
    assert_eq!(schemas["shipment.status_updated"]["aggregate"], "shipment");

    let eur = contracts::Currency::new("EUR").expect("a currency");
    let created = OrderCreated {
        order_id: contracts::OrderId::new(),
        customer_id: contracts::CustomerId(uuid::Uuid::now_v7()),
        lines: vec![EventLine {
            sku: contracts::Sku("MUG".to_owned()),
            quantity: 2,
            unit_price: contracts::Money::new(1250, eur.clone()),
        }],
        total: contracts::Money::new(2500, eur),
    };
    let schema = &schemas["order.created"]["schema"];
    let validator = jsonschema::draft202012::new(schema).expect("a valid JSON Schema");
    let data = serde_json::to_value(&created).expect("json");
    assert!(validator.is_valid(&data), "{data} against {schema}");
    let mut incomplete = data.clone();
    incomplete
        .as_object_mut()
        .expect("an object")
        .remove("total");
    assert!(
        !validator.is_valid(&incomplete),
        "a missing total is caught"
    );
}
