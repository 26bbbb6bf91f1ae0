-- A group of appends in one round trip (its commit included). The writer plans a group on
-- the head it committed last and on the versions its requests expect; this function takes
-- the log lock, confirms that the head is still that one, that no event carries one of the
-- group's command ids and that each stream stands at the version planned on, and only then
-- inserts the planned rows and notifies the listeners. When any of that does not hold it
-- writes nothing and says which (another process appended, a command is re-sent, a stream
-- moved): the writer then plans the group again the long way, reading under the lock.
-- The rows come first, in the column order of the insert of `LogBackend::insert`.
create function xingcun_append(
    p_position bigint[], p_stream_id text[], p_category text[], p_stream_version bigint[],
    p_event_id uuid[], p_command_id uuid[], p_event_type text[], p_schema_version integer[],
    p_payload jsonb[], p_metadata jsonb[], p_recorded_at timestamptz[], p_prev_hash text[],
    p_hash text[],
    p_channel text,
    p_head bigint, p_head_hash text, p_command_ids uuid[], p_streams text[], p_versions bigint[]
) returns text language plpgsql as $$
declare
    head_position bigint;
    head_hash text;
    command uuid;
begin
    -- The log lock (0x78696e6763756e, "xingcun"), as every append takes it.
    perform pg_advisory_xact_lock(33940422599251566);
    select e.position, e.hash into head_position, head_hash
        from events e order by e.position desc limit 1;
    if coalesce(head_position, 0) <> p_head
        or coalesce(head_hash, repeat('0', 64)) <> p_head_hash then
        return 'head moved';
    end if;
    -- One probe per command id: a function's plans are generic, and the generic plan of
    -- `command_id = any($1)` under `exists` is a scan of the whole log.
    foreach command in array p_command_ids loop
        if exists (select 1 from events e where e.command_id = command) then
            return 'command seen';
        end if;
    end loop;
    if exists (select 1 from unnest(p_streams, p_versions) as s(stream_id, version)
               where coalesce((select max(e.stream_version) from events e
                               where e.stream_id = s.stream_id), 0) <> s.version) then
        return 'version moved';
    end if;
    insert into events (position, stream_id, category, stream_version, event_id, command_id,
                        event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash)
        select * from unnest(p_position, p_stream_id, p_category, p_stream_version, p_event_id,
                             p_command_id, p_event_type, p_schema_version, p_payload, p_metadata,
                             p_recorded_at, p_prev_hash, p_hash);
    perform pg_notify(p_channel, p_position[array_upper(p_position, 1)]::text);
    return 'written';
end;
$$;
