-- Passkeys (WebAuthn credentials). A user may have several; a credential belongs to one user.
CREATE TABLE passkeys (
    passkey_id    UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    -- webauthn-rs's Passkey (public key, counter, flags) as JSON; rewritten when the counter moves.
    passkey       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);
