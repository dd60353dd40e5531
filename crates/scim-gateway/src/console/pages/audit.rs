//! `/console/audit`: the audit service's records, filtered by time, connection, resource type and
//! id, operation, status and trace id; a record's detail with its before and after; the chain's
//! verification; the filtered records exported as JSON Lines.

use super::super::PREFIX;
use super::super::audit_reader::AuditReadError;
use super::super::html::{self, Head, Section};
use super::session_of;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(list)))
        .service(web::resource("/audit/export").route(web::get().to(export)))
        .service(web::resource("/audit/verify").route(web::get().to(verify)))
        .service(web::resource("/audit/records/{seq}").route(web::get().to(record)));
}

/// The filters the page offers: (query name, label, input type, hint).
const FILTERS: [(&str, &str, &str, &str); 9] = [
    ("from", "From", "text", "2026-01-31T00:00:00Z"),
    ("to", "To", "text", "2026-01-31T23:59:59Z"),
    ("connection", "Connection", "text", "okta"),
    ("resource_type", "Resource type", "text", "User"),
    ("resource_id", "Resource id", "text", "42"),
    ("operation", "Operation", "text", "create"),
    ("status", "Status", "text", "4xx, 201, 500-599"),
    ("trace_id", "Trace id", "text", "32 hex digits"),
    ("kind", "Kind", "text", "scim_call, change, admin, auth_failures"),
];

/// The filter parameters of the request that have a value (the audit API refuses empty ones).
fn filter_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(name, value)| !value.trim().is_empty() && FILTERS.iter().any(|f| f.0 == name))
        .map(|(name, value)| (name.into_owned(), value.trim().to_owned()))
        .collect()
}

fn read_error(error: &AuditReadError) -> Markup {
    html! { p.error role="alert" { (error.to_string()) } }
}

fn text<'a>(record: &'a Value, name: &str) -> &'a str {
    record.get(name).and_then(Value::as_str).unwrap_or("")
}

