//! Every published event schema is held to the stored copy of it (`contracts/events/`): within
//! a version, fields may be added, never removed, retyped or made optional. A new event, or a
//! new field, is stored with `EMPORIUM_BLESS_EVENT_SCHEMAS=1 cargo test -p contracts --test
//! event_schemas`; a breaking change needs a new version instead.

use serde_json::Value;
use std::path::PathBuf;

fn stored(name: &str, version: u64) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(format!("{name}.v{version}.json"))
}

/// Why `current` breaks a reader of `before`, if it does (`at` says where).
fn breaks(before: &Value, current: &Value, at: &str) -> Option<String> {
    for key in ["type", "$ref", "format"] {
        if before.get(key).is_some() && before.get(key) != current.get(key) {
            return Some(format!(
                "{at}: `{key}` was {} and is {:?}",
                before[key],
                current.get(key)
            ));
        }
    }
    let required = |schema: &Value| -> Vec<Value> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let now_required = required(current);
    if let Some(field) = required(before)
        .iter()
        .find(|field| !now_required.contains(field))
    {
        return Some(format!("{at}: {field} is no longer required"));
    }
    for map in ["properties", "$defs"] {
        let Some(fields) = before.get(map).and_then(Value::as_object) else {
            continue;
        };
        for (name, schema) in fields {
            let Some(now) = current.get(map).and_then(|m| m.get(name)) else {
                return Some(format!("{at}: `{name}` was removed"));
            };
            if let Some(why) = breaks(schema, now, &format!("{at}/{name}")) {
                return Some(why);
            }
        }
    }
    // Alternatives are compared whole: a changed one may change what readers accept.
    for list in ["oneOf", "anyOf", "allOf"] {
        if before.get(list).is_some() && before.get(list) != current.get(list) {
            return Some(format!("{at}: `{list}` changed"));
        }
    }
    match (before.get("items"), current.get("items")) {
        (Some(before), Some(now)) => breaks(before, now, &format!("{at}/items")),
        (Some(_), None) => Some(format!("{at}: `items` was removed")),
        _ => None,
    }
}

#[test]
fn every_event_schema_keeps_what_it_published() {
    let bless = std::env::var_os("EMPORIUM_BLESS_EVENT_SCHEMAS").is_some();
    for (name, document) in contracts::events::schemas() {
        let version = document["version"].as_u64().expect("a version");
        let path = stored(name, version);
        let current = &document["schema"];
        if bless {
            let text = serde_json::to_string_pretty(current).expect("json") + "\n";
            std::fs::write(&path, text).expect("stored");
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("{name} v{version} is not stored: bless it (see the module doc)")
        });
        let before: Value = serde_json::from_str(&text).expect("a stored schema");
        if let Some(why) = breaks(&before, current, name) {
            panic!(
                "{name} v{version} breaks its readers ({why}): publish v{} instead",
                version + 1
            );
        }
    }
}

#[test]
fn removing_or_retyping_a_field_is_caught() {
    let document = &contracts::events::schemas()["order.created"]["schema"];
    let mut removed = document.clone();
    removed["properties"]
        .as_object_mut()
        .expect("properties")
        .remove("total");
    assert!(breaks(document, &removed, "order.created").is_some());
    let mut retyped = document.clone();
    retyped["properties"]["customer_id"] = serde_json::json!({"type": "integer"});
    assert!(breaks(document, &retyped, "order.created").is_some());
    let mut added = document.clone();
    added["properties"]["gift"] = serde_json::json!({"type": "boolean"});
    assert_eq!(
        breaks(document, &added, "order.created"),
        None,
        "adding is allowed"
    );
}
