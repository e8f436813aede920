//! The web app, served from the API's own origin: the storefront at `/` (its pages under
//! `/shop/…`), the operator console at `/console/…`, and the API reference at `/docs`.
//!
//! `web/` is built by Vite into a folder (`web/dist`, the `api.web_dir` setting): an
//! `index.html` for both apps, content-hashed files under `assets/`, and the reference viewer
//! under `docs/`. The page routes answer `index.html` (the app's router shows the page), never
//! cached, so a new build reaches everyone at once; `assets/` are cached for a year, since a
//! changed file gets a new name. Nothing comes from a CDN. Paths outside these stay the API's,
//! so an unknown path is still a problem+json 404. Without a build, the pages answer 503
//! saying how to make one.

use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// How long a content-hashed asset may be cached.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Pages and unhashed files: revalidate every time.
const REVALIDATE: &str = "no-cache";

/// Where the build is.
#[derive(Clone)]
struct WebDir(Arc<PathBuf>);

/// The web app's routes, served from the build in `dir`.
pub fn routes(dir: &Path) -> Router<AppState> {
    let web = WebDir(Arc::new(dir.to_path_buf()));
    let page = get(page).with_state(web.clone());
    let docs_page = get(docs).with_state(web);
    Router::new()
        .route("/", page.clone())
        .route("/shop", page.clone())
        .route("/shop/{*path}", page.clone())
        .route("/console", page.clone())
        .route("/console/{*path}", page)
        .route("/docs", docs_page)
        .nest("/assets", cached(dir.join("assets"), IMMUTABLE))
        .nest("/docs/files", cached(dir.join("docs"), REVALIDATE))
}

/// The files of `dir`, with `cache_control`.
fn cached(dir: PathBuf, cache_control: &'static str) -> Router<AppState> {
    Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ))
}

/// A page of the storefront or the console: the app's `index.html`.
async fn page(State(web): State<WebDir>) -> Result<Response, ApiError> {
    html(&web.0.join("index.html")).await
}

/// The API reference (Scalar, served from the build).
async fn docs(State(web): State<WebDir>) -> Result<Response, ApiError> {
    html(&web.0.join("docs").join("index.html")).await
}

async fn html(file: &Path) -> Result<Response, ApiError> {
    let page = tokio::fs::read_to_string(file).await.map_err(|_| {
        ApiError::not_ready(format!(
            "the web app is not built: run `npm ci && npm run build` in web/ ({} is missing)",
            file.display()
        ))
    })?;
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    Ok(response)
}
