//! The HTTP server: accepts connections, refuses foreign ones, answers CORS, and hands every other
//! request to the function's handler as an API Gateway event.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::StatusCode;
use lambda_http::Body;
use shared::{ApiError, Deps, ErrorCode};
use tokio::net::TcpListener;

use crate::cors::Cors;
use crate::demo_page::static_file;
use crate::gateway_event::to_event;
use crate::gateway_event::IDENTITY_HEADER;
use crate::host_check::refuse_foreign;

/// Serves the API on `listener` until the task is dropped, with CORS from the environment.
pub async fn serve(deps: Arc<Deps>, listener: TcpListener) -> std::io::Result<()> {
    serve_with_cors(deps, listener, Cors::from_env()).await
}

/// [`serve`] with the given CORS origins.
pub async fn serve_with_cors(
    deps: Arc<Deps>, listener: TcpListener, cors: Cors,
) -> std::io::Result<()> {
    let cors = Arc::new(cors);
    loop {
        let (stream, peer) = listener.accept().await?;
        let peer_is_loopback = peer.ip().to_canonical().is_loopback();
        let deps = deps.clone();
        let cors = cors.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let deps = deps.clone();
                let cors = cors.clone();
                async move {
                    if let Some(refused) = refuse_foreign(peer_is_loopback, &req) {
                        return Ok::<_, Infallible>(refused);
                    }
                    Ok(handle_cors(&deps, &cors, req).await)
                }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection closed: {err}");
            }
        });
    }
}

/// CORS around [`handle`]: preflights are answered here, as API Gateway answers them before any
/// function runs; other answers get `Access-Control-Allow-Origin` when the origin is allowed.
async fn handle_cors(
    deps: &Deps, cors: &Cors, req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let origin = req
        .headers()
        .get(hyper::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return handle(deps, req).await;
    };
    let is_preflight = req.method() == hyper::Method::OPTIONS
        && req
            .headers()
            .contains_key(hyper::header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        return cors.preflight(&origin);
    }
    let mut response = handle(deps, req).await;
    cors.allow_origin(&origin, &mut response);
    response
}

async fn handle(deps: &Deps, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    if let Some(page) = static_file(req.method(), req.uri().path()) {
        return page;
    }
    let anonymous = req
        .headers()
        .get(IDENTITY_HEADER)
        .is_none_or(|v| v.to_str().map_or(true, |v| v.trim().is_empty()));
    let mut response = match to_event(deps, req).await {
        Ok((endpoint, event)) => match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => endpoint.handle(deps, request).await,
            Err(err) => ApiError::internal("building the API Gateway event", err).to_response(),
        },
        Err(response) => response,
    };
    if anonymous && response.status() == StatusCode::UNAUTHORIZED {
        // The functions' answer names the deployed API's bearer token; here the caller is the header.
        response = ApiError::client(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            format!(
                "no caller identity: the local API takes the caller's id from the \
                 {IDENTITY_HEADER} header (e.g. {IDENTITY_HEADER}: alice); the deployed API takes \
                 a bearer token instead"
            ),
        )
        .to_response();
    }
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
