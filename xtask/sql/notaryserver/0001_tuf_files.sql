-- trust-sandbox schema for notary-server 0.7.0 (database notaryserver).
-- notary-server never creates its own tables, so this file is the only place
-- `tuf_files` comes from. Column names and types follow the server's gorm model
-- (server/storage/sql_models.go): the binary reads and writes these names.
--
-- Why the table options:
-- * utf8mb4_bin: GUNs and role names are compared byte-for-byte by notary, and
--   the two engines we support default to different (case- and, on MySQL 8.4,
--   accent-insensitive) collations; a binary collation makes the unique key
--   below mean the same thing on MariaDB 10.11 and MySQL 8.4.
-- * ROW_FORMAT=DYNAMIC: the utf8mb4 VARCHAR(255) pairs in the keys need up to
--   3072-byte index prefixes, which COMPACT/REDUNDANT row formats refuse.
-- * IF NOT EXISTS: MySQL-family DDL commits implicitly, so a run that dies
--   half-way leaves no tracking row; re-running the file must then converge.

CREATE TABLE IF NOT EXISTS `tuf_files` (
  `id` INT NOT NULL AUTO_INCREMENT,
  -- gorm.Model bookkeeping; gorm fills them itself and filters on
  -- `deleted_at IS NULL`, so they must exist and be nullable.
  `created_at` TIMESTAMP NULL DEFAULT NULL,
  `updated_at` TIMESTAMP NULL DEFAULT NULL,
  `deleted_at` TIMESTAMP NULL DEFAULT NULL,
  `gun` VARCHAR(255) NOT NULL,
  `role` VARCHAR(255) NOT NULL,
  `version` INT NOT NULL,
  -- Hex SHA-256 of `data`; nullable because notary's model declares it so.
  `sha256` CHAR(64) NULL DEFAULT NULL,
  `data` LONGBLOB NOT NULL,
  PRIMARY KEY (`id`),
  -- The server checks "is there already a version >= N" before it opens its
  -- write transaction, so two concurrent publishes can both pass that check.
  -- This key makes the loser fail with a duplicate-key error (1062), which
  -- notary translates into "old version" (HTTP 400 to the client) instead of
  -- silently storing two copies of one metadata version.
  UNIQUE KEY `tuf_files_gun_role_version` (`gun`, `role`, `version`),
  -- Consistent-snapshot downloads (`<role>.<sha256>.json`) look rows up by
  -- checksum rather than by version.
  KEY `tuf_files_sha256` (`sha256`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
