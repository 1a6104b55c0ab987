//! Key material: the signing key pair and retired public keys read from PEM, each public
//! key published with an RFC 7638 thumbprint as its `kid`; and the verifiers of a JWK set
//! read back from JSON.

use std::str::FromStr;

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use super::{JwtClaimsPolicy, JwtConfigError, Verifier, validation};

pub(super) type KeyMaterial = (Header, EncodingKey, Vec<Verifier>, JwkSet);

/// The signing key, its public JWK, and the verify-only keys of retired ones.
pub(super) fn key_pair(
    algorithm: Algorithm,
    private_pem: &[u8],
    retired_public_pems: &[Vec<u8>],
    policy: &JwtClaimsPolicy,
) -> Result<KeyMaterial, JwtConfigError> {
    let bad = |what: &str, error: jsonwebtoken::errors::Error| {
        JwtConfigError::BadKey(format!("{what} is not a {algorithm:?} key: {error}"))
    };
    let encoding = match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(private_pem),
        _ => EncodingKey::from_rsa_pem(private_pem),
    }
    .map_err(|e| bad("JWT_PRIVATE_KEY_FILE", e))?;
    let current =
        Jwk::from_encoding_key(&encoding, algorithm).map_err(|e| bad("JWT_PRIVATE_KEY_FILE", e))?;
    let mut jwks = vec![published(current, algorithm)?];
    for pem in retired_public_pems {
        let (key, retired_algorithm) = DecodingKey::from_ed_pem(pem)
            .map(|key| (key, Algorithm::EdDSA))
            .or_else(|_| DecodingKey::from_rsa_pem(pem).map(|key| (key, Algorithm::RS256)))
            .map_err(|e| bad("a JWT_RETIRED_PUBLIC_KEY_FILES entry", e))?;
        let jwk = Jwk::from_decoding_key(&key, Some(retired_algorithm))
            .map_err(|e| bad("a JWT_RETIRED_PUBLIC_KEY_FILES entry", e))?;
        jwks.push(published(jwk, retired_algorithm)?);
    }
    let set = JwkSet {
        keys: jwks.into_iter().map(|(jwk, _)| jwk).collect(),
    };
    let verifiers = published_verifiers(&set, policy)?;
    let mut header = Header::new(algorithm);
    header.kid = set.keys.first().and_then(|jwk| jwk.common.key_id.clone());
    Ok((header, encoding, verifiers, set))
}

/// A public JWK as published: `kid` (its SHA-256 thumbprint), `use: sig`, `alg`.
fn published(mut jwk: Jwk, algorithm: Algorithm) -> Result<(Jwk, Algorithm), JwtConfigError> {
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| JwtConfigError::BadKey(format!("cannot fingerprint a key: {e}")))?;
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = KeyAlgorithm::from_str(&format!("{algorithm:?}")).ok();
    Ok((jwk, algorithm))
}

/// A verifier for each key of a published set, pinned to the algorithm its `alg` names.
pub(super) fn published_verifiers(
    set: &JwkSet,
    policy: &JwtClaimsPolicy,
) -> Result<Vec<Verifier>, JwtConfigError> {
    set.keys
        .iter()
        .map(|jwk| {
            let kid =
                jwk.common.key_id.clone().ok_or_else(|| {
                    JwtConfigError::BadKey("a published key has no kid".to_owned())
                })?;
            let algorithm = match jwk.common.key_algorithm {
                Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
                Some(KeyAlgorithm::RS256) => Algorithm::RS256,
                other => {
                    return Err(JwtConfigError::BadKey(format!(
                        "key {kid}: alg {other:?} is not EdDSA or RS256"
                    )));
                }
            };
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| JwtConfigError::BadKey(format!("key {kid}: {e}")))?;
            Ok(Verifier {
                kid: Some(kid),
                key,
                validation: validation(algorithm, policy),
            })
        })
        .collect()
}
