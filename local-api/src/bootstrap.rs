//! Local set-up only: the bucket and table `template.yaml` declares, created on the local stack.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use shared::adapters::dynamodb::{
    EXPIRY_INDEX, OWNER_CREATED_INDEX, SHARD_ATTRIBUTE, SWEEP_ATTRIBUTE, TTL_ATTRIBUTE,
};
use shared::ApiError;

fn error_code<E: ProvideErrorMetadata, R>(
    err: &aws_sdk_s3::error::SdkError<E, R>,
) -> Option<String> {
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned)
}

/// Creates the table as `template.yaml` declares it; an existing one is kept.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), ApiError> {
    let attr = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .expect("attribute definition is complete")
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema element is complete")
    };
    let index = |name: &str, hash: &str, range: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(range, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index is complete")
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("uploadId", ScalarAttributeType::S))
        .attribute_definitions(attr(SHARD_ATTRIBUTE, ScalarAttributeType::S))
        .attribute_definitions(attr(SWEEP_ATTRIBUTE, ScalarAttributeType::N))
        .attribute_definitions(attr("owner", ScalarAttributeType::S))
        .attribute_definitions(attr("createdAt", ScalarAttributeType::N))
        .key_schema(key("uploadId", KeyType::Hash))
        .global_secondary_indexes(index(EXPIRY_INDEX, SHARD_ATTRIBUTE, SWEEP_ATTRIBUTE))
        .global_secondary_indexes(index(OWNER_CREATED_INDEX, "owner", "createdAt"))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => return Ok(()),
        Err(e) => return Err(ApiError::upstream("creating the table", e)),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .expect("ttl specification is complete"),
        )
        .send()
        .await
        .map_err(|e| ApiError::upstream("enabling TTL", e))?;
    Ok(())
}

/// Creates the bucket with the template's CORS rule. Servers that do not implement CORS (s3s-fs)
/// are tolerated.
pub async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), ApiError> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e)
            if matches!(
                error_code(&e).as_deref(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) => {}
        Err(e) => return Err(ApiError::upstream("creating the bucket", e)),
    }
    // PUT only, as in the template: browsers send parts and never read from the bucket.
    let rule = CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_origins("*")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3600)
        .build()
        .map_err(|e| ApiError::internal("building the CORS rule", e))?;
    let cors = CorsConfiguration::builder()
        .cors_rules(rule)
        .build()
        .map_err(|e| ApiError::internal("building the CORS rule", e))?;
    match client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(cors)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e).as_deref() == Some("NotImplemented") => Ok(()),
        Err(e) => Err(ApiError::upstream("setting the bucket's CORS rule", e)),
    }
}
