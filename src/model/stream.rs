//! Bytes of a streaming reply -> events. Pure and incremental: lines go in, decoded events come out, so it is
//! tested on recorded transcripts without a network.
//!
//! Server-sent events as the OpenAI-compatible servers write them: `data: {json}` lines, an event ending at a
//! blank line, `: comment` keep-alive pings, `data: [DONE]` at the end, and errors either as a `{"error": …}`
//! object in a data line or as an `event: error` block.

use serde::Deserialize;

/// One complete server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseEvent {
    /// The data of an event (several data lines joined by newlines), with its `event:` name if it had one.
    Data { event: Option<String>, data: String },
    /// `data: [DONE]`.
    Done,
}

/// Accumulates lines into events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feed one line (with or without its line ending); returns an event when the line completes one.
    pub fn line(&mut self, line: &str) -> Option<SseEvent> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return self.flush();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if value.trim() == "[DONE]" {
                    self.data.clear();
                    self.event = None;
                    return Some(SseEvent::Done);
                }
                // Servers that omit the blank line between events still send one JSON object per line.
                let complete = self.data.last().is_some_and(|d| is_json_object(d));
                let pending = if complete { self.flush() } else { None };
                self.data.push(value.to_string());
                pending
            }
            "event" => {
                let pending = if self.data.is_empty() {
                    None
                } else {
                    self.flush()
                };
                self.event = Some(value.to_string());
                pending
            }
            _ => None,
        }
    }

    /// The event left at the end of the stream, if its blank line never came.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.flush()
    }

    fn flush(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent::Data { event, data })
    }
}

fn is_json_object(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('{')
        && t.ends_with('}')
        && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
}

/// The parts of a `chat.completion.chunk` onepass uses; everything is optional because servers differ.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
    pub timings: Option<Timings>,
    pub prompt_progress: Option<Progress>,
    pub error: Option<serde_json::Value>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Choice {
    pub delta: Option<Delta>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Delta {
    pub content: Option<String>,
    pub reasoning_content: Option<String>,
    pub reasoning: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PromptTokensDetails {
    pub cached_tokens: Option<u64>,
}

/// llama.cpp's per-request timings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Timings {
    pub cache_n: Option<u64>,
    pub prompt_n: Option<u64>,
    pub prompt_ms: Option<f64>,
    pub prompt_per_second: Option<f64>,
    pub predicted_n: Option<u64>,
    pub predicted_ms: Option<f64>,
    pub predicted_per_second: Option<f64>,
}

/// llama.cpp's prefill progress (`return_progress`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct Progress {
    pub total: u64,
    #[serde(default)]
    pub cache: u64,
    pub processed: u64,
    #[serde(default)]
    pub time_ms: f64,
}

/// Why a data line could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// Not JSON of the expected shape.
    Invalid(String),
    /// The server reported an error inside the stream.
    Server(String),
}

/// Decode the data of one event. An `event: error` block or an `error` member is a server error.
pub fn parse_chunk(event: Option<&str>, data: &str) -> Result<Chunk, ChunkError> {
    if event == Some("error") {
        return Err(ChunkError::Server(error_message(data)));
    }
    let chunk: Chunk =
        serde_json::from_str(data).map_err(|e| ChunkError::Invalid(e.to_string()))?;
    if let Some(error) = &chunk.error {
        return Err(ChunkError::Server(error_text(error)));
    }
    Ok(chunk)
}

/// The human part of an error body: `{"error": {"message": …}}`, `{"error": "…"}`, `{"message": …}`, or the
/// text itself; at most 500 characters, control characters (terminal escapes from a hostile server) shown
/// as `�`, and an empty body said as such.
pub fn error_message(body: &str) -> String {
    let message = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(value) => match value.get("error") {
            Some(error) => error_text(error),
            None => value
                .get("message")
                .and_then(|m| m.as_str())
                .or_else(|| value.get("detail").and_then(|m| m.as_str()))
                .map(str::to_string)
                .unwrap_or_else(|| body.trim().to_string()),
        },
        Err(_) => body.trim().to_string(),
    };
    let clean: String = message
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let mut short: String = clean.chars().take(500).collect();
    if short.len() < clean.len() {
        short.push('…');
    }
    if short.trim().is_empty() {
        "no message (empty body)".into()
    } else {
        short
    }
}

