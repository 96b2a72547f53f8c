DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN must_change_password;
