//! What can be read from a token before its signature is checked: only used
//! to pick a key and to refuse early, never to accept anything.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
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
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
}

#[derive(Deserialize)]
struct RawIssuer {
    iss: Option<serde_json::Value>,
}

/// Asymmetric algorithms only: `none` and every HMAC algorithm are refused
/// here, before any key is looked at, so an attacker cannot make us verify
/// an HMAC keyed with a public key (algorithm confusion).
fn allowed(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

fn parts(token: &str) -> Result<[&str; 3], KeycloakError> {
    if token.is_empty() {
        return Err(KeycloakError::Malformed("empty token".into()));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(KeycloakError::Malformed("token too long".into()));
    }
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() => Ok([h, p, s]),
        _ => Err(KeycloakError::Malformed(
            "not a compact JWS (three dot-separated parts)".into(),
        )),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, KeycloakError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| KeycloakError::Malformed(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| KeycloakError::Malformed(format!("{what} is not a JSON object")))
}

/// Parses the header and refuses any algorithm outside the allowlist.
pub(crate) fn parse(token: &str) -> Result<TokenHeader, KeycloakError> {
    let [header, _, signature] = parts(token)?;
    let raw: RawHeader = decode_json(header, "header")?;
    let alg = raw
        .alg
        .ok_or_else(|| KeycloakError::Malformed("header has no `alg`".into()))?;
    let alg = allowed(&alg).ok_or(KeycloakError::AlgorithmNotAllowed(alg))?;
    if signature.is_empty() {
        return Err(KeycloakError::Malformed("no signature".into()));
    }
    Ok(TokenHeader {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

/// Refuses a token whose (unverified) `iss` is not `expected` before any key
/// lookup, so a foreign issuer's tokens get a clear reason and cannot make
/// us refetch the JWKS. The signature check later verifies `iss` for real.
pub(crate) fn precheck_issuer(token: &str, expected: &str) -> Result<(), KeycloakError> {
    let [_, payload, _] = parts(token)?;
    let raw: RawIssuer = decode_json(payload, "payload")?;
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
        for alg in ["none", "HS256", "HS384", "HS512", "RSA-OAEP", ""] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert!(
                matches!(parse(&t), Err(KeycloakError::AlgorithmNotAllowed(a)) if a == alg),
                "{alg}"
            );
        }
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
