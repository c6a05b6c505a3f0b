//! The pages, embedded in the binary at build time: no file is read at runtime and no
//! request leaves for a CDN. `assets/vendor/` holds the charting library exactly as npm
//! ships it (checked by `scripts/console-assets`).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse + Clone {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub(crate) fn router() -> Router {
    let html = "text/html; charset=utf-8";
    let js = "text/javascript; charset=utf-8";
    let css = "text/css; charset=utf-8";
    Router::new()
        .route("/", get(move || async move { asset(html, INDEX_HTML) }))
        .route("/app.js", get(move || async move { asset(js, APP_JS) }))
        .route(
            "/style.css",
            get(move || async move { asset(css, STYLE_CSS) }),
        )
        .route(
            "/vendor/uPlot.iife.min.js",
            get(move || async move { asset(js, UPLOT_JS) }),
        )
        .route(
            "/vendor/uPlot.min.css",
            get(move || async move { asset(css, UPLOT_CSS) }),
        )
}
