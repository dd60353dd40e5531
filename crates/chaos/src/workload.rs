//! Concurrent SCIM clients, each managing its own users (names `c<client>-u<n>`) through the
//! gateway: create (with an `externalId`, which only the connector holds), PATCH `displayName`,
//! GET, list, DELETE. With retries (the chaos run), a write that meets a 5xx, a 429 or a lost
//! connection is sent again, as an identity platform would; a create retried after a failure that
//! did create the user meets `409 uniqueness` and adopts the user found by `userName`. Without
//! retries (the rolling restart), any answer but the expected one is a failure.
//!
//! Each client keeps a ledger of what it was told: the final expected state of every user, and
//! each write answered 2xx, for [`crate::verify`].

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a client expects of one of its users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Created (answered 201, or adopted after a 409), with these values.
    Exists { id: String, display_name: String, external_id: String },
    /// Deleted (answered 204, or 404 to a retried delete).
    Deleted { id: String },
    /// Every attempt of its create (or of a PATCH) failed: it may exist or not (or have either
    /// name), but at most once and with this `externalId`.
    Unknown { display_name: String, external_id: String },
    /// Every attempt of its delete failed: deleted or not.
    MaybeDeleted { id: String },
}

/// A write the client was told succeeded.
#[derive(Debug, Clone)]
pub struct Told {
    pub operation: &'static str,
    pub id: String,
    /// The `X-Request-Id` of the attempt answered `2xx`; `None` for a create adopted after a `409`
    /// (its `2xx`, if any, was never received, so no call record can be asked of it).
    pub request_id: Option<String>,
}

/// One client's ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    pub users: BTreeMap<String, Expected>,
    pub told: Vec<Told>,
    /// Calls sent (attempts included) and answered.
    pub calls: u64,
    /// Wrong answers, and (without retries) failed calls.
    pub failures: Vec<String>,
    /// Calls given up after every attempt failed (with retries: allowed, the outcome unknown).
    pub gave_up: usize,
}

/// How the clients behave.
#[derive(Debug, Clone)]
pub struct Workload {
    pub base: String,
    pub token: String,
    pub clients: usize,
    /// Whether failed writes are sent again (chaos) or counted as failures (rolling restart).
    pub retries: bool,
    pub users_per_client: usize,
}

const SCIM_JSON: &str = "application/scim+json";
const ATTEMPTS: u32 = 60;
/// How long a `409` to a retried create may take to show the user sent (see [`Client::adopt`]).
const ADOPTION_PATIENCE: Duration = Duration::from_secs(45);

enum Answer {
    Status(u16, Value),
    /// No answer: the connection failed or timed out.
    Lost(String),
}

impl Answer {
    fn retryable(&self) -> bool {
        match self {
            Answer::Status(s, _) => *s == 429 || *s >= 500,
            Answer::Lost(_) => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Answer::Status(s, body) => format!("{s} {}", body.get("detail").and_then(Value::as_str).unwrap_or("")),
            Answer::Lost(e) => format!("no answer: {e}"),
        }
    }
}

struct Client {
    http: reqwest::Client,
    workload: Workload,
    n: usize,
    ledger: Ledger,
    /// The request id of the last attempt that got an answer.
    answered: Option<String>,
}

