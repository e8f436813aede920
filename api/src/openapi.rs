//! The API contract: the OpenAPI 3.1 document served at `/openapi.json` and the interactive
//! reference at `/docs`.
//!
//! The document is generated from the code. Every handler carries a `#[utoipa::path]`
//! annotation and the router is built from those annotations (`utoipa_axum::routes!` in
//! [`crate::routes`]), so a route cannot be served without being documented; request and
//! response bodies are the Rust types themselves (`ToSchema`).
//!
//! Every error is an RFC 9457 problem document (the `Problem` schema), described once as a
//! reusable response per status. A handler's annotation names the errors of its own business
//! (404, 409, ...); [`document_common_errors`] adds the ones an operation has by its shape: a
//! JSON body can be malformed (400), too large (413), not JSON (415) or invalid (422); a query
//! string can be invalid (422); a secured operation needs a valid token (401); and anything
//! can fail on our side (500) or find a backing service down (503).
//!
//! Every constraint the API enforces is in the document, so that a request the document allows
//! is accepted: each `garde` rule on a request field has its twin in the field's `#[schema]` or
//! `#[param]` (lengths counted in characters on both sides), and [`forbid_nul`] states the one
//! rule every string shares: no U+0000, which [`crate::extract`] refuses. Rules across a
//! body's fields, which `ToSchema` cannot derive, are [`CrossFieldRule`]s declared beside the
//! handler that enforces them.

use crate::error::{ErrorCode, FieldError, ProblemDocument};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayItems, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse};

/// The name of the bearer-token security scheme.
pub(crate) const BEARER: &str = "bearer";

/// The media type of every error.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Declares the reusable problem+json responses, one per status.
macro_rules! problem_responses {
    ($($name:ident => $description:literal,)*) => {
        $(
            #[doc = $description]
            pub(crate) struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), problem_response($description))
                }
            }
        )*
    };
}

fn problem_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
        .into()
}

problem_responses! {
    BadRequest => "The request is malformed: the body is not valid JSON, or a path parameter or header is malformed. `errors` names the offending part.",
    Unauthorized => "No valid bearer token: missing, malformed, expired or revoked (`WWW-Authenticate: Bearer`).",
    Forbidden => "The token is valid but its role may not do this.",
    NotFound => "No such resource, or none the caller may see.",
    Conflict => "The request conflicts with the resource's current state; `code` says how.",
    PayloadTooLarge => "The request body is larger than the API accepts.",
    UnsupportedMediaType => "The body was not sent as `application/json`.",
    InvalidInput => "One or more fields are invalid: unknown fields, wrong types, values out of range. `errors` lists each with its `field` and JSON `pointer`.",
    TooManyRequests => "Too many attempts; `Retry-After` says when to try again.",
    UpgradeRequired => "This endpoint speaks the WebSocket protocol only: open it with an `Upgrade: websocket` request.",
    ServiceUnavailable => "A backing service (Temporal or Postgres) is unavailable; nothing was changed, try again shortly.",
    InternalError => "A failure on our side; it has been logged with the request id (`X-Request-Id`).",
}

/// The document's fixed parts; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Emporium API",
        description = "Orders, catalog, carts, payments, shipping, refunds and notifications of the \
            Emporium order platform. Orders and carts are carried by durable Temporal workflows: \
            placing an order answers 202 and the order moves through its statuses on its own.\n\n\
            Authenticate with `POST /auth/login` and send the token as `Authorization: Bearer <token>`. \
            Money is always integer minor units with an ISO 4217 currency. Every error is an \
            RFC 9457 `application/problem+json` document with a stable `code`.",
    ),
    modifiers(&BearerScheme, &ErrorCodeTable),
    components(
        schemas(ProblemDocument<'static>, FieldError, ErrorCode),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
            UnsupportedMediaType, InvalidInput, TooManyRequests, ServiceUnavailable, InternalError,
            UpgradeRequired,
        ),
    ),
    tags(
        (name = "accounts", description = "Registration, login, customers and roles."),
        (name = "catalog", description = "Products, categories, coupons and stock."),
        (name = "cart", description = "The caller's cart, a long-running Cart workflow."),
        (name = "orders", description = "Placing, following, cancelling and reviewing orders (PlaceOrder)."),
        (name = "refunds", description = "Refunding captured payments (RefundPayment)."),
        (name = "shipping", description = "Parcels and carrier webhooks (FollowParcel)."),
        (name = "notifications", description = "Notification history and operator messages (SendNotification)."),
        (name = "support", description = "Conversations between a customer and the shop about an order (the support service); live on `GET /ws`."),
        (name = "webhooks", description = "Inbound: payment-provider events. Outbound: the merchants' endpoints that receive the domain events, signed as Standard Webhooks."),
        (name = "reporting", description = "Sales reports and analytics (the reporting service)."),
        (name = "operations", description = "Health, readiness, metrics and the audit log."),
        (name = "events", description = "The versioned domain events published for the systems around the shop."),
    ),
)]
pub(crate) struct ApiDoc;

