-- The append-only, hash-chained event log. One table for the whole city.
create table events (
    position        bigint      primary key,          -- global order, gap-free, assigned under the log lock
    stream_id       text        not null,
    category        text        not null,             -- stream_id up to the first '-'
    stream_version  bigint      not null,
    event_id        uuid        not null unique,      -- idempotent retries
    command_id      uuid,                             -- the command that produced it (idempotency)
    event_type      text        not null,
    schema_version  integer     not null,
    payload         jsonb       not null,
    metadata        jsonb       not null,
    recorded_at     timestamptz not null,             -- the store's clock, never the caller's
    prev_hash       text        not null,             -- hash of position - 1 (64 zeros for the first)
    hash            text        not null,             -- sha256(prev_hash, canonical content)
    constraint events_stream_version_unique unique (stream_id, stream_version),
    constraint events_position_positive check (position > 0),
    constraint events_version_positive check (stream_version > 0)
);

create index events_category_position on events (category, position);
create index events_command_id on events (command_id) where command_id is not null;

-- The application has no UPDATE or DELETE path; the database refuses them too.
create function events_reject_change() returns trigger language plpgsql as $$
begin
    raise exception 'xingcun: the event log is append-only (% refused)', tg_op
        using errcode = 'P0001';
end;
$$;

create trigger events_append_only
    before update or delete on events
    for each row execute function events_reject_change();

create trigger events_no_truncate
    before truncate on events
    for each statement execute function events_reject_change();
