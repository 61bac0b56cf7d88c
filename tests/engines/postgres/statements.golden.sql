-- audit-log schema of events
DROP TABLE IF EXISTS "events" CASCADE;
CREATE TABLE "events" ("id" uuid PRIMARY KEY, "user_id" bigint, "action" text, "resource_type" text, "resource_id" bigint, "ip" text, "details" jsonb, "created_at" timestamptz);
CREATE INDEX "events_idx0_user_id_created_at" ON "events" ("user_id", "created_at");
CREATE INDEX "events_idx1_resource_type_resource_id" ON "events" ("resource_type", "resource_id");

-- audit-log/append: insert -> rowcount
INSERT INTO "events" ("id", "user_id", "action", "resource_type", "resource_id", "ip", "details", "created_at") VALUES (%s, %s, %s, %s, %s, %s, %s, %s);
-- parameters: ["f00c04b3-9bda-4bd8-9aed-07accccebfda", 1659, "share", "api_key", 19805, "S7hZ42PLOjwtTxH", {"jsonb": {"k0": "nidece", "k1": 250, "k2": "hacadize", "k3": 613, "k4": "fisu"}}, "2025-12-19T12:22:50+00:00"]

-- audit-log/user-history: find -> rows
SELECT "events"."id", "events"."user_id", "events"."action", "events"."resource_type", "events"."resource_id", "events"."ip", "events"."details", "events"."created_at" FROM "events" WHERE "events"."user_id" = %s ORDER BY "events"."created_at" DESC LIMIT 50;
-- parameters: [1659]

-- audit-log/resource-lookup: find -> rows
SELECT "events"."id", "events"."user_id", "events"."action", "events"."resource_type", "events"."resource_id", "events"."ip", "events"."details", "events"."created_at" FROM "events" WHERE "events"."resource_type" = %s AND "events"."resource_id" = %s LIMIT 100;
-- parameters: ["api_key", 19805]

-- document-catalog schema of products
DROP TABLE IF EXISTS "products" CASCADE;
CREATE TABLE "products" ("sku" text PRIMARY KEY, "category" text, "name" text, "price" double precision, "stock" bigint, "attributes" jsonb, "tags" text[]);
CREATE INDEX "products_idx0_category_price" ON "products" ("category", "price");

-- document-catalog/browse: range -> rows
SELECT "products"."sku", "products"."name", "products"."price" FROM "products" WHERE "products"."category" = %s AND "products"."price" BETWEEN %s AND %s ORDER BY "products"."price" ASC LIMIT 20;
-- parameters: ["games", 211.08407556121176, 261.08407556121176]

-- document-catalog/view: read -> rows
SELECT "products"."sku", "products"."category", "products"."name", "products"."price", "products"."stock", "products"."attributes", "products"."tags" FROM "products" WHERE "sku" = %s;
-- parameters: ["sku-01543042813277949689"]

-- document-catalog/set-attribute: update -> rowcount
UPDATE "products" SET "attributes" = jsonb_set(coalesce("attributes", '{}'), '{k1}', to_jsonb(%s::text)) WHERE "sku" = %s;
-- parameters: ["v1", "sku-01543042813277949689"]

-- document-catalog/restock: update -> rowcount
UPDATE "products" SET "stock" = %s WHERE "sku" = %s;
-- parameters: [603, "sku-01543042813277949689"]

-- document-catalog/add-product: insert -> rowcount
INSERT INTO "products" ("sku", "category", "name", "price", "stock", "attributes", "tags") VALUES (%s, %s, %s, %s, %s, %s, %s);
-- parameters: ["sku-01543042813277949689", "games", "fimu jusi molu", 261.08407556121176, 603, {"jsonb": {"k0": "jicu", "k1": 969, "k2": "pufugile", "k3": 45, "k4": "boca", "k5": 773}}, ["hucibimu", "roru"]]

