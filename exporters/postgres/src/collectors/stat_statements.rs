//! `pg_stat_statements_*{user,datname,queryid}`: the statements that took the
//! most time, bounded by a row limit, with databases and users excluded on
//! request. Query text becomes a label only with `include_query`, cut to
//! `query_length` characters.

use std::sync::Arc;

use sidewatch_common::{CollectFuture, Collector, MetricKind};

use super::PgContext;
use crate::queries::{to_f64, FamilySet};

#[derive(Clone, Debug)]
pub struct StatStatementsOptions {
    pub limit: u32,
    pub include_query: bool,
    pub query_length: u32,
    pub exclude_databases: Vec<String>,
    pub exclude_users: Vec<String>,
}

pub struct StatStatementsCollector {
    pub ctx: Arc<PgContext>,
    pub options: StatStatementsOptions,
}

/// A SQL string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn in_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| quote_literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

impl StatStatementsCollector {
    fn sql(&self, server_version: u32) -> String {
        let o = &self.options;
        let (exec, read, write) = if server_version >= 170_000 {
            (
                "total_exec_time",
                "shared_blk_read_time",
                "shared_blk_write_time",
            )
        } else if server_version >= 130_000 {
            ("total_exec_time", "blk_read_time", "blk_write_time")
        } else {
            ("total_time", "blk_read_time", "blk_write_time")
        };
        let mut filters = Vec::new();
        if !o.exclude_databases.is_empty() {
            filters.push(format!(
                "d.datname NOT IN ({})",
                in_list(&o.exclude_databases)
            ));
        }
        if !o.exclude_users.is_empty() {
            filters.push(format!(
                "pg_get_userbyid(s.userid) NOT IN ({})",
                in_list(&o.exclude_users)
            ));
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        };
        let query_col = if o.include_query {
            format!(", LEFT(s.query, {}) AS query", o.query_length)
        } else {
            String::new()
        };
        format!(
            "SELECT pg_get_userbyid(s.userid) AS user, d.datname, s.queryid::text AS queryid, \
             s.calls, s.{exec} / 1000.0 AS seconds, s.rows, \
             s.{read} / 1000.0 AS block_read_seconds, s.{write} / 1000.0 AS block_write_seconds{query_col} \
             FROM pg_stat_statements({show}) s JOIN pg_database d ON d.oid = s.dbid {filter} \
             ORDER BY s.{exec} DESC LIMIT {limit}",
            show = o.include_query,
            limit = o.limit,
        )
    }
}

impl Collector for StatStatementsCollector {
    fn name(&self) -> &'static str {
        "stat_statements"
    }

    fn collect<'a>(&'a self, scrape: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        let deadline = scrape.deadline();
        Box::pin(async move {
            let conn = self.ctx.main(deadline).await?;
            let rows = self
                .ctx
                .run(&conn, &self.sql(conn.server_version), None, deadline)
                .await?;
            let mut out = FamilySet::default();
            let metrics = [
                (
                    "calls",
                    "pg_stat_statements_calls_total",
                    "Number of times executed",
                ),
                (
                    "seconds",
                    "pg_stat_statements_seconds_total",
                    "Total time spent in the statement, in seconds",
                ),
                (
                    "rows",
                    "pg_stat_statements_rows_total",
                    "Total number of rows retrieved or affected by the statement",
                ),
                (
                    "block_read_seconds",
                    "pg_stat_statements_block_read_seconds_total",
                    "Total time the statement spent reading blocks, in seconds",
                ),
                (
                    "block_write_seconds",
                    "pg_stat_statements_block_write_seconds_total",
                    "Total time the statement spent writing blocks, in seconds",
                ),
            ];
            let col = |n: &str| rows.column(n);
            let (user, db, qid, query) =
                (col("user"), col("datname"), col("queryid"), col("query"));
            for row in &rows.rows {
                let text = |i: Option<usize>| {
                    i.and_then(|i| row.get(i).cloned().flatten())
                        .unwrap_or_default()
                };
                let mut labels = self.ctx.base_labels.clone();
                labels.push(("user".into(), text(user)));
                labels.push(("datname".into(), text(db)));
                labels.push(("queryid".into(), text(qid)));
                if query.is_some() {
                    labels.push(("query".into(), text(query)));
                }
                for (column, name, help) in metrics {
                    let Some(i) = col(column) else { continue };
                    let Some(v) = to_f64(row.get(i).and_then(|v| v.as_deref())) else {
                        continue;
                    };
                    out.family(name, help, MetricKind::Counter)
                        .add_owned(labels.clone(), v);
                }
            }
            Ok(out.into_families())
        })
    }
}
