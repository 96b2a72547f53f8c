-- Where a user came from when it was imported (`django` for `tessera user import-django`);
-- NULL for users created in Tessera. A re-run of the import updates only rows it created.
ALTER TABLE users ADD COLUMN imported_from TEXT;
