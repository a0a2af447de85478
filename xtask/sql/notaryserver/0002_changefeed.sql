-- trust-sandbox schema for notary-server 0.7.0: the changefeed
-- (/v2/_trust/changefeed). Names follow the server's SQLChange gorm model.
-- Table options: see 0001 (binary collation, DYNAMIC rows, re-runnable DDL).

-- The set of change kinds the server writes ("update" for a new timestamp,
-- "deletion" when a repository is deleted). A lookup table instead of an ENUM
-- so the foreign key below rejects a misspelt category in either engine.
CREATE TABLE IF NOT EXISTS `change_category` (
  `category` VARCHAR(20) NOT NULL,
  PRIMARY KEY (`category`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- Seed rows: without them every publish fails the foreign key on changefeed.
-- The no-op ON DUPLICATE KEY keeps a re-run of this file harmless without
-- INSERT IGNORE, which would also swallow unrelated errors.
INSERT INTO `change_category` (`category`)
VALUES ('update'), ('deletion')
ON DUPLICATE KEY UPDATE `category` = `category`;

CREATE TABLE IF NOT EXISTS `changefeed` (
  -- Clients page through the feed by id ("give me changes after N"), so the
  -- id must keep increasing in insertion order: AUTO_INCREMENT does that.
  `id` INT NOT NULL AUTO_INCREMENT,
  `created_at` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  `gun` VARCHAR(255) NOT NULL,
  -- A deletion record carries version 0 and an empty checksum.
  `version` INT NOT NULL,
  `sha256` CHAR(64) NULL DEFAULT NULL,
  `category` VARCHAR(20) NOT NULL DEFAULT 'update',
  PRIMARY KEY (`id`),
  -- The feed can be filtered to one repository (?filter=<gun>).
  KEY `changefeed_gun` (`gun`),
  CONSTRAINT `changefeed_category_fk`
    FOREIGN KEY (`category`) REFERENCES `change_category` (`category`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- No back-fill from tuf_files: this project creates both tables before the
-- server ever starts, so there is no earlier history to replay into the feed.
