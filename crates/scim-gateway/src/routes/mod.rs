//! The HTTP routes, one module per concern, and the function that mounts the
//! SCIM ones under `/scim/v2`.

pub mod admin;
pub mod bulk;
pub mod discovery;
pub mod me;
pub mod oauth;
pub mod recovery;
pub mod resources;
pub mod search;

use crate::errors::ApiError;
use actix_web::guard::{Guard, GuardContext};
use actix_web::web;

/// The SCIM routes (inside the `/scim/v2` scope). Fixed paths come before
/// the resource patterns: actix picks the first pattern that matches, so
/// `/Schemas/{id}` is never taken for `/{resource}/{id}`.
///
/// The two resource patterns are also registered first, guarded by
/// [`ResourceEndpoint`]: actix tries every pattern in order with a regex, and
/// most traffic is `/{resource}` and `/{resource}/{id}`, which would
/// otherwise pay six regex matches before reaching its route. Unguarded copies
/// at the end keep answering unknown endpoints with the handlers' `404`.
pub fn scim(cfg: &mut web::ServiceConfig, bulk_payload_limit: usize) {
    cfg.service(resource_item().guard(ResourceEndpoint::Item))
        .service(resource_collection().guard(ResourceEndpoint::Collection))
        .service(web::resource("/ServiceProviderConfig").route(web::get().to(discovery::spc)))
        .service(web::resource("/Schemas").route(web::get().to(discovery::schemas)))
        .service(web::resource("/Schemas/{id}").route(web::get().to(discovery::schema)))
        .service(web::resource("/ResourceTypes").route(web::get().to(discovery::resource_types)))
        .service(web::resource("/ResourceTypes/{id}").route(web::get().to(discovery::resource_type)))
        .service(web::resource(["/Me", "/Me/{tail:.*}"]).to(me::me))
        .service(web::resource("/.search").route(web::post().to(search::root)))
        .service(
            web::resource("/Bulk")
                .app_data(web::PayloadConfig::new(bulk_payload_limit))
                .route(web::post().to(bulk::bulk)),
        )
        .service(web::resource("/{resource}/.search").route(web::post().to(search::typed)))
        .service(resource_collection())
        .service(resource_item());
}

/// `/{resource}`: list and create.
fn resource_collection() -> actix_web::Resource {
    web::resource("/{resource}").route(web::get().to(resources::list)).route(web::post().to(resources::post))
}

/// `/{resource}/{id}`: get, replace, patch and delete.
fn resource_item() -> actix_web::Resource {
    web::resource("/{resource}/{id}")
        .route(web::get().to(resources::get))
        .route(web::put().to(resources::put))
        .route(web::patch().to(resources::patch))
        .route(web::delete().to(resources::delete))
}

/// Admits the path of a resource (`/Users/42`) or of a resource type's
/// collection (`/Users`); `/Users/.search` is neither.
#[derive(Clone, Copy)]
enum ResourceEndpoint {
    Collection,
    Item,
}

impl Guard for ResourceEndpoint {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        let mut segments = ctx.head().uri.path().rsplit('/');
        let endpoint = match self {
            ResourceEndpoint::Collection => segments.next(),
            ResourceEndpoint::Item => segments.next().filter(|id| *id != ".search").and_then(|_| segments.next()),
        };
        endpoint.is_some_and(|segment| scim::ResourceKind::from_endpoint(segment).is_some())
    }
}

/// Any path no route matches.
///
/// # Errors
/// Always `404`, as a SCIM error body.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(format!("no such endpoint: {}", req.path())))
}
