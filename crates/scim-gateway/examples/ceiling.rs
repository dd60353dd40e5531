//! The reference ceiling of `scripts/bench-gateway.sh`: a bare actix-web handler answering a
//! fixed SCIM-sized JSON document, with the same worker count as the gateway, so that the
//! gateway's numbers can be read against what actix-web itself does on this machine in the same run.
//!
//! ```text
//! cargo run --release -p scim-gateway --example ceiling -- --port 8081 [--workers 2]
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};

const USER: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"4242","userName":"user004242","displayName":"User 4242","active":true,"emails":[{"value":"user004242@example.com","type":"work","primary":true}],"groups":[{"value":"17","display":"Group 17","type":"direct"}],"meta":{"resourceType":"User","created":"2026-01-01T00:00:00.000Z","lastModified":"2026-01-01T00:00:00.000Z","version":"W/\"9aa79b0d2ddeb4e8\"","location":"http://127.0.0.1:8080/scim/v2/Users/4242"}}"#;

async fn user() -> HttpResponse {
    HttpResponse::Ok().content_type("application/scim+json").body(USER)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut port = 8081u16;
    let mut workers = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--port" => port = value.parse().unwrap_or(port),
            "--workers" => workers = value.parse().unwrap_or(workers),
            _ => eprintln!("ignoring unknown flag {flag}"),
        }
    }
    let workers =
        if workers == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) } else { workers };
    HttpServer::new(|| App::new().route("/user", web::get().to(user)))
        .workers(workers)
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
