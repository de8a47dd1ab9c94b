//! onepass: single-pass code changes with a local model.
//!
//! One run is a straight line of stages: configuration -> walk -> pack (rank, count, fit, render) -> send ->
//! extract/parse/repair/validate -> review -> apply or write a patch. The stages live in their modules; the
//! commands in `commands/` string them together, and [`run`] turns the result into an exit code.

pub mod apply;
pub mod binfile;
pub mod cli;
pub mod commands;
pub mod config;
pub mod env;
pub mod error;
pub mod guard;
pub mod model;
pub mod pack;
pub mod patch;
pub mod prompt;
pub mod repo;
pub mod report;
pub mod review;
pub mod runlog;
pub mod secrets;
pub mod session;
pub mod ui;

use std::ffi::OsString;
use std::io::{Read, Write};

use clap::Parser;

use cli::{Args, Command};
use env::Env;

/// The streams of one run, injected so tests can run onepass in-process.
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// Run onepass with `args` (program name first) and return the exit code.
pub fn run<I, T>(args: I, env: &Env, io: Io<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let text = if env.stderr_is_terminal && e.use_stderr() {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            let sink: &mut dyn Write = if e.use_stderr() { io.stderr } else { io.stdout };
            let _ = write!(sink, "{text}");
            return code;
        }
    };
    match &args.command {
        Some(Command::Pack(pack)) => commands::pack::run(pack, env, io),
        Some(Command::Apply(apply)) => commands::apply::run(apply, env, io),
        Some(Command::Servers(servers)) => commands::servers::run(servers, env, io),
        Some(Command::Again(again)) => commands::single::run_again(again, env, io),
        Some(Command::Warm(warm)) => commands::warm::run(warm, env, io),
        Some(Command::Config(config)) => commands::setup::config(config, env, io),
        Some(Command::Init(init)) => commands::setup::init(init, env, io),
        Some(Command::Completions(completions)) => commands::setup::completions(completions, io),
        Some(Command::Man) => commands::setup::man(env, io),
        Some(Command::Undo(undo)) => commands::undo::run(undo, env, io),
        None => commands::single::run(&args.run, env, io),
    }
}
