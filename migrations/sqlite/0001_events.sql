-- The append-only, hash-chained event log (SQLite, WAL mode).
create table events (
    position        integer not null primary key,     -- global order, gap-free (single writer)
    stream_id       text    not null,
    category        text    not null,
    stream_version  integer not null check (stream_version > 0),
    event_id        text    not null unique,
    command_id      text,
    event_type      text    not null,
    schema_version  integer not null,
    payload         text    not null,                 -- JSON
    metadata        text    not null,                 -- JSON
    recorded_at     text    not null,                 -- RFC 3339, UTC, microseconds
    prev_hash       text    not null,
    hash            text    not null,
    unique (stream_id, stream_version)
);

create index events_category_position on events (category, position);
create index events_command_id on events (command_id) where command_id is not null;

create trigger events_no_update before update on events
begin
    select raise(abort, 'xingcun: the event log is append-only (UPDATE refused)');
end;

create trigger events_no_delete before delete on events
begin
    select raise(abort, 'xingcun: the event log is append-only (DELETE refused)');
end;
