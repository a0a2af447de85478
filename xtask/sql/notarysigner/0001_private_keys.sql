-- trust-sandbox schema for notary-signer 0.7.0 (database notarysigner).
-- notary-signer never creates its own tables; column names and types follow
-- its gorm model (signer/keydbstore/sql_keydbstore.go, GormPrivateKey).
--
-- Why the table options:
-- * utf8mb4_bin: key IDs, GUNs and role names are compared byte-for-byte by
--   notary; a binary collation makes the keys below behave identically on
--   MariaDB 10.11 and MySQL 8.4, whose default collations differ.
-- * ROW_FORMAT=DYNAMIC: the utf8mb4 VARCHAR(255) index below needs more than
--   the 767-byte prefix that COMPACT/REDUNDANT row formats allow.
-- * IF NOT EXISTS: DDL commits implicitly, so a half-applied run must be safe
--   to repeat.

CREATE TABLE IF NOT EXISTS `private_keys` (
  `id` INT NOT NULL AUTO_INCREMENT,
  -- gorm.Model bookkeeping: filled by gorm; `deleted_at` is how the signer
  -- "removes" a key (soft delete), so it must exist and be nullable.
  `created_at` TIMESTAMP NULL DEFAULT NULL,
  `updated_at` TIMESTAMP NULL DEFAULT NULL,
  `deleted_at` TIMESTAMP NULL DEFAULT NULL,
  `key_id` VARCHAR(255) NOT NULL,
  `encryption_alg` VARCHAR(255) NOT NULL,
  `keywrap_alg` VARCHAR(255) NOT NULL,
  `algorithm` VARCHAR(50) NOT NULL,
  -- Names the NOTARY_SIGNER_<ALIAS> passphrase that encrypts `private`.
  `passphrase_alias` VARCHAR(50) NOT NULL,
  `gun` VARCHAR(255) NOT NULL,
  `role` VARCHAR(255) NOT NULL,
  `public` BLOB NOT NULL,
  -- JWE (PBES2 + A256GCM) of the private key, never plaintext.
  `private` BLOB NOT NULL,
  -- NULL means "generated but never used to sign": the signer hands such a
  -- key out again instead of generating another. gorm omits the column on
  -- insert because its model declares default NULL, which also keeps the
  -- zero time out of strict-mode (NO_ZERO_DATE) servers such as MySQL 8.4.
  `last_used` DATETIME NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  -- Every signing request names a key by id and the signer takes the first
  -- match; a duplicate id would make "which key signs" ambiguous, and it is
  -- the only uniqueness the signer relies on (key ids are hashes of the
  -- public key, which already fixes the algorithm).
  UNIQUE KEY `private_keys_key_id` (`key_id`),
  -- Serves the signer's "reuse an unused key for this gun/role/algorithm"
  -- lookup, which runs on every key-creation request from notary-server.
  KEY `private_keys_unused` (`gun`, `role`, `algorithm`, `last_used`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
