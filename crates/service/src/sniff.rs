//! Magic-byte sniffing: does the stored object look like what was declared?

use coffer_domain::ContentType;

/// How many leading bytes are read to sniff a type.
pub(crate) const SNIFF_LEN: usize = 8192;

/// Formats that are ZIP containers: a sniffer may see either the container
/// or the format, so both are accepted for each other.
const ZIP_FAMILY: &[&str] = &[
    "application/zip",
    "application/x-zip-compressed",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "application/java-archive",
    "application/vnd.android.package-archive",
];

/// Names that mean the same type.
const ALIASES: &[(&str, &str)] = &[
    ("image/jpg", "image/jpeg"),
    ("image/pjpeg", "image/jpeg"),
    ("audio/mp3", "audio/mpeg"),
    ("text/xml", "application/xml"),
    ("application/x-pdf", "application/pdf"),
    ("audio/wav", "audio/x-wav"),
];

fn canonical(essence: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == essence)
        .map_or(essence, |(_, canonical)| canonical)
}

/// The sniffed type when `head` clearly contradicts `declared`, else `None`.
///
/// Unknown signatures (plain text, CSV, JSON…) and a declared
/// `application/octet-stream` never contradict: sniffing only catches a
/// recognisable format posing as another.
pub(crate) fn contradiction(declared: &ContentType, head: &[u8]) -> Option<String> {
    let sniffed = infer::get(head)?.mime_type();
    let declared = canonical(declared.essence());
    let sniffed_c = canonical(sniffed);
    let compatible = declared == ContentType::OCTET_STREAM
        || declared == sniffed_c
        || (ZIP_FAMILY.contains(&declared) && ZIP_FAMILY.contains(&sniffed_c));
    (!compatible).then(|| sniffed.to_owned())
}

/// The type to record when the client declared none: what the bytes are, if
/// recognisable, else what the filename suggested.
pub(crate) fn refine(guessed: ContentType, head: &[u8]) -> ContentType {
    match infer::get(head).map(|t| ContentType::new(t.mime_type())) {
        Some(Ok(sniffed)) if guessed.essence() == ContentType::OCTET_STREAM => sniffed,
        _ => guessed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n";

    fn ct(s: &str) -> ContentType {
        ContentType::new(s).unwrap_or_else(|_| unreachable!("valid test type"))
    }

    #[test]
    fn catches_a_format_posing_as_another() {
        assert_eq!(
            contradiction(&ct("application/pdf"), PNG).as_deref(),
            Some("image/png")
        );
        assert_eq!(
            contradiction(&ct("image/png"), PDF).as_deref(),
            Some("application/pdf")
        );
    }

    #[test]
    fn accepts_matches_aliases_and_unknowns() {
        assert_eq!(contradiction(&ct("image/png"), PNG), None);
        assert_eq!(contradiction(&ct("application/pdf"), PDF), None);
        assert_eq!(contradiction(&ct("application/octet-stream"), PNG), None);
        assert_eq!(contradiction(&ct("text/plain"), b"just some text"), None);
        assert_eq!(
            contradiction(&ct("image/jpg"), b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"),
            None
        );
        let zip = b"PK\x03\x04\x14\0\0\0\0\0";
        assert_eq!(
            contradiction(
                &ct("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                zip
            ),
            None
        );
    }

    #[test]
    fn refines_only_unknown_declarations() {
        assert_eq!(
            refine(ct("application/octet-stream"), PNG).essence(),
            "image/png"
        );
        assert_eq!(refine(ct("text/plain"), PNG).essence(), "text/plain");
        assert_eq!(
            refine(ct("application/octet-stream"), b"text").essence(),
            "application/octet-stream"
        );
    }
}
