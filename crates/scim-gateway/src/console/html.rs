//! The console's page frame and the small pieces every page uses.

use super::PREFIX;
use super::session::Session;
use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Overview,
    Connections,
    SecretServers,
    Calls,
    Audit,
    DeadLetters,
    None,
}

const NAV: [(Section, &str, &str); 6] = [
    (Section::Overview, "/", "Overview"),
    (Section::Connections, "/connections", "Connections"),
    (Section::SecretServers, "/secret-servers", "Secret Servers"),
    (Section::Calls, "/calls", "Live calls"),
    (Section::Audit, "/audit", "Audit log"),
    (Section::DeadLetters, "/dead-letters", "Dead letters"),
];

/// What goes into `<head>` besides the title: a refresh for pages that follow progress.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Head {
    /// Reload now and then (without JavaScript; a page with its script drops it).
    pub refresh: Option<Refresh>,
    /// Load the console's script.
    pub script: bool,
}

/// A page that reloads itself: every `seconds`, from `path` (inside the console) marked as
/// automatic ([`super::AUTOMATIC`]), so that the reload is told from an administrator's request:
/// it is served while the session holds, and does not keep the session alive.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refresh {
    pub seconds: u32,
    pub path: &'static str,
}

impl Refresh {
    /// The `content` of the `<meta http-equiv="refresh">`.
    fn content(self) -> String {
        format!("{}; url={PREFIX}{}?{}", self.seconds, self.path, super::AUTOMATIC)
    }
}

/// A whole page: head, navigation (with the administrator and the sign-out form), and `body`.
pub(super) fn page(title: &str, session: Option<&Session>, section: Section, head: Head, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · SCIM connector" }
                link rel="stylesheet" href=(format!("{PREFIX}/assets/console.css"));
                @if let Some(refresh) = head.refresh {
                    @if head.script {
                        noscript { meta http-equiv="refresh" content=(refresh.content()); }
                    } @else {
                        meta http-equiv="refresh" content=(refresh.content());
                    }
                }
                @if head.script {
                    script src=(format!("{PREFIX}/assets/console.js")) defer {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    span.brand { "SCIM connector" }
                    @if let Some(session) = session {
                        nav aria-label="Sections" {
                            ul {
                                @for (s, path, label) in NAV {
                                    li {
                                        @if s == section {
                                            a href=(format!("{PREFIX}{path}")) aria-current="page" { (label) }
                                        } @else {
                                            a href=(format!("{PREFIX}{path}")) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action=(format!("{PREFIX}/sign-out")) {
                            (csrf(session))
                            span { "Signed in as " strong { (session.user) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub(super) fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A one-button POST form (`danger`: styled as destructive, with a confirmation line).
pub(super) fn action(session: &Session, path: &str, label: &str, danger: bool) -> Markup {
    html! {
        form.inline method="post" action=(path) {
            (csrf(session))
            @if danger {
                button.danger type="submit" { (label) }
            } @else {
                button type="submit" { (label) }
            }
        }
    }
}

/// An HTML answer with `status`.
pub(super) fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(markup.into_string())
}

/// `429` with `Retry-After`: too many refused requests from the caller's address.
pub(super) fn throttled_page(retry_after: u32) -> HttpResponse {
    let mut response =
        error_page(429, &format!("Too many refused requests from this address; try again in {retry_after} s."));
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    response
}

/// A page saying what went wrong (no navigation: the session may be gone).
pub(super) fn error_page(status: u16, detail: &str) -> HttpResponse {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = code.canonical_reason().unwrap_or("Error");
    respond(
        code,
        page(
            title,
            None,
            Section::None,
            Head::default(),
            html! {
                p.error role="alert" { (detail) }
                p { a href=(format!("{PREFIX}/")) { "Back to the console" } }
            },
        ),
    )
}

/// A notice at the top of a page.
pub(super) fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}

/// A time as RFC 3339 (UTC, seconds).
pub(super) fn when(at: Option<OffsetDateTime>) -> String {
    at.map(|t| t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default())
        .unwrap_or_else(|| "—".to_owned())
}

/// A yes/no badge.
pub(super) fn badge(ok: bool, yes: &str, no: &str) -> Markup {
    html! {
        @if ok { span.badge.ok { (yes) } } @else { span.badge.bad { (no) } }
    }
}
