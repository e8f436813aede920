//! The order intake's table: an id is accepted once, a second request finds the first one's
//! row, and what waits for its workflow is counted and handed out oldest first until marked.

use crate::an_order;
use activities::orders::intake::{self, Accepted, IntakeOrder};
use contracts::OrderId;
use std::time::Duration;
use testkit::TestDb;

fn keyed(order_id: OrderId, sha: char) -> IntakeOrder {
    IntakeOrder {
        input: an_order(order_id),
        request_sha256: Some(sha.to_string().repeat(64)),
    }
}

#[tokio::test]
async fn an_order_is_accepted_once_and_waits_until_marked_started() {
    let test_db = TestDb::create().await;
    let db = test_db.connect_as(migrations::API_ROLE).await;
    let (first, second) = (OrderId::new(), OrderId::new());

    let accepted = keyed(first, 'a');
    assert_eq!(
        intake::accept(&db, &accepted).await.expect("accepted"),
        Accepted::New
    );
    let Accepted::Before(earlier) = intake::accept(&db, &keyed(first, 'b'))
        .await
        .expect("found")
    else {
        panic!("a second request under the same id placed another order");
    };
    assert_eq!(earlier.order, Some(accepted), "the first request's row");
    assert!(!earlier.started);
    intake::accept(&db, &keyed(second, 'c'))
        .await
        .expect("accepted");

    let waiting = intake::waiting(&db).await.expect("counted");
    assert_eq!(waiting.orders, 2);
    let none_old = intake::unstarted(&db, Duration::from_secs(60), 10).await;
    assert_eq!(none_old.expect("listed"), [], "none accepted a minute ago");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let due = intake::unstarted(&db, Duration::from_millis(10), 10).await;
    let due: Vec<OrderId> = due
        .expect("listed")
        .iter()
        .map(|o| o.input.order_id)
        .collect();
    assert_eq!(due, [first, second], "oldest first");

    intake::started(&db, first).await.expect("marked");
    intake::started(&db, first)
        .await
        .expect("marked again, harmlessly");
    let waiting = intake::waiting(&db).await.expect("counted");
    assert_eq!(waiting.orders, 1);
    assert!(waiting.oldest >= Duration::from_millis(50), "{waiting:?}");
    let found = intake::find(&db, first)
        .await
        .expect("read")
        .expect("a row");
    assert!(found.started);
    assert_eq!(intake::find(&db, OrderId::new()).await.expect("read"), None);
}
