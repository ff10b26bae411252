//! What can be read from a token before its signature is checked: only used
//! to pick a key and to refuse early, never to accept anything.

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::Deserialize;

use crate::KeycloakError;

/// Longest token considered at all, so a huge header cannot cost much.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The header of a token whose algorithm is on the asymmetric allowlist.
#[derive(Debug, Clone)]
pub(crate) struct TokenHeader {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

#[derive(Deserialize)]
struct RawIssuer {
    iss: Option<serde_json::Value>,
}

/// The size bound, before anything is decoded.
fn bounded(token: &str) -> Result<(), KeycloakError> {
    if token.is_empty() {
        return Err(KeycloakError::Malformed("empty token".into()));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(KeycloakError::Malformed("token too long".into()));
    }
    Ok(())
}

/// Three non-empty parts: jsonwebtoken's own parsers split from the right
/// and would read `header.payload.` (no signature) or `a.b.c.d` too.
fn compact(token: &str) -> Result<(), KeycloakError> {
    if token.split('.').count() != 3 || token.split('.').any(str::is_empty) {
        return Err(KeycloakError::Malformed(
            "not a compact JWS (three non-empty dot-separated parts)".into(),
        ));
    }
    Ok(())
}

fn malformed(what: &str) -> impl FnOnce(jsonwebtoken::errors::Error) -> KeycloakError + '_ {
    move |err| KeycloakError::Malformed(format!("{what}: {err}"))
}

/// Parses the header (jsonwebtoken's parser, which knows only the
/// algorithms it can verify: `none` and unknown names do not parse) and
/// refuses the HMAC family, so an attacker cannot make us verify an HMAC
/// keyed with a public key (algorithm confusion). Before any key is looked at.
pub(crate) fn parse(token: &str) -> Result<TokenHeader, KeycloakError> {
    bounded(token)?;
    // The algorithm first, so that an unsigned `none` token is refused for
    // what it is, not for its empty signature.
    let header = jsonwebtoken::decode_header(token).map_err(malformed("header"))?;
    if header.alg.family() == AlgorithmFamily::Hmac {
        return Err(KeycloakError::AlgorithmNotAllowed(format!(
            "{:?}",
            header.alg
        )));
    }
    compact(token)?;
    Ok(TokenHeader {
        alg: header.alg,
        kid: header.kid,
        typ: header.typ,
    })
}

/// Refuses a token whose (unverified) `iss` is not `expected` before any key
/// lookup, so a foreign issuer's tokens get a clear reason and cannot make
/// us refetch the JWKS. The signature check later verifies `iss` for real.
pub(crate) fn precheck_issuer(token: &str, expected: &str) -> Result<(), KeycloakError> {
    bounded(token)?;
    compact(token)?;
    let raw: RawIssuer =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(malformed("payload"))?;
    match raw.iss {
        None => Err(KeycloakError::MissingClaim("iss".into())),
        Some(serde_json::Value::String(iss)) if iss == expected => Ok(()),
        Some(serde_json::Value::String(found)) => Err(KeycloakError::WrongIssuer {
            found,
            expected: expected.to_owned(),
        }),
        Some(_) => Err(KeycloakError::invalid_claim("iss", "not a string")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn refuses_none_and_hmac_before_any_key_lookup() {
        for alg in ["HS256", "HS384", "HS512"] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert!(
                matches!(parse(&t), Err(KeycloakError::AlgorithmNotAllowed(a)) if a == alg),
                "{alg}"
            );
        }
        // Not an algorithm jsonwebtoken verifies at all: the header does not parse.
        for alg in ["none", "None", "RSA-OAEP", ""] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert!(
                matches!(parse(&t), Err(KeycloakError::Malformed(_))),
                "{alg}"
            );
        }
        let no_alg = token(r#"{"kid":"k"}"#, "{}");
        assert!(matches!(parse(&no_alg), Err(KeycloakError::Malformed(_))));
    }

    #[test]
    fn accepts_asymmetric_algorithms() {
        for alg in [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
            let h = parse(&t).unwrap();
            assert_eq!(h.kid.as_deref(), Some("k"));
        }
    }

    #[test]
    fn malformed_strings_are_refused() {
        for t in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "!!.??.x",
            ".x.y",
            "eyJhbGciOiJSUzI1NiJ9.e30.",
        ] {
            assert!(
                matches!(parse(t), Err(KeycloakError::Malformed(_))),
                "{t:?}"
            );
        }
    }

    #[test]
    fn issuer_precheck() {
        let t = token(r#"{"alg":"RS256"}"#, r#"{"iss":"https://a"}"#);
        assert!(precheck_issuer(&t, "https://a").is_ok());
        assert!(matches!(
            precheck_issuer(&t, "https://b"),
            Err(KeycloakError::WrongIssuer { .. })
        ));
    }
}
