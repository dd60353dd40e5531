//! What the clients were told, compared with Secret Server's state (through the emulator's REST
//! API), SCIM reads (through the gateway, so through both adapters) and the audit log:
//!
//! - every user a client was told exists is in Secret Server, enabled, with the name it was last
//!   told, and SCIM reads it with that name and its `externalId` (held by the connector only);
//! - every user it was told is deleted is disabled in Secret Server and `404` through SCIM;
//! - a user whose writes all failed exists at most once, with the `externalId` sent;
//! - no user of the clients is in Secret Server that no client asked for;
//! - the audit log has exactly one successful `create` per created user (nothing doubled), a
//!   successful `delete` for each told deletion and at least as many successful `patch`es as told.
//!
//! The SCIM call records (the gateway's own audit events) are matched by request id with the
//! writes told ([`call_records`]): each answered write must have one (a gateway appends it to the
//! events stream, or to its local spool, before the answer leaves), unless the run is told to only
//! report them (`--call-records-reported-only`).
//!
//! Reads and the audit log catch up asynchronously, so each comparison is polled until it holds or
//! its patience runs out; what is asserted never depends on timing.

use crate::workload::{Expected, Ledger, encode};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Where to look.
#[derive(Debug, Clone)]
pub struct Sources {
    pub scim_base: String,
    pub token: String,
    /// `http://127.0.0.1:<port>/SecretServer`.
    pub sim_base: String,
    pub sim_user: String,
    pub sim_password: String,
    pub audit_base: String,
    pub admin_token: String,
}

