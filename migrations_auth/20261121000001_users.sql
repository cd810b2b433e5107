-- Who can sign in, and as what.
CREATE TABLE users (
    user_id    UUID PRIMARY KEY,
    -- stored lower-cased: one account per address whatever its spelling
    email      TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    role       TEXT NOT NULL CHECK (role IN ('admin', 'customer')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
