//! Lambda function for `list-uploads`: wiring only; the handler lives in `shared::api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve(shared::Endpoint::ListUploads).await
}
