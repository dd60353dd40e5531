//! The overview (`/console/`), the Secret Server instances (`/console/secret-servers`: test,
//! resync and its progress) and the live calls (`/console/calls`, with its event stream).

use super::super::calls::{Activity, CallRecord, is_failure};
use super::super::html::{self, Head, Refresh, Section, action, when};
use super::super::{PREFIX, see_other};
use super::{NoticeQuery, failure, notice_text, session_of};
use crate::routes::recovery as ops;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use adapter_api::admin::{CheckOutcome, ResyncState};
use maud::{Markup, html};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(overview)))
        .service(web::resource("").route(web::get().to(overview)))
        .service(web::resource("/secret-servers").route(web::get().to(secret_servers)))
        .service(web::resource("/secret-servers/{name}/test").route(web::post().to(test)))
        .service(web::resource("/secret-servers/{name}/doctor").route(web::post().to(doctor)))
        .service(web::resource("/secret-servers/{name}/resync").route(web::post().to(resync)))
        .service(web::resource("/secret-servers/{name}/resync/confirm").route(web::post().to(confirm_removals)))
        .service(web::resource("/calls").route(web::get().to(calls)))
        .service(web::resource("/calls/stream").route(web::get().to(stream)));
}

/// One instance's state, as the overview and the instances page show it.
struct Instance {
    name: String,
    reachable: bool,
    loaded: bool,
    detail: String,
    records: u64,
    breaker_open: bool,
    resync: Option<ResyncState>,
}

async fn instances(state: &AppState) -> Result<Vec<Instance>, String> {
    let health = state.directory.instances().await.map_err(|e| e.detail)?;
    let mut out = Vec::with_capacity(health.len());
    for h in health {
        let resync = state.adapter_admin.resync(&h.instance).await.ok();
        out.push(Instance {
            breaker_open: state.instance_breaker(&h.instance).is_open(),
            reachable: h.ready,
            loaded: h.loaded,
            detail: h.detail,
            records: h.records,
            name: h.instance,
            resync,
        });
    }
    Ok(out)
}

fn age(at: Option<OffsetDateTime>) -> String {
    match at {
        Some(at) => {
            let seconds = (OffsetDateTime::now_utc() - at).whole_seconds().max(0);
            match seconds {
                0..60 => format!("{seconds} s ago"),
                60..3600 => format!("{} min ago", seconds / 60),
                _ => format!("{} h ago", seconds / 3600),
            }
        }
        None => "never".to_owned(),
    }
}

fn outcome(resync: Option<&ResyncState>) -> String {
    match resync {
        None => "unknown".to_owned(),
        Some(r) if r.is_running() => format!("running ({})", r.phase.as_deref().unwrap_or("starting")),
        Some(r) => match (&r.outcome, &r.error) {
            (Some(o), Some(e)) => format!(
                "{} ({e})",
                serde_json::to_value(o).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            ),
            (Some(o), None) => {
                serde_json::to_value(o).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            }
            _ => "none yet".to_owned(),
        },
    }
}

fn instances_table(list: &[Instance]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Instance" } th scope="col" { "Reachable" } th scope="col" { "Read model" }
                th scope="col" { "Last resync" } th scope="col" { "Outcome" } th scope="col" { "Writes" }
            } }
            tbody {
                @for i in list {
                    tr {
                        td { (i.name) }
                        td { (html::badge(i.reachable, "reachable", "not ready")) @if !i.detail.is_empty() { " " small { (i.detail) } } }
                        td { (i.records) " records" @if !i.loaded { " (loading)" } }
                        td { (age(i.resync.as_ref().and_then(|r| r.finished_at))) }
                        td { (outcome(i.resync.as_ref())) }
                        td { (html::badge(!i.breaker_open, "flowing", "paused (breaker open)")) }
                    }
                }
            }
        }
    }
}

async fn overview(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = session_of(&req);
    let list = instances(&state).await;
    let queue = state.jobs.queue().metrics().await;
    let activity = state.calls.activity(OffsetDateTime::now_utc(), 12);
    let body = html! {
        section aria-labelledby="instances" {
            h2 #instances { "Secret Server instances" }
            @match &list {
                Ok(list) => (instances_table(list)),
                Err(e) => p.error role="alert" { "The adapter cannot be reached: " (e) },
            }
        }
        section aria-labelledby="queue" {
            h2 #queue { "Job queue" }
            @match &queue {
                Ok(m) => dl.facts {
                    dt { "Waiting" } dd { (m.depth) }
                    dt { "Running" } dd { (m.in_flight) }
                    dt { "Oldest job" } dd { @match m.oldest_age { Some(a) => { (a.as_secs()) " s" }, None => "—" } }
                    dt { "Dead letters" } dd { a href=(format!("{PREFIX}/dead-letters")) { (m.dead_letters) } }
                },
                Err(e) => p.error role="alert" { "The queue cannot be read: " (e) },
            }
        }
        section aria-labelledby="activity" {
            h2 #activity { "Calls in the last hour (this gateway)" }
            (chart(&activity))
        }
    };
    html::respond(
        StatusCode::OK,
        html::page(
            "Overview",
            Some(&session),
            Section::Overview,
            Head { refresh: Some(Refresh { seconds: 30, path: "/" }), script: false },
            body,
        ),
    )
}

