//! Encryption at rest of what the database holds and is a secret (queued mails with their
//! one-time links, TOTP secrets): XChaCha20-Poly1305 with a random 192-bit nonce per message, under
//! a key derived from `APP_SECRET_KEY` with HKDF-SHA256. Every instance sharing a database
//! must share `APP_SECRET_KEY`; changing it makes queued mails unreadable (they are then
//! given up, not sent garbled).

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The format tag of a sealed value, so that a later scheme can be told apart.
const VERSION: &str = "v1:";
/// Bytes of an XChaCha20-Poly1305 nonce.
const NONCE_BYTES: usize = 24;

/// Seals and opens values under one key.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

/// A sealed value that is not ours: another key, another format, or tampered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed value cannot be opened (another APP_SECRET_KEY, or corrupted)")]
pub struct OpenError;

impl SecretBox {
    /// The box of `purpose` (e.g. `"outbox"`) under `secret` (`APP_SECRET_KEY`).
    pub fn new(secret: &SecretString, purpose: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"flowrex"), secret.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit (255 × 32): this cannot fail.
        let _ = hkdf.expand(purpose.as_bytes(), &mut key);
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// `plaintext`, sealed: `v1:` and the nonce and ciphertext in hex.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs over 256 GiB.
        let ciphertext = self.cipher.encrypt(&nonce, plaintext).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        format!("{VERSION}{}", hex::encode(sealed))
    }

    /// The plaintext of a value [`Self::seal`] made with the same key.
    ///
    /// # Errors
    /// [`OpenError`] for anything else.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(|hex| hex::decode(hex).ok())
            .filter(|bytes| bytes.len() > NONCE_BYTES)
            .ok_or(OpenError)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| OpenError)?;
        self.cipher
            .decrypt(&XNonce::from(nonce), ciphertext)
            .map_err(|_| OpenError)
    }
}

/// TOTP secrets at rest, for the domain.
impl flowrex_domain::ports::Sealer for SecretBox {
    fn seal(&self, plaintext: &[u8]) -> flowrex_domain::SealedSecret {
        flowrex_domain::SealedSecret::new(SecretBox::seal(self, plaintext))
    }

    fn open(
        &self,
        sealed: &flowrex_domain::SealedSecret,
    ) -> Result<Vec<u8>, flowrex_domain::ports::UnsealError> {
        SecretBox::open(self, sealed.as_str()).map_err(|_| flowrex_domain::ports::UnsealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sealed_opens_only_with_the_same_key_and_never_shows_the_plaintext() {
        let key = SecretString::from("app-secret");
        let sealed_box = SecretBox::new(&key, "outbox");
        let sealed = sealed_box.seal(b"https://x.test/reset?token=abc");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("token"));
        assert_ne!(
            sealed,
            sealed_box.seal(b"https://x.test/reset?token=abc"),
            "a fresh nonce"
        );
        assert_eq!(
            sealed_box.open(&sealed).as_deref(),
            Ok(&b"https://x.test/reset?token=abc"[..])
        );
        let other = SecretBox::new(&SecretString::from("other"), "outbox");
        assert_eq!(other.open(&sealed), Err(OpenError));
        assert_eq!(
            SecretBox::new(&key, "sessions").open(&sealed),
            Err(OpenError)
        );
        let mut tampered = sealed.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('0') { '1' } else { '0' });
        assert_eq!(sealed_box.open(&tampered), Err(OpenError));
        assert_eq!(sealed_box.open("plain text"), Err(OpenError));
    }
}