/// Declares the bearer-token scheme.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                BEARER,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "An access token from `POST /auth/login` (HS256 JWT with an expiry).",
                        ))
                        .build(),
                ),
            );
    }
}

/// Describes every error code in the `ErrorCode` schema, from the one list.
struct ErrorCodeTable;

impl Modify for ErrorCodeTable {
    fn modify(&self, openapi: &mut Document) {
        let schema = openapi
            .components
            .as_mut()
            .and_then(|components| components.schemas.get_mut("ErrorCode"));
        if let Some(RefOr::T(Schema::Object(object))) = schema {
            object.description = Some(ErrorCode::table());
        }
    }
}

/// What every string the API accepts must match when it has no pattern of its own: no U+0000
/// (no text column can store it). Patterns of their own already exclude it.
const NO_NUL: &str = r"^[^\u0000]*$";

/// Adds [`NO_NUL`] to every string schema and parameter without a pattern, an enum or a format
/// (dates, UUIDs, emails and URIs cannot hold U+0000 anyway).
pub(crate) fn forbid_nul(openapi: &mut Document) {
    if let Some(components) = openapi.components.as_mut() {
        components.schemas.values_mut().for_each(no_nul_in);
    }
    for item in openapi.paths.paths.values_mut() {
        item.parameters
            .iter_mut()
            .flatten()
            .filter_map(|parameter| parameter.schema.as_mut())
            .for_each(no_nul_in);
        operations(item)
            .flat_map(|operation| operation.parameters.iter_mut().flatten())
            .filter_map(|parameter| parameter.schema.as_mut())
            .for_each(no_nul_in);
    }
}

fn no_nul_in(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else {
        return; // a component, done on its own
    };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(kind) => *kind == Type::String,
                SchemaType::Array(kinds) => kinds.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_string
                && object.pattern.is_none()
                && object.enum_values.is_none()
                && object.format.is_none()
            {
                object.pattern = Some(NO_NUL.to_owned());
            }
            object.properties.values_mut().for_each(no_nul_in);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                no_nul_in(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(no_nul_in),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(no_nul_in),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(no_nul_in),
        _ => {}
    }
}

/// A rule across the fields of a request body's component, which `ToSchema` cannot derive:
/// [`add_cross_field_rules`] makes the component `allOf: [its fields, the rule]`.
pub(crate) struct CrossFieldRule {
    /// The component (the body type's name).
    pub(crate) component: &'static str,
    /// The rule, as a schema the body must also match.
    pub(crate) rule: Schema,
}

/// A field present and not null, with a value of `kind`.
fn present(field: &str, kind: Type) -> Schema {
    ObjectBuilder::new()
        .property(field, ObjectBuilder::new().schema_type(kind))
        .required(field)
        .into()
}

/// Exactly one of `fields` is given (present and not null).
pub(crate) fn exactly_one_of(component: &'static str, fields: &[(&str, Type)]) -> CrossFieldRule {
    let mut one_of = OneOfBuilder::new();
    for (field, kind) in fields {
        one_of = one_of.item(present(field, kind.clone()));
    }
    CrossFieldRule {
        component,
        rule: one_of.build().into(),
    }
}

