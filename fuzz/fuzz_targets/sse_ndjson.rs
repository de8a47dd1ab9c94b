//! Arbitrary bytes as a streamed reply: the SSE decoder and chunk parser, the OpenAI stream reader, the Ollama
//! NDJSON reader, and the capped line splitter. Nothing may panic; the caps must hold.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use onepass::model::feed::{Lines, Phase, ReaderLines, StreamLimits};
use onepass::model::{ollama, openai, stream};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut decoder = stream::SseDecoder::default();
    let mut events = Vec::new();
    for line in text.split_inclusive('\n') {
        events.extend(decoder.line(line));
    }
    events.extend(decoder.finish());
    for event in events {
        if let stream::SseEvent::Data { event, data } = event {
            let _ = stream::parse_chunk(event.as_deref(), &data);
            let _ = stream::error_message(&data);
        }
    }
    let _ = openai::read_stream(data, Instant::now(), &mut |_| {});

    let limits = StreamLimits {
        prefill: Duration::from_secs(1),
        idle: Duration::from_secs(1),
        max_reply_bytes: 256,
    };
    if let Ok(reply) = ollama::read_lines(
        &mut ReaderLines::new(data, limits),
        limits,
        64,
        Instant::now(),
        &mut |_| {},
    ) {
        assert!(reply.text.len() <= limits.max_reply_bytes);
    }
    if let Ok(reply) = openai::read_lines(
        &mut ReaderLines::new(data, limits),
        limits,
        64,
        Instant::now(),
        &mut |_| {},
    ) {
        assert!(reply.text.len() <= limits.max_reply_bytes);
    }
    let mut lines = ReaderLines::new(data, limits);
    while let Ok(Some(line)) = lines.next_line(Phase::Streaming) {
        assert!(line.len() <= limits.max_line());
        let _ = ollama::parse_line(&line);
    }
});