-- kv-cache schema of usertable
DROP TABLE IF EXISTS "usertable" CASCADE;
CREATE TABLE "usertable" ("ycsb_key" text PRIMARY KEY, "field0" text, "field1" text, "field2" text, "field3" text, "field4" text, "field5" text, "field6" text, "field7" text, "field8" text, "field9" text);

-- kv-cache/read: read -> rows
SELECT "usertable"."ycsb_key", "usertable"."field0", "usertable"."field1", "usertable"."field2", "usertable"."field3", "usertable"."field4", "usertable"."field5", "usertable"."field6", "usertable"."field7", "usertable"."field8", "usertable"."field9" FROM "usertable" WHERE "ycsb_key" = %s;
-- parameters: ["user14445414972680041553"]

-- kv-cache/update: update -> rowcount
UPDATE "usertable" SET "field0" = %s, "field1" = %s, "field2" = %s, "field3" = %s, "field4" = %s, "field5" = %s, "field6" = %s, "field7" = %s, "field8" = %s, "field9" = %s WHERE "ycsb_key" = %s;
-- parameters: ["xYP9beJ1eKQ2nSmYb7bIc94hj8GglubFSTn0Aqq2MFerjyvANjRjfwmMKzTYs8WHGWi4Uwv5tVQB6LpNnJOB2k3PqMflmGsa5b2p", "rrKEoiIDRhjrdBGg9lPADcnV1bFqfco7vgHRuBULLjhm5TqOZsrDTTIPSACYD312KG67XSr6nHcKZCd9W9TBp86adndSfP8LduhQ", "g368dedVwv7CKED5bHjyM42ApaIkfnDKsxJ2naImOymNTChJ0WxA9wROp9xJMNhJxkG48CzxyWwUNTPR24O1MkPx2eRbu4ubJ3hy", "wNexc4eMHW7KVqguQPtwr2HlJRFgN3yGWb8hJy4d9S0htfpF6BwP7myVEyuhKtm8ExmviEIv1ikWvq2rpbrt8BrFnfvRSQAuOxGq", "qxSU9Fc9qNKmH2tmJaTXsPGTjK8YPTYgH8MBXoqO1TLyODtIXImcf9WJRjetN8wO44RLlOIOIpiM2Dz6amiFT8HCuUgroz3CAKxj", "gOonXkYAe4keZ4m3woTRRRTLAnYTH3aalka2j8Aoiss0a6VNUHUZcBYVhwepsmSQT21uVhoo5GT6GRjm4u8bpQsPFsuIzgmnOMSc", "lTgBN5ZYBCijdlRG08qN7IGWF96wsk4mpwqcfh6eErS7hZ42PLOjwtTxHvHPevd0n6t7uk3bqU094HofAHFY2Q8BYSigBXFnTXFn", "xd8MsktrTo7LriQkVGOXTXWRDdG2WjSvIQm6hSNgkS0LLpTVG0GqACKoYnNHAxcy7bhq0bodQvTfQf2bldxvHaFDiabSjX2iTltH", "NouUKQcRXGVIww0oMUqYJJptxyLMdoANE8fGNzvkygRCK14p7UBUYE6rls54Ay7jDoCKNTlsmf6lsvAVLLYtDHYggMmppKh8e2q5", "TaZ0UdJSpOhr15wV1CgxrGeFyQfOJi4c8QOKivvIa7U5GmfcUUxnLYQNwCDHxz6JCez4cXlqDnA8LUhlZHWyZkovt6tqaYFFSeBY", "user14445414972680041553"]

