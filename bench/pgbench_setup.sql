-- Setup for bench/pgbench_booking.sql: one event with :seats seats and :seats users, all
-- with ids derived from a number (md5('seat' || n)::uuid, md5('user' || n)::uuid), so the
-- pgbench script can name them without a lookup. Run with
--   psql -v seats=100000 -f bench/pgbench_setup.sql <database>
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO bo_user (id, email, password_hash, created_at)
SELECT md5('user' || n)::uuid, 'pgbench-' || n || '@bench.example', 'x', now()
FROM generate_series(0, :seats) AS n
ON CONFLICT DO NOTHING;
INSERT INTO bo_event (id, name, venue, starts_at, organiser, hold_seconds, max_seats_per_user,
                      currency, categories, width, height, is_demo, created_at)
VALUES (md5('pgbench-event')::uuid, 'pgbench', NULL, NULL, md5('user0')::uuid, 600, 10,
        'GBP', '[]', 0, 0, false, now())
ON CONFLICT DO NOTHING;
INSERT INTO bo_seat (id, event, label, section, row, number, category, accessible, x, y,
                     status, holder, held_since_ms, held_until_ms, version)
SELECT md5('seat' || n)::uuid, md5('pgbench-event')::uuid, 'P' || n, 'P', '', n, '', false,
       n % 100, n / 100, 'available', NULL, NULL, NULL, 1
FROM generate_series(1, :seats) AS n
ON CONFLICT DO NOTHING;
-- A second run starts from free seats again.
DELETE FROM bo_booking WHERE event = md5('pgbench-event')::uuid;
UPDATE bo_seat SET status = 'available', holder = NULL, held_since_ms = NULL,
       held_until_ms = NULL, version = 1
WHERE event = md5('pgbench-event')::uuid AND status <> 'available';
DROP SEQUENCE IF EXISTS bench_pg_seq;
CREATE SEQUENCE bench_pg_seq;
COMMIT;
VACUUM ANALYZE bo_seat;
VACUUM ANALYZE bo_user;
