//! Server faults (issue 8, item 5): a refused connection, a reset mid-stream, a stream that stalls before or
//! after the first token, headers that come late, odd HTTP errors, invalid chunks, garbage instead of HTTP, a
//! reply that never ends, a gigantic reply, a redirect. Each: a clear message, exit 2, the tree unchanged.
//! The deadlines are configured to a second or less so every test is fast.

use std::time::Duration;

use crate::harness::{Case, dead_endpoint};
use crate::server::{Reply, TestServer, sse_transcript};
use crate::*;

const OLLAMA_NDJSON: &str = include_str!("../../fixtures/streams/ollama-chat.ndjson");

/// The hello repository with short deadlines.
fn quick() -> Case {
    hello()
        .env("ONEPASS_PREFILL_TIMEOUT", "1")
        .env("ONEPASS_IDLE_TIMEOUT", "0.5")
}

/// A byte offset inside the reply text of the add-verbose transcript (after some text, before the end).
fn mid_reply(full: &str) -> usize {
    full.find("finish_reason\":\"stop").unwrap() / 2
}

#[test]
fn connection_refused() {
    let run = hello()
        .env("ONEPASS_ENDPOINT", &dead_endpoint())
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("cannot connect to http://127.0.0.1:")
        .stderr_has("Is the server running?")
        .unchanged();
    assert!(run.chat_requests().is_empty());
}

#[test]
fn connection_reset_mid_stream() {
    let full = sse_transcript(ADD_VERBOSE_REPLY, "stop");
    let bytes = mid_reply(&full);
    quick()
        .chat(Reply::Reset { body: full, bytes })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the connection closed before the reply was complete")
        .unchanged();
}

