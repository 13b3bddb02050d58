//! The control plane's Prometheus metrics (`GET /metrics`): drift, compile queue and
//! connected nodes. Gauges are read from the database at scrape time (so every control plane sharing a database answers the same) and counters kept in
//! this process. Rendered by hand in the text exposition format: three families do not
//! justify a metrics registry dependency, and the format is a few lines of spec.

use sqlx::PgPool;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::PassReport;

/// Counters since this process started.
#[derive(Debug, Default)]
pub struct Metrics {
    observations: [AtomicU64; 3],
    deliveries: [AtomicU64; 3],
}

const RESULTS: [&str; 3] = ["serving", "unreachable", "invalid"];
const DELIVERY_RESULTS: [&str; 3] = ["delivered", "retried", "failed"];

/// What became of one webhook delivery attempt.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryResult {
    /// 2xx.
    Delivered,
    /// Failed, will be retried.
    Retried,
    /// Failed for the last time.
    Failed,
}

impl Metrics {
    /// Counts a pass's observations.
    pub fn observed(&self, report: &PassReport) {
        for (counter, n) in self.observations.iter().zip(report.results) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counts a delivery attempt.
    pub fn delivery(&self, result: DeliveryResult) {
        self.deliveries[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition: `text/plain; version=0.0.4`.
    pub async fn render(&self, pool: &PgPool, connected: usize) -> Result<String, sqlx::Error> {
        let open: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
            "SELECT f.project_id, f.kind, count(*) FROM drift_findings f WHERE NOT EXISTS \
             (SELECT 1 FROM drift_finding_events e WHERE e.finding_id = f.id AND e.event = 'resolved') \
             GROUP BY f.project_id, f.kind ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await?;
        let nodes: Vec<(uuid::Uuid, String, String, i64)> = sqlx::query_as(
            "SELECT project_id, sync, health, count(*) FROM data_planes \
             GROUP BY project_id, sync, health ORDER BY 1, 2, 3",
        )
        .fetch_all(pool)
        .await?;
        let mut out = String::new();
        family(
            &mut out,
            "barbacane_control_drift_findings_open",
            "Open drift findings.",
            "gauge",
        );
        for (project, kind, n) in &open {
            let _ = writeln!(
                out,
                "barbacane_control_drift_findings_open{{project=\"{project}\",kind=\"{}\"}} {n}",
                escape(kind)
            );
        }
        family(
            &mut out,
            "barbacane_control_data_planes",
            "Data planes by drift sync and health state.",
            "gauge",
        );
        for (project, sync, health, n) in &nodes {
            let _ = writeln!(
                out,
                "barbacane_control_data_planes{{project=\"{project}\",sync=\"{}\",health=\"{}\"}} {n}",
                escape(sync),
                escape(health)
            );
        }
        family(
            &mut out,
            "barbacane_control_drift_observations_total",
            "Node observations assessed by the drift engine, by result.",
            "counter",
        );
        for (name, n) in RESULTS.iter().zip(&self.observations) {
            let _ = writeln!(
                out,
                "barbacane_control_drift_observations_total{{result=\"{name}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let queue: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, count(*) FROM compilations GROUP BY status ORDER BY 1")
                .fetch_all(pool)
                .await?;
        family(
            &mut out,
            "barbacane_control_compilations",
            "Compilations by status (pending is the queue depth).",
            "gauge",
        );
        for status in ["pending", "running", "succeeded", "failed"] {
            let n = queue
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "barbacane_control_compilations{{status=\"{status}\"}} {n}"
            );
        }
        family(
            &mut out,
            "barbacane_control_connected_data_planes",
            "Data planes connected to this process over the WebSocket.",
            "gauge",
        );
        let _ = writeln!(out, "barbacane_control_connected_data_planes {connected}");
        family(
            &mut out,
            "barbacane_control_webhook_deliveries_total",
            "Webhook delivery attempts, by result.",
            "counter",
        );
        for (name, n) in DELIVERY_RESULTS.iter().zip(&self.deliveries) {
            let _ = writeln!(
                out,
                "barbacane_control_webhook_deliveries_total{{result=\"{name}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        crate::telemetry::render(&mut out);
        Ok(out)
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value, escaped as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
