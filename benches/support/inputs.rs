//! Big inputs made from recorded samples, shared by the benchmarks and the unit tests that
//! check a big page: `benches/pipeline.rs` and `src/parse/recipe/stream_tests.rs` include
//! this file by path (in a folder, so cargo does not take it for a benchmark of its own).

/// The HAProxy CSV `sample` with `servers` more server rows: copies of its server rows,
/// renamed `srv0`, `srv1`... (2,000 give a 524 KB table, about 74k series).
pub fn haproxy_csv(sample: &str, servers: usize) -> String {
    let mut lines = sample.lines();
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.collect();
    let server_rows: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|r| !r.contains(",FRONTEND,") && !r.contains(",BACKEND,"))
        .collect();
    let mut out = format!("{header}\n");
    for r in &rows {
        out.push_str(r);
        out.push('\n');
    }
    if server_rows.is_empty() {
        return out;
    }
    for i in 0..servers {
        let row = server_rows[i % server_rows.len()];
        let (px, rest) = row.split_once(',').unwrap_or((row, ""));
        let (_, rest) = rest.split_once(',').unwrap_or(("", rest));
        out.push_str(&format!("{px},srv{i},{rest}\n"));
    }
    out
}