/// An access token of the emulator's API account, asked again after any fault the run injects
/// (a `5xx`, a `429`, an HTML page instead of JSON): the check must not fail on one. The faults
/// are switched off through this same token, so it is asked for while they are still on.
///
/// # Errors
/// When the emulator keeps failing or refuses the account.
pub async fn sim_token(http: &reqwest::Client, sources: &Sources) -> anyhow::Result<String> {
    const ATTEMPTS: u32 = 20;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match token_once(http, sources).await {
            Ok(token) => return Ok(token),
            Err(e) if attempt >= ATTEMPTS => return Err(e.context(format!("{ATTEMPTS} attempts"))),
            Err(TokenError::Refused(e)) => return Err(e),
            Err(TokenError::Injected(_)) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

enum TokenError {
    /// A fault the run may have injected: asked again.
    Injected(anyhow::Error),
    /// The account itself is refused (`4xx` other than `429`): asking again cannot help.
    Refused(anyhow::Error),
}

impl TokenError {
    fn context(self, note: String) -> anyhow::Error {
        match self {
            TokenError::Injected(e) | TokenError::Refused(e) => e.context(note),
        }
    }
}

async fn token_once(http: &reqwest::Client, sources: &Sources) -> Result<String, TokenError> {
    let answer = http
        .post(format!("{}/oauth2/token", sources.sim_base))
        .form(&[("grant_type", "password"), ("username", &sources.sim_user), ("password", &sources.sim_password)])
        .send()
        .await
        .map_err(|e| TokenError::Injected(e.into()))?;
    let status = answer.status();
    if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(TokenError::Refused(anyhow::anyhow!("the emulator refused its API account: {status}")));
    }
    if !status.is_success() {
        return Err(TokenError::Injected(anyhow::anyhow!("the emulator answered {status}")));
    }
    let grant: Value = answer.json().await.map_err(|e| TokenError::Injected(e.into()))?;
    grant["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| TokenError::Injected(anyhow::anyhow!("the emulator gave no access token")))
}

#[derive(Debug, Clone)]
struct SsUser {
    id: String,
    enabled: bool,
    display_name: String,
}

/// Every user of Secret Server whose name starts with `c` (the clients' names), by name.
async fn secret_server_users(
    http: &reqwest::Client,
    sources: &Sources,
) -> anyhow::Result<HashMap<String, Vec<SsUser>>> {
    let token = sim_token(http, sources).await?;
    let mut users: HashMap<String, Vec<SsUser>> = HashMap::new();
    let mut skip = 0;
    loop {
        let page: Value = http
            .get(format!("{}/api/v1/users?filter.includeInactive=true&take=500&skip={skip}", sources.sim_base))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let records = page["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            return Ok(users);
        }
        skip += records.len();
        for r in records {
            let name = r["userName"].as_str().unwrap_or_default().to_owned();
            if name.starts_with('c') && name.contains("-u") {
                users.entry(name).or_default().push(SsUser {
                    id: r["id"].as_i64().map(|i| i.to_string()).unwrap_or_default(),
                    enabled: r["enabled"].as_bool().unwrap_or(false),
                    display_name: r["displayName"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
}

async fn scim_get(http: &reqwest::Client, sources: &Sources, path: &str) -> anyhow::Result<(u16, Value)> {
    let response = http.get(format!("{}/scim/v2{path}", sources.scim_base)).bearer_auth(&sources.token).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// The differences between the ledgers and Secret Server and SCIM reads (empty: none).
async fn state_differences(
    http: &reqwest::Client,
    sources: &Sources,
    expected: &BTreeMap<String, Expected>,
) -> anyhow::Result<Vec<String>> {
    let ss = secret_server_users(http, sources).await?;
    let mut wrong = Vec::new();
    for (name, found) in &ss {
        if found.len() > 1 {
            wrong.push(format!("{name}: {} users in Secret Server", found.len()));
        }
        if !expected.contains_key(name) {
            wrong.push(format!("{name}: in Secret Server, but no client asked for it"));
        }
    }
    for (name, e) in expected {
        let in_ss = ss.get(name).and_then(|v| v.first());
        match e {
            Expected::Exists { id, display_name, external_id } => {
                match in_ss {
                    Some(u) if u.id == *id && u.enabled && u.display_name == *display_name => {}
                    other => {
                        wrong.push(format!("{name}: told it exists as {display_name:?}; Secret Server has {other:?}"))
                    }
                }
                let (status, doc) = scim_get(http, sources, &format!("/Users/{id}")).await?;
                if status != 200
                    || doc["displayName"] != display_name.as_str()
                    || doc["externalId"] != external_id.as_str()
                {
                    wrong.push(format!("{name}: told it exists as {display_name:?}; SCIM reads {status} {doc}"));
                }
            }
            Expected::Deleted { id } => {
                if in_ss.is_some_and(|u| u.enabled) {
                    wrong.push(format!("{name}: told it is deleted; still enabled in Secret Server"));
                }
                let (status, _) = scim_get(http, sources, &format!("/Users/{id}")).await?;
                if status != 404 {
                    wrong.push(format!("{name}: told it is deleted; SCIM reads {status}"));
                }
            }
            Expected::MaybeDeleted { .. } => {}
            Expected::Unknown { external_id, .. } => {
                let filter = encode(&format!("userName eq \"{name}\""));
                let (status, list) = scim_get(http, sources, &format!("/Users?filter={filter}")).await?;
                let found = list["Resources"].as_array().cloned().unwrap_or_default();
                if status != 200 || found.len() > 1 || found.iter().any(|u| u["externalId"] != external_id.as_str()) {
                    wrong.push(format!("{name}: its writes failed; SCIM finds {status} {found:?}"));
                }
            }
        }
    }
    Ok(wrong)
}

/// Every audit record of `kind`.
async fn audit_records(http: &reqwest::Client, sources: &Sources, kind: &str) -> anyhow::Result<Vec<Value>> {
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/audit/v1/records?kind={kind}&limit=1000", sources.audit_base);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", encode(c)));
        }
        let page: Value =
            http.get(url).bearer_auth(&sources.admin_token).send().await?.error_for_status()?.json().await?;
        records.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(records),
        }
    }
}

/// The differences between what the clients were told and the audit log (empty: none).
async fn audit_differences(
    http: &reqwest::Client,
    sources: &Sources,
    ledgers: &[Ledger],
) -> anyhow::Result<Vec<String>> {
    let changes = audit_records(http, sources, "change").await?;
    let mut succeeded: HashMap<(String, String), usize> = HashMap::new();
    for c in &changes {
        if c["outcome"] == "succeeded" && c["resourceType"] == "User" {
            let key = (
                c["resourceId"].as_str().unwrap_or_default().to_owned(),
                c["operation"].as_str().unwrap_or_default().to_owned(),
            );
            *succeeded.entry(key).or_default() += 1;
        }
    }
    let mut told: HashMap<(String, String), usize> = HashMap::new();
    for ledger in ledgers {
        for t in &ledger.told {
            *told.entry((t.id.clone(), t.operation.to_owned())).or_default() += 1;
        }
    }
    let mut wrong = Vec::new();
    for ((id, operation), n) in &told {
        let recorded = succeeded.get(&(id.clone(), operation.clone())).copied().unwrap_or(0);
        let fine = match operation.as_str() {
            "create" => recorded == 1,
            _ => recorded >= *n,
        };
        if !fine {
            wrong.push(format!("user {id}: told {n} successful {operation}(s); the audit log has {recorded}"));
        }
    }
    for ((id, operation), n) in &succeeded {
        if operation == "create" && *n > 1 {
            wrong.push(format!("user {id}: {n} successful creates in the audit log"));
        }
    }
    Ok(wrong)
}

/// The writes the clients were told succeeded, matched by request id with the `2xx` SCIM call
/// records of the audit log: (told with a request id, of those recorded). A create adopted after a
/// `409` has no answered attempt to look for and is left out. Polled until every told write is on
/// record or `patience` passes: a gateway that could not reach Redis drains its spool later.
///
/// # Errors
/// When the audit API cannot be read.
pub async fn call_records(sources: &Sources, ledgers: &[Ledger], patience: Duration) -> anyhow::Result<(usize, usize)> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let told: Vec<&str> = ledgers.iter().flat_map(|l| &l.told).filter_map(|t| t.request_id.as_deref()).collect();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let calls = audit_records(&http, sources, "scim_call").await?;
        let recorded: std::collections::HashSet<&str> = calls
            .iter()
            .filter(|c| c["status"].as_u64().is_some_and(|s| (200..300).contains(&s)))
            .filter_map(|c| c["event"]["scimCall"]["requestId"].as_str())
            .collect();
        let found = told.iter().filter(|id| recorded.contains(*id)).count();
        if found == told.len() || tokio::time::Instant::now() > deadline {
            return Ok((told.len(), found));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Compares, polling each comparison until it holds or `patience` passes.
///
/// # Errors
/// The differences left, one per line.
pub async fn verify(sources: &Sources, ledgers: &[Ledger], patience: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let mut expected = BTreeMap::new();
    for ledger in ledgers {
        expected.extend(ledger.users.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (what, check) in [("Secret Server and SCIM reads", 0), ("the audit log", 1)] {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let wrong = if check == 0 {
                state_differences(&http, sources, &expected).await
            } else {
                audit_differences(&http, sources, ledgers).await
            };
            match wrong {
                Ok(wrong) if wrong.is_empty() => break,
                Ok(wrong) if tokio::time::Instant::now() > deadline => {
                    let shown: Vec<_> = wrong.iter().take(30).cloned().collect();
                    anyhow::bail!(
                        "{} difference(s) between what the clients were told and {what}:\n  {}",
                        wrong.len(),
                        shown.join("\n  ")
                    );
                }
                Err(e) if tokio::time::Instant::now() > deadline => return Err(e.context(format!("reading {what}"))),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        eprintln!("chaos: {what}: as the clients were told");
    }
    Ok(())
}
