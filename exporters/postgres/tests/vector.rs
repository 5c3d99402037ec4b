//! Vector indexes: pgvector 0.8 and RuVector on Debian's PostgreSQL 15,
//! told apart although both call their access method `hnsw`.

mod support;

use std::time::{Duration, Instant};

use support::*;

/// Sum of pg_stat_statements calls of SELECTs whose text contains `needle`, asked
/// without writing `needle` into the statement itself.
fn statement_calls(pg: &sidewatch_testkit::Postgres, db: &str, needle: &str) -> f64 {
    let chars: Vec<String> = needle
        .chars()
        .map(|c| format!("chr({})", c as u32))
        .collect();
    number(
        pg,
        db,
        &format!(
            "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements WHERE strpos(query, {}) > 0 AND query ILIKE 'select%'",
            chars.join(" || ")
        ),
    )
}

#[test]
fn pgvector_and_ruvector_side_by_side() {
    let pg = postgres();
    pg.psql("postgres", "CREATE DATABASE vec");
    pg.psql("postgres", "CREATE DATABASE ruv");
    pg.psql("vec", "CREATE EXTENSION vector");
    pg.psql("vec", "CREATE EXTENSION pg_stat_statements");
    pg.psql("vec", "CREATE TABLE items (id int, embedding vector(3))");
    pg.psql(
        "vec",
        "INSERT INTO items SELECT g, ARRAY[random(), random(), random()]::vector FROM generate_series(1, 2000) g",
    );
    pg.psql(
        "vec",
        "CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_l2_ops)",
    );
    pg.psql("vec", "CREATE INDEX items_ivf ON items USING ivfflat (embedding vector_cosine_ops) WITH (lists = 10)");
    pg.psql("ruv", "CREATE EXTENSION ruvector");
    pg.psql("ruv", "CREATE TABLE docs (id int, e ruvector(5))");
    pg.psql(
        "ruv",
        "INSERT INTO docs SELECT g, ('[' || g || ',1,2,3,4]')::ruvector FROM generate_series(1, 300) g",
    );
    pg.psql(
        "ruv",
        "CREATE INDEX docs_hnsw ON docs USING hnsw (e ruvector_l2_ops)",
    );

    let e = exporter(&pg, "vec", &["--auto-discover-databases"]);
    // Known searches: 7 by L2 distance, 3 by cosine distance.
    for i in 0..7 {
        pg.psql(
            "vec",
            &format!("SELECT id FROM items ORDER BY embedding <-> '[{i},1,1]' LIMIT 5"),
        );
    }
    for i in 0..3 {
        pg.psql(
            "vec",
            &format!("SELECT id FROM items ORDER BY embedding <=> '[1,{i},1]' LIMIT 5"),
        );
    }
    let text = scrape_text(&e);
    let x = sidewatch_testkit::Exposition::parse(&text);
    assert_eq!(success(&x, "vector"), Some(1.0), "{}", e.log());

    let pgvector = pg.psql(
        "vec",
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
    );
    assert!(pgvector.starts_with("0.8"), "{pgvector}");
    assert_eq!(
        x.value(
            "pg_vector_extension_info",
            &[
                ("datname", "vec"),
                ("extension", "vector"),
                ("version", &pgvector)
            ]
        ),
        Some(1.0)
    );
    let ruvector = pg.psql(
        "ruv",
        "SELECT extversion FROM pg_extension WHERE extname = 'ruvector'",
    );
    assert_eq!(
        x.value(
            "pg_vector_extension_info",
            &[
                ("datname", "ruv"),
                ("extension", "ruvector"),
                ("version", &ruvector)
            ]
        ),
        Some(1.0)
    );
    for (db, index, method, ext) in [
        ("vec", "items_hnsw", "hnsw", "vector"),
        ("vec", "items_ivf", "ivfflat", "vector"),
        ("ruv", "docs_hnsw", "hnsw", "ruvector"),
    ] {
        let labels = [
            ("datname", db),
            ("indexrelname", index),
            ("method", method),
            ("extension", ext),
        ];
        assert_eq!(
            x.value("pg_vector_index_size_bytes", &labels),
            Some(number(
                &pg,
                db,
                &format!("SELECT pg_relation_size('{index}')")
            )),
            "{index}"
        );
        assert_eq!(
            x.value("pg_vector_index_scans_total", &labels),
            Some(number(
                &pg,
                db,
                &format!("SELECT idx_scan FROM pg_stat_all_indexes WHERE indexrelname = '{index}'")
            )),
            "{index}"
        );
        assert_eq!(
            x.value("pg_vector_index_tuples_read_total", &labels),
            Some(number(
                &pg,
                db,
                &format!(
                    "SELECT idx_tup_read FROM pg_stat_all_indexes WHERE indexrelname = '{index}'"
                )
            )),
            "{index}"
        );
    }
    assert_eq!(
        x.value(
            "pg_vector_column_dimensions",
            &[
                ("datname", "vec"),
                ("relname", "items"),
                ("attname", "embedding"),
                ("extension", "vector")
            ]
        ),
        Some(3.0)
    );
    assert_eq!(
        x.value(
            "pg_vector_column_dimensions",
            &[
                ("datname", "ruv"),
                ("relname", "docs"),
                ("attname", "e"),
                ("extension", "ruvector")
            ]
        ),
        Some(5.0)
    );
    assert_eq!(
        x.value("pg_ruvector_healthy", &[("datname", "ruv")]),
        Some(1.0)
    );
    assert!(x
        .value("pg_ruvector_index_memory_bytes", &[("datname", "ruv")])
        .is_some());

    // Search statistics equal pg_stat_statements' own.
    let l2 = [("datname", "vec"), ("operator", "<->")];
    assert_eq!(x.value("pg_vector_search_calls_total", &l2), Some(7.0));
    // The parser the kit uses misreads `=` inside label values; read the line.
    let cos_line = text.lines().find(|l| {
        l.starts_with("pg_vector_search_calls_total{")
            && l.contains(r#"datname="vec""#)
            && l.contains(r#"operator="<=>""#)
    });
    assert!(cos_line.is_some_and(|l| l.ends_with(" 3")), "{cos_line:?}");
    assert_eq!(statement_calls(&pg, "vec", "<->"), 7.0);
    let seconds = x
        .value("pg_vector_search_seconds_total", &l2)
        .unwrap_or(f64::NAN);
    assert!(seconds > 0.0, "{seconds}");
    pg.psql(
        "vec",
        "SELECT id FROM items ORDER BY embedding <-> '[9,9,9]' LIMIT 5",
    );
    let x = scrape(&e);
    assert_eq!(x.value("pg_vector_search_calls_total", &l2), Some(8.0));

    // Statement texts are read only for statements not seen before: once the
    // workload is steady, scrapes stop asking for texts.
    for _ in 0..3 {
        scrape(&e);
    }
    let reads = statement_calls(&pg, "vec", "pg_stat_statements(true)");
    for _ in 0..5 {
        scrape(&e);
    }
    assert_eq!(
        statement_calls(&pg, "vec", "pg_stat_statements(true)"),
        reads
    );
}

#[test]
fn build_progress_is_seen_while_an_index_builds() {
    let pg = postgres();
    pg.psql("postgres", "CREATE EXTENSION vector");
    pg.psql("postgres", "CREATE TABLE big (id int, e vector(32))");
    pg.psql(
        "postgres",
        "INSERT INTO big SELECT g, (SELECT array_agg(random())::vector(32) FROM generate_series(1, 32) WHERE g > 0) FROM generate_series(1, 30000) g",
    );
    let e = exporter(&pg, "postgres", &[]);
    let url = format!("127.0.0.1:{}", pg.port);
    let build = std::thread::spawn(move || {
        std::process::Command::new("psql")
            .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .args(["-p", url.rsplit(':').next().unwrap_or_default()])
            .args([
                "-c",
                "CREATE INDEX big_hnsw ON big USING hnsw (e vector_l2_ops)",
            ])
            .output()
            .map(|o| o.status.success())
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    while !build.is_finished() && started.elapsed() < Duration::from_secs(60) {
        let x = scrape(&e);
        for (labels, ratio) in x.samples("pg_vector_index_build_progress_ratio") {
            assert!((0.0..=1.0).contains(&ratio), "{ratio}");
            assert_eq!(labels.get("relname").map(String::as_str), Some("big"));
            seen.push((labels.get("phase").cloned().unwrap_or_default(), ratio));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(matches!(build.join(), Ok(Ok(true))), "index build failed");
    assert!(!seen.is_empty(), "no progress seen during the build");
    assert!(seen.iter().all(|(phase, _)| !phase.is_empty()));
    println!("progress seen: {seen:?}");
    // Finished: no progress series, and the index is there.
    let x = scrape(&e);
    assert!(x.samples("pg_vector_index_build_progress_ratio").is_empty());
    assert_eq!(
        x.value(
            "pg_vector_index_size_bytes",
            &[("indexrelname", "big_hnsw")]
        ),
        Some(number(
            &pg,
            "postgres",
            "SELECT pg_relation_size('big_hnsw')"
        ))
    );
}
