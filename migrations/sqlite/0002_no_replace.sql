-- `INSERT OR REPLACE` (and `REPLACE`) would delete the row it collides with without firing
-- the delete trigger (SQLite fires it only with recursive_triggers on), rewriting history
-- with the append-only triggers in place. A BEFORE INSERT trigger runs before the conflict
-- is resolved, so it refuses any insert that would collide, whatever its conflict clause.
create trigger events_no_replace before insert on events
when exists (select 1 from events where position = new.position)
  or exists (select 1 from events where event_id = new.event_id)
  or exists (select 1 from events where stream_id = new.stream_id and stream_version = new.stream_version)
begin
    select raise(abort, 'xingcun: the event log is append-only (an insert may not replace an event)');
end;
