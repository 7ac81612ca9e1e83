//! What a stored object says about itself when it is downloaded: it can never become a page of the
//! site that serves it.
//!
//! - Active types (anything a browser runs or renders as a document: HTML, XHTML, SVG, any XML,
//!   JavaScript, CSS, PDF, XSLT, multipart and message types, ...) are stored as
//!   `application/octet-stream`, not refused: an upload of such a file still works, its bytes are
//!   kept unchanged, and the object downloads as opaque bytes. Passive media (video, audio, raster
//!   images, fonts, plain text, archives) keep their declared type.
//! - Every object is created with `Content-Disposition: attachment` and the sanitized file name as
//!   an RFC 6266 `filename*` (RFC 5987/8187 UTF-8 percent-encoding) with an ASCII `filename`
//!   fallback, so a browser saves it instead of displaying it, whatever the type.

/// The type every active or unknown-to-be-passive upload is stored with.
pub const OPAQUE: &str = "application/octet-stream";

/// Whether a browser would treat `media_type` (lower-case `type/subtype`) as passive content that
/// cannot run script: video, audio, raster images, fonts, plain text, and common archive formats.
/// Anything else, notably every `*xml*`, `*html*`, `*script*` and `svg` subtype, is active.
pub fn is_passive(media_type: &str) -> bool {
    let Some((top, sub)) = media_type.split_once('/') else {
        return false;
    };
    if ["xml", "html", "script", "svg", "xsl"]
        .iter()
        .any(|marker| sub.contains(marker))
    {
        return false;
    }
    matches!(top, "video" | "audio" | "image" | "font")
        || matches!(
            media_type,
            "text/plain"
                | "text/csv"
                | "application/octet-stream"
                | "application/zip"
                | "application/gzip"
                | "application/x-tar"
                | "application/x-7z-compressed"
                | "application/json"
                | "application/mp4"
        )
}

/// The Content-Type an object declared as `media_type` is stored with.
pub fn stored_type(media_type: &str) -> &str {
    if is_passive(media_type) {
        media_type
    } else {
        OPAQUE
    }
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded name>` (RFC 6266
/// section 4.3) for a sanitized file name. Every byte outside RFC 5987's `attr-char` is
/// percent-encoded; the fallback replaces non-ASCII characters and quoting characters by `_`.
pub fn attachment(file_name: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for &b in file_name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push('%');
            encoded.push(HEX[usize::from(b >> 4)] as char);
            encoded.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_stored_opaque() {
        for active in [
            "text/html",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/rss+xml",
            "text/javascript",
            "application/javascript",
            "application/x-javascript",
            "application/ecmascript",
            "text/css",
            "application/pdf",
            "text/xsl",
            "multipart/x-mixed-replace",
            "message/rfc822",
            "application/vnd.wap.xhtml+xml",
            "application/x-shockwave-flash",
            "text/vtt",
            "image/svg",
            "video/x-html",
        ] {
            assert_eq!(stored_type(active), OPAQUE, "{active}");
        }
        for passive in [
            "video/mp4",
            "video/quicktime",
            "audio/mpeg",
            "image/jpeg",
            "image/heic",
            "font/woff2",
            "text/plain",
            "application/zip",
            "application/octet-stream",
        ] {
            assert_eq!(stored_type(passive), passive);
        }
    }

    #[test]
    fn dispositions_follow_rfc_6266() {
        assert_eq!(
            attachment("match.mp4"),
            "attachment; filename=\"match.mp4\"; filename*=UTF-8''match.mp4"
        );
        assert_eq!(
            attachment("été 1.mov"),
            "attachment; filename=\"_t__1.mov\"; filename*=UTF-8''%C3%A9t%C3%A9%201.mov"
        );
        assert_eq!(
            attachment("a\"b;c%.mp4"),
            "attachment; filename=\"a_b_c_.mp4\"; filename*=UTF-8''a%22b%3Bc%25.mp4"
        );
        assert!(attachment("動画.mp4").is_ascii());
    }
}
