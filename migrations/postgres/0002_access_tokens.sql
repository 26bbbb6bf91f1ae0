-- API bearer tokens. Only a token's SHA-256 is kept; the token itself is shown once when it
-- is created. Not part of the event log: never hashed into the chain, never exported.
create table access_tokens (
    token_id    uuid primary key,
    token_hash  text not null unique,
    person_id   text not null,
    label       text not null default '',
    created_at  timestamptz not null,
    expires_at  timestamptz not null,
    revoked_at  timestamptz
);
create index access_tokens_person on access_tokens (person_id);
