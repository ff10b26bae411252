//! Public keys a token may be verified with, and which algorithm each one
//! may verify: the key's type must match the header's `alg`.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::KeycloakError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// A signature-verification key, with the constraints its JWK states.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    key_type: KeyType,
    /// The JWK's own `alg`, when it names one.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("key_type", &self.key_type)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// A usable signing key from a JWK, or `None` for keys we never verify
    /// with: symmetric keys, encryption keys, unsupported curves.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            return None;
        }
        let key_type = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyType::Rsa,
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => KeyType::P256,
                EllipticCurve::P384 => KeyType::P384,
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                KeyType::Ed25519
            }
            _ => return None,
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(a) => Some(Algorithm::try_from(a).ok()?),
        };
        let key = DecodingKey::from_jwk(jwk).ok()?;
        Some(Self {
            kid: jwk.common.key_id.clone(),
            key_type,
            alg,
            key,
        })
    }

    /// The dev issuer's own Ed25519 key (raw 32-byte public key).
    pub fn ed25519(kid: String, public_key: &[u8]) -> Self {
        Self {
            kid: Some(kid),
            key_type: KeyType::Ed25519,
            alg: Some(Algorithm::EdDSA),
            key: DecodingKey::from_ed_der(public_key),
        }
    }

    pub fn can_verify(&self, alg: Algorithm) -> bool {
        let type_fits = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => self.key_type == KeyType::Rsa,
            Algorithm::ES256 => self.key_type == KeyType::P256,
            Algorithm::ES384 => self.key_type == KeyType::P384,
            Algorithm::EdDSA => self.key_type == KeyType::Ed25519,
            _ => false,
        };
        type_fits && self.alg.is_none_or(|own| own == alg)
    }

    /// The key for `alg`, or why it cannot be used.
    pub fn for_alg(&self, alg: Algorithm) -> Result<&DecodingKey, KeycloakError> {
        if self.can_verify(alg) {
            Ok(&self.key)
        } else {
            Err(KeycloakError::KeyMismatch {
                kid: self.kid.clone().unwrap_or_default(),
                alg: format!("{alg:?}"),
            })
        }
    }
}

/// Parses a JWKS document leniently: keys we cannot use are skipped rather
/// than failing the whole set (Keycloak publishes encryption keys too).
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    Ok(raw
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter_map(|jwk| VerifyingKey::from_jwk(&jwk))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RSA: &str = r#"{"kty":"RSA","kid":"r","use":"sig","alg":"RS256","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}"#;
    const EC: &str = r#"{"kty":"EC","kid":"e","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn key_type_must_match_the_algorithm() {
        let keys = parse_jwks(format!(r#"{{"keys":[{RSA},{EC}]}}"#).as_bytes()).unwrap();
        let rsa = keys.iter().find(|k| k.kid.as_deref() == Some("r")).unwrap();
        let ec = keys.iter().find(|k| k.kid.as_deref() == Some("e")).unwrap();
        assert!(rsa.can_verify(Algorithm::RS256));
        // the JWK pins RS256, so PS256 with the same RSA key is refused
        assert!(!rsa.can_verify(Algorithm::PS256));
        assert!(!rsa.can_verify(Algorithm::ES256));
        assert!(!rsa.can_verify(Algorithm::HS256));
        assert!(ec.can_verify(Algorithm::ES256));
        assert!(!ec.can_verify(Algorithm::ES384));
        assert!(!ec.can_verify(Algorithm::RS256));
    }

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        let body = r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","kid":"enc","use":"enc","alg":"RSA-OAEP","e":"AQAB","n":"sXch"},
            {"kty":"weird"}]}"#;
        assert!(parse_jwks(body.as_bytes()).unwrap().is_empty());
    }
}
