//! The hand-written presigner (`shared::adapters::sigv4`, through `shared::adapters::presign::Presigner`) produces the
//! very same bytes as aws-sdk-s3's `presigned()` for the same credentials, time, bucket, key, upload
//! id, part, expiry and checksum header, over many generated cases.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::PresigningConfig;
use shared::adapters::presign::{Addressing, Presigner, Signed};
use shared::domain::checksum::ChecksumAlgorithm;

/// xorshift64*: deterministic cases without a dependency; the seed is printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn text(&mut self, pool: &[&str], max: u64) -> String {
        (0..1 + self.below(max)).map(|_| self.pick(pool)).collect()
    }
}

const KEY_PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    "9",
    "-",
    "_",
    ".",
    "~",
    "/",
    " ",
    "+",
    "!",
    "*",
    "'",
    "(",
    ")",
    "$",
    "&",
    ",",
    ":",
    ";",
    "=",
    "@",
    "%",
    "#",
    "?",
    "[",
    "]",
    "|",
    "^",
    "`",
    "{",
    "}",
    "\"",
    "<",
    ">",
    "\\",
    "é",
    "ü",
    "日本",
    "🎬",
    "\u{202e}",
    "uploads/",
    "auth0|",
    "video.mp4",
    "..",
];
const ID_PIECES: &[&str] = &["A", "z", "0", "-", "_", ".", "~", "+", "/", "="];

struct Case {
    seed: u64,
    region: &'static str,
    bucket: &'static str,
    endpoint: Option<&'static str>,
    path_style: bool,
    /// S3 Transfer Acceleration and dual-stack endpoints (some combinations the SDK refuses: then
    /// ours must refuse too).
    accelerate: bool,
    dual_stack: bool,
    key: String,
    upload_id: String,
    token: Option<String>,
    part: u32,
    signed_at: SystemTime,
    expires_in: Duration,
    /// The part's exact length, signed into the URL as `content-length`.
    length: u64,
    checksum: Option<(ChecksumAlgorithm, &'static str)>,
}

fn case(seed: u64) -> Case {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (endpoint, path_style) = rng.pick(&[
        (None, false),
        (None, true),
        (Some("http://127.0.0.1:4566"), true),
        (Some("http://localhost:9000"), true),
        (Some("https://storage.example.internal"), false),
        (Some("https://storage.example.internal:8443"), true),
    ]);
    let checksum = rng.pick(&[
        None,
        Some((
            ChecksumAlgorithm::Sha256,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        )),
        Some((ChecksumAlgorithm::Crc32c, "yZRlqg==")),
        Some((ChecksumAlgorithm::Crc64Nvme, "rosUhgp5mIg=")),
    ]);
    Case {
        seed,
        region: rng.pick(&["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"]),
        bucket: rng.pick(&["uploads", "my-bucket-123", "with.dots.bucket"]),
        endpoint,
        path_style,
        accelerate: rng.below(3) == 0,
        dual_stack: rng.below(3) == 0,
        key: rng.text(KEY_PIECES, 40),
        upload_id: rng.text(ID_PIECES, 120),
        token: (rng.below(2) == 0).then(|| rng.text(ID_PIECES, 400)),
        part: 1 + rng.below(10_000) as u32,
        signed_at: UNIX_EPOCH + Duration::from_secs(946_684_800 + rng.below(3_000_000_000)),
        expires_in: Duration::from_secs(1 + rng.below(604_800)),
        length: rng.pick(&[1, 5 * 1024 * 1024, 8 * 1024 * 1024, 5 * 1024 * 1024 * 1024])
            + rng.below(2),
        checksum,
    }
}

fn credentials(case: &Case) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        case.token.clone(),
        None,
        "test",
    )
}

