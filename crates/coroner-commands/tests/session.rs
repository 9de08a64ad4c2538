//! Lines run in one session share one opened program, give the same report as the
//! one-shot CLI, and fail with the exit status their error calls for.

use coroner_commands::{CommandError, Input, Registry, Session};
use coroner_report::Format;
use coroner_testdata::crash_dir;
use std::path::PathBuf;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/sysrq-6.1-small.kdump-zstd")
}

fn line(words: &str) -> Vec<String> {
    words.split_whitespace().map(str::to_string).collect()
}

/// Runs a line and renders its report as it asked.
fn run(registry: &Registry, session: &Session, words: &str) -> (Vec<u8>, u8) {
    let (output, format) = registry
        .run_line(session, &line(words))
        .unwrap_or_else(|e| panic!("{words}: {e}"));
    let mut out = Vec::new();
    output.report.render(format, &mut out).unwrap();
    (out, output.status)
}

/// Sessions are handed between threads by the server and the shell's workers.
#[test]
fn sessions_are_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Session>();
}

#[test]
fn one_program_serves_every_line() {
    let registry = Registry::builtin();
    let session = Session::new(example(), None);
    assert_eq!(session.input(), Input::Dump);
    let (sym, status) = run(&registry, &session, "sym panic");
    assert_eq!(status, 0);
    assert!(String::from_utf8(sym).unwrap().ends_with(" (T) panic\n"));
    let first = session.program().unwrap() as *const _;
    let (bt, _) = run(&registry, &session, "bt");
    assert!(String::from_utf8(bt).unwrap().starts_with("PID: "));
    let (ps, _) = run(&registry, &session, "ps --json");
    let ps: serde_json::Value = serde_json::from_slice(&ps).unwrap();
    assert_eq!(ps["schema"], "coroner.ps/1");
    assert!(ps["tasks"].as_array().unwrap().len() > 10);
    assert_eq!(session.program().unwrap() as *const _, first);
    let (md, _) = run(&registry, &session, "mod --markdown");
    let md = String::from_utf8(md).unwrap();
    assert!(
        md.starts_with("### coroner mod\n\n```text\n     MODULE"),
        "{md}"
    );
    // Every task's stack, each named from the task list it was read with.
    let (all, _) = run(&registry, &session, "foreach bt --json");
    let all: serde_json::Value = serde_json::from_slice(&all).unwrap();
    let stacks = all["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), ps["tasks"].as_array().unwrap().len());
    assert!(stacks
        .iter()
        .all(|s| s["pid"].is_u64() && s["comm"].is_string()));
    // An alias finds its command.
    let (union, _) = run(&registry, &session, "union list_head");
    assert!(String::from_utf8(union)
        .unwrap()
        .starts_with("struct list_head {"));
}

#[test]
fn errors_carry_their_exit_status() {
    let registry = Registry::builtin();
    let session = Session::new(example(), None);
    let status = |words: &str| match registry.run_line(&session, &line(words)) {
        Ok(out) => panic!("{words}: expected an error, got status {}", out.0.status),
        Err(e) => (e.status(), e.to_string()),
    };
    let (code, text) = status("struct no_such_type");
    assert_eq!(
        (code, text.as_str()),
        (1, "struct: no_such_type: no such struct or union")
    );
    let (code, text) = status("frobnicate");
    assert_eq!((code, text.as_str()), (2, "frobnicate: no such command"));
    let (code, _) = status("rd");
    assert_eq!(code, 2, "rd needs an address");
    let (code, text) = status("bt 999999");
    assert_eq!((code, text.as_str()), (2, "999999: no such task"));
    // A miss inside a report is a status, not an error.
    let (output, _) = registry
        .run_line(&session, &line("sym no_such_symbol_here"))
        .unwrap();
    assert_eq!(output.status, 1);
    assert_eq!(output.report.warnings().len(), 1);
}

#[test]
fn a_log_is_triaged_and_refused_by_dump_commands() {
    let registry = Registry::builtin();
    let console = crash_dir("mod-null").join("console.log");
    let session = Session::new(&console, None);
    assert_eq!(session.input(), Input::Log);
    let (output, format) = registry.run_line(&session, &line("triage --json")).unwrap();
    assert_eq!(format, Format::Json);
    assert_eq!(output.status, 0, "the console log holds a crash");
    let mut out = Vec::new();
    output.report.render(format, &mut out).unwrap();
    let triage: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(triage["schema"], "coroner.triage/1");
    assert_eq!(triage["crashed"], true);
    assert!(triage["dump"].is_null());
    match registry.run_line(&session, &line("bt")) {
        Err(CommandError::Dump(e)) => assert!(e.to_string().contains("console.log"), "{e}"),
        other => panic!("bt on a log: {:?}", other.map(|o| o.0.status)),
    }
}
