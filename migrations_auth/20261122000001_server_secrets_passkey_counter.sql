-- Secrets every instance shares, made once on first use (e.g. the key that derives decoy passkey
-- ids for unknown addresses, so passkey/login/begin reveals nothing about who has an account).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL CHECK (length(secret) >= 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The authenticator's signature counter, beside the credential JSON, so concurrent sign-ins can
-- only ever move it forward (UPDATE ... WHERE sign_count < new).
ALTER TABLE passkeys ADD COLUMN sign_count BIGINT NOT NULL DEFAULT 0;
UPDATE passkeys SET sign_count = COALESCE((passkey -> 'cred' ->> 'counter')::bigint, 0);