-- kv-cache/insert: insert -> rowcount
INSERT INTO "usertable" ("ycsb_key", "field0", "field1", "field2", "field3", "field4", "field5", "field6", "field7", "field8", "field9") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);
-- parameters: ["user14445414972680041553", "xYP9beJ1eKQ2nSmYb7bIc94hj8GglubFSTn0Aqq2MFerjyvANjRjfwmMKzTYs8WHGWi4Uwv5tVQB6LpNnJOB2k3PqMflmGsa5b2p", "rrKEoiIDRhjrdBGg9lPADcnV1bFqfco7vgHRuBULLjhm5TqOZsrDTTIPSACYD312KG67XSr6nHcKZCd9W9TBp86adndSfP8LduhQ", "g368dedVwv7CKED5bHjyM42ApaIkfnDKsxJ2naImOymNTChJ0WxA9wROp9xJMNhJxkG48CzxyWwUNTPR24O1MkPx2eRbu4ubJ3hy", "wNexc4eMHW7KVqguQPtwr2HlJRFgN3yGWb8hJy4d9S0htfpF6BwP7myVEyuhKtm8ExmviEIv1ikWvq2rpbrt8BrFnfvRSQAuOxGq", "qxSU9Fc9qNKmH2tmJaTXsPGTjK8YPTYgH8MBXoqO1TLyODtIXImcf9WJRjetN8wO44RLlOIOIpiM2Dz6amiFT8HCuUgroz3CAKxj", "gOonXkYAe4keZ4m3woTRRRTLAnYTH3aalka2j8Aoiss0a6VNUHUZcBYVhwepsmSQT21uVhoo5GT6GRjm4u8bpQsPFsuIzgmnOMSc", "lTgBN5ZYBCijdlRG08qN7IGWF96wsk4mpwqcfh6eErS7hZ42PLOjwtTxHvHPevd0n6t7uk3bqU094HofAHFY2Q8BYSigBXFnTXFn", "xd8MsktrTo7LriQkVGOXTXWRDdG2WjSvIQm6hSNgkS0LLpTVG0GqACKoYnNHAxcy7bhq0bodQvTfQf2bldxvHaFDiabSjX2iTltH", "NouUKQcRXGVIww0oMUqYJJptxyLMdoANE8fGNzvkygRCK14p7UBUYE6rls54Ay7jDoCKNTlsmf6lsvAVLLYtDHYggMmppKh8e2q5", "TaZ0UdJSpOhr15wV1CgxrGeFyQfOJi4c8QOKivvIa7U5GmfcUUxnLYQNwCDHxz6JCez4cXlqDnA8LUhlZHWyZkovt6tqaYFFSeBY"]

-- kv-cache/read-latest: read -> rows
SELECT "usertable"."ycsb_key", "usertable"."field0", "usertable"."field1", "usertable"."field2", "usertable"."field3", "usertable"."field4", "usertable"."field5", "usertable"."field6", "usertable"."field7", "usertable"."field8", "usertable"."field9" FROM "usertable" WHERE "ycsb_key" = %s;
-- parameters: ["user14445414972680041553"]

-- kv-cache/scan: scan -> rows
SELECT "usertable"."ycsb_key", "usertable"."field0", "usertable"."field1", "usertable"."field2", "usertable"."field3", "usertable"."field4", "usertable"."field5", "usertable"."field6", "usertable"."field7", "usertable"."field8", "usertable"."field9" FROM "usertable" WHERE "ycsb_key" >= %s ORDER BY "ycsb_key" LIMIT %s;
-- parameters: ["user14445414972680041553", 100]

