//! A loopback HTTP server for the tests: it answers each route with a scripted response (JSON, a recorded
//! SSE transcript, a stream cut short, an error status) and records every request it receives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One scripted answer.
#[derive(Clone)]
pub enum Reply {
    /// An answer computed from the request.
    Func(Arc<dyn Fn(&Request) -> Reply + Send + Sync>),
    /// A complete response with this status, content type and body.
    Full {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// A streamed body cut after `bytes` bytes: the connection closes mid-stream.
    Cut { body: String, bytes: usize },
    /// A streamed body that stops after `bytes` bytes with the connection left open for `hold`.
    Stall {
        body: String,
        bytes: usize,
        hold: Duration,
    },
    /// A streamed body after which the connection is reset (TCP RST), not closed.
    Reset { body: String, bytes: usize },
    /// Nothing for `delay`, then `then` (a server slow to send its headers, e.g. during a prefill).
    Slow { delay: Duration, then: Box<Reply> },
    /// These bytes as the whole answer, no HTTP framing of ours.
    Raw(Vec<u8>),
    /// A 200 SSE stream repeating `chunk` until the client hangs up (a model that never stops).
    Endless { chunk: String },
    /// A redirect to `location`.
    Redirect { status: u16, location: String },
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    pub fn ndjson(body: &str) -> Reply {
        Reply::Full {
            status: 200,
            content_type: "application/x-ndjson",
            body: body.to_string(),
        }
    }

    pub fn func(f: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Reply {
        Reply::Func(Arc::new(f))
    }

    pub fn sse(body: &str) -> Reply {
        Reply::Full {
            status: 200,
            content_type: "text/event-stream",
            body: body.to_string(),
        }
    }
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct TestServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    /// Serve `routes` ("METHOD /path" -> reply) on a free loopback port until the test process ends.
    /// Unknown routes answer 404.
    pub fn start(routes: HashMap<String, Reply>) -> TestServer {
        TestServer::start_at("127.0.0.1:0", routes)
    }

    /// Serve `routes` on `bind` (e.g. "0.0.0.0:0" to be reachable on every interface).
    pub fn start_at(bind: &str, routes: HashMap<String, Reply>) -> TestServer {
        let listener = TcpListener::bind(bind).expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let routes = routes.clone();
                let log = Arc::clone(&log);
                thread::spawn(move || serve(stream, &routes, &log));
            }
        });
        TestServer { url, requests }
    }

    /// An OpenAI-compatible server with one model whose chat endpoint answers `chat`.
    pub fn openai(chat: Reply) -> TestServer {
        TestServer::openai_at("127.0.0.1:0", chat)
    }

    /// The same, bound to `bind`.
    pub fn openai_at(bind: &str, chat: Reply) -> TestServer {
        let mut routes = HashMap::new();
        routes.insert(
            "GET /v1/models".to_string(),
            Reply::json(200, r#"{"object":"list","data":[{"id":"test-model","object":"model","owned_by":"test"}]}"#),
        );
        routes.insert("POST /v1/chat/completions".to_string(), chat);
        TestServer::start_at(bind, routes)
    }

    /// An Ollama server (version, tags, show, /v1/models) whose `/api/chat` answers `chat`.
    pub fn ollama(chat: Reply) -> TestServer {
        let mut routes = HashMap::new();
        routes.insert(
            "GET /api/version".to_string(),
            Reply::json(200, r#"{"version":"0.34.1"}"#),
        );
        routes.insert(
            "GET /api/tags".to_string(),
            Reply::json(200, r#"{"models":[{"name":"qwen2.5-coder:7b"}]}"#),
        );
        routes.insert(
            "GET /api/ps".to_string(),
            Reply::json(200, r#"{"models":[]}"#),
        );
        routes.insert("POST /api/show".to_string(), Reply::json(200, "{}"));
        routes.insert(
            "GET /v1/models".to_string(),
            Reply::json(
                200,
                r#"{"object":"list","data":[{"id":"qwen2.5-coder:7b"}]}"#,
            ),
        );
        routes.insert("POST /api/chat".to_string(), chat);
        TestServer::start(routes)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn chat_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .collect()
    }
}

fn serve(stream: TcpStream, routes: &HashMap<String, Reply>, log: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let route = format!("{method} {}", path.split('?').next().unwrap_or(""));
    let request = Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock().unwrap().push(request.clone());
    let mut stream = stream;
    let mut reply = routes.get(&route).cloned().unwrap_or(Reply::Full {
        status: 404,
        content_type: "application/json",
        body: r#"{"error":{"message":"not found"}}"#.into(),
    });
    loop {
        match reply {
            Reply::Func(f) => reply = f(&request),
            Reply::Slow { delay, then } => {
                thread::sleep(delay);
                reply = *then;
            }
            _ => break,
        }
    }
    const SSE_HEAD: &str =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    match reply {
        Reply::Func(_) | Reply::Slow { .. } => unreachable!("resolved above"),
        Reply::Stall { body, bytes, hold } => {
            let _ = stream.write_all(SSE_HEAD.as_bytes());
            let _ = stream.write_all(&body.as_bytes()[..bytes.min(body.len())]);
            let _ = stream.flush();
            thread::sleep(hold);
        }
        Reply::Reset { body, bytes } => {
            let _ = stream.write_all(SSE_HEAD.as_bytes());
            let _ = stream.write_all(&body.as_bytes()[..bytes.min(body.len())]);
            let _ = stream.flush();
            thread::sleep(Duration::from_millis(100));
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            return;
        }
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Endless { chunk } => {
            let _ = stream.write_all(SSE_HEAD.as_bytes());
            // Bounded so a test that forgets its client cannot spin forever.
            for _ in 0..10_000_000 {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
        }
        Reply::Redirect { status, location } => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        Reply::Full {
            status,
            content_type,
            body,
        } => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Reply::Cut { body, bytes } => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(&body.as_bytes()[..bytes.min(body.len())]);
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// An OpenAI-style SSE transcript streaming `text` in small pieces, then the finish reason, a usage chunk and
/// `[DONE]`, as llama.cpp and vLLM write it.
pub fn sse_transcript(text: &str, finish_reason: &str) -> String {
    let mut out = String::new();
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        serde_json::json!({
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    out.push_str(&format!(
        "data: {}\n\n",
        chunk(
            serde_json::json!({"role": "assistant", "content": null}),
            serde_json::Value::Null
        )
    ));
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(17) {
        let piece: String = piece.iter().collect();
        out.push_str(&format!(
            "data: {}\n\n",
            chunk(
                serde_json::json!({"content": piece}),
                serde_json::Value::Null
            )
        ));
    }
    out.push_str(&format!(
        "data: {}\n\n",
        chunk(serde_json::json!({}), serde_json::json!(finish_reason))
    ));
    let completion = (text.len() / 4).max(1);
    out.push_str(&format!(
        "data: {}\n\n",
        serde_json::json!({
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
            "choices": [],
            "usage": {"prompt_tokens": 1234, "completion_tokens": completion, "total_tokens": 1234 + completion,
                      "prompt_tokens_details": {"cached_tokens": 1000}},
            "timings": {"cache_n": 1000, "prompt_n": 234, "prompt_ms": 250.5, "prompt_per_second": 934.1,
                        "predicted_n": completion, "predicted_ms": 900.0, "predicted_per_second": 40.0}
        })
    ));
    out.push_str("data: [DONE]\n\n");
    out
}
