//! Integration tests: the local API in-process, against the real local S3 servers (moto, the strict
//! SigV4-checking s3s-fs, and LocalStack, which also verifies part checksums) and moto's DynamoDB,
//! driven with a plain HTTP client as a phone would. `make test` starts the servers and exports
//! their endpoints. The stack, the typed calls and `per_server!` come from `testkit`; a test body
//! that holds on more than one S3 server takes the server as its parameter.

mod budgets;
mod checksums;
mod cleanup;
mod cors;
mod crashes;
mod demo_page;
mod digests;
mod events;
mod flow;
mod hostile;
mod listing;
mod localstack;
mod metadata;
mod object_size;
mod observability;
mod part_urls;
mod quotas;
mod rate_limits;
mod resume;
mod routes;
mod soak;
