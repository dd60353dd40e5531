//! `/console/dead-letters`: the jobs that gave up, inspected without secrets, replayed or
//! discarded through the admin API's operations (`routes::recovery`).

use super::super::html::{self, Head, Section, action, csrf, when};
use super::super::{PREFIX, see_other};
use super::{NoticeQuery, failure, notice_text, session_of};
use crate::routes::recovery as ops;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dead-letters").route(web::get().to(list)))
        .service(web::resource("/dead-letters/{id}").route(web::get().to(show)))
        .service(web::resource("/dead-letters/{id}/replay").route(web::post().to(replay)))
        .service(web::resource("/dead-letters/{id}/discard").route(web::post().to(discard)));
}

fn path_of(id: &str) -> String {
    format!("{PREFIX}/dead-letters/{}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())
}

#[derive(Deserialize)]
struct ListQuery {
    after: Option<String>,
    notice: Option<String>,
}

async fn list(state: web::Data<AppState>, req: HttpRequest, query: web::Query<ListQuery>) -> HttpResponse {
    let session = session_of(&req);
    let page = match ops::list_dead_letters(&state, query.after.as_deref(), Some(50)).await {
        Ok(p) => p,
        Err(e) => return failure(&e),
    };
    let body = html! {
        (html::notice(notice_text(query.notice.as_deref())))
        @if page.items.is_empty() {
            p { "No dead letters: every job finished." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Job" } th scope="col" { "When" } th scope="col" { "Connection" } th scope="col" { "Operation" }
                    th scope="col" { "Resource" } th scope="col" { "Attempts" } th scope="col" { "Last error" }
                } }
                tbody {
                    @for d in &page.items {
                        tr {
                            td { a href=(path_of(&d.id)) { code { (d.id) } } }
                            td { (when(Some(d.dead_lettered_at))) }
                            td { (d.connection.as_deref().unwrap_or("—")) }
                            td { (d.operation.as_deref().unwrap_or("unreadable")) }
                            td { (d.resource_type.as_deref().unwrap_or("")) " " (d.resource_id.as_deref().unwrap_or("")) }
                            td { (d.attempts) }
                            td { (d.last_error) }
                        }
                    }
                }
            }
            @if let Some(next) = &page.next {
                p { a href=(format!("{PREFIX}/dead-letters?after={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())) { "More" } }
            }
        }
    };
    html::respond(
        StatusCode::OK,
        html::page("Dead letters", Some(&session), Section::DeadLetters, Head::default(), body),
    )
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let session = session_of(&req);
    let d = match ops::show_dead_letter(&state, &path).await {
        Ok(d) => d,
        Err(e) => return failure(&e),
    };
    let base = path_of(&d.id);
    let body = html! {
        (html::notice(notice_text(query.notice.as_deref())))
        dl.facts {
            dt { "Connection" } dd { (d.connection.as_deref().unwrap_or("—")) }
            dt { "Operation" } dd { (d.operation.as_deref().unwrap_or("unreadable")) }
            dt { "Resource" } dd { (d.resource_type.as_deref().unwrap_or("")) " " (d.resource_id.as_deref().unwrap_or("")) }
            dt { "Request id" } dd { (d.request_id.as_deref().unwrap_or("—")) }
            dt { "Attempts" } dd { (d.attempts) }
            dt { "Last error" } dd { (d.last_error) }
            dt { "Dead since" } dd { (when(Some(d.dead_lettered_at))) }
            @if !d.withheld.is_empty() { dt { "Withheld (secrets)" } dd { (d.withheld.join(", ")) } }
            @if let Some(why) = &d.undecodable { dt { "Not readable" } dd { (why) } }
        }
        @if let Some(payload) = &d.payload {
            h2 { "Payload (passwords withheld)" }
            pre { (serde_json::to_string_pretty(payload).unwrap_or_default()) }
        }
        div.actions {
            form.inline method="post" action=(format!("{base}/replay")) {
                (csrf(&session))
                @if !d.withheld.is_empty() {
                    div.check {
                        input #without type="checkbox" name="without_password" value="on";
                        label for="without" { "Replay without its password (the password was never kept)" }
                    }
                }
                button type="submit" { "Replay" }
            }
            (action(&session, &format!("{base}/discard"), "Discard", true))
        }
    };
    html::respond(
        StatusCode::OK,
        html::page(&format!("Dead letter {}", d.id), Some(&session), Section::DeadLetters, Head::default(), body),
    )
}

#[derive(Deserialize)]
struct ReplayForm {
    #[serde(default)]
    without_password: Option<String>,
}

async fn replay(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ReplayForm>,
) -> HttpResponse {
    match ops::replay_dead_letter(&state, &session_of(&req).actor(), &path, form.without_password.is_some()).await {
        Ok(_) => see_other(&format!("{PREFIX}/dead-letters?notice=replayed")),
        Err(e) => failure(&e),
    }
}

async fn discard(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match ops::discard_dead_letter(&state, &session_of(&req).actor(), &path).await {
        Ok(()) => see_other(&format!("{PREFIX}/dead-letters?notice=discarded")),
        Err(e) => failure(&e),
    }
}
