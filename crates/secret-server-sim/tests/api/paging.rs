//! The paging envelope: `skip`, `take`, totals, `hasNext`, sorting, and bad paging input.

use crate::helpers::{TestSim, assert_invalid};
use secret_server_sim::{GenerateSpec, Seed, SimConfig};
use serde_json::Value;

async fn generated(users: u64) -> TestSim {
    let spec = GenerateSpec {
        users,
        groups: 5,
        memberships: 20,
        folders: 3,
        permissions_per_folder: 1,
        secrets: 3,
        rng_seed: 1,
    };
    TestSim::spawn_with(SimConfig { seed: Seed::Generate(spec), ..SimConfig::for_tests() }).await
}

fn ids(body: &Value) -> Vec<i64> {
    body["records"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn the_envelope_math_matches_skip_take_and_total() {
    let t = generated(95).await;
    let total = t.ok("/users?filter.includeInactive=true&take=1").await["total"].as_i64().unwrap();
    assert_eq!(total, 96, "95 generated users and the API account");
    let page = t.ok("/users?filter.includeInactive=true&skip=20&take=10").await;
    assert_eq!(page["records"].as_array().unwrap().len(), 10);
    assert_eq!(page["skip"], 20);
    assert_eq!(page["take"], 10);
    assert_eq!(page["currentPage"], 3);
    assert_eq!(page["pageCount"], 10);
    assert_eq!(page["batchCount"], 10);
    assert_eq!(page["hasNext"], true);
    assert_eq!(page["hasPrev"], true);
    assert_eq!(page["nextSkip"], 30);
    assert_eq!(page["prevSkip"], 10);
    assert_eq!(page["success"], true);
    assert_eq!(page["severity"], "None");
    let last = t.ok("/users?filter.includeInactive=true&skip=90&take=10").await;
    assert_eq!(last["records"].as_array().unwrap().len(), 6);
    assert_eq!(last["hasNext"], false);
    let beyond = t.ok("/users?filter.includeInactive=true&skip=500&take=10").await;
    assert!(beyond["records"].as_array().unwrap().is_empty());
    assert_eq!(beyond["total"], 96);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn walking_every_page_visits_every_record_once_in_id_order() {
    let t = generated(57).await;
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let page = t.ok(&format!("/users?filter.includeInactive=true&skip={skip}&take=8")).await;
        seen.extend(ids(&page));
        if page["hasNext"] == false {
            break;
        }
        skip = page["nextSkip"].as_i64().unwrap();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 58);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sort_by_name_descending_and_the_echoed_sort() {
    let t = TestSim::spawn().await;
    let page = t.ok("/users?sortBy[0].name=username&sortBy[0].direction=desc&take=3").await;
    let names: Vec<_> =
        page["records"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect();
    let mut expected = names.clone();
    expected.sort();
    expected.reverse();
    assert_eq!(names, expected);
    assert_eq!(page["sortBy"][0]["name"], "userName");
    assert_eq!(page["sortBy"][0]["direction"], "Desc");
    let groups = t.ok("/groups?sortBy%5B0%5D.name=memberCount&sortBy%5B0%5D.direction=Desc&take=1").await;
    assert_eq!(groups["records"][0]["name"], "Developers", "three members, one inactive");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn bad_paging_values_are_400_with_model_state() {
    let t = TestSim::spawn().await;
    let (status, body) = t.get("/users?take=ten").await;
    assert_invalid(status, &body, "take");
    let (status, body) = t.get("/users?skip=-5").await;
    assert_invalid(status, &body, "skip");
    let (status, body) = t.get("/users?take=99999999999").await;
    assert_invalid(status, &body, "take");
    let (status, body) = t.get("/users?sortBy[0].name=shoeSize").await;
    assert_invalid(status, &body, "sortBy[0].name");
    let (status, body) = t.get("/users?filter.includeInactive=maybe").await;
    assert_invalid(status, &body, "filter.includeinactive");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_huge_takes_real_clients_send_are_accepted() {
    let t = TestSim::spawn().await;
    for take in ["999999999", "2147483647"] {
        let page = t.ok(&format!("/users?skip=0&take={take}&filter.includeInactive=true")).await;
        assert_eq!(page["records"].as_array().unwrap().len() as i64, page["total"].as_i64().unwrap());
        assert_eq!(page["hasNext"], false);
    }
    t.sim.shutdown().await;
}
