DROP INDEX login_throttle_subject;
DROP INDEX login_throttle_locked;
ALTER TABLE login_throttle DROP COLUMN succeeded_at;
ALTER TABLE login_throttle DROP COLUMN address;
ALTER TABLE login_throttle DROP COLUMN subject;
ALTER TABLE login_throttle DROP COLUMN kind;
