//! The run log: one JSON line of metrics per request, in the user cache directory, so that later runs can
//! estimate prefill time and token counts from what this server really did, and `onepass servers` can show
//! measured speeds.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::model::Stats;

/// Records kept when the log is compacted.
const KEEP: usize = 500;
/// Size at which the log is compacted.
const COMPACT_AT: u64 = 1 << 20;
/// Records consulted for an estimate.
const RECENT: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub kind: String,
    pub api: String,
    pub model: String,
    pub context_window: Option<usize>,
    /// Onepass's own (tiktoken) estimate of the prompt.
    pub estimate_tokens: usize,
    /// The server's exact count before sending, where it can count.
    pub exact_tokens: Option<usize>,
    /// What the server reported (the same keys as the run report's `metrics`).
    #[serde(flatten)]
    pub stats: Stats,
    pub outcome: String,
}

impl RunRecord {
    /// Prompt tokens processed per second: the server's figure, else the processed tokens over the client's
    /// time to first token (an underestimate, as it includes generating that token).
    pub fn measured_prefill_tps(&self) -> Option<f64> {
        let stats = &self.stats;
        if let Some(tps) = stats.prefill_tps {
            return Some(tps);
        }
        let processed = stats.processed_tokens()?;
        let ms = stats.prefill_ms.or(stats.ttft_ms)?;
        (ms > 0.0 && processed >= 64).then(|| processed as f64 / (ms / 1000.0))
    }
}

pub struct RunLog {
    path: PathBuf,
}

impl RunLog {
    /// The log in the user cache directory: `$ONEPASS_CACHE_DIR`, `$XDG_CACHE_HOME/onepass`, `~/.cache/onepass`.
    pub fn open(env: &Env) -> Option<RunLog> {
        let dir = if let Some(dir) = env.var("ONEPASS_CACHE_DIR") {
            PathBuf::from(dir)
        } else if let Some(dir) = env.var("XDG_CACHE_HOME") {
            PathBuf::from(dir).join("onepass")
        } else if let Some(home) = env.var("HOME").filter(|_| cfg!(unix)) {
            PathBuf::from(home).join(".cache").join("onepass")
        } else {
            directories::ProjectDirs::from("", "", "onepass")?
                .cache_dir()
                .to_path_buf()
        };
        Some(RunLog {
            path: dir.join("runs.jsonl"),
        })
    }

    pub fn at(path: &Path) -> RunLog {
        RunLog {
            path: path.to_path_buf(),
        }
    }

    /// Every readable record, oldest first; lines that do not parse are passed over.
    pub fn read(&self) -> Vec<RunRecord> {
        std::fs::read_to_string(&self.path)
            .map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Append a record, compacting the file when it has grown large.
    pub fn append(&self, record: &RunRecord) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{line}")?;
        if file.metadata().map(|m| m.len()).unwrap_or(0) > COMPACT_AT {
            let records = self.read();
            let keep = &records[records.len().saturating_sub(KEEP)..];
            let text: String = keep
                .iter()
                .filter_map(|r| serde_json::to_string(r).ok())
                .map(|l| l + "\n")
                .collect();
            let tmp = self.path.with_extension("jsonl.tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(tmp, &self.path)?;
        }
        Ok(())
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn recent<'a>(
    records: &'a [RunRecord],
    api: &'a str,
    model: &'a str,
) -> impl Iterator<Item = &'a RunRecord> {
    records
        .iter()
        .rev()
        .filter(move |r| r.api == api && r.model == model)
        .take(RECENT)
}

/// The median measured prefill speed of this server and model over recent runs.
pub fn prefill_speed(records: &[RunRecord], api: &str, model: &str) -> Option<f64> {
    median(
        recent(records, api, model)
            .filter_map(RunRecord::measured_prefill_tps)
            .collect(),
    )
}

/// How the model's real token counts compare with onepass's estimate (real / estimate), over recent runs.
pub fn token_ratio(records: &[RunRecord], api: &str, model: &str) -> Option<f64> {
    median(
        recent(records, api, model)
            .filter(|r| r.estimate_tokens >= 200)
            .filter_map(|r| {
                let real = r
                    .exact_tokens
                    .map(|n| n as f64)
                    .or(r.stats.prompt_tokens.map(|n| n as f64))?;
                Some(real / r.estimate_tokens as f64)
            })
            .filter(|ratio| (0.3..=3.0).contains(ratio))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(model: &str, estimate: usize, prompt: u64, prefill_tps: Option<f64>) -> RunRecord {
        RunRecord {
            api: "http://127.0.0.1:8080/v1".into(),
            model: model.into(),
            estimate_tokens: estimate,
            stats: Stats {
                prompt_tokens: Some(prompt),
                prefill_tps,
                ..Stats::default()
            },
            ..RunRecord::default()
        }
    }

    #[test]
    fn medians_per_server_and_model() {
        let records = vec![
            record("a", 1000, 1100, Some(800.0)),
            record("a", 1000, 1200, Some(900.0)),
            record("a", 1000, 1150, Some(1000.0)),
            record("b", 1000, 500, Some(50.0)),
        ];
        let api = "http://127.0.0.1:8080/v1";
        assert_eq!(prefill_speed(&records, api, "a"), Some(900.0));
        assert_eq!(token_ratio(&records, api, "a"), Some(1.15));
        assert_eq!(prefill_speed(&records, api, "c"), None);
        assert_eq!(prefill_speed(&records, "http://other/v1", "a"), None);
    }

    #[test]
    fn speed_from_client_time_when_the_server_is_silent() {
        let r = RunRecord {
            stats: Stats {
                prompt_tokens: Some(2000),
                cached_tokens: Some(1000),
                ttft_ms: Some(2000.0),
                ..Stats::default()
            },
            ..RunRecord::default()
        };
        assert_eq!(r.measured_prefill_tps(), Some(500.0));
    }

    #[test]
    fn a_record_is_flat_json_with_the_report_keys() {
        let line = r#"{"time":1,"kind":"llama.cpp","api":"a","model":"m","context_window":8192,"estimate_tokens":900,"exact_tokens":null,"prompt_tokens":1000,"cached_tokens":10,"prefill_ms":500.0,"prefill_tps":1980.0,"ttft_ms":520.0,"generated_tokens":5,"generation_tps":30.0,"load_ms":null,"total_ms":700.0,"outcome":"some(applied)"}"#;
        let r: RunRecord = serde_json::from_str(line).unwrap();
        assert_eq!(r.stats.prompt_tokens, Some(1000));
        assert_eq!(r.measured_prefill_tps(), Some(1980.0));
        let back: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(line).unwrap()
        );
    }

    #[test]
    fn append_and_read_back_skipping_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::at(&dir.path().join("sub/runs.jsonl"));
        log.append(&record("a", 1, 2, None)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("sub/runs.jsonl"))
            .unwrap()
            .write_all(b"{broken\n")
            .unwrap();
        log.append(&record("b", 1, 2, None)).unwrap();
        let read = log.read();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].model, "b");
    }
}
