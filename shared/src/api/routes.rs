//! The endpoints: their routes (as `template.yaml` declares them), their function names, and the
//! AWS operations each may make.

pub const BASE_PATH: &str = "/api/v1/multipart-upload";

/// One function per endpoint; the name is its crate under `functions/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Initialize,
    PresignedUrl,
    BatchPresignedUrls,
    Complete,
    Abort,
    ListParts,
    Status,
    ListUploads,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
}

/// Every route of `template.yaml` (a test keeps the two in step).
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/initialize",
        endpoint: Endpoint::Initialize,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/presigned-url",
        endpoint: Endpoint::PresignedUrl,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/batch-presigned-urls",
        endpoint: Endpoint::BatchPresignedUrls,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/complete",
        endpoint: Endpoint::Complete,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/abort",
        endpoint: Endpoint::Abort,
    },
    Route {
        method: "GET",
        path: "/api/v1/multipart-upload/parts/{uploadId}",
        endpoint: Endpoint::ListParts,
    },
    Route {
        method: "GET",
        path: "/api/v1/multipart-upload/status/{uploadId}",
        endpoint: Endpoint::Status,
    },
    Route {
        method: "GET",
        path: "/api/v1/multipart-upload/uploads",
        endpoint: Endpoint::ListUploads,
    },
];

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Self::Initialize,
        Self::PresignedUrl,
        Self::BatchPresignedUrls,
        Self::Complete,
        Self::Abort,
        Self::ListParts,
        Self::Status,
        Self::ListUploads,
    ];

    /// The function (and crate) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::PresignedUrl => "presigned-url",
            Self::BatchPresignedUrls => "batch-presigned-urls",
            Self::Complete => "complete",
            Self::Abort => "abort",
            Self::ListParts => "list-parts",
            Self::Status => "status",
            Self::ListUploads => "list-uploads",
        }
    }

    /// Every AWS operation the endpoint's code may make, on any path (retries, takeovers,
    /// settling a vanished upload). The fault matrix checks the use cases make no other; a
    /// template test checks each function's IAM policy covers them.
    pub fn operations(self) -> &'static [&'static str] {
        match self {
            Self::Initialize => &[
                "UpdateItem(rate)",
                "GetItem",
                "TransactWriteItems(create)",
                "TransactWriteItems",
                "CreateMultipartUpload",
                "AbortMultipartUpload",
                // Resuming by fingerprint: the parts held, or settling an upload S3 dropped.
                "ListParts",
                "HeadObject",
            ],
            Self::PresignedUrl | Self::BatchPresignedUrls => {
                &["UpdateItem(rate)", "GetItem", "PresignUploadPart"]
            }
            Self::Complete => &[
                "UpdateItem(rate)",
                "UpdateItem(begin-completing)",
                "GetItem",
                "TransactWriteItems",
                "ListParts",
                "HeadObject",
                "CompleteMultipartUpload",
            ],
            Self::Abort => &[
                "UpdateItem(rate)",
                "GetItem",
                "TransactWriteItems",
                "ListParts",
                "HeadObject",
                "AbortMultipartUpload",
            ],
            Self::ListParts => &[
                "UpdateItem(rate)",
                "GetItem",
                "TransactWriteItems",
                "ListParts",
                "HeadObject",
            ],
            Self::Status => &["UpdateItem(rate)", "GetItem", "ListParts"],
            Self::ListUploads => &["UpdateItem(rate)", "Query", "ListParts"],
        }
    }
}