#[test]
fn connection_reset_before_any_text() {
    quick()
        .chat(Reply::Reset {
            body: ": ping\n\n".into(),
            bytes: 8,
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("reading the reply failed")
        .unchanged();
}

#[test]
fn a_stream_that_stalls_during_prefill() {
    let started = std::time::Instant::now();
    quick()
        .chat(Reply::Stall {
            body: ": ping\n\n".into(),
            bytes: 8,
            hold: Duration::from_secs(20),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has(
            "the server sent nothing for 1.0 s while processing the prompt (prefill timeout)",
        )
        .stderr_has("--prefill-timeout")
        .unchanged();
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_stream_that_stalls_after_the_first_tokens() {
    let full = sse_transcript(ADD_VERBOSE_REPLY, "stop");
    let bytes = mid_reply(&full);
    let started = std::time::Instant::now();
    quick()
        .env("ONEPASS_PREFILL_TIMEOUT", "30")
        .chat(Reply::Stall {
            body: full,
            bytes,
            hold: Duration::from_secs(20),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the reply stalled: no data for 0.5 s after")
        .stderr_has("--idle-timeout")
        .unchanged();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the idle deadline, not the prefill one"
    );
}

#[test]
fn the_prefill_deadline_is_generous_and_the_idle_one_short() {
    // Headers 1.2 s late (a server that answers only after the prefill): longer than the idle deadline,
    // shorter than the prefill deadline, so the reply is applied.
    quick()
        .env("ONEPASS_PREFILL_TIMEOUT", "5")
        .env("ONEPASS_IDLE_TIMEOUT", "0.3")
        .chat(Reply::Slow {
            delay: Duration::from_millis(1200),
            then: Box::new(Reply::sse(&sse_transcript(ADD_VERBOSE_REPLY, "stop"))),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn a_server_slow_to_send_its_headers() {
    quick()
        .chat(Reply::Slow {
            delay: Duration::from_secs(4),
            then: Box::new(Reply::sse(&sse_transcript(ADD_VERBOSE_REPLY, "stop"))),
        })
        .args(&["-y", "--prefill-timeout", "0.5s", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the server sent nothing for 0.5 s while processing the prompt")
        .unchanged();
}

#[test]
fn http_errors_with_odd_bodies() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::Full {
                status: 500,
                content_type: "text/plain",
                body: String::new(),
            },
            "the server answered 500 at",
        ),
        (
            Reply::Full {
                status: 503,
                content_type: "application/octet-stream",
                body: "\u{1b}[31mred\u{7}\u{0}".into(),
            },
            "\u{fffd}[31mred\u{fffd}\u{fffd}",
        ),
        (
            Reply::Full {
                status: 429,
                content_type: "text/html",
                body: "<p>slow down</p>".repeat(100_000),
            },
            "the server answered 429",
        ),
        (
            Reply::json(418, r#"{"error":{"message":["not","a","string"]}}"#),
            "the server answered 418",
        ),
    ];
    for (reply, message) in cases {
        let run = quick()
            .chat(reply)
            .args(&["-y", "add a --verbose flag"])
            .run()
            .status(2)
            .stderr_has(message)
            .unchanged();
        assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
        assert!(run.stderr.len() < 4000, "a huge body is not echoed whole");
    }
}

#[test]
fn invalid_json_chunks() {
    quick()
        .chat(Reply::sse(
            "data: {\"choices\":[{\"delta\":{\"content\":\"```diff\\n\"}}]}\n\ndata: {not json at all\n\n",
        ))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the server sent something that is not a valid stream chunk")
        .unchanged();
}

#[test]
fn garbage_instead_of_http() {
    for bytes in [
        b"\x00\x01\x02 garbage\r\n\r\nmore".to_vec(),
        b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
    ] {
        quick()
            .chat(Reply::Raw(bytes))
            .args(&["-y", "add a --verbose flag"])
            .run()
            .status(2)
            .stderr_has("accepted the connection but gave no valid HTTP answer")
            .unchanged();
    }
}

#[test]
fn a_connection_closed_without_an_answer() {
    quick()
        .chat(Reply::Raw(Vec::new()))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("gave no valid HTTP answer")
        .unchanged();
}

#[test]
fn a_reply_that_never_ends() {
    let chunk = "data: {\"choices\":[{\"delta\":{\"content\":\"again \"}}]}\n\n";
    quick()
        .env("ONEPASS_MAX_TOKENS", "200")
        .chat(Reply::Endless {
            chunk: chunk.into(),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the model did not stop: more than 264 tokens although max_tokens was 200")
        .unchanged();
}

#[test]
fn a_gigantic_reply() {
    let text = format!("{}\n{ADD_VERBOSE_REPLY}", "blah ".repeat(2000));
    quick()
        .env("ONEPASS_MAX_REPLY_BYTES", "4000")
        .chat(Reply::sse(&sse_transcript(&text, "stop")))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the reply is larger than the 4000 byte cap")
        .unchanged();
}

#[test]
fn a_line_that_never_ends() {
    quick()
        .env("ONEPASS_MAX_REPLY_BYTES", "4000")
        .chat(Reply::Endless {
            chunk: "data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".into(),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("byte cap")
        .unchanged();
}

#[test]
fn a_redirect_is_not_followed_and_the_key_stays_home() {
    let elsewhere = TestServer::openai(Reply::sse(&sse_transcript(ADD_VERBOSE_REPLY, "stop")));
    let location = format!("{}/v1/chat/completions", elsewhere.url);
    quick()
        .env("ONEPASS_API_KEY", "sk-local-secret")
        .chat(Reply::Redirect {
            status: 307,
            location: location.clone(),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("redirects to")
        .stderr_has(&location)
        .stderr_has("onepass does not follow redirects")
        .unchanged();
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other host"
    );
}

#[test]
fn ollama_streams_stall_and_garbage_too() {
    let bytes = OLLAMA_NDJSON.len() / 2;
    quick()
        .with_server(TestServer::ollama(Reply::Stall {
            body: OLLAMA_NDJSON.into(),
            bytes,
            hold: Duration::from_secs(20),
        }))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the reply stalled")
        .unchanged();
    quick()
        .with_server(TestServer::ollama(Reply::ndjson(
            "{\"message\":{\"content\":\"x\"},\"done\":false}\n<html>oops</html>\n",
        )))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("not a valid stream chunk")
        .unchanged();
    // Ollama sends nothing at all while it loads and prefills: only the prefill deadline applies.
    quick()
        .with_server(TestServer::ollama(Reply::Stall {
            body: String::new(),
            bytes: 0,
            hold: Duration::from_secs(20),
        }))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("prefill timeout")
        .unchanged();
}

/// This machine's address on its default route, if it has one (none in a sandbox without a network).
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn a_remote_endpoint_is_named_once_in_the_summary() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("SKIPPED: no non-loopback address on this machine");
        return;
    };
    let server = TestServer::openai_at(
        "0.0.0.0:0",
        Reply::sse(&sse_transcript(ADD_VERBOSE_REPLY, "stop")),
    );
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let run = hello()
        .with_server(server)
        .env("ONEPASS_ENDPOINT", &format!("http://{ip}:{port}"))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    let note = format!("prompt sent to {ip}, outside this machine");
    assert_eq!(run.stderr.matches(&note).count(), 1, "{}", run.stderr);
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(
        !run.stderr.contains("outside this machine"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_finished_reply_whose_connection_stays_open_is_complete() {
    // Everything up to the finish reason, then silence with the connection open (no [DONE], no close).
    let full = sse_transcript(ADD_VERBOSE_REPLY, "stop");
    let bytes = full
        .find("\"usage\"")
        .map(|i| full[..i].rfind("data:").unwrap())
        .unwrap();
    quick()
        .chat(Reply::Stall {
            body: full,
            bytes,
            hold: Duration::from_secs(20),
        })
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}
