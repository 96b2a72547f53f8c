-- How many reset emails were asked for per address and per account in the current hour
-- (see src/reset_mail.rs): a fixed window per bucket, shared by every instance.
CREATE TABLE reset_mail_throttle (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    requests BIGINT NOT NULL
);
CREATE INDEX reset_mail_throttle_window ON reset_mail_throttle(window_start);