const PALETTE: [&str; 6] = ["#1f5fbf", "#b3541e", "#2e7d32", "#7b1fa2", "#00838f", "#5d4037"];

/// Calls per connection per slice as lines, with a table of totals and error rates (the table is
/// what a screen reader reads; the chart is `aria-hidden`).
fn chart(activity: &Activity) -> Markup {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 160.0;
    let slices = activity.connections.values().next().map_or(12, Vec::len).max(2);
    let peak = activity.connections.values().flat_map(|v| v.iter().map(|c| c.0)).max().unwrap_or(0).max(1);
    let x = |i: usize| 40.0 + (WIDTH - 50.0) * i as f64 / (slices - 1) as f64;
    let y = |n: u32| HEIGHT - 20.0 - (HEIGHT - 30.0) * f64::from(n) / f64::from(peak);
    html! {
        @if activity.connections.is_empty() {
            p { "No SCIM calls in the last hour." }
        } @else {
            svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width="100%" role="img" aria-hidden="true" {
                line x1="40" y1=(HEIGHT - 20.0) x2=(WIDTH - 10.0) y2=(HEIGHT - 20.0) stroke="#555" {}
                line x1="40" y1="10" x2="40" y2=(HEIGHT - 20.0) stroke="#555" {}
                text x="4" y="16" font-size="11" fill="#222" { (peak) }
                text x="4" y=(HEIGHT - 20.0) font-size="11" fill="#222" { "0" }
                text x="40" y=(HEIGHT - 4.0) font-size="11" fill="#222" { "60 min ago" }
                text x=(WIDTH - 40.0) y=(HEIGHT - 4.0) font-size="11" fill="#222" { "now" }
                @for (n, (_, counts)) in activity.connections.iter().enumerate() {
                    polyline fill="none" stroke-width="2" stroke=(PALETTE[n % PALETTE.len()])
                        points=(counts.iter().enumerate().map(|(i, c)| format!("{:.1},{:.1}", x(i), y(c.0))).collect::<Vec<_>>().join(" ")) {}
                }
            }
            table {
                caption { "Per connection, slices of " (activity.slice.whole_minutes()) " minutes" }
                thead { tr { th scope="col" { "Connection" } th scope="col" { "Calls" } th scope="col" { "Failed" } th scope="col" { "Error rate" } } }
                tbody {
                    @for (n, (id, counts)) in activity.connections.iter().enumerate() {
                        @let total: u32 = counts.iter().map(|c| c.0).sum();
                        @let failed: u32 = counts.iter().map(|c| c.1).sum();
                        tr {
                            td { span.swatch data-color=(n % PALETTE.len()) {} " " (id) }
                            td { (total) }
                            td { (failed) }
                            td { (format!("{:.1} %", 100.0 * f64::from(failed) / f64::from(total.max(1)))) }
                        }
                    }
                }
            }
        }
    }
}

/// The calls table shared by the live page and a connection's page.
pub(super) fn calls_table(calls: &[Arc<CallRecord>]) -> Markup {
    html! {
        table #calls {
            thead { tr {
                th scope="col" { "Time" } th scope="col" { "Connection" } th scope="col" { "Method" } th scope="col" { "Route" }
                th scope="col" { "Status" } th scope="col" { "Latency" } th scope="col" { "Trace id" }
            } }
            tbody #calls-body {
                @for c in calls { (call_row(c)) }
            }
        }
        @if calls.is_empty() { p #calls-empty { "No calls yet." } }
    }
}

fn call_row(c: &CallRecord) -> Markup {
    html! {
        tr {
            td { (when(Some(c.at))) }
            td { (c.connection) }
            td { (c.method) }
            td { (c.route) @if !c.resource_id.is_empty() { " " small { (c.resource_id) } } }
            td { @if is_failure(c.status) { span.badge.bad { (c.status) } } @else { (c.status) } }
            td { (format!("{:.1} ms", c.latency_micros as f64 / 1000.0)) }
            td { @if c.trace_id.is_empty() { "—" } @else {
                a href=(format!("{PREFIX}/audit?trace_id={}", c.trace_id)) { code { (c.trace_id) } } } }
        }
    }
}

