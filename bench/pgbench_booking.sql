-- One booking, as Boxoffice's SQL does it: POST /holds then POST /bookings for one seat,
-- statement for statement (one read of the event, its seats and the clock, then one
-- transaction with the user row lock + database clock, the compare-and-set UPDATE, the
-- per-user count and, for the booking, the INSERT under the unique active_seat index).
-- Every script run takes the next seat of the pgbench event (a sequence), so it measures
-- the database doing uncontended bookings: the ceiling. See bench/pgbench_setup.sql.
-- A template: bench/pgbench.py writes the script pgbench runs with each $${NAME} replaced by
-- the app's own definitions (backend/seats.py statuses, the storage's clock
-- expression), so the ceiling cannot drift from what the app means by them.
-- pgbench -M prepared -n -f <rendered script> -D event=<uuid> ...
SELECT nextval('bench_pg_seq') AS n \gset
-- POST /events/{id}/holds
SELECT e.*, s.id AS s_id, s.label, s.section, s.row, s.number, s.category, s.accessible, s.x, s.y, s.status, s.holder, s.held_until_ms, s.version, ${NOW_MS} AS now_ms FROM bo_event e LEFT JOIN bo_seat s ON s.event = e.id AND s.id IN (md5('seat' || :n::text)::uuid) WHERE e.id = :event::uuid;
BEGIN;
WITH u AS (SELECT id FROM bo_user WHERE id = md5('user' || :n::text)::uuid FOR UPDATE) SELECT ${NOW_MS} AS now FROM u \gset
SELECT id FROM bo_seat WHERE event = :event::uuid AND id = ANY(ARRAY[md5('seat' || :n::text)::uuid]) AND status = ${HELD} AND holder = md5('user' || :n::text)::uuid AND held_until_ms > :now::bigint;
UPDATE bo_seat SET status = ${HELD}, holder = md5('user' || :n::text)::uuid, held_since_ms = :now::bigint, held_until_ms = :now::bigint + 600000, version = version + 1 WHERE event = :event::uuid AND id = ANY(ARRAY[md5('seat' || :n::text)::uuid]) AND (status = ${AVAILABLE} OR (status = ${HELD} AND held_until_ms <= :now::bigint)) RETURNING id, status, holder, held_until_ms, version;
SELECT count(*) FROM bo_seat WHERE event = :event::uuid AND holder = md5('user' || :n::text)::uuid AND (status = ${BOOKED} OR (status = ${HELD} AND held_until_ms > :now::bigint));
COMMIT;
-- POST /events/{id}/bookings
SELECT e.*, s.id AS s_id, s.label, s.section, s.row, s.number, s.category, s.accessible, s.x, s.y, s.status, s.holder, s.held_until_ms, s.version, ${NOW_MS} AS now_ms FROM bo_event e LEFT JOIN bo_seat s ON s.event = e.id AND s.id IN (md5('seat' || :n::text)::uuid) WHERE e.id = :event::uuid;
BEGIN;
WITH u AS (SELECT id FROM bo_user WHERE id = md5('user' || :n::text)::uuid FOR UPDATE) SELECT ${NOW_MS} AS now FROM u \gset
UPDATE bo_seat SET status = ${BOOKED}, holder = md5('user' || :n::text)::uuid, held_since_ms = NULL, held_until_ms = NULL, version = version + 1 WHERE event = :event::uuid AND id = ANY(ARRAY[md5('seat' || :n::text)::uuid]) AND ((status = ${HELD} AND holder = md5('user' || :n::text)::uuid) OR status = ${AVAILABLE} OR (status = ${HELD} AND held_until_ms <= :now::bigint)) RETURNING id, status, holder, held_until_ms, version;
SELECT count(*) FROM bo_seat WHERE event = :event::uuid AND holder = md5('user' || :n::text)::uuid AND (status = ${BOOKED} OR (status = ${HELD} AND held_until_ms > :now::bigint));
INSERT INTO bo_booking (id, seat, event, "user", status, active_seat, created_at) VALUES (gen_random_uuid(), md5('seat' || :n::text)::uuid, :event::uuid, md5('user' || :n::text)::uuid, ${ACTIVE}, md5('seat' || :n::text)::uuid, now()) RETURNING id, seat, status, created_at;
COMMIT;
