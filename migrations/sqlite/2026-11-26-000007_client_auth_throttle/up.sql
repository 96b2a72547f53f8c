-- Failed client authentications share the sign-in throttle's table. The console lists what
-- is locked and unlocks an account or client across every address, so a bucket now names
-- what it counts: its kind (`account` or `client`), the username or client_id, and the
-- address for the narrow and per-address buckets. Rows are forgotten a day after their
-- last use. `succeeded_at` marks an account + address (or client + address) pair that
-- authenticated recently: a known device, which the wider buckets' locks do not stop.
ALTER TABLE login_throttle ADD COLUMN kind TEXT NOT NULL DEFAULT 'account';
ALTER TABLE login_throttle ADD COLUMN subject TEXT;
ALTER TABLE login_throttle ADD COLUMN address TEXT;
ALTER TABLE login_throttle ADD COLUMN succeeded_at BIGINT;
CREATE INDEX login_throttle_locked ON login_throttle(locked_until);
CREATE INDEX login_throttle_subject ON login_throttle(kind, subject);
