//! The demo catalog `emporium dev` and `emporium seed` load: a few products with stock.

use activities::catalog::specifications::{SpecValue, Specification};
use activities::catalog::{self, ProductDraft};
use activities::inventory::queries::create_stock;
use anyhow::Context as _;
use contracts::{Currency, Money};
use sea_orm::DatabaseConnection;

/// `(sku, name, description, price in cents, units in stock)`.
pub const DEMO_PRODUCTS: &[(&str, &str, &str, i64, i64)] = &[
    (
        "MUG-CLASSIC",
        "Classic mug",
        "A 330 ml stoneware mug.",
        1_200,
        100,
    ),
    (
        "TEE-LOGO-M",
        "Logo T-shirt (M)",
        "Organic cotton, medium.",
        2_500,
        50,
    ),
    (
        "TEE-LOGO-L",
        "Logo T-shirt (L)",
        "Organic cotton, large.",
        2_500,
        50,
    ),
    (
        "CAP-TRUCKER",
        "Trucker cap",
        "One size fits most.",
        1_800,
        30,
    ),
    (
        "BOOK-SAGAS",
        "Sagas in practice",
        "A field guide to compensating transactions.",
        3_900,
        20,
    ),
    (
        "STICKER-PACK",
        "Sticker pack",
        "Ten vinyl stickers.",
        500,
        500,
    ),
    (
        "HOODIE-ZIP-M",
        "Zip hoodie (M)",
        "Heavyweight, medium.",
        5_900,
        10,
    ),
    ("POSTER-A2", "Architecture poster", "A2, matte.", 1_500, 0),
];

/// Loads the demo catalog. Prices are reset to the demo prices; stock is created only where
/// none exists, so restarting `emporium dev` does not undo the orders placed so far.
pub async fn seed(db: &DatabaseConnection) -> anyhow::Result<()> {
    let eur = Currency::new("EUR").context("EUR is a currency")?;
    for &(sku, name, description, price, stock) in DEMO_PRODUCTS {
        catalog::upsert_product(
            db,
            ProductDraft {
                sku: sku.to_owned(),
                name: name.to_owned(),
                description: description.to_owned(),
                price: Money::new(price, eur.clone()),
                active: true,
                specifications: specifications(sku),
            },
        )
        .await
        .with_context(|| format!("seeding product {sku}"))?;
        create_stock(db, sku, stock)
            .await
            .with_context(|| format!("seeding stock of {sku}"))?;
    }
    // A coupon to try at checkout: 10 % off, valid a year from each start.
    let expires = chrono::Utc::now() + chrono::Duration::days(365);
    catalog::upsert_coupon(
        db,
        DEMO_COUPON,
        &contracts::cart::Discount::Percent(10),
        expires,
    )
    .await
    .context("seeding the demo coupon")?;
    tracing::info!(
        products = DEMO_PRODUCTS.len(),
        coupon = DEMO_COUPON,
        "demo catalog loaded"
    );
    Ok(())
}

/// The technical specifications of a demo product.
fn specifications(sku: &str) -> Vec<Specification> {
    let spec = |key: &str, value: SpecValue, unit: Option<&str>| Specification {
        key: key.to_owned(),
        value,
        unit: unit.map(str::to_owned),
    };
    let text = |text: &str| SpecValue::Text(text.to_owned());
    match sku {
        "MUG-CLASSIC" => vec![
            spec("capacity", SpecValue::Number(330.0), Some("ml")),
            spec("material", text("stoneware"), None),
            spec("dishwasher_safe", SpecValue::Flag(true), None),
        ],
        "TEE-LOGO-M" | "TEE-LOGO-L" | "HOODIE-ZIP-M" => vec![
            spec("material", text("organic cotton"), None),
            spec(
                "size",
                text(if sku.ends_with('L') { "L" } else { "M" }),
                None,
            ),
        ],
        "BOOK-SAGAS" => vec![spec("pages", SpecValue::Number(240.0), None)],
        "POSTER-A2" => vec![
            spec("width", SpecValue::Number(420.0), Some("mm")),
            spec("height", SpecValue::Number(594.0), Some("mm")),
        ],
        _ => Vec::new(),
    }
}

/// The demo coupon (10 % off).
pub const DEMO_COUPON: &str = "WELCOME10";