-- kv-cache/read-modify-write: update -> rowcount
UPDATE "usertable" SET "field0" = %s, "field1" = %s, "field2" = %s, "field3" = %s, "field4" = %s, "field5" = %s, "field6" = %s, "field7" = %s, "field8" = %s, "field9" = %s WHERE "ycsb_key" = %s;
-- parameters: ["xYP9beJ1eKQ2nSmYb7bIc94hj8GglubFSTn0Aqq2MFerjyvANjRjfwmMKzTYs8WHGWi4Uwv5tVQB6LpNnJOB2k3PqMflmGsa5b2p", "rrKEoiIDRhjrdBGg9lPADcnV1bFqfco7vgHRuBULLjhm5TqOZsrDTTIPSACYD312KG67XSr6nHcKZCd9W9TBp86adndSfP8LduhQ", "g368dedVwv7CKED5bHjyM42ApaIkfnDKsxJ2naImOymNTChJ0WxA9wROp9xJMNhJxkG48CzxyWwUNTPR24O1MkPx2eRbu4ubJ3hy", "wNexc4eMHW7KVqguQPtwr2HlJRFgN3yGWb8hJy4d9S0htfpF6BwP7myVEyuhKtm8ExmviEIv1ikWvq2rpbrt8BrFnfvRSQAuOxGq", "qxSU9Fc9qNKmH2tmJaTXsPGTjK8YPTYgH8MBXoqO1TLyODtIXImcf9WJRjetN8wO44RLlOIOIpiM2Dz6amiFT8HCuUgroz3CAKxj", "gOonXkYAe4keZ4m3woTRRRTLAnYTH3aalka2j8Aoiss0a6VNUHUZcBYVhwepsmSQT21uVhoo5GT6GRjm4u8bpQsPFsuIzgmnOMSc", "lTgBN5ZYBCijdlRG08qN7IGWF96wsk4mpwqcfh6eErS7hZ42PLOjwtTxHvHPevd0n6t7uk3bqU094HofAHFY2Q8BYSigBXFnTXFn", "xd8MsktrTo7LriQkVGOXTXWRDdG2WjSvIQm6hSNgkS0LLpTVG0GqACKoYnNHAxcy7bhq0bodQvTfQf2bldxvHaFDiabSjX2iTltH", "NouUKQcRXGVIww0oMUqYJJptxyLMdoANE8fGNzvkygRCK14p7UBUYE6rls54Ay7jDoCKNTlsmf6lsvAVLLYtDHYggMmppKh8e2q5", "TaZ0UdJSpOhr15wV1CgxrGeFyQfOJi4c8QOKivvIa7U5GmfcUUxnLYQNwCDHxz6JCez4cXlqDnA8LUhlZHWyZkovt6tqaYFFSeBY", "user14445414972680041553"]

-- metrics-timeseries schema of metrics
DROP TABLE IF EXISTS "metrics" CASCADE;
CREATE TABLE "metrics" ("id" bigint PRIMARY KEY, "host" text, "ts" timestamptz, "cpu" double precision, "mem" double precision);
CREATE INDEX "metrics_idx0_host_ts" ON "metrics" ("host", "ts");
CREATE INDEX "metrics_idx1_ts" ON "metrics" ("ts");

-- metrics-timeseries/ingest: insert -> rowcount
INSERT INTO "metrics" ("id", "host", "ts", "cpu", "mem") VALUES (%s, %s, %s, %s, %s);
-- parameters: [3, "host-04", "2026-01-01T00:00:00+00:00", 32.37668037136231, 56.18986189329456]

-- metrics-timeseries/series-last-hour: range -> rows
SELECT "metrics"."id", "metrics"."host", "metrics"."ts", "metrics"."cpu", "metrics"."mem" FROM "metrics" WHERE "metrics"."host" = %s AND "metrics"."ts" BETWEEN %s AND %s ORDER BY "metrics"."ts" ASC LIMIT 1000;
-- parameters: ["host-04", "2025-12-31T23:00:00+00:00", "2026-01-01T00:00:00+00:00"]

-- metrics-timeseries/hourly-mean-per-host: aggregate -> rows
SELECT "metrics"."host", date_bin(make_interval(secs => 60.0), "metrics"."ts", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, avg("metrics"."cpu") AS value FROM "metrics" WHERE "metrics"."ts" BETWEEN %s AND %s GROUP BY "metrics"."host", bucket ORDER BY "metrics"."host", bucket;
-- parameters: ["2025-12-31T23:00:00+00:00", "2026-01-01T00:00:00+00:00"]

-- product-search schema of catalog
DROP TABLE IF EXISTS "catalog" CASCADE;
CREATE TABLE "catalog" ("id" bigint PRIMARY KEY, "title" text, "description" text, "category" text, "price" double precision);
ALTER TABLE "catalog" ADD COLUMN "fts_title_description" tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce("title", '')) || to_tsvector('simple', coalesce("description", ''))) STORED;
CREATE INDEX "catalog_fts_title_description" ON "catalog" USING gin ("fts_title_description");

