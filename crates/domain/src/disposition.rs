//! `Content-Disposition` values that restore a file's original name (RFC 6266).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::Filename;

/// RFC 5987 `attr-char`: everything else is percent-encoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispositionKind {
    Attachment,
    Inline,
}

/// `attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded`.
///
/// The quoted fallback replaces what an old client could misread (non-ASCII,
/// quotes, backslashes, `%`) with `_`; modern clients use `filename*`, which
/// carries the exact UTF-8 name.
pub fn content_disposition(kind: DispositionKind, filename: &Filename) -> String {
    let kind = match kind {
        DispositionKind::Attachment => "attachment",
        DispositionKind::Inline => "inline",
    };
    let fallback: String = filename
        .as_str()
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '%') => c,
            _ => '_',
        })
        .collect();
    let encoded = utf8_percent_encode(filename.as_str(), ATTR_CHAR);
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Filename {
        Filename::new(s).unwrap_or_else(|_| unreachable!("valid test name"))
    }

    #[test]
    fn encodes_unicode_and_quotes() {
        assert_eq!(
            content_disposition(
                DispositionKind::Attachment,
                &name("Bericht März \"final\".pdf")
            ),
            "attachment; filename=\"Bericht M_rz _final_.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz%20%22final%22.pdf"
        );
        assert_eq!(
            content_disposition(DispositionKind::Inline, &name("a;b=c.txt")),
            "inline; filename=\"a;b=c.txt\"; filename*=UTF-8''a%3Bb%3Dc.txt"
        );
    }
}