/// At least one of `fields` is given (present and not null).
pub(crate) fn at_least_one_of(component: &'static str, fields: &[(&str, Type)]) -> CrossFieldRule {
    let mut any_of = AnyOfBuilder::new();
    for (field, kind) in fields {
        any_of = any_of.item(present(field, kind.clone()));
    }
    CrossFieldRule {
        component,
        rule: any_of.build().into(),
    }
}

/// Adds each rule to its component.
///
/// # Panics
///
/// When a rule names a component the document lacks (a renamed body type): the test of the
/// document fails rather than the rule silently vanishing.
pub(crate) fn add_cross_field_rules(openapi: &mut Document, rules: Vec<CrossFieldRule>) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for CrossFieldRule { component, rule } in rules {
        let fields = components
            .schemas
            .remove(component)
            .unwrap_or_else(|| panic!("no component `{component}` for its cross-field rule"));
        let combined = AllOfBuilder::new().item(fields).item(rule).build();
        components
            .schemas
            .insert(component.to_owned(), Schema::AllOf(combined).into());
    }
}

/// Adds the errors an operation has by its shape (see the module documentation).
pub(crate) fn document_common_errors(openapi: &mut Document) {
    for (path, item) in &mut openapi.paths.paths {
        for operation in operations(item) {
            add_common_errors(path, operation);
        }
    }
}

/// The operations of a path (the API uses these five methods).
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add_common_errors(path: &str, operation: &mut Operation) {
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return;
    }
    let has_json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    let has_query = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
    });
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let mut common: Vec<(&str, &str)> = Vec::new();
    if has_json_body {
        common.extend([("400", "BadRequest"), ("413", "PayloadTooLarge")]);
        // Inbound webhook bodies are read raw, whatever their declared type, to verify a
        // signature before they are parsed; their annotations name what parsing can refuse.
        // (The admins' `/webhooks/endpoints` are ordinary JSON operations.)
        let inbound = path == "/webhooks/stripe" || path.starts_with("/webhooks/carrier/");
        if !inbound {
            common.extend([("415", "UnsupportedMediaType"), ("422", "InvalidInput")]);
        }
    }
    if has_query {
        common.push(("422", "InvalidInput"));
    }
    if secured {
        common.push(("401", "Unauthorized"));
    }
    common.extend([("500", "InternalError"), ("503", "ServiceUnavailable")]);
    for (status, response) in common {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| Ref::from_response_name(response).into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use strum::IntoEnumIterator as _;

    #[test]
    fn the_document_lists_every_error_code_with_its_meaning() {
        let document: Value =
            serde_json::to_value(crate::openapi_document()).expect("the document as JSON");
        let schemas = &document["components"]["schemas"];
        let listed = schemas["ErrorCode"]["enum"].as_array().expect("an enum");
        let description = schemas["ErrorCode"]["description"].as_str().unwrap_or("");
        for code in super::ErrorCode::iter() {
            assert!(
                listed.contains(&Value::from(code.as_str())),
                "{code} listed"
            );
            assert!(
                description.contains(&format!("| `{code}` | {} |", code.meaning())),
                "{code} described"
            );
        }
        assert_eq!(
            schemas["Problem"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
    }

    #[test]
    fn every_free_string_forbids_nul_and_patterns_of_their_own_stay() {
        let document: Value =
            serde_json::to_value(crate::openapi_document()).expect("the document as JSON");
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["LoginBody"]["properties"]["email"]["pattern"],
            super::NO_NUL
        );
        assert_eq!(
            schemas["LineRequest"]["properties"]["sku"]["pattern"],
            super::NO_NUL,
            "{}",
            schemas["LineRequest"]
        );
        assert_eq!(
            schemas["AddressRequest"]["properties"]["country"]["pattern"],
            r"^[A-Z]{2}$"
        );
        let customer = document["paths"]["/orders"]["get"]["parameters"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == "customer"))
            .expect("the customer parameter");
        assert_eq!(customer["schema"]["pattern"], super::NO_NUL);
    }
}
