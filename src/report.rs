//! The run report: what `--json` prints as one object on stdout, whatever the outcome, so scripts can rely
//! on its keys. It is filled in stage by stage as the run goes.

use serde::Serialize;

use crate::model::{Server, Stats};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// applied | written | rejected | no_diff | error
    pub outcome: &'static str,
    pub error: Option<String>,
    pub server: Option<ServerReport>,
    pub estimate: Option<Estimate>,
    pub metrics: Option<Metrics>,
    pub files: Files,
    /// Secret files withheld and secrets redacted from the prompt.
    pub secrets: crate::secrets::Withheld,
    pub change: Option<ChangeReport>,
    /// Where the patch was written (`--dry-run`).
    pub patch_file: Option<String>,
    /// A llama.cpp slot saved or restored for this run's prefix.
    pub slot: Option<SlotReport>,
}

#[derive(Debug, Serialize)]
pub struct SlotReport {
    /// saved | restored
    pub action: &'static str,
    #[serde(flatten)]
    pub file: crate::model::llamacpp::SlotFile,
}

#[derive(Debug, Serialize)]
pub struct ServerReport {
    pub kind: &'static str,
    pub url: String,
    pub model: String,
    pub version: Option<String>,
    pub context_window: Option<usize>,
    /// False when the prompt leaves this machine.
    pub loopback: bool,
}

impl ServerReport {
    pub fn of(server: &Server) -> ServerReport {
        ServerReport {
            kind: server.kind.name(),
            url: server.api.clone(),
            model: server.model.clone(),
            version: server.version.clone(),
            context_window: server.context_window,
            loopback: server.is_loopback(),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Estimate {
    /// Prompt tokens before sending: the server's exact count where it can count, else onepass's estimate.
    pub prompt_tokens: usize,
    /// Whether `prompt_tokens` is the server's exact count.
    pub exact: bool,
    /// The prompt's tokens at this server's measured prefill speed, when one has been measured.
    pub prefill_ms: Option<f64>,
    pub prefill_tps: Option<f64>,
}

/// The metrics of the request, normalised across servers; null where the server did not say.
#[derive(Debug, Default, Serialize)]
pub struct Metrics {
    #[serde(flatten)]
    pub stats: Stats,
    pub finish_reason: Option<String>,
}

impl Metrics {
    pub fn of(stats: &Stats, finish_reason: Option<String>) -> Metrics {
        Metrics {
            stats: stats.clone(),
            finish_reason,
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Files {
    /// Files included whole.
    pub packed: usize,
    /// Files left out for the budget.
    pub omitted: usize,
    /// Files passed over for their content.
    pub skipped: usize,
    pub packed_paths: Vec<String>,
    pub omitted_paths: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ChangeReport {
    pub files: Vec<FileReport>,
    pub rejected: Vec<crate::patch::Rejected>,
    pub dropped: Vec<String>,
    pub summary: Option<String>,
    /// The commit made with `--commit`.
    pub commit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileReport {
    pub path: String,
    pub kind: crate::patch::ChangeKind,
    pub hunks: Vec<HunkReport>,
}

#[derive(Debug, Serialize)]
pub struct HunkReport {
    /// 1-based first line of the hunk in the current file.
    pub line: usize,
    pub level: crate::patch::RepairLevel,
    /// apply | skip, once decided (`-y`, the review, or "apply all"); null when nothing was decided (a dry
    /// run, a refusal).
    pub decision: Option<crate::review::Decision>,
    /// The reviewer edited the hunk.
    pub edited: bool,
}

impl ChangeReport {
    pub fn of(plan: &crate::patch::Plan) -> ChangeReport {
        ChangeReport {
            files: plan
                .changes
                .iter()
                .map(|c| FileReport {
                    path: c.path.clone(),
                    kind: c.kind,
                    hunks: c
                        .hunks
                        .iter()
                        .map(|h| HunkReport {
                            line: h.old_start + 1,
                            level: h.level,
                            decision: None,
                            edited: false,
                        })
                        .collect(),
                })
                .collect(),
            rejected: plan.rejected.clone(),
            dropped: plan.dropped.clone(),
            summary: plan.summary.clone(),
            commit: None,
        }
    }

    /// The files and hunks as reviewed (split and edited hunks included) with their decisions.
    pub fn decide(&mut self, session: &crate::review::Session) {
        self.files = session
            .files
            .iter()
            .enumerate()
            .map(|(f, c)| FileReport {
                path: c.path.clone(),
                kind: c.kind,
                hunks: c
                    .hunks
                    .iter()
                    .enumerate()
                    .map(|(i, h)| HunkReport {
                        line: h.old_start + 1,
                        level: h.level,
                        decision: session.decisions[f].get(i).copied().flatten(),
                        edited: session.edited[f].get(i).copied().unwrap_or(false),
                    })
                    .collect(),
            })
            .collect();
    }
}
