ALTER TABLE users DROP COLUMN imported_from;
