//! The schema that all migrations make on an empty database, read back from the backend's
//! catalog and compared, line by line, with a committed snapshot per backend in
//! `tests/snapshots/` (`schema.sqlite.txt`, `schema.postgres.txt`, `schema.mariadb.txt`).
//!
//! A shipped migration is frozen, but migrations share helpers (`src/columns.rs`,
//! `src/statements.rs`): a change to one would silently change the DDL that old migrations
//! produce on a fresh database. This test catches that. After an intended change (a new
//! migration), regenerate the snapshot of each backend with `UPDATE_SCHEMA_SNAPSHOTS=1`
//! (the test then writes the snapshot instead of comparing) and commit it.
//!
//! SQLite is always checked; PostgreSQL or MariaDB when `TEST_DATABASE_URL` names one
//! (a private database per test, as in the other tests: the test fails when the server
//! cannot be reached). The snapshot lists every table (`seaql_migrations` included: its
//! structure is part of a fresh database; its rows are not read), tables by name, columns
//! in their order in the table, and every other line of a table (keys, indexes, foreign
//! keys, checks, triggers) sorted.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use flowrex_infrastructure::database::DatabaseUrl;
use flowrex_infrastructure::test_support::{TEST_DATABASE_URL, fresh_database};
use migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use migration::{Migrator, MigratorTrait};

/// Set (to anything but `0` or empty) to write the snapshots instead of comparing.
const UPDATE_SCHEMA_SNAPSHOTS: &str = "UPDATE_SCHEMA_SNAPSHOTS";

/// At most this many differing lines are shown.
const MAX_DIFF_LINES: usize = 40;

#[tokio::test]
async fn the_sqlite_schema_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("flowrex.db").display()
    ))
    .unwrap();
    check_against_snapshot(&connect(url).await).await;
}

/// PostgreSQL or MariaDB, on the server `TEST_DATABASE_URL` names; nothing when it is unset
/// (SQLite has its own test above).
#[tokio::test]
async fn the_server_schema_matches_its_snapshot() {
    if std::env::var(TEST_DATABASE_URL).map_or(true, |url| url.trim().is_empty()) {
        eprintln!("{TEST_DATABASE_URL} is unset: no server schema to check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await.unwrap();
    check_against_snapshot(&connect(url).await).await;
}

async fn connect(url: DatabaseUrl) -> DatabaseConnection {
    let settings = flowrex_infrastructure::DatabaseSettings::new(url);
    flowrex_infrastructure::database::connect(&settings)
        .await
        .expect("connect")
}

/// Applies every migration to `db` (empty) and compares its schema with the snapshot, or
/// writes the snapshot when `UPDATE_SCHEMA_SNAPSHOTS` is set.
async fn check_against_snapshot(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("up");
    let (flavour, schema) = match db.get_database_backend() {
        DbBackend::Sqlite => ("sqlite", sqlite_schema(db).await),
        DbBackend::Postgres => ("postgres", postgres_schema(db).await),
        DbBackend::MySql => {
            let version = strings(db, "SELECT VERSION() AS v", &["v"]).await;
            let mariadb = version[0][0].to_ascii_lowercase().contains("mariadb");
            let flavour = if mariadb { "mariadb" } else { "mysql" };
            (flavour, mysql_schema(db, mariadb).await)
        }
        other => panic!("no schema snapshot for {other:?}"),
    };
    let actual = render(flavour, &schema);
    let relative = format!("tests/snapshots/schema.{flavour}.txt");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&relative);
    if std::env::var(UPDATE_SCHEMA_SNAPSHOTS).is_ok_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        eprintln!("wrote migration/{relative}");
        return;
    }
    let regenerate = regenerate_command(flavour);
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| {
            panic!("no snapshot migration/{relative} ({e}); write it with\n  {regenerate}")
        })
        .replace("\r\n", "\n");
    if expected != actual {
        panic!(
            "the {} schema that the migrations make differs from migration/{relative} \
             (- snapshot, + now):\n{}\n\
             A shipped migration must not change what it makes: if a shared helper \
             (src/columns.rs, src/statements.rs) or an old migration changed, keep the old \
             behaviour for the old migrations and make the change in a new migration.\n\
             If the change is intended (a new migration), regenerate the snapshot and commit \
             it:\n  {regenerate}",
            display_name(flavour),
            diff(&expected, &actual)
        );
    }
}