/// The SDK's URL, or its error when its endpoint rules refuse the combination.
async fn sdk_url(case: &Case) -> Result<String, String> {
    let mut config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(case.region))
        .credentials_provider(credentials(case))
        .force_path_style(case.path_style)
        .accelerate(case.accelerate)
        .use_dual_stack(case.dual_stack)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
    if let Some(endpoint) = case.endpoint {
        config = config.endpoint_url(endpoint);
    }
    let client = aws_sdk_s3::Client::from_conf(config.build());
    let presigning = PresigningConfig::builder()
        .start_time(case.signed_at)
        .expires_in(case.expires_in)
        .build()
        .unwrap();
    let request = client
        .upload_part()
        .bucket(case.bucket)
        .key(&case.key)
        .upload_id(&case.upload_id)
        .part_number(case.part as i32)
        .content_length(case.length as i64);
    let request = match case.checksum {
        Some((ChecksumAlgorithm::Sha256, value)) => request.checksum_sha256(value),
        Some((ChecksumAlgorithm::Crc32c, value)) => request.checksum_crc32_c(value),
        Some((ChecksumAlgorithm::Crc64Nvme, value)) => request.checksum_crc64_nvme(value),
        None => request,
    };
    let presigned = match request.presigned(presigning).await {
        Ok(presigned) => presigned,
        Err(err) => return Err(format!("{:?}", err)),
    };
    if let Some((algorithm, value)) = case.checksum {
        let headers: Vec<_> = presigned.headers().collect();
        assert_eq!(
            headers,
            [
                ("content-length", case.length.to_string().as_str()),
                (algorithm.header(), value)
            ],
            "seed {}",
            case.seed
        );
    } else {
        let headers: Vec<_> = presigned.headers().collect();
        let length = case.length.to_string();
        assert_eq!(
            headers,
            [("content-length", length.as_str())],
            "seed {}",
            case.seed
        );
    }
    Ok(presigned.uri().to_owned())
}

fn addressing(case: &Case) -> Addressing<'static> {
    Addressing {
        endpoint: case.endpoint,
        force_path_style: case.path_style,
        accelerate: case.accelerate,
        dual_stack: case.dual_stack,
    }
}

async fn presigner(case: &Case) -> Presigner {
    Presigner::with_addressing(
        credentials(case),
        case.bucket,
        case.region,
        addressing(case),
    )
    .await
}

/// Our signer for the case's upload (its checksum algorithm, time and expiry).
async fn our_signer(case: &Case) -> Signed {
    presigner(case)
        .await
        .for_upload(
            &case.key,
            &case.upload_id,
            case.checksum.map(|(algorithm, _)| algorithm),
            case.signed_at,
            case.signed_at + case.expires_in,
        )
        .await
        .unwrap()
}

async fn our_url(case: &Case) -> String {
    let signed = our_signer(case).await;
    signed.signer.url(
        case.part,
        case.length,
        case.checksum.map(|(_, value)| value),
    )
}

#[tokio::test]
async fn urls_are_byte_identical_to_the_sdk() {
    let cases = std::env::var("PRESIGN_CASES").map_or(3_000, |n| n.parse().unwrap());
    let mut kinds = std::collections::BTreeSet::new();
    let (mut accelerated, mut dual_stack, mut both_refused) = (0, 0, 0);
    for seed in 0..cases {
        let case = case(seed);
        let sdk = match sdk_url(&case).await {
            Ok(url) => url,
            Err(why) => {
                let refused = presigner(&case).await;
                assert!(
                    refused.unusable().is_some(),
                    "seed {seed}: the SDK refuses {:?} (accelerate {}, dual-stack {}, path-style {}, \
                     endpoint {:?}) but ours signs",
                    why,
                    case.accelerate,
                    case.dual_stack,
                    case.path_style,
                    case.endpoint
                );
                both_refused += 1;
                continue;
            }
        };
        let ours = our_url(&case).await;
        accelerated += usize::from(ours.contains(".s3-accelerate."));
        dual_stack += usize::from(ours.contains(".dualstack."));
        assert_eq!(
            ours, sdk,
            "seed {seed}: key {:?}, upload id {:?}",
            case.key, case.upload_id
        );
        kinds.insert((
            case.endpoint.is_some(),
            ours.contains(&format!("//{}.", case.bucket)),
            case.token.is_some(),
            case.checksum.map(|(a, _)| a.as_str()),
        ));
    }
    // The generator really covered virtual-hosted and path-style, tokens and both checksums,
    // accelerated and dual-stack URLs, and combinations the SDK refuses.
    assert!(kinds.len() >= 12, "too few kinds of case: {kinds:?}");
    println!(
        "{cases} cases: {accelerated} accelerated, {dual_stack} dual-stack URLs identical; \
         {both_refused} refused by both"
    );
    if cases >= 500 {
        assert!(accelerated >= 20 && dual_stack >= 20 && both_refused >= 20);
    }
}

/// One signer signs every part of an upload; each URL equals the SDK's for that part.
#[tokio::test]
async fn a_batch_from_one_signer_matches_part_by_part() {
    let mut case = case(7);
    case.checksum = None;
    case.accelerate = false;
    case.dual_stack = false;
    let signed = our_signer(&case).await;
    for part in [1, 2, 9, 10, 99, 100, 1_000, 9_999, 10_000] {
        case.part = part;
        assert_eq!(
            signed.signer.url(part, case.length, None),
            sdk_url(&case).await.unwrap(),
            "part {part}"
        );
    }
}
