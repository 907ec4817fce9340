//! Access tokens: HS256 JWTs with `sub`, `jti`, `iat`, `exp`. The algorithm is pinned, so a
//! token whose header names any other (`none`, `HS512`, `RS256`, …) is refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{config::JwtSettings, domain::ids::UserId, error::AuthFailure};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string (RFC 7519 says `sub` is a string).
    pub sub: String,
    pub jti: String,
    /// Tokens the original backend issued may lack it; `exp` is what counts.
    #[serde(default)]
    pub iat: i64,
    pub exp: i64,
}

/// A freshly issued token and what the session row needs to know about it.
pub struct Issued {
    pub token: String,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

/// A token whose signature and expiry check out (its session is checked separately).
#[derive(Debug, Clone)]
pub struct Verified {
    pub user_id: UserId,
    pub jti: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(settings: &JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // `iat` is not required: tokens the original backend issued (same secret, `sub`,
        // `jti`, `exp`) stay valid until they expire.
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        // Expiry is exact: the session row expires at the same instant.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(settings.secret.expose()),
            decoding: DecodingKey::from_secret(settings.secret.expose()),
            validation,
            ttl: settings.ttl,
        }
    }

    pub fn issue(&self, user_id: UserId) -> Result<Issued, jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let expires_at = now + self.ttl;
        let jti = uuid::Uuid::new_v4().to_string();
        let claims = Claims {
            sub: user_id.to_string(),
            jti: jti.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at);
        Ok(Issued {
            token,
            jti,
            expires_at,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Verified, AuthFailure> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthFailure::Expired,
                _ => AuthFailure::Invalid,
            })?;
        let user_id = data
            .claims
            .sub
            .parse::<i32>()
            .map(UserId)
            .map_err(|_| AuthFailure::Invalid)?;
        if data.claims.jti.is_empty() || data.claims.jti.len() > 255 {
            return Err(AuthFailure::Invalid);
        }
        Ok(Verified {
            user_id,
            jti: data.claims.jti,
        })
    }
}

/// What the session row stores instead of the token: its SHA-256, hex-encoded.
pub fn fingerprint(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::Secret;

    fn keys(ttl: Duration) -> JwtKeys {
        JwtKeys::new(&JwtSettings {
            secret: Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()),
            ttl,
        })
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = keys(Duration::from_secs(60));
        let issued = keys.issue(UserId(42)).unwrap();
        let verified = keys.verify(&issued.token).unwrap();
        assert_eq!(verified.user_id, UserId(42));
        assert_eq!(verified.jti, issued.jti);
        assert_eq!(fingerprint(&issued.token).len(), 64);
    }

    #[test]
    fn other_algorithms_and_tampering_are_refused() {
        let keys = keys(Duration::from_secs(60));
        let claims = Claims {
            sub: "1".into(),
            jti: "j".into(),
            iat: Utc::now().timestamp(),
            exp: Utc::now().timestamp() + 60,
        };
        let secret = b"0123456789abcdef0123456789abcdef";
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(keys.verify(&hs512).unwrap_err(), AuthFailure::Invalid);
        let other_key = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"another-secret-another-secret-00"),
        )
        .unwrap();
        assert_eq!(keys.verify(&other_key).unwrap_err(), AuthFailure::Invalid);
        assert_eq!(keys.verify("garbage").unwrap_err(), AuthFailure::Invalid);
    }

    #[test]
    fn expired_tokens_say_so() {
        let keys = keys(Duration::from_secs(60));
        let claims = Claims {
            sub: "1".into(),
            jti: "j".into(),
            iat: Utc::now().timestamp() - 120,
            exp: Utc::now().timestamp() - 60,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(keys.verify(&token).unwrap_err(), AuthFailure::Expired);
    }
}