-- product-search/search: search -> rows
SELECT "catalog"."id", "catalog"."title", "catalog"."description", "catalog"."category", "catalog"."price" FROM "catalog", to_tsquery('simple', %s) AS dbarena_query WHERE "catalog"."fts_title_description" @@ dbarena_query ORDER BY ts_rank("catalog"."fts_title_description", dbarena_query) DESC, "catalog"."id" LIMIT 10;
-- parameters: ["'red' | 'o''k'"]

-- product-search/search-in-category: search -> rows
SELECT "catalog"."id", "catalog"."title", "catalog"."description", "catalog"."category", "catalog"."price" FROM "catalog", to_tsquery('simple', %s) AS dbarena_query WHERE "catalog"."fts_title_description" @@ dbarena_query AND "catalog"."category" = %s ORDER BY ts_rank("catalog"."fts_title_description", dbarena_query) DESC, "catalog"."id" LIMIT 10;
-- parameters: ["'red'", "outdoor"]

-- product-search/view: read -> rows
SELECT "catalog"."id", "catalog"."title", "catalog"."description", "catalog"."category", "catalog"."price" FROM "catalog" WHERE "id" = %s;
-- parameters: [3]

-- session-cache schema of sessions
DROP TABLE IF EXISTS "sessions" CASCADE;
CREATE TABLE "sessions" ("sid" text PRIMARY KEY, "user_id" bigint, "data" text, "last_seen" timestamptz);

-- session-cache/get: read -> rows
SELECT "sessions"."sid", "sessions"."user_id", "sessions"."data", "sessions"."last_seen" FROM "sessions" WHERE "sid" = %s;
-- parameters: ["sess-17587150482969865227"]

-- session-cache/touch: n/a (PostgreSQL has no record expiry (ttl_s); an expires_at column would need a purge job a TTL store does not run, so it would measure a different design)

-- session-cache/create: n/a (PostgreSQL has no record expiry (ttl_s); an expires_at column would need a purge job a TTL store does not run, so it would measure a different design)

-- session-cache/logout: delete -> rowcount
DELETE FROM "sessions" WHERE "sid" = %s;
-- parameters: ["sess-17587150482969865227"]

-- social-graph schema of person
DROP TABLE IF EXISTS "person" CASCADE;
CREATE TABLE "person" ("id" bigint PRIMARY KEY, "name" text);

-- social-graph schema of follows
DROP TABLE IF EXISTS "follows" CASCADE;
CREATE TABLE "follows" ("id" bigint PRIMARY KEY, "src" bigint, "dst" bigint);
CREATE INDEX "follows_idx0_src" ON "follows" ("src");
CREATE INDEX "follows_idx1_dst" ON "follows" ("dst");

-- social-graph/friends-of-friends: traverse -> rows
WITH RECURSIVE walk(node, depth) AS (SELECT %s::bigint, 0 UNION SELECT e."dst", w.depth + 1 FROM walk w JOIN "follows" e ON e."src" = w.node WHERE w.depth < 2) SELECT node FROM walk WHERE depth = 2 AND node <> %s LIMIT 100;
-- parameters: [3, 3]

-- social-graph/mutual-follows: traverse -> rows
SELECT DISTINCT a."dst" AS node FROM "follows" a JOIN "follows" b ON b."src" = a."dst" AND b."dst" = a."src" WHERE a."src" = %s AND a."dst" <> a."src";
-- parameters: [3]

-- social-graph/connection-path: traverse -> scalar
WITH RECURSIVE bfs(node, depth) AS (SELECT %s::bigint, 0 UNION SELECT e."dst", b.depth + 1 FROM bfs b JOIN "follows" e ON e."src" = b.node WHERE b.depth < 4) SELECT coalesce((SELECT depth FROM bfs WHERE node = %s LIMIT 1), 0);
-- parameters: [3, 4]

