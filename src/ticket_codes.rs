//! Signed ticket codes: what a ticket's QR code holds, and what the door checks.
//!
//! A code is `base64url(payload ‖ Ed25519 signature)`; the payload is a version byte, the signing
//! key's id (4 bytes), the ticket id, the event id, a tag of the ticket's owner (the first 8 bytes
//! of SHA-256 of the owner's id) and the seat label. Anyone with the public key (the door page,
//! offline) can tell a real code from a forged one and which event and seat it is for; the owner
//! tag makes a code stop working once its ticket changes hands, since the new owner is shown a
//! new code. Whether a ticket was refunded or already let in, only the server knows.
//!
//! The signing key is `TICKET_SIGNING_KEY` (32 bytes, base64url) or, when unset, one made once
//! and kept in the auth database so every instance signs alike (development and small setups).
//! Keys listed in `TICKET_PREVIOUS_KEYS` still verify, so rotating the key does not void codes
//! already printed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VERSION: u8 = 1;
const SIGNATURE_LEN: usize = 64;
/// version + key id + ticket + event + owner tag + seat length.
const FIXED_LEN: usize = 1 + 4 + 16 + 16 + 8 + 1;
const MAX_SEAT_LEN: usize = 16;

/// Why a code is not a ticket we issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("not a ticket code")]
    Malformed,
    #[error("signed by a key we do not know")]
    UnknownKey,
    #[error("the signature does not match")]
    BadSignature,
}

/// What a valid code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub ticket_id: Uuid,
    pub event_id: Uuid,
    pub owner_tag: [u8; 8],
    pub seat: Option<String>,
}

/// The tag of an owner as codes carry it.
pub fn owner_tag(owner: Uuid) -> [u8; 8] {
    let digest = Sha256::digest(owner.as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&digest[..8]);
    tag
}

fn key_id(key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::digest(key.as_bytes());
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A public key the door can verify codes with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    /// base64url of the key's 4-byte id, as codes carry it.
    pub key_id: String,
    /// base64url of the 32-byte Ed25519 public key.
    pub public_key: String,
}

/// Signs codes with the current key; verifies with it and any previous ones.
#[derive(Clone)]
pub struct TicketSigner {
    signing: SigningKey,
    verifying: Vec<VerifyingKey>,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("TicketSigner").field("keys", &self.verifying.len()).finish_non_exhaustive()
    }
}

