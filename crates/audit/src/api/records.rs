//! The record routes.

use super::ApiState;
use super::error::ApiError;
use crate::filter::RecordFilter;
use crate::record::Record;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

fn query_pairs(request: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(request.query_string())
        .map_err(|e| ApiError::InvalidArgument(format!("malformed query string: {e}")))
}

/// The cursor is opaque to clients; inside, it is the last sequence number of the page.
fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{seq}"))
}

fn decode_cursor(cursor: &str) -> Result<u64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("v1:").and_then(|seq| seq.parse().ok()))
        .ok_or_else(|| ApiError::InvalidArgument("cursor is not one this API returned".to_owned()))
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    records: Vec<Record>,
    next_cursor: Option<String>,
}

/// `GET /audit/v1/records`
pub(super) async fn list(request: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state.tokens.admit(&request)?;
    let pairs = query_pairs(&request)?;
    let (filter, rest) =
        RecordFilter::from_query_pairs(&pairs, &["limit", "cursor"]).map_err(|e| ApiError::InvalidArgument(e.0))?;
    let mut limit = DEFAULT_LIMIT;
    let mut after = 0;
    for (name, value) in rest {
        match name {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| ApiError::InvalidArgument(format!("limit must be between 1 and {MAX_LIMIT}")))?;
            }
            _ => after = decode_cursor(value)?,
        }
    }
    let store = state.store.clone();
    // One more than asked tells whether there is a next page.
    let mut records = web::block(move || store.query(&filter, after, limit + 1)).await??;
    let next_cursor = if records.len() > limit {
        records.truncate(limit);
        records.last().map(|r| encode_cursor(r.seq))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { records, next_cursor }))
}

/// `GET /audit/v1/records/{seq}`
pub(super) async fn one(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.admit(&request)?;
    let seq: u64 = path
        .parse()
        .map_err(|_| ApiError::InvalidArgument(format!("{:?} is not a record sequence number", path.as_str())))?;
    let store = state.store.clone();
    match web::block(move || store.get(seq)).await?? {
        Some(record) => Ok(HttpResponse::Ok().json(record)),
        None => Err(ApiError::NotFound(format!("no record {seq}"))),
    }
}

/// A writer that hands lines to the HTTP response as they are produced.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        // Fails when the client went away: that ends the export.
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// `GET /audit/v1/export`: JSON Lines, streamed.
pub(super) async fn export(request: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state.tokens.admit(&request)?;
    let pairs = query_pairs(&request)?;
    let (filter, _) = RecordFilter::from_query_pairs(&pairs, &[]).map_err(|e| ApiError::InvalidArgument(e.0))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let store = state.store.clone();
    std::thread::Builder::new()
        .name("audit-export".into())
        .spawn(move || {
            let mut writer = ChannelWriter { sender: sender.clone(), buffer: Vec::new() };
            if let Err(error) = store.export(&filter, &mut writer) {
                tracing::warn!(error = %error, "audit export ended early");
                // The status line is already sent; a broken stream is how the client learns of it.
                let _ = sender.blocking_send(Err(std::io::Error::other("the export failed")));
            }
        })
        .map_err(|e| ApiError::Internal(e.into()))?;
    let body = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    Ok(HttpResponse::Ok().content_type("application/x-ndjson").streaming(body))
}

/// `GET /audit/v1/verify`
pub(super) async fn verify(request: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state.tokens.admit(&request)?;
    let (store, heads, pruning) = (state.store.clone(), state.heads.clone(), state.pruning);
    let report = web::block(move || store.verify(&crate::heads::read(&heads)?, pruning)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "intact": report.is_intact(),
        "recordsChecked": report.records_checked,
        "firstBroken": report.first_broken,
        "anchor": report.anchor,
        "head": report.head,
        "keyedFrom": report.keyed_from,
        "unkeyedRecords": report.unkeyed_records,
        "headsChecked": report.heads_checked,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode_cursor(&encode_cursor(1234)).unwrap(), 1234);
        assert!(decode_cursor("1234").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("v2:5")).is_err());
    }
}