impl Client {
    async fn send(&mut self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        self.ledger.calls += 1;
        let request_id = format!("chaos-c{}-{}", self.n, self.ledger.calls);
        let mut request = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.workload.base))
            .bearer_auth(&self.workload.token)
            .header("x-request-id", &request_id);
        if let Some(body) = body {
            request = request.header("content-type", SCIM_JSON).body(body.to_string());
        }
        match request.send().await {
            Ok(response) => {
                self.answered = Some(request_id);
                let status = response.status().as_u16();
                let body = response.json().await.unwrap_or(Value::Null);
                Answer::Status(status, body)
            }
            Err(e) => Answer::Lost(e.to_string()),
        }
    }

    /// Sends until a definite answer (or the attempts run out, with retries); `None` when the last
    /// attempt failed.
    async fn call(
        &mut self,
        what: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Option<(u16, Value)> {
        let attempts = if self.workload.retries { ATTEMPTS } else { 1 };
        let mut last = None;
        for attempt in 0..attempts {
            let answer = self.send(method.clone(), path, body).await;
            if !answer.retryable() {
                let Answer::Status(status, body) = answer else { return None };
                return Some((status, body));
            }
            last = Some(answer);
            if attempt + 1 < attempts {
                tokio::time::sleep(Duration::from_millis(200 + 100 * u64::from(attempt.min(10)))).await;
            }
        }
        if self.workload.retries {
            self.ledger.gave_up += 1;
        } else {
            let why = last.map(|a| a.describe()).unwrap_or_default();
            self.ledger.failures.push(format!("client {}: {what}: {why}", self.n));
        }
        None
    }

    fn fail(&mut self, what: String) {
        self.ledger.failures.push(format!("client {}: {what}", self.n));
    }

    async fn create(&mut self, name: &str) {
        let display_name = format!("User {name}");
        let external_id = format!("ext-{name}");
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "displayName": display_name,
            "externalId": external_id,
        });
        // `call` sends again after a 5xx, 429 or lost connection: a 409 then may be this create's own
        // earlier attempt.
        let outcome = match self.call(&format!("create {name}"), reqwest::Method::POST, "/Users", Some(&body)).await {
            Some((201, created)) => created["id"].as_str().map(|id| (id.to_owned(), self.answered.clone())),
            Some((409, _)) if self.workload.retries => self.adopt(name, &external_id).await.map(|id| (id, None)),
            Some((status, body)) => {
                self.fail(format!("create {name}: {status} {body}"));
                None
            }
            None => None,
        };
        match outcome {
            Some((id, request_id)) => {
                self.ledger.told.push(Told { operation: "create", id: id.clone(), request_id });
                self.ledger.users.insert(name.to_owned(), Expected::Exists { id, display_name, external_id });
            }
            None => {
                self.ledger.users.insert(name.to_owned(), Expected::Unknown { display_name, external_id });
            }
        }
    }

    /// The user named `name` after a `409` to a retried create: it must be the one sent. An earlier
    /// attempt whose adapter was killed mid-job created it in Secret Server, and its job finishes
    /// (with the `externalId` sent) only once the queue hands it out again, after the job's
    /// visibility timeout (30 s): until then the retry's `409` is right and the lookup may find
    /// nothing, or the user without what only the connector holds. So the lookup is asked again
    /// until it shows the user as sent, for longer than that timeout; the final check still
    /// compares every told user's `externalId`.
    async fn adopt(&mut self, name: &str, external_id: &str) -> Option<String> {
        let filter = format!("userName eq \"{name}\"");
        let path = format!("/Users?filter={}", encode(&filter));
        let deadline = tokio::time::Instant::now() + ADOPTION_PATIENCE;
        loop {
            let found = match self.call("find after 409", reqwest::Method::GET, &path, None).await {
                Some((200, list)) => list["Resources"].as_array().cloned().unwrap_or_default(),
                other => {
                    self.fail(format!("{name}: 409 then the lookup answered {:?}", other.map(|o| o.0)));
                    return None;
                }
            };
            match found.as_slice() {
                [one] if one["externalId"] == external_id => return one["id"].as_str().map(str::to_owned),
                _ if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                [one] => {
                    self.fail(format!("{name}: a 409 names a user that is not the one sent: {one}"));
                    return None;
                }
                other => {
                    self.fail(format!("{name}: 409 but `userName eq` finds {other:?}"));
                    return None;
                }
            }
        }
    }

    async fn rename(&mut self, name: &str, id: &str, external_id: &str, round: u64) {
        let display_name = format!("User {name} v{round}");
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": display_name}],
        });
        match self.call(&format!("patch {name}"), reqwest::Method::PATCH, &format!("/Users/{id}"), Some(&body)).await {
            Some((200 | 204, _)) => {
                self.ledger.told.push(Told {
                    operation: "patch",
                    id: id.to_owned(),
                    request_id: self.answered.clone(),
                });
                self.ledger.users.insert(
                    name.to_owned(),
                    Expected::Exists { id: id.to_owned(), display_name, external_id: external_id.to_owned() },
                );
            }
            Some((status, body)) => self.fail(format!("patch {name}: {status} {body}")),
            // Applied or not: either value is right until the next answered PATCH.
            None => {
                self.ledger
                    .users
                    .insert(name.to_owned(), Expected::Unknown { display_name, external_id: external_id.to_owned() });
            }
        }
    }

    async fn delete(&mut self, name: &str, id: &str) {
        match self.call(&format!("delete {name}"), reqwest::Method::DELETE, &format!("/Users/{id}"), None).await {
            Some((204, _)) => {
                let request_id = self.answered.clone();
                self.ledger.told.push(Told { operation: "delete", id: id.to_owned(), request_id });
            }
            // An earlier attempt (sent again after a failure) deleted it.
            Some((404, _)) if self.workload.retries => {}
            Some((status, body)) => {
                self.fail(format!("delete {name}: {status} {body}"));
                return;
            }
            // Deleted or not: nothing more is done with it, and the check accepts either.
            None => {
                self.ledger.users.insert(name.to_owned(), Expected::MaybeDeleted { id: id.to_owned() });
                return;
            }
        }
        self.ledger.users.insert(name.to_owned(), Expected::Deleted { id: id.to_owned() });
    }

    async fn read(&mut self, name: &str, id: &str) {
        match self.call(&format!("get {name}"), reqwest::Method::GET, &format!("/Users/{id}"), None).await {
            Some((200, doc)) if doc["userName"] == name => {}
            Some((status, body)) => self.fail(format!("get {name}: {status} {body}")),
            None => {}
        }
    }

    async fn list(&mut self) {
        let filter = format!("userName sw \"c{}-\"", self.n);
        let path = format!("/Users?filter={}&count=50", encode(&filter));
        match self.call("list", reqwest::Method::GET, &path, None).await {
            Some((200, _)) | None => {}
            Some((status, body)) => self.fail(format!("list: {status} {body}")),
        }
    }

    async fn run(mut self, until: tokio::time::Instant) -> Ledger {
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut next_name = 0usize;
        let mut round = 0u64;
        while tokio::time::Instant::now() < until {
            round += 1;
            let live: Vec<(String, String, String)> = self
                .ledger
                .users
                .iter()
                .filter_map(|(name, e)| match e {
                    Expected::Exists { id, external_id, .. } => Some((name.clone(), id.clone(), external_id.clone())),
                    _ => None,
                })
                .collect();
            let roll: u32 = rng.random_range(0..100);
            if live.len() < self.workload.users_per_client / 2 || (roll < 15 && next_name < 10_000) {
                let name = format!("c{}-u{next_name}", self.n);
                next_name += 1;
                self.create(&name).await;
                continue;
            }
            let (name, id, external_id) = live[rng.random_range(0..live.len())].clone();
            match roll {
                15..55 => self.rename(&name, &id, &external_id, round).await,
                55..75 => self.read(&name, &id).await,
                75..85 => self.list().await,
                _ => self.delete(&name, &id).await,
            }
        }
        self.ledger
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs the clients until `duration` has passed; their ledgers.
pub async fn run(workload: &Workload, duration: Duration) -> Vec<Ledger> {
    let until = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::new();
    for n in 0..workload.clients {
        // Idle connections are dropped before the gateway's keep-alive (actix-web's 5 s) can close
        // them: a request written just as the server closes an idle connection gets no answer,
        // which a run without retries would count against the connector.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        let client = Client { http, workload: workload.clone(), n, ledger: Ledger::default(), answered: None };
        tasks.push(tokio::spawn(client.run(until)));
    }
    let mut ledgers = Vec::new();
    for task in tasks {
        match task.await {
            Ok(ledger) => ledgers.push(ledger),
            Err(e) => ledgers.push(Ledger { failures: vec![format!("a client panicked: {e}")], ..Ledger::default() }),
        }
    }
    ledgers
}
