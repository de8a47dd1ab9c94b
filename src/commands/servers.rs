//! `onepass servers`: what answers on the usual local ports (or at --endpoint): kind, version, models, the
//! loaded context window, and the prefill speed measured on earlier runs.

use std::time::Duration;

use serde::Serialize;

use crate::Io;
use crate::cli::ServersArgs;
use crate::config::Layer;
use crate::env::Env;
use crate::error::Error;
use crate::model::detect::{self, Found};
use crate::runlog::{self, RunLog};
use crate::ui;

#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    found: Found,
    /// Measured prefill tokens per second, per model, from the run log.
    prefill_tps: Vec<(String, f64)>,
}

pub fn run(args: &ServersArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let mut ui = super::early_ui(&args.repo, env, stderr);
    match servers(args, env, stdout) {
        Ok(code) => code,
        Err(e) => {
            ui.error(&e.to_string());
            e.exit_code()
        }
    }
}

fn servers(args: &ServersArgs, env: &Env, stdout: &mut dyn std::io::Write) -> Result<u8, Error> {
    let env_layer = Layer::from_env(env)?;
    let key = args.api_key.clone().or(env_layer.api_key);
    let endpoint = args.endpoint.clone().or(env_layer.endpoint);
    let found: Vec<Found> = match &endpoint {
        Some(endpoint) => vec![detect::fingerprint(
            &detect::api_base(endpoint)?,
            args.api,
            key.as_deref(),
            Duration::from_secs(10),
        )?],
        None => detect::scan_local(args.api),
    };
    let records = RunLog::open(env).map(|l| l.read()).unwrap_or_default();
    let listed: Vec<Listed> = found
        .into_iter()
        .map(|found| {
            let prefill_tps = found
                .models
                .iter()
                .filter_map(|m| {
                    Some((
                        m.id.clone(),
                        runlog::prefill_speed(&records, &found.api, &m.id)?,
                    ))
                })
                .collect();
            Listed { found, prefill_tps }
        })
        .collect();
    let out = if args.json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&listed).unwrap_or_default()
        )
    } else if listed.is_empty() {
        writeln!(
            stdout,
            "no model server answers on {}.\nStart one, e.g. `ollama serve` or `llama-server -m MODEL.gguf`.",
            detect::LOCAL_PORTS
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        listed.iter().try_for_each(|l| {
            let f = &l.found;
            writeln!(
                stdout,
                "{}  {}{}{}",
                f.api,
                f.kind,
                f.version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                f.context_window
                    .map(|c| format!("  context {}", ui::thousands(c)))
                    .unwrap_or_default()
            )?;
            for m in &f.models {
                let speed = l
                    .prefill_tps
                    .iter()
                    .find(|(id, _)| *id == m.id)
                    .map(|(_, tps)| format!("  prefill {tps:.0} tok/s (measured)"))
                    .unwrap_or_default();
                writeln!(
                    stdout,
                    "  {}{}{}{}",
                    m.id,
                    if m.loaded == Some(true) {
                        "  [loaded]"
                    } else {
                        ""
                    },
                    m.context_window
                        .map(|c| format!("  context {}", ui::thousands(c)))
                        .unwrap_or_default(),
                    speed
                )?;
            }
            Ok(())
        })
    };
    out.map_err(|e| Error::Output(e.to_string()))?;
    Ok(if listed.is_empty() { 1 } else { 0 })
}
