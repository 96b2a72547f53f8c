ALTER TABLE grants DROP COLUMN resources;
ALTER TABLE clients DROP COLUMN allowed_resources;
DROP TABLE resources;
