//! The built web app (`STATIC_DIR`, made by `web/` with `npm run build`): hashed assets under
//! `/_app/immutable/` cached for a year, everything else revalidated, and every other non-API
//! path answered with `index.html` so the app's own router shows the page (or its 404).
//!
//! `index.html` is read once at start-up: its inline bootstrap scripts are hashed into the
//! `Content-Security-Policy`, so the policy allows exactly those and no other inline script.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::AppState;
use super::error::ApiError;

/// Paths the web app never owns (these and everything below them): unknown ones stay JSON 404s.
const API_ROOTS: [&str; 4] = ["/api", "/ws", "/health", "/metrics"];

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// The built app, if there is one.
#[derive(Debug, Clone)]
pub struct WebApp {
    dir: PathBuf,
    index: Option<Arc<str>>,
    /// The policy for HTML answers (also sent, harmlessly, on any other answer of the app).
    csp: HeaderValue,
}

impl WebApp {
    /// Reads `dir/index.html`; an app that is not built leaves only the API (a clear 404 at `/`).
    pub fn load(dir: &Path) -> Self {
        let index = std::fs::read_to_string(dir.join("index.html")).ok();
        if index.is_none() {
            tracing::warn!(dir = %dir.display(), "no web app here (index.html missing): serving the API only");
        }
        let csp = content_security_policy(index.as_deref().unwrap_or_default());
        Self { dir: dir.to_path_buf(), index: index.map(Arc::from), csp }
    }

    pub fn csp(&self) -> &HeaderValue {
        &self.csp
    }

    fn index_response(&self) -> Response {
        let Some(index) = &self.index else {
            return ApiError::NotFound("NOT_FOUND", "the web app is not built here (scripts/run.sh builds it)")
                .into_response();
        };
        let mut response = (StatusCode::OK, index.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.insert(CACHE_CONTROL, REVALIDATE);
        headers.insert(CONTENT_SECURITY_POLICY, self.csp.clone());
        response
    }
}

/// `script-src` allows our own files and the hashes of the inline scripts `index.html` carries;
/// nothing may frame the app; connections go to our own origin only (the WebSocket included).
pub fn content_security_policy(index_html: &str) -> HeaderValue {
    let hashes: String = inline_scripts(index_html).fold(String::new(), |mut hashes, script| {
        let digest = Sha256::digest(script.as_bytes());
        let _ = write!(hashes, " 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest));
        hashes
    });
    let policy = format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after = &rest[start..];
            let open_end = after.find('>')?;
            let tag = &after[..open_end];
            let body_start = start + open_end + 1;
            let body_len = rest[body_start..].find("</script>")?;
            let body = &rest[body_start..body_start + body_len];
            rest = &rest[body_start + body_len + "</script>".len()..];
            if !tag.contains("src=") {
                return Some(body);
            }
        }
    })
}

fn is_api(path: &str) -> bool {
    API_ROOTS.iter().any(|root| path.strip_prefix(root).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// Every request no route matched: the app's files, or its `index.html`, or a JSON 404 for API paths.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if is_api(path) || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return super::error::not_found().into_response();
    }
    let web = &state.web;
    if path == "/" || path == "/index.html" || web.index.is_none() {
        return web.index_response();
    }
    let immutable = path.starts_with("/_app/immutable/");
    let served = ServeDir::new(&web.dir)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .oneshot(request)
        .await;
    match served {
        Ok(response) if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED => {
            let mut response = response.map(Body::new);
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, if immutable { IMMUTABLE } else { REVALIDATE });
            response
        }
        // A path that is no file is a page of the app.
        _ => web.index_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = r#"<html><head><script type="module" src="/_app/a.js"></script>
            <script>boot()</script></head><body><script>
 more()
</script></body></html>"#;
        let scripts: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(scripts, ["boot()", "\n more()\n"]);
        let policy = content_security_policy(html);
        let policy = policy.to_str().unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"boot()"));
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        let scripts = policy.split(';').find(|d| d.trim_start().starts_with("script-src")).unwrap();
        assert!(!scripts.contains("unsafe-inline"), "no inline script beyond the hashed ones: {scripts}");
        assert!(policy.contains("script-src 'self' 'sha256-"));
        assert!(policy.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn api_paths_are_never_the_app() {
        for path in ["/api/nope", "/ws/x", "/health", "/health/ready", "/metrics", "/api/"] {
            assert!(is_api(path), "{path}");
        }
        for path in ["/", "/events/1", "/apiary", "/healthy-food", "/tickets"] {
            assert!(!is_api(path), "{path}");
        }
    }
}
