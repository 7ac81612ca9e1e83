//! Lambda function for `presigned-url`: wiring only; the handler lives in `shared::api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve(shared::Endpoint::PresignedUrl).await
}