async fn list(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = session_of(&req);
    let filters = filter_pairs(&req);
    let cursor = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(n, _)| n == "cursor")
        .map(|(_, v)| v.into_owned());
    let mut query = filters.clone();
    query.push(("limit".to_owned(), "50".to_owned()));
    if let Some(cursor) = &cursor {
        query.push(("cursor".to_owned(), cursor.clone()));
    }
    let page = state.audit_reader.records(&query).await;
    let value_of = |name: &str| filters.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let filter_query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&filters).finish();
    let body = html! {
        form.filters method="get" action=(format!("{PREFIX}/audit")) {
            @for (name, label, kind, hint) in FILTERS {
                div {
                    label for=(format!("f-{name}")) { (label) }
                    input id=(format!("f-{name}")) type=(kind) name=(name) value=(value_of(name)) placeholder=(hint);
                }
            }
            div.buttons {
                button type="submit" { "Filter" }
                a href=(format!("{PREFIX}/audit")) { "Clear" }
                a href=(format!("{PREFIX}/audit/export?{filter_query}")) download="audit.jsonl" { "Export as JSON Lines" }
                a href=(format!("{PREFIX}/audit/verify")) { "Verify the chain" }
            }
        }
        @match &page {
            Err(e) => (read_error(e)),
            Ok(page) => {
                table #audit-records {
                    caption { "Records in the order they were recorded: " (page.records.len()) " on this page" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Kind" } th scope="col" { "Connection" }
                        th scope="col" { "What" } th scope="col" { "Status" } th scope="col" { "Trace id" }
                    } }
                    tbody {
                        @for r in &page.records {
                            @let seq = r.get("seq").and_then(Value::as_u64).unwrap_or(0);
                            tr {
                                td { a href=(format!("{PREFIX}/audit/records/{seq}")) { (seq) } }
                                td { (text(r, "occurredAt")) }
                                td { (text(r, "kind")) }
                                td { (text(r, "connectionId")) }
                                td { (summary(r)) }
                                td { (r.get("status").and_then(Value::as_i64).map(|s| s.to_string()).unwrap_or_default()) " " (text(r, "outcome")) }
                                td { code { (text(r, "traceId")) } }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor {
                    @let next_query: Vec<(String, String)> = filters.iter().cloned().chain([("cursor".to_owned(), next.clone())]).collect();
                    p { a href=(format!("{PREFIX}/audit?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&next_query).finish())) { "Older records" } }
                }
            }
        }
    };
    html::respond(StatusCode::OK, html::page("Audit log", Some(&session), Section::Audit, Head::default(), body))
}

/// One line saying what a record is about.
fn summary(r: &Value) -> String {
    let parts: Vec<&str> = ["method", "route", "operation", "resourceType", "resourceId"]
        .iter()
        .map(|name| text(r, name))
        .filter(|t| !t.is_empty())
        .collect();
    parts.join(" ")
}

async fn record(state: web::Data<AppState>, req: HttpRequest, path: web::Path<u64>) -> HttpResponse {
    let session = session_of(&req);
    let seq = path.into_inner();
    let record = state.audit_reader.record(seq).await;
    let body = html! {
        @match &record {
            Err(e) => (read_error(e)),
            Ok(r) => {
                dl.facts {
                    @for name in ["occurredAt", "recordedAt", "kind", "source", "connectionId", "connectionName", "method", "route",
                                  "resourceType", "resourceId", "operation", "outcome", "clientAddress", "traceId", "hash", "prevHash"] {
                        @let value = r.get(name).map(|v| match v { Value::String(s) => s.clone(), other => other.to_string() }).unwrap_or_default();
                        @if !value.is_empty() && value != "null" { dt { (name) } dd { code { (value) } } }
                    }
                    @if let Some(status) = r.get("status").and_then(Value::as_i64) { dt { "status" } dd { (status) } }
                }
                @let change = r.get("event").and_then(|e| e.get("change"));
                @if let Some(change) = change {
                    div.compare {
                        section { h2 { "Before" } pre { (pretty_member(change, "before")) } }
                        section { h2 { "After" } pre { (pretty_member(change, "after")) } }
                    }
                }
                details {
                    summary { "The whole event" }
                    pre { (serde_json::to_string_pretty(r.get("event").unwrap_or(&Value::Null)).unwrap_or_default()) }
                }
            }
        }
        p { a href=(format!("{PREFIX}/audit")) { "Back to the audit log" } }
    };
    html::respond(
        StatusCode::OK,
        html::page(&format!("Audit record {seq}"), Some(&session), Section::Audit, Head::default(), body),
    )
}

fn pretty_member(change: &Value, name: &str) -> String {
    match change.get(name) {
        None | Some(Value::Null) => "—".to_owned(),
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

async fn verify(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = session_of(&req);
    let report = state.audit_reader.verify().await;
    state.audit.admin_action(&session.actor().0, "verify-audit-chain", "", String::new()).await;
    let body = html! {
        @match &report {
            Err(e) => (read_error(e)),
            Ok(r) => {
                @let intact = r.get("intact").and_then(Value::as_bool).unwrap_or(false);
                p #chain-status { (html::badge(intact, "The chain is intact", "The chain is BROKEN")) }
                pre { (serde_json::to_string_pretty(r).unwrap_or_default()) }
            }
        }
        p { a href=(format!("{PREFIX}/audit")) { "Back to the audit log" } }
    };
    html::respond(StatusCode::OK, html::page("Audit chain", Some(&session), Section::Audit, Head::default(), body))
}

async fn export(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = session_of(&req);
    let filters = filter_pairs(&req);
    let response = match state.audit_reader.export(&filters).await {
        Ok(r) => r,
        Err(e) => return html::error_page(502, &e.to_string()),
    };
    let shown: Vec<String> = filters.iter().map(|(n, v)| format!("{n}={v}")).collect();
    state.audit.admin_action(&session.actor().0, "export-audit", "", shown.join("&")).await;
    let body = futures::stream::unfold(Some(response), |response| async move {
        let mut response = response?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), Some(response))),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.without_url())), None)),
        }
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("Content-Disposition", "attachment; filename=\"audit.jsonl\""))
        .streaming(body)
}
