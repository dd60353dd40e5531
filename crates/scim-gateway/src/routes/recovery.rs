//! The admin API's recovery tools under `/admin/v1`: dead letters (list, inspect, replay,
//! discard), read straight from the job queue the gateway submits to.
//!
//! - A dead letter is shown without any password: the job's passwords were sealed apart from its
//!   payload and never reach a dead letter, and even the places that held one are taken out of
//!   the payload shown (`withheld` names them; see `adapter_api::dead_letter`).
//! - A replay submits the job again with the same ordering key: it runs after the jobs already
//!   queued for the same resource, never beside them. Its idempotency key derives from the dead
//!   letter (`replay:<job id>`), so a replay repeated before the dead letter left the list queues
//!   one job. A job that carried a password is replayed only with `"withoutPassword": true`
//!   (`409` otherwise, saying why). The dead letter leaves the list once the replay is queued.
//! - Every replay and discard is an `AdminAction` audit event with the administrator.
//!
//! And, through the adapter's `Admin` gRPC service (the adapter holds the Secret Server
//! credentials and the read model; the gateway has neither), per Secret Server instance:
//!
//! - `POST /secret-servers/{name}/resync` starts a resync (`202`); while one runs, it answers
//!   that one (`alreadyRunning: true`) instead of starting another. `GET` the same path shows it:
//!   running or idle, phase, records read per type, start and end, outcome, and the removals held
//!   back (count, a sample of ids, and the report id that names them).
//! - `POST /secret-servers/{name}/resync/confirm` with `{"reportId": …}` (and optionally
//!   `"count"`) approves exactly the held report named (`409` for another one) and starts the
//!   resync that applies it.
//! - `POST /secret-servers/{name}/doctor` runs the preflight in the adapter and answers its report;
//!   `POST /secret-servers/{name}/test` the quick form (reachability, TLS, sign-in, one read,
//!   latency). Both answer `200` with `passed` true or false.
//! - Each is an `AdminAction` audit event with the administrator; an unknown instance is `404`.

use crate::admin_model::{ConfirmRemovalsRequest, DeadLetterList, DeadLetterView, ReplayRequest, Replayed};
use crate::auth::AdminActor;
use crate::errors::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use adapter_api::DeadJob;
use bytes::Bytes;
use job_queue::{DeadLetter, JobId, NewJob};
use scim::ScimType;
use serde::Deserialize;
use time::OffsetDateTime;

/// The default and the largest page of dead letters.
const DEFAULT_COUNT: usize = 50;
const MAX_COUNT: usize = 500;

/// Registers the recovery routes (inside the `/admin/v1` scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dead-letters").route(web::get().to(list)))
        .service(web::resource("/dead-letters/{id}").route(web::get().to(show)).route(web::delete().to(discard)))
        .service(web::resource("/dead-letters/{id}/replay").route(web::post().to(replay)))
        .service(
            web::resource("/secret-servers/{name}/resync")
                .route(web::post().to(start_resync))
                .route(web::get().to(resync_state)),
        )
        .service(web::resource("/secret-servers/{name}/resync/confirm").route(web::post().to(confirm_removals)))
        .service(web::resource("/secret-servers/{name}/doctor").route(web::post().to(doctor)))
        .service(web::resource("/secret-servers/{name}/test").route(web::post().to(test_connection)));
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    count: Option<usize>,
    after: Option<String>,
}

/// A dead letter as the admin API shows it; the payload only when `with_payload`.
pub(crate) fn view(letter: &DeadLetter, with_payload: bool) -> DeadLetterView {
    let decoded = DeadJob::decode(&letter.payload);
    let at = OffsetDateTime::from(letter.at);
    let mut view = DeadLetterView {
        id: letter.job_id.0.clone(),
        connection: None,
        resource_type: None,
        resource_id: None,
        operation: None,
        request_id: None,
        attempts: letter.attempts,
        last_error: letter.error.clone(),
        dead_lettered_at: at,
        payload: None,
        withheld: Vec::new(),
        undecodable: None,
    };
    match decoded {
        Ok(job) => {
            view.connection = Some(job.connection_id().to_owned());
            view.resource_type = Some(job.kind().name().to_owned());
            view.resource_id = Some(job.resource_id().to_owned()).filter(|id| !id.is_empty());
            view.operation = Some(job.operation().name().to_owned());
            view.request_id = Some(job.request_id().to_owned()).filter(|id| !id.is_empty());
            if with_payload {
                view.payload = Some(job.payload().clone()).filter(|p| !p.is_null());
                view.withheld = job.withheld().to_vec();
            }
        }
        // Shown as not readable, never as bytes: they could hold anything.
        Err(e) => view.undecodable = Some(e.detail),
    }
    view
}