async fn calls(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = session_of(&req);
    let latest = state.calls.latest(100, None);
    let body = html! {
        p { "The SCIM calls this gateway answers, newest first. With JavaScript the page follows them as they arrive; without, it reloads every 5 seconds. Every call, from every replica, is in the "
            a href=(format!("{PREFIX}/audit?kind=scim_call")) { "audit log" } "." }
        div #live data-stream=(format!("{PREFIX}/calls/stream")) {}
        (calls_table(&latest))
    };
    html::respond(
        StatusCode::OK,
        html::page(
            "Live calls",
            Some(&session),
            Section::Calls,
            Head { refresh: Some(Refresh { seconds: 5, path: "/calls" }), script: true },
            body,
        ),
    )
}

/// How often an idle event stream sends a comment (which keeps proxies from closing it) and checks
/// its session.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The most calls sent in one chunk, under one check of the session.
const MAX_EVENTS_PER_CHUNK: usize = 256;

/// The last event of a stream whose session ended: the page's script stops listening and reloads
/// (to the sign-in page).
const STREAM_END: &str = "event: end\ndata: the session ended\n\n";

/// `text/event-stream` of calls as they arrive: each event's data is a table row (HTML, escaped).
///
/// The stream lives no longer than the session that opened it: the session is read again before
/// each event is sent and at each keep-alive (and at the moment its idle limit or lifetime would
/// pass), and once it no longer holds (signed out, idle, past its lifetime, its console user
/// removed or given a new password) the stream sends [`STREAM_END`] and ends. Reading it again is
/// not a use of the session. Calls that arrive together are checked once and sent in one chunk.
async fn stream(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let state = state.into_inner();
    let watch = Watch { receiver: state.calls.subscribe(), session: Some(session_of(&req)), state };
    let events = futures::stream::unfold(watch, |mut watch| async move {
        let chunk = watch.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(web::Bytes::from(chunk)), watch))
    });
    HttpResponse::Ok().content_type("text/event-stream").insert_header(("X-Accel-Buffering", "no")).streaming(events)
}

/// An open event stream: its session (`None` once it has ended) and its subscription to the calls.
struct Watch {
    state: Arc<AppState>,
    session: Option<super::super::session::Session>,
    receiver: tokio::sync::broadcast::Receiver<Arc<CallRecord>>,
}