/// How the snapshot of `flavour` is regenerated.
fn regenerate_command(flavour: &str) -> String {
    let server = match flavour {
        "sqlite" => "",
        "postgres" => "TEST_DATABASE_URL=postgres://… ",
        _ => "TEST_DATABASE_URL=mysql://… ",
    };
    format!(
        "{UPDATE_SCHEMA_SNAPSHOTS}=1 {server}cargo nextest run -p migration --test schema_snapshot"
    )
}

/// How `flavour` is called in messages and snapshot headers.
fn display_name(flavour: &str) -> &'static str {
    match flavour {
        "sqlite" => "SQLite",
        "postgres" => "PostgreSQL",
        "mariadb" => "MariaDB",
        _ => "MySQL",
    }
}

/// A schema: objects by `(kind, name)`, each with its lines.
type Schema = BTreeMap<(String, String), Object>;

/// A table, view or sequence.
#[derive(Default)]
struct Object {
    /// Options shown after the name (a MySQL table's engine and collation).
    options: String,
    /// In the table's order.
    columns: Vec<String>,
    /// Keys, indexes, foreign keys, checks, triggers, definitions: sorted.
    lines: BTreeSet<String>,
}

fn object<'a>(schema: &'a mut Schema, kind: &str, name: &str) -> &'a mut Object {
    schema
        .entry((kind.to_owned(), name.to_owned()))
        .or_default()
}

/// The snapshot's text: a header, then each object (by kind, then name), blank-line
/// separated.
fn render(flavour: &str, schema: &Schema) -> String {
    let name = display_name(flavour);
    let mut out = format!(
        "-- The schema that all migrations make on an empty {name} database, read back from \
         its catalog\n\
         -- by migration/tests/schema_snapshot.rs. Do not edit: regenerate with\n\
         --   {}\n\
         -- Columns are in table order, every other list is sorted; seaql_migrations's rows \
         are left out.\n",
        regenerate_command(flavour)
    );
    for ((kind, name), object) in schema {
        out.push('\n');
        out.push_str(&format!("{kind} {name}"));
        if !object.options.is_empty() {
            out.push(' ');
            out.push_str(&object.options);
        }
        out.push('\n');
        for line in object.columns.iter().chain(&object.lines) {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The differing lines of `expected` and `actual` (a longest-common-subsequence diff), with
/// their line numbers, at most [`MAX_DIFF_LINES`].
fn diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    // common[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
        } else if j == new.len() || (i < old.len() && common[i + 1][j] >= common[i][j + 1]) {
            changes.push(format!("-{:>4} | {}", i + 1, old[i]));
            i += 1;
        } else {
            changes.push(format!("+{:>4} | {}", j + 1, new[j]));
            j += 1;
        }
    }
    let more = changes.len().saturating_sub(MAX_DIFF_LINES);
    changes.truncate(MAX_DIFF_LINES);
    if more > 0 {
        changes.push(format!("… and {more} more differing lines"));
    }
    changes.join("\n")
}