fn error_text(error: &serde_json::Value) -> String {
    match error {
        serde_json::Value::String(s) => s.clone(),
        other => other
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Vec<SseEvent> {
        let mut d = SseDecoder::default();
        let mut out: Vec<SseEvent> = text
            .split_inclusive('\n')
            .filter_map(|l| d.line(l))
            .collect();
        out.extend(d.finish());
        out
    }

    #[test]
    fn events_comments_and_done() {
        let events = decode(": ping\n\ndata: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\ndata: [DONE]\n\n");
        assert_eq!(
            events,
            vec![
                SseEvent::Data {
                    event: None,
                    data: "{\"a\":1}".into()
                },
                SseEvent::Data {
                    event: None,
                    data: "{\"b\":2}".into()
                },
                SseEvent::Done,
            ]
        );
    }

    #[test]
    fn multi_line_data_and_missing_blank_lines() {
        assert_eq!(
            decode("data: line one\ndata: line two\n\n"),
            vec![SseEvent::Data {
                event: None,
                data: "line one\nline two".into()
            }]
        );
        assert_eq!(decode("data: {\"a\":1}\ndata: {\"b\":2}\n").len(), 2);
    }

    #[test]
    fn error_events_and_objects() {
        let events = decode("event: error\ndata: {\"message\":\"boom\"}\n\n");
        let SseEvent::Data { event, data } = &events[0] else {
            panic!()
        };
        assert_eq!(
            parse_chunk(event.as_deref(), data),
            Err(ChunkError::Server("boom".into()))
        );
        assert_eq!(
            parse_chunk(None, r#"{"error":{"code":500,"message":"slot failed"}}"#),
            Err(ChunkError::Server("slot failed".into()))
        );
        assert!(matches!(
            parse_chunk(None, "{not json"),
            Err(ChunkError::Invalid(_))
        ));
    }

    #[test]
    fn chunk_fields() {
        let c = parse_chunk(
            None,
            r#"{"choices":[],"usage":{"prompt_tokens":237,"completion_tokens":35,"prompt_tokens_details":{"cached_tokens":236}},"timings":{"cache_n":236,"prompt_n":1,"prompt_ms":30.9,"prompt_per_second":32.3,"predicted_n":35,"predicted_ms":661.0,"predicted_per_second":52.9}}"#,
        )
        .unwrap();
        assert!(c.choices.is_empty());
        let usage = c.usage.unwrap();
        assert_eq!(usage.prompt_tokens, Some(237));
        assert_eq!(
            usage.prompt_tokens_details.unwrap().cached_tokens,
            Some(236)
        );
        assert_eq!(c.timings.unwrap().cache_n, Some(236));
        let c = parse_chunk(
            None,
            r#"{"choices":[{"delta":{"content":"hi"},"finish_reason":null}],"usage":null}"#,
        )
        .unwrap();
        assert_eq!(
            c.choices[0].delta.as_ref().unwrap().content.as_deref(),
            Some("hi")
        );
    }

    #[test]
    fn error_message_shapes() {
        assert_eq!(error_message(r#"{"error":{"message":"nope"}}"#), "nope");
        assert_eq!(
            error_message(r#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_message("<html>bad gateway</html>\n"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(""), "no message (empty body)");
        assert_eq!(
            error_message("\u{1b}[2Jgone\u{7}"),
            "\u{fffd}[2Jgone\u{fffd}"
        );
        assert_eq!(error_message(&"x".repeat(2000)).chars().count(), 501);
    }
}
