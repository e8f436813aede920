//! Each process's database role may write only what it owns: every role is refused a write
//! to every other schema (and a worker's role even a read), and may write its own; the API
//! also the few tables `migrations::API_ALSO_WRITES` names (the admins' webhook endpoints, the order
//! intake).

use migrations::{DbRole, SCHEMAS};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use testkit::TestDb;

/// Every table and view of the services' schemas, as `schema.name`.
async fn relations(owner: &DatabaseConnection) -> Vec<(String, String)> {
    owner
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
              WHERE table_schema <> ALL (ARRAY['pg_catalog', 'information_schema', 'public'])
              ORDER BY 1, 2",
        ))
        .await
        .expect("listing tables")
        .into_iter()
        .map(|row| {
            let schema: String = row.try_get("", "schema").expect("schema");
            let name: String = row.try_get("", "name").expect("name");
            (schema, name)
        })
        .filter(|(schema, _)| SCHEMAS.contains(&schema.as_str()))
        .collect()
}

/// Whether Postgres refused `sql` for want of a privilege (SQLSTATE 42501), or because it
/// writes a view that cannot be written at all.
async fn refused(db: &DatabaseConnection, sql: &str) -> bool {
    match db.execute_unprepared(sql).await {
        Ok(_) => false,
        Err(err) => {
            let text = err.to_string();
            let view = text.contains("cannot") && text.contains("view");
            assert!(text.contains("permission denied") || view, "{sql}: {text}");
            true
        }
    }
}

#[tokio::test]
async fn each_role_writes_only_its_own_schema_and_appends_to_the_audit_log() {
    let test_db = TestDb::create().await;
    let relations = relations(&test_db.db).await;
    assert!(relations.len() > 15, "{relations:?}");
    for role in DbRole::all() {
        let db = test_db.connect_as(role).await;
        for (schema, name) in &relations {
            let table = format!("{schema}.{name}");
            let delete = format!("DELETE FROM {table} WHERE false");
            let insert = format!("INSERT INTO {table} SELECT * FROM {table} WHERE false");
            let select = format!("SELECT 1 FROM {table} WHERE false");
            let also = role == migrations::API_ROLE
                && migrations::API_ALSO_WRITES.contains(&table.as_str());
            let (writes, reads) = (
                role.writes.contains(&schema.as_str()) || also,
                role.reads.contains(&schema.as_str()),
            );
            if writes {
                // The API inserts into the intake and marks it, and deletes nothing there.
                let probe = if also { &insert } else { &delete };
                assert!(!refused(&db, probe).await, "{}: {probe}", role.name);
            } else {
                assert!(refused(&db, &delete).await, "{} may {delete}", role.name);
                if schema != "audit" {
                    assert!(refused(&db, &insert).await, "{} may {insert}", role.name);
                }
            }
            assert_eq!(
                !refused(&db, &select).await,
                writes || reads,
                "{}: {select}",
                role.name
            );
        }
        activities::audit::record(
            &db,
            activities::audit::Entry {
                actor: format!("role:{}", role.name),
                action: "test.appended",
                subject: "roles".to_owned(),
                order_id: None,
                before: None,
                after: None,
            },
        )
        .await
        .unwrap_or_else(|err| panic!("{} appends to the audit log: {err}", role.name));
        let _ = db.close().await;
    }
}

/// The change feed: the services whose changes it reports (and the API, for support
/// messages) append; only the API reads; nobody rewrites it. Appends from every writer at
/// once number an order's entries 1, 2, 3… without a gap or a repeat, and its customer's
/// the same way.
#[tokio::test]
async fn the_feed_is_appended_by_the_services_read_by_the_api_and_numbered_per_order() {
    use activities::feed::{self, FeedKind, Scope};
    let test_db = TestDb::create().await;
    let writers = [
        "emporium_orders",
        "emporium_shipping",
        "emporium_payments",
        "emporium_notifications",
        "emporium_api",
    ];
    let (order_id, customer_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let orders = test_db.connect_as(migrations::WORKER_ROLES[0]).await;
    feed::own(&orders, order_id, customer_id)
        .await
        .expect("the orders service says whose");
    let mut appends = Vec::new();
    for role in DbRole::all() {
        let db = test_db.connect_as(role).await;
        let writes = writers.contains(&role.name);
        let select = "SELECT 1 FROM feed.entries WHERE false";
        assert_eq!(
            !refused(&db, select).await,
            role.name == "emporium_api",
            "{}",
            role.name
        );
        let appended = feed::append(&db, order_id, FeedKind::Status, serde_json::json!({})).await;
        assert_eq!(
            appended.is_ok(),
            writes,
            "{} appends: {appended:?}",
            role.name
        );
        if writes {
            for _ in 0..10 {
                let db = db.clone();
                appends.push(tokio::spawn(async move {
                    feed::append(&db, order_id, FeedKind::Tracking, serde_json::json!({})).await
                }));
            }
        }
    }
    for append in appends {
        append.await.expect("joined").expect("appended");
    }
    feed::append_for_customer(
        &orders,
        customer_id,
        FeedKind::Notification,
        serde_json::json!({}),
    )
    .await
    .expect("news about no order");
    let entries = feed::after(&test_db.db, Scope::Order(order_id), 0)
        .await
        .expect("read");
    let seqs: Vec<Option<i64>> = entries.iter().map(|entry| entry.seq).collect();
    assert_eq!(
        seqs,
        (1..=55).map(Some).collect::<Vec<_>>(),
        "5 + 5 × 10, numbered without gaps"
    );
    let entries = feed::after(&test_db.db, Scope::Customer(customer_id), 0)
        .await
        .expect("read");
    let seqs: Vec<Option<i64>> = entries.iter().map(|entry| entry.customer_seq).collect();
    assert_eq!(
        seqs,
        (1..=56).map(Some).collect::<Vec<_>>(),
        "the order's 55 and one about no order, numbered without gaps for the customer"
    );
    assert!(
        entries
            .iter()
            .all(|entry| entry.customer_id == Some(customer_id))
    );
    for sql in [
        "UPDATE feed.entries SET body = '{}'",
        "DELETE FROM feed.entries",
    ] {
        let err = test_db
            .db
            .execute_unprepared(sql)
            .await
            .expect_err("append-only");
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

/// The relays listen where the outboxes announce, and every service that records events has
/// an outbox of its own.
#[test]
fn the_outboxes_are_where_the_relays_look() {
    assert_eq!(activities::events::CHANNEL, migrations::OUTBOX_CHANNEL);
    let owners: Vec<&str> = activities::events::OWNERS
        .iter()
        .map(|service| service.as_str())
        .collect();
    assert_eq!(owners, migrations::OUTBOX_SCHEMAS);
}