/// Decodes a base64url (or standard base64) 32-byte value.
///
/// # Errors
/// Not base64 of 32 bytes.
pub fn key_bytes(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|e| format!("not base64: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| format!("{} bytes, not 32", bytes.len()))
}

impl TicketSigner {
    /// A signer with the 32-byte `secret`, also accepting codes of the `previous` public keys.
    ///
    /// # Errors
    /// A previous key that is not an Ed25519 public key.
    pub fn new(secret: &[u8; 32], previous: &[[u8; 32]]) -> Result<Self, String> {
        let signing = SigningKey::from_bytes(secret);
        let mut verifying = vec![signing.verifying_key()];
        for key in previous {
            verifying.push(VerifyingKey::from_bytes(key).map_err(|e| format!("TICKET_PREVIOUS_KEYS: {e}"))?);
        }
        Ok(Self { signing, verifying })
    }

    /// The keys the door page should trust, the current one first.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.verifying
            .iter()
            .map(|key| PublicKey {
                key_id: URL_SAFE_NO_PAD.encode(key_id(key)),
                public_key: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            })
            .collect()
    }

    /// The code of a ticket for its current owner.
    pub fn sign(&self, ticket_id: Uuid, event_id: Uuid, owner: Uuid, seat: Option<&str>) -> String {
        let seat = seat.unwrap_or_default().as_bytes();
        let seat = &seat[..seat.len().min(MAX_SEAT_LEN)];
        let mut payload = Vec::with_capacity(FIXED_LEN + seat.len() + SIGNATURE_LEN);
        payload.push(VERSION);
        payload.extend_from_slice(&key_id(&self.signing.verifying_key()));
        payload.extend_from_slice(ticket_id.as_bytes());
        payload.extend_from_slice(event_id.as_bytes());
        payload.extend_from_slice(&owner_tag(owner));
        payload.push(u8::try_from(seat.len()).unwrap_or(0));
        payload.extend_from_slice(seat);
        let signature = self.signing.sign(&payload);
        payload.extend_from_slice(&signature.to_bytes());
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// What a code says, if we signed it.
    ///
    /// # Errors
    /// Malformed, signed by an unknown key, or a bad signature.
    pub fn verify(&self, code: &str) -> Result<Claims, CodeError> {
        if code.len() > 256 {
            return Err(CodeError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(code.trim()).map_err(|_| CodeError::Malformed)?;
        if bytes.len() < FIXED_LEN + SIGNATURE_LEN || bytes[0] != VERSION {
            return Err(CodeError::Malformed);
        }
        let (payload, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let seat_len = usize::from(payload[FIXED_LEN - 1]);
        if payload.len() != FIXED_LEN + seat_len || seat_len > MAX_SEAT_LEN {
            return Err(CodeError::Malformed);
        }
        let kid = &payload[1..5];
        let key = self.verifying.iter().find(|k| key_id(k) == kid).ok_or(CodeError::UnknownKey)?;
        let signature = Signature::from_slice(signature).map_err(|_| CodeError::Malformed)?;
        key.verify(payload, &signature).map_err(|_| CodeError::BadSignature)?;
        let uuid = |range: std::ops::Range<usize>| Uuid::from_slice(&payload[range]).map_err(|_| CodeError::Malformed);
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&payload[37..45]);
        let seat = std::str::from_utf8(&payload[FIXED_LEN..]).map_err(|_| CodeError::Malformed)?;
        Ok(Claims {
            ticket_id: uuid(5..21)?,
            event_id: uuid(21..37)?,
            owner_tag: tag,
            seat: (!seat.is_empty()).then(|| seat.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(seed: u8) -> TicketSigner {
        TicketSigner::new(&[seed; 32], &[]).unwrap()
    }

    #[test]
    fn a_code_says_what_was_signed_and_is_short_enough_for_a_qr_code() {
        let (ticket, event, owner) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let code = signer(1).sign(ticket, event, owner, Some("AB-123"));
        assert!(code.len() <= 160, "{} characters", code.len());
        let claims = signer(1).verify(&code).unwrap();
        assert_eq!(
            claims,
            Claims { ticket_id: ticket, event_id: event, owner_tag: owner_tag(owner), seat: Some("AB-123".into()) }
        );
        let general = signer(1).sign(ticket, event, owner, None);
        assert_eq!(signer(1).verify(&general).unwrap().seat, None);
    }

    #[test]
    fn forged_altered_and_foreign_codes_are_refused() {
        let code = signer(1).sign(Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Some("A-1"));
        assert_eq!(signer(2).verify(&code), Err(CodeError::UnknownKey));
        let mut bytes = URL_SAFE_NO_PAD.decode(&code).unwrap();
        bytes[10] ^= 1; // another ticket id
        assert_eq!(signer(1).verify(&URL_SAFE_NO_PAD.encode(&bytes)), Err(CodeError::BadSignature));
        for garbage in ["", "not a code", "AAAA", &"A".repeat(300)] {
            assert_eq!(signer(1).verify(garbage), Err(CodeError::Malformed), "{garbage}");
        }
    }

    #[test]
    fn codes_of_a_previous_key_still_verify_after_a_rotation() {
        let old = signer(1);
        let code = old.sign(Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), None);
        let previous = *old.verifying[0].as_bytes();
        let rotated = TicketSigner::new(&[9; 32], &[previous]).unwrap();
        assert!(rotated.verify(&code).is_ok());
        assert_eq!(rotated.public_keys().len(), 2);
        assert!(rotated.verify(&rotated.sign(Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), None)).is_ok());
    }

    #[test]
    fn keys_are_read_as_base64() {
        let key = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(key_bytes(&key).unwrap(), [7u8; 32]);
        assert!(key_bytes("short").is_err());
    }
}