-- social-graph/follow: insert -> rowcount
INSERT INTO "follows" ("id", "src", "dst") VALUES (%s, %s, %s);
-- parameters: [3, 341, 2442]

-- tpcb-like schema of pgbench_accounts
DROP TABLE IF EXISTS "pgbench_accounts" CASCADE;
CREATE TABLE "pgbench_accounts" ("aid" bigint PRIMARY KEY, "bid" bigint, "abalance" bigint, "filler" text);

-- tpcb-like schema of pgbench_branches
DROP TABLE IF EXISTS "pgbench_branches" CASCADE;
CREATE TABLE "pgbench_branches" ("bid" bigint PRIMARY KEY, "bbalance" bigint, "filler" text);

-- tpcb-like schema of pgbench_tellers
DROP TABLE IF EXISTS "pgbench_tellers" CASCADE;
CREATE TABLE "pgbench_tellers" ("tid" bigint PRIMARY KEY, "bid" bigint, "tbalance" bigint, "filler" text);

-- tpcb-like schema of pgbench_history
DROP TABLE IF EXISTS "pgbench_history" CASCADE;
CREATE TABLE "pgbench_history" ("tid" bigint, "bid" bigint, "aid" bigint, "delta" bigint, "mtime" timestamptz, "filler" text);

-- tpcb-like/tpcb: native (one transaction) -> any
UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s;
-- parameters: [-5000, 1]

-- tpcb-like/tpcb: native (one transaction) -> any
SELECT abalance FROM pgbench_accounts WHERE aid = %s;
-- parameters: [1]

-- tpcb-like/tpcb: native (one transaction) -> any
UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s;
-- parameters: [-5000, 1]

-- tpcb-like/tpcb: native (one transaction) -> any
UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s;
-- parameters: [-5000, 1]

-- tpcb-like/tpcb: native (one transaction) -> any
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP);
-- parameters: [1, 1, 1, -5000]

-- user-accounts schema of users
DROP TABLE IF EXISTS "users" CASCADE;
CREATE TABLE "users" ("id" uuid PRIMARY KEY, "email" text, "username" text, "is_active" boolean, "metadata" jsonb, "created_at" timestamptz, "updated_at" timestamptz, "last_login" timestamptz);
CREATE UNIQUE INDEX "users_idx0_email" ON "users" ("email");
CREATE UNIQUE INDEX "users_idx1_username" ON "users" ("username");

-- user-accounts/login: find -> rows
SELECT "users"."id", "users"."email", "users"."is_active" FROM "users" WHERE "users"."email" = %s AND "users"."is_active" = %s;
-- parameters: ["rehu.3@example.com", true]

-- user-accounts/profile: read -> rows
SELECT "users"."id", "users"."email", "users"."username", "users"."is_active", "users"."metadata", "users"."created_at", "users"."updated_at", "users"."last_login" FROM "users" WHERE "id" = %s;
-- parameters: ["5b9f21be-73ec-4233-b317-0c4d440e428d"]

-- user-accounts/touch-login: update -> rowcount
UPDATE "users" SET "last_login" = %s, "updated_at" = %s WHERE "id" = %s;
-- parameters: ["2024-06-25T22:07:21+00:00", "2024-07-05T07:11:12+00:00", "5b9f21be-73ec-4233-b317-0c4d440e428d"]

-- user-accounts/signup: insert -> rowcount
INSERT INTO "users" ("id", "email", "username", "is_active", "metadata", "created_at", "updated_at", "last_login") VALUES (%s, %s, %s, %s, %s, %s, %s, %s);
-- parameters: ["5b9f21be-73ec-4233-b317-0c4d440e428d", "rehu.3@example.com", "pojipeso_3", true, {"jsonb": {"k0": "suhumi", "k1": 194, "k2": "hihowopa", "k3": 206}}, "2024-07-27T01:46:07+00:00", "2024-07-05T07:11:12+00:00", "2024-06-25T22:07:21+00:00"]
