//! `emporium seed`: migrate, then load the demo catalog.

use platform::Settings;

pub(crate) async fn run(settings: &Settings) -> anyhow::Result<()> {
    let db = super::migrate::run(settings).await?;
    crate::demo::seed(&db).await
}