fn queue_error(e: job_queue::QueueError) -> ApiError {
    match e {
        job_queue::QueueError::Invalid(detail) => ApiError::bad_request(ScimType::InvalidValue, detail),
        other => crate::jobs::queue_error(other).into(),
    }
}

async fn load(state: &AppState, id: &str) -> ApiResult<DeadLetter> {
    state
        .jobs
        .queue()
        .dead_letter(&JobId(id.to_owned()))
        .await
        .map_err(queue_error)?
        .ok_or_else(|| ApiError::not_found(format!("no dead letter {id}")))
}

// The operations, shared by the handlers below and by the web console (`crate::console`).

/// A page of dead letters (without payloads), `count` after `after`.
pub(crate) async fn list_dead_letters(
    state: &AppState,
    after: Option<&str>,
    count: Option<usize>,
) -> ApiResult<DeadLetterList> {
    let count = count.unwrap_or(DEFAULT_COUNT);
    if count == 0 || count > MAX_COUNT {
        return Err(ApiError::bad_request(ScimType::InvalidValue, format!("count must be 1 to {MAX_COUNT}")));
    }
    let page = state.jobs.queue().dead_letters(after, count).await.map_err(queue_error)?;
    Ok(DeadLetterList { items: page.items.iter().map(|d| view(d, false)).collect(), next: page.next })
}

/// One dead letter with its payload (passwords withheld).
pub(crate) async fn show_dead_letter(state: &AppState, id: &str) -> ApiResult<DeadLetterView> {
    Ok(view(&load(state, id).await?, true))
}

/// Submits dead letter `id` again (see the module's documentation).
pub(crate) async fn replay_dead_letter(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    without_password: bool,
) -> ApiResult<Replayed> {
    let path = id;
    let letter = load(state, id).await?;
    let job = DeadJob::decode(&letter.payload).map_err(|e| {
        ApiError::from(service_error::ServiceError::new(
            service_error::ErrorKind::AlreadyExists,
            format!("dead letter {} is not a readable job and cannot be replayed ({}); discard it", path, e.detail),
        ))
    })?;
    let payload = job.replay_payload(&letter.payload, without_password)?;
    let submitted = state
        .jobs
        .queue()
        .submit(NewJob {
            idempotency_key: format!("replay:{}", letter.job_id),
            fingerprint: "replay".to_owned(),
            ordering_key: letter.ordering_key.clone(),
            payload,
            secrets: Bytes::new(),
            trace_context: telemetry::current_trace_context(),
        })
        .await
        .map_err(queue_error)?;
    // Queued: the dead letter leaves the list. Should this fail, a second replay finds the
    // same job by its idempotency key.
    state.jobs.queue().discard_dead_letter(&letter.job_id).await.map_err(queue_error)?;
    let detail = format!(
        "replayed dead letter {} ({} {} {}) as job {}{}",
        letter.job_id,
        job.operation().name(),
        job.kind().name(),
        job.resource_id(),
        submitted.job_id,
        if job.withheld().is_empty() { "" } else { " without its password" }
    );
    state.audit.admin_action(&actor.0, "replay-dead-letter", job.connection_id(), detail).await;
    tracing::info!(actor = %actor.0, dead_letter = %letter.job_id, job = %submitted.job_id, "dead letter replayed");
    Ok(Replayed {
        dead_letter: letter.job_id.0,
        job_id: submitted.job_id.0,
        without_password: !job.withheld().is_empty(),
    })
}