/// The rows of `sql` on `db`, each as the text of `columns` (`NULL` as an empty string);
/// every column must be text (cast in the query).
async fn strings(db: &DatabaseConnection, sql: &str, columns: &[&str]) -> Vec<Vec<String>> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|column| {
                    row.try_get::<Option<String>>("", column)
                        .unwrap_or_else(|e| panic!("{column} of {sql}: {e}"))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// `definition` on one line: runs of whitespace as one space.
fn one_line(definition: &str) -> String {
    definition.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` prefixed by a space, or nothing when empty.
fn suffix(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" {prefix}{text}")
    }
}

/// Consecutive rows with the same key (the first `key_len` values) together.
fn grouped(rows: Vec<Vec<String>>, key_len: usize) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let mut groups: Vec<(Vec<String>, Vec<Vec<String>>)> = Vec::new();
    for row in rows {
        let key = row[..key_len].to_vec();
        match groups.last_mut() {
            Some((last, members)) if *last == key => members.push(row),
            _ => groups.push((key, vec![row])),
        }
    }
    groups
}

/// `row` as an array of its `N` values.
fn fields<const N: usize>(row: Vec<String>) -> [String; N] {
    <[String; N]>::try_from(row).expect("as many values as columns")
}

/// SQLite: `sqlite_master` and the `pragma_*` table functions (the `sqlite_…` internal
/// tables are left out; SQLite's automatic indexes of keys are kept).
async fn sqlite_schema(db: &DatabaseConnection) -> Schema {
    let mut schema = Schema::new();
    let objects = "SELECT type AS kind, name, tbl_name AS tbl, sql FROM sqlite_master \
                   WHERE name NOT LIKE 'sqlite_%' AND type <> 'index'";
    for [kind, name, tbl, sql] in strings(db, objects, &["kind", "name", "tbl", "sql"])
        .await
        .into_iter()
        .map(fields)
    {
        match kind.as_str() {
            "trigger" => {
                let line = format!("trigger {name}: {}", one_line(&sql));
                object(&mut schema, "table", &tbl).lines.insert(line);
            }
            "view" => {
                let line = format!("definition: {}", one_line(&sql));
                object(&mut schema, "view", &name).lines.insert(line);
            }
            _ => {
                let table = object(&mut schema, &kind, &name);
                // Only the table's SQL tells `INTEGER PRIMARY KEY` from
                // `INTEGER PRIMARY KEY AUTOINCREMENT`.
                if sql.to_ascii_uppercase().contains("AUTOINCREMENT") {
                    table.options = "(autoincrement)".to_owned();
                }
            }
        }
    }

    let columns = "SELECT m.type AS kind, m.name AS tbl, p.name, p.type, \
                   CAST(p.\"notnull\" AS TEXT) AS required, p.dflt_value AS dflt, \
                   CAST(p.pk AS TEXT) AS pk, CAST(p.hidden AS TEXT) AS hidden \
                   FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
                   WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' \
                   ORDER BY m.name, p.cid";
    let names = [
        "kind", "tbl", "name", "type", "required", "dflt", "pk", "hidden",
    ];
    for (key, rows) in grouped(strings(db, columns, &names).await, 2) {
        let table = object(&mut schema, &key[0], &key[1]);
        let mut primary: Vec<(u32, String)> = Vec::new();
        for [_, _, name, kind, required, default, pk, hidden] in rows.into_iter().map(fields) {
            let nullability = if required == "1" { "not null" } else { "null" };
            let generated = if hidden == "0" { "" } else { " generated" };
            table.columns.push(format!(
                "column {name} {kind} {nullability}{}{generated}",
                suffix("default ", &default)
            ));
            if pk != "0" {
                primary.push((pk.parse().expect("a key position"), name));
            }
        }
        if !primary.is_empty() {
            primary.sort();
            let names: Vec<String> = primary.into_iter().map(|(_, name)| name).collect();
            let line = format!("primary key ({})", names.join(", "));
            table.lines.insert(line);
        }
    }

    let indexes = "SELECT m.name AS tbl, l.name, CAST(l.\"unique\" AS TEXT) AS uniq, l.origin, \
                   CAST(l.partial AS TEXT) AS partial, i.name AS col, \
                   CAST(i.\"desc\" AS TEXT) AS descending, i.coll, s.sql \
                   FROM sqlite_master m JOIN pragma_index_list(m.name) l \
                   JOIN pragma_index_xinfo(l.name) i \
                   LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = l.name \
                   WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND i.key = 1 \
                   ORDER BY m.name, l.name, i.seqno";
    let names = [
        "tbl",
        "name",
        "uniq",
        "origin",
        "partial",
        "col",
        "descending",
        "coll",
        "sql",
    ];
    for (key, rows) in grouped(strings(db, indexes, &names).await, 2) {
        let rows: Vec<[String; 9]> = rows.into_iter().map(fields).collect();
        let [_, name, unique, origin, partial, .., sql] = &rows[0];
        let columns: Vec<String> = rows
            .iter()
            .map(|[.., column, descending, collation, _]| {
                let column = if column.is_empty() {
                    "<expression>"
                } else {
                    column
                };
                let collation = if collation == "BINARY" {
                    String::new()
                } else {
                    format!(" collate {collation}")
                };
                let descending = if descending == "1" { " desc" } else { "" };
                format!("{column}{collation}{descending}")
            })
            .collect();
        let unique = if unique == "1" { " unique" } else { "" };
        let origin = match origin.as_str() {
            "pk" => " (the primary key's)",
            "u" => " (a unique constraint's)",
            _ => "",
        };
        let partial = if partial == "1" {
            format!(" partial: {}", one_line(sql))
        } else {
            String::new()
        };
        let line = format!(
            "index {name}{unique} ({}){origin}{partial}",
            columns.join(", ")
        );
        object(&mut schema, "table", &key[0]).lines.insert(line);
    }

    let foreign_keys = "SELECT m.name AS tbl, CAST(f.id AS TEXT) AS id, f.\"from\" AS source, \
                        f.\"table\" AS target, f.\"to\" AS referenced, f.on_delete, f.on_update, \
                        f.\"match\" AS matching \
                        FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
                        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                        ORDER BY m.name, f.id, f.seq";
    let names = [
        "tbl",
        "id",
        "source",
        "target",
        "referenced",
        "on_delete",
        "on_update",
        "matching",
    ];
    for (key, rows) in grouped(strings(db, foreign_keys, &names).await, 2) {
        let rows: Vec<[String; 8]> = rows.into_iter().map(fields).collect();
        let [_, _, _, target, _, on_delete, on_update, matching] = &rows[0];
        let from: Vec<&str> = rows.iter().map(|row| row[2].as_str()).collect();
        let to: Vec<&str> = rows.iter().map(|row| row[4].as_str()).collect();
        let line = format!(
            "foreign key ({}) references {target} ({}) on delete {on_delete} \
             on update {on_update} match {matching}",
            from.join(", "),
            to.join(", ")
        );
        object(&mut schema, "table", &key[0]).lines.insert(line);
    }
    schema
}

/// A PostgreSQL relation's kind, for the queries below (`c` is its `pg_class` row).
const PG_KIND: &str = "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' \
                       WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' \
                       WHEN 'f' THEN 'foreign table' WHEN 'S' THEN 'sequence' END";

/// PostgreSQL: `pg_catalog` of the current schema (the test database's `public`), whose
/// name is removed from the definitions.
async fn postgres_schema(db: &DatabaseConnection) -> Schema {
    let mut schema = Schema::new();
    let current = strings(db, "SELECT current_schema()::text AS s", &["s"]).await;
    let qualifier = format!("{}.", current[0][0]);
    let unqualified = |definition: &str| one_line(&definition.replace(&qualifier, ""));
    let in_schema =
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()";

    let relations = format!(
        "SELECT {PG_KIND} AS kind, c.relname::text AS name, \
         CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition, \
         (SELECT format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' \
            || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' \
            || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END \
          FROM pg_sequence s WHERE s.seqrelid = c.oid) AS sequence, \
         (SELECT o.relname::text || '.' || a.attname::text FROM pg_depend d \
          JOIN pg_class o ON o.oid = d.refobjid \
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
          WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid \
            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) AS owner \
         FROM pg_class c {in_schema} WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    );
    let names = ["kind", "name", "definition", "sequence", "owner"];
    for [kind, name, definition, sequence, owner] in strings(db, &relations, &names)
        .await
        .into_iter()
        .map(fields)
    {
        let relation = object(&mut schema, &kind, &name);
        if !definition.is_empty() {
            let line = format!("definition: {}", unqualified(&definition));
            relation.lines.insert(line);
        }
        if !sequence.is_empty() {
            relation.options = format!("{sequence}{}", suffix("owned by ", &owner));
        }
    }

    let columns = format!(
        "SELECT {PG_KIND} AS kind, c.relname::text AS tbl, a.attname::text AS name, \
         format_type(a.atttypid, a.atttypmod) AS type, \
         CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END AS nullability, \
         pg_get_expr(d.adbin, d.adrelid) AS dflt, \
         CASE a.attidentity WHEN 'a' THEN ' generated always as identity' \
           WHEN 'd' THEN ' generated by default as identity' ELSE '' END \
           || CASE a.attgenerated WHEN 's' THEN ' generated always (stored)' ELSE '' END \
           AS generated, \
         (SELECT co.collname::text FROM pg_collation co \
          WHERE co.oid = a.attcollation AND co.collname <> 'default') AS coll \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid {in_schema} \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY c.relname, a.attnum"
    );
    let names = [
        "kind",
        "tbl",
        "name",
        "type",
        "nullability",
        "dflt",
        "generated",
        "coll",
    ];
    for (key, rows) in grouped(strings(db, &columns, &names).await, 2) {
        let table = object(&mut schema, &key[0], &key[1]);
        for [_, _, name, kind, nullability, default, generated, collation] in
            rows.into_iter().map(fields)
        {
            table.columns.push(format!(
                "column {name} {kind}{} {nullability}{}{generated}",
                suffix("collate ", &collation),
                suffix("default ", &unqualified(&default)),
            ));
        }
    }

    // Every constraint but the NOT NULL ones (PostgreSQL 18 lists them; the columns say it).
    let constraints = format!(
        "SELECT c.relname::text AS tbl, con.conname::text AS name, \
         CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' \
           WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' \
           ELSE 'constraint ' || con.contype::text END AS kind, \
         pg_get_constraintdef(con.oid) AS definition \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid {in_schema} \
         WHERE con.contype <> 'n'"
    );
    let names = ["tbl", "name", "kind", "definition"];
    for [tbl, name, kind, definition] in strings(db, &constraints, &names)
        .await
        .into_iter()
        .map(fields)
    {
        let line = format!("{kind} {name}: {}", unqualified(&definition));
        object(&mut schema, "table", &tbl).lines.insert(line);
    }

    let indexes = "SELECT tablename::text AS tbl, indexname::text AS name, indexdef \
                   FROM pg_indexes WHERE schemaname = current_schema()";
    for [tbl, name, definition] in strings(db, indexes, &["tbl", "name", "indexdef"])
        .await
        .into_iter()
        .map(fields)
    {
        let line = format!("index {name}: {}", unqualified(&definition));
        object(&mut schema, "table", &tbl).lines.insert(line);
    }

    let triggers = format!(
        "SELECT c.relname::text AS tbl, t.tgname::text AS name, \
         pg_get_triggerdef(t.oid) AS definition \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid {in_schema} \
         WHERE NOT t.tgisinternal"
    );
    for [tbl, name, definition] in strings(db, &triggers, &["tbl", "name", "definition"])
        .await
        .into_iter()
        .map(fields)
    {
        let line = format!("trigger {name}: {}", unqualified(&definition));
        object(&mut schema, "table", &tbl).lines.insert(line);
    }

    let enums = "SELECT t.typname::text AS name, \
                 string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) AS labels \
                 FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
                 JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = current_schema() \
                 GROUP BY t.typname";
    for [name, labels] in strings(db, enums, &["name", "labels"])
        .await
        .into_iter()
        .map(fields)
    {
        object(&mut schema, "enum", &name).options = format!("({labels})");
    }
    schema
}

/// MySQL or MariaDB: `information_schema` of the test database, whose name (and each
/// table's `AUTO_INCREMENT` counter, which is not read) is left out.
async fn mysql_schema(db: &DatabaseConnection, mariadb: bool) -> Schema {
    let mut schema = Schema::new();
    let database = strings(db, "SELECT DATABASE() AS d", &["d"]).await;
    let qualifier = format!("`{}`.", database[0][0]);

    let tables = "SELECT TABLE_NAME AS name, TABLE_TYPE AS kind, ENGINE AS engine, \
                  TABLE_COLLATION AS coll, CREATE_OPTIONS AS options, TABLE_COMMENT AS comment \
                  FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()";
    let names = ["name", "kind", "engine", "coll", "options", "comment"];
    // Each table's kind and collation, by name.
    let mut tables_by_name: BTreeMap<String, (String, String)> = BTreeMap::new();
    for [name, kind, engine, collation, options, comment] in
        strings(db, tables, &names).await.into_iter().map(fields)
    {
        let kind = if kind == "VIEW" { "view" } else { "table" };
        if kind == "table" {
            object(&mut schema, kind, &name).options = format!(
                "engine={engine} collate={collation}{}{}",
                suffix("", &options),
                suffix("comment=", &comment)
            );
        }
        tables_by_name.insert(name, (kind.to_owned(), collation));
    }

    let columns = "SELECT TABLE_NAME AS tbl, COLUMN_NAME AS name, COLUMN_TYPE AS type, \
                   IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, EXTRA AS extra, \
                   COLLATION_NAME AS coll, GENERATION_EXPRESSION AS generated, \
                   COLUMN_COMMENT AS comment \
                   FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                   ORDER BY TABLE_NAME, ORDINAL_POSITION";
    let names = [
        "tbl",
        "name",
        "type",
        "nullable",
        "dflt",
        "extra",
        "coll",
        "generated",
        "comment",
    ];
    for (key, rows) in grouped(strings(db, columns, &names).await, 1) {
        let (kind, table_collation) = tables_by_name
            .get(&key[0])
            .cloned()
            .unwrap_or_else(|| ("table".to_owned(), String::new()));
        let table = object(&mut schema, &kind, &key[0]);
        for [
            _,
            name,
            kind,
            nullable,
            default,
            extra,
            collation,
            generated,
            comment,
        ] in rows.into_iter().map(fields)
        {
            // A column's collation only when it is not its table's.
            let collation = if collation == table_collation {
                ""
            } else {
                &collation
            };
            let nullability = if nullable == "YES" {
                "null"
            } else {
                "not null"
            };
            table.columns.push(format!(
                "column {name} {kind}{} {nullability}{}{}{}{}",
                suffix("collate ", collation),
                suffix("default ", &default),
                suffix("", &extra),
                suffix("as ", &generated),
                suffix("comment ", &comment),
            ));
        }
    }

    let indexes = "SELECT TABLE_NAME AS tbl, INDEX_NAME AS name, \
                   CAST(NON_UNIQUE AS CHAR) AS non_unique, COLUMN_NAME AS col, \
                   CAST(SUB_PART AS CHAR) AS sub_part, COLLATION AS ord, INDEX_TYPE AS type \
                   FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
                   ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";
    let names = [
        "tbl",
        "name",
        "non_unique",
        "col",
        "sub_part",
        "ord",
        "type",
    ];
    for (key, rows) in grouped(strings(db, indexes, &names).await, 2) {
        let rows: Vec<[String; 7]> = rows.into_iter().map(fields).collect();
        let [_, name, non_unique, .., kind] = &rows[0];
        let columns: Vec<String> = rows
            .iter()
            .map(|[_, _, _, column, prefix, order, _]| {
                let prefix = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("({prefix})")
                };
                let descending = if order == "D" { " desc" } else { "" };
                format!("{column}{prefix}{descending}")
            })
            .collect();
        let line = if name == "PRIMARY" {
            format!("primary key ({}) using {kind}", columns.join(", "))
        } else {
            let unique = if non_unique == "0" { " unique" } else { "" };
            format!("index {name}{unique} ({}) using {kind}", columns.join(", "))
        };
        object(&mut schema, "table", &key[0]).lines.insert(line);
    }

    let foreign_keys = "SELECT k.TABLE_NAME AS tbl, k.CONSTRAINT_NAME AS name, \
                        k.COLUMN_NAME AS col, k.REFERENCED_TABLE_NAME AS target, \
                        k.REFERENCED_COLUMN_NAME AS referenced, r.DELETE_RULE AS on_delete, \
                        r.UPDATE_RULE AS on_update \
                        FROM information_schema.KEY_COLUMN_USAGE k \
                        JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                          ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
                          AND r.TABLE_NAME = k.TABLE_NAME \
                          AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
                        WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                        ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";
    let names = [
        "tbl",
        "name",
        "col",
        "target",
        "referenced",
        "on_delete",
        "on_update",
    ];
    for (key, rows) in grouped(strings(db, foreign_keys, &names).await, 2) {
        let rows: Vec<[String; 7]> = rows.into_iter().map(fields).collect();
        let [_, name, _, target, _, on_delete, on_update] = &rows[0];
        let from: Vec<&str> = rows.iter().map(|row| row[2].as_str()).collect();
        let to: Vec<&str> = rows.iter().map(|row| row[4].as_str()).collect();
        let line = format!(
            "foreign key {name} ({}) references {target} ({}) on delete {on_delete} \
             on update {on_update}",
            from.join(", "),
            to.join(", ")
        );
        object(&mut schema, "table", &key[0]).lines.insert(line);
    }

    // MariaDB names a check per table and says which; MySQL names it per database.
    let checks = if mariadb {
        "SELECT TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause \
         FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"
    } else {
        "SELECT t.TABLE_NAME AS tbl, t.CONSTRAINT_NAME AS name, c.CHECK_CLAUSE AS clause \
         FROM information_schema.TABLE_CONSTRAINTS t \
         JOIN information_schema.CHECK_CONSTRAINTS c \
           ON c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME \
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.CONSTRAINT_TYPE = 'CHECK'"
    };
    for [tbl, name, clause] in strings(db, checks, &["tbl", "name", "clause"])
        .await
        .into_iter()
        .map(fields)
    {
        let line = format!("check {name}: {}", one_line(&clause));
        object(&mut schema, "table", &tbl).lines.insert(line);
    }

    let triggers = "SELECT EVENT_OBJECT_TABLE AS tbl, TRIGGER_NAME AS name, \
                    ACTION_TIMING AS timing, EVENT_MANIPULATION AS event, \
                    ACTION_STATEMENT AS body \
                    FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()";
    let names = ["tbl", "name", "timing", "event", "body"];
    for [tbl, name, timing, event, body] in
        strings(db, triggers, &names).await.into_iter().map(fields)
    {
        let body = one_line(&body.replace(&qualifier, ""));
        let line = format!("trigger {name}: {timing} {event} {body}");
        object(&mut schema, "table", &tbl).lines.insert(line);
    }

    let views = "SELECT TABLE_NAME AS name, VIEW_DEFINITION AS definition \
                 FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()";
    for [name, definition] in strings(db, views, &["name", "definition"])
        .await
        .into_iter()
        .map(fields)
    {
        let line = format!(
            "definition: {}",
            one_line(&definition.replace(&qualifier, ""))
        );
        object(&mut schema, "view", &name).lines.insert(line);
    }
    schema
}