impl Watch {
    /// The next chunk to send, once the session is checked; `None` when the stream is over.
    async fn next_chunk(&mut self) -> Option<String> {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        let session = self.session.as_ref()?;
        let receiver = &mut self.receiver;
        let wait = KEEP_ALIVE.min(super::super::session::time_left(&self.state, session));
        let mut rows = String::new();
        match tokio::time::timeout(wait, receiver.recv()).await {
            Err(_) | Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Ok(call)) => {
                push_event(&mut rows, &call);
                // The calls already waiting go with it, under the same check (a chunk's worth:
                // calls arriving as fast as they are taken wait for the next one).
                for _ in 0..MAX_EVENTS_PER_CHUNK {
                    match receiver.try_recv() {
                        Ok(call) => push_event(&mut rows, &call),
                        Err(TryRecvError::Lagged(_)) => {}
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
            }
            Ok(Err(RecvError::Closed)) => return None,
        }
        match super::super::session::recheck(&self.state, session).await {
            Ok(Some(fresh)) => self.session = Some(fresh),
            Ok(None) => return Some(self.end()),
            Err(error) => {
                tracing::error!(error = %error, "console session could not be read again: its event stream ends");
                return Some(self.end());
            }
        }
        // A comment keeps proxies from closing an idle stream.
        Some(if rows.is_empty() { ": keep-alive\n\n".to_owned() } else { rows })
    }

    /// Ends the stream: [`STREAM_END`] is the last chunk.
    fn end(&mut self) -> String {
        self.session = None;
        STREAM_END.to_owned()
    }
}

fn push_event(rows: &mut String, call: &CallRecord) {
    rows.push_str("event: call\ndata: ");
    rows.push_str(&call_row(call).into_string().replace('\n', ""));
    rows.push_str("\n\n");
}

async fn secret_servers(state: web::Data<AppState>, req: HttpRequest, query: web::Query<NoticeQuery>) -> HttpResponse {
    let session = session_of(&req);
    let list = instances(&state).await;
    let running = list.as_ref().is_ok_and(|l| l.iter().any(|i| i.resync.as_ref().is_some_and(ResyncState::is_running)));
    let body = html! {
        (html::notice(notice_text(query.notice.as_deref())))
        @match &list {
            Err(e) => p.error role="alert" { "The adapter cannot be reached: " (e) },
            Ok(list) => {
                (instances_table(list))
                @for i in list {
                    section aria-labelledby=(format!("ss-{}", i.name)) {
                        h2 id=(format!("ss-{}", i.name)) { (i.name) }
                        @if let Some(r) = &i.resync {
                            dl.facts {
                                dt { "Resync" } dd { (r.state) @if let Some(p) = &r.phase { " — " (p) } }
                                dt { "Read so far" } dd { (r.read.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")) }
                                dt { "Started" } dd { (when(r.started_at)) }
                                dt { "Finished" } dd { (when(r.finished_at)) }
                                dt { "Changes" } dd { (r.added) " added, " (r.changed) " changed, " (r.removed) " removed" }
                                @if let Some(held) = &r.held_removals {
                                    dt { "Held removals" } dd { (held.count) " (report " code { (held.report_id) } ")" }
                                }
                            }
                            @if let Some(held) = &r.held_removals {
                                form.inline method="post" action=(format!("{PREFIX}/secret-servers/{}/resync/confirm", i.name)) {
                                    (html::csrf(&session))
                                    input type="hidden" name="report_id" value=(held.report_id);
                                    input type="hidden" name="count" value=(held.count);
                                    button.danger type="submit" { "Confirm the " (held.count) " held removals" }
                                }
                            }
                        }
                        div.actions {
                            (action(&session, &format!("{PREFIX}/secret-servers/{}/test", i.name), "Test the connection", false))
                            (action(&session, &format!("{PREFIX}/secret-servers/{}/doctor", i.name), "Full preflight (doctor)", false))
                            (action(&session, &format!("{PREFIX}/secret-servers/{}/resync", i.name), "Start a resync", false))
                        }
                    }
                }
            }
        }
    };
    // While a resync runs, the page follows it.
    let head = Head { refresh: running.then_some(Refresh { seconds: 3, path: "/secret-servers" }), script: false };
    html::respond(StatusCode::OK, html::page("Secret Servers", Some(&session), Section::SecretServers, head, body))
}

async fn test(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    check(&state, &req, &path, true).await
}

async fn doctor(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    check(&state, &req, &path, false).await
}

/// The quick connection test (`quick`) or the full preflight of instance `path`, as a page.
async fn check(state: &AppState, req: &HttpRequest, path: &str, quick: bool) -> HttpResponse {
    let session = session_of(req);
    let report = match ops::check_secret_server(state, &session.actor(), path, quick).await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let body = html! {
        p { (html::badge(report.passed, "passed", "failed")) " " (report.url) " in " (report.elapsed_ms) " ms" }
        table {
            thead { tr { th scope="col" { "Check" } th scope="col" { "Outcome" } th scope="col" { "Detail" } } }
            tbody {
                @for c in &report.checks {
                    tr {
                        td { (c.name) }
                        td { (html::badge(c.outcome != CheckOutcome::Fail, if c.outcome == CheckOutcome::Warn { "warn" } else { "pass" }, "fail")) }
                        td { (c.detail) }
                    }
                }
            }
        }
        p { a href=(format!("{PREFIX}/secret-servers")) { "Back to the instances" } }
    };
    html::respond(
        StatusCode::OK,
        html::page(
            &format!("{} of {path}", if quick { "Connection test" } else { "Preflight" }),
            Some(&session),
            Section::SecretServers,
            Head::default(),
            body,
        ),
    )
}

async fn confirm_removals(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let request = crate::admin_model::ConfirmRemovalsRequest { report_id: form.report_id, count: form.count };
    match ops::confirm_removals_of(&state, &session_of(&req).actor(), &path, &request).await {
        Ok(_) => see_other(&format!("{PREFIX}/secret-servers?notice=removals-confirmed")),
        Err(e) => failure(&e),
    }
}

/// The confirmation form: exactly the held report shown (its id and count).
#[derive(serde::Deserialize)]
struct ConfirmForm {
    report_id: String,
    count: Option<u64>,
}

async fn resync(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match ops::start_resync_of(&state, &session_of(&req).actor(), &path).await {
        Ok(_) => see_other(&format!("{PREFIX}/secret-servers?notice=resync-started")),
        Err(e) => failure(&e),
    }
}