/// Removes dead letter `id` from the list for good.
pub(crate) async fn discard_dead_letter(state: &AppState, actor: &AdminActor, id: &str) -> ApiResult<()> {
    let path = id;
    let letter = load(state, id).await?;
    if !state.jobs.queue().discard_dead_letter(&letter.job_id).await.map_err(queue_error)? {
        return Err(ApiError::not_found(format!("no dead letter {path}")));
    }
    let shown = view(&letter, false);
    let detail = format!(
        "discarded dead letter {} ({} {} {})",
        letter.job_id,
        shown.operation.as_deref().unwrap_or("unreadable job"),
        shown.resource_type.as_deref().unwrap_or(""),
        shown.resource_id.as_deref().unwrap_or("")
    );
    state.audit.admin_action(&actor.0, "discard-dead-letter", shown.connection.as_deref().unwrap_or(""), detail).await;
    Ok(())
}

/// Starts a resync of instance `path` (or reports the one running).
pub(crate) async fn start_resync_of(
    state: &AppState,
    actor: &AdminActor,
    path: &str,
) -> ApiResult<adapter_api::admin::ResyncState> {
    let resync = state.adapter_admin.start_resync(path, &actor.0).await?;
    let detail = if resync.already_running {
        format!("asked for a resync of {path}; one was running")
    } else {
        format!("started a resync of {path}")
    };
    state.audit.admin_action(&actor.0, "start-resync", "", detail).await;
    Ok(resync)
}

/// Confirms the removals a resync of instance `path` holds back, exactly those of `request`'s report.
pub(crate) async fn confirm_removals_of(
    state: &AppState,
    actor: &AdminActor,
    path: &str,
    request: &ConfirmRemovalsRequest,
) -> ApiResult<adapter_api::admin::ResyncState> {
    let report_id = request.report_id.trim();
    if report_id.is_empty() {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            "reportId names the held report to confirm (GET the resync state for it)",
        ));
    }
    let resync = state.adapter_admin.confirm_removals(path, report_id, request.count, &actor.0).await.map_err(|e| {
        match e.kind {
            // The held report is another one (or none): the administrator's view is stale.
            service_error::ErrorKind::FailedPrecondition => {
                ApiError::from(service_error::ServiceError::new(service_error::ErrorKind::AlreadyExists, e.detail))
            }
            _ => ApiError::from(e),
        }
    })?;
    let count = resync.held_removals.as_ref().map_or(0, |h| h.count);
    let detail = format!("confirmed the removal of {count} records held back on {path} (report {report_id})");
    state.audit.admin_action(&actor.0, "confirm-removals", "", detail).await;
    Ok(resync)
}

/// The quick connection test of instance `path` (`quick`), or its full preflight.
pub(crate) async fn check_secret_server(
    state: &AppState,
    actor: &AdminActor,
    path: &str,
    quick: bool,
) -> ApiResult<crate::admin_model::DoctorReport> {
    let report = state.adapter_admin.doctor(path, quick).await?;
    let verdict = if report.passed { "passed" } else { "failed" };
    let (action, what) = if quick { ("test-secret-server", "connection test") } else { ("doctor", "preflight") };
    state.audit.admin_action(&actor.0, action, "", format!("{what} of {path}: {verdict}")).await;
    Ok(report)
}

// The handlers.

async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(list_dead_letters(&state, query.after.as_deref(), query.count).await?))
}

async fn show(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(show_dead_letter(&state, &path).await?))
}

async fn replay(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let request: ReplayRequest = super::admin::parse_body(&req, &body)?;
    Ok(HttpResponse::Accepted().json(replay_dead_letter(&state, &actor, &path, request.without_password).await?))
}

async fn discard(state: web::Data<AppState>, actor: AdminActor, path: web::Path<String>) -> ApiResult<HttpResponse> {
    discard_dead_letter(&state, &actor, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn start_resync(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Accepted().json(start_resync_of(&state, &actor, &path).await?))
}

async fn resync_state(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.adapter_admin.resync(&path).await?))
}

async fn confirm_removals(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let request: ConfirmRemovalsRequest = super::admin::parse_body(&req, &body)?;
    Ok(HttpResponse::Accepted().json(confirm_removals_of(&state, &actor, &path, &request).await?))
}

async fn doctor(state: web::Data<AppState>, actor: AdminActor, path: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(check_secret_server(&state, &actor, &path, false).await?))
}

async fn test_connection(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(check_secret_server(&state, &actor, &path, true).await?))
}
