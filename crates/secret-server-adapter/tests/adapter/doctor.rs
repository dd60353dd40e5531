//! The preflight against the emulator: it passes as the emulator comes, and names the role
//! permission taken from the API account.

use secret_server_adapter::doctor::{Outcome, doctor};
use secret_server_client::ClientConfig;
use secret_server_sim::{RunningSim, SimConfig};

fn config(sim: &RunningSim) -> ClientConfig {
    ClientConfig::new(
        url::Url::parse(&sim.base_url()).expect("sim url"),
        sim.api_username(),
        sim.api_password().clone(),
    )
    .allowing_http()
}

#[tokio::test]
async fn doctor_passes_against_the_emulator_as_it_comes() {
    let sim = secret_server_sim::spawn(SimConfig::for_tests()).await.expect("emulator");
    let report = doctor("primary", config(&sim)).await;
    assert!(report.passed(), "{}", report.render());
    let failed: Vec<_> = report.checks.iter().filter(|c| c.outcome == Outcome::Fail).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(report.features.iter().all(|f| f.works()), "{}", report.render());
    assert!(report.render().contains("passed: every required feature will work"));
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_names_the_permission_taken_from_the_api_account_and_fails() {
    let sim = secret_server_sim::spawn(SimConfig::for_tests()).await.expect("emulator");
    let kept: Vec<String> = sim.api_account().permissions().into_iter().filter(|p| p != "Administer Groups").collect();
    sim.api_account().set_permissions(kept);
    let report = doctor("primary", config(&sim)).await;
    assert!(!report.passed());
    assert_eq!(report.missing_permissions(), vec!["Administer Groups"]);
    let rendered = report.render();
    assert!(rendered.contains("FAILED: grant the API account Administer Groups"), "{rendered}");
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_names_the_permission_to_assign_roles_when_the_account_may_only_view_them() {
    let sim = secret_server_sim::spawn(SimConfig::for_tests()).await.expect("emulator");
    let kept: Vec<String> =
        sim.api_account().permissions().into_iter().filter(|p| p != "Administer Role Permissions").collect();
    assert!(kept.iter().any(|p| p == "View Roles"));
    sim.api_account().set_permissions(kept);
    let report = doctor("primary", config(&sim)).await;
    assert!(report.passed(), "roles are optional: {}", report.render());
    assert_eq!(report.missing_permissions(), vec!["Administer Role Permissions"]);
    let roles = report.features.iter().find(|f| f.feature.contains("roles")).expect("a feature for roles");
    assert_eq!(roles.grant, vec!["Administer Role Permissions"]);
    assert!(report.render().contains("grant: Administer Role Permissions"), "{}", report.render());
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_reports_an_unreachable_vault_without_signing_in() {
    let sim = secret_server_sim::spawn(SimConfig::for_tests()).await.expect("emulator");
    let config = config(&sim);
    sim.shutdown().await;
    let report = doctor("gone", config).await;
    assert!(!report.passed());
    assert_eq!(report.checks[0].name, "reachable");
    assert_eq!(report.checks[0].outcome, Outcome::Fail);
    assert!(report.features.is_empty(), "the permissions are unknown");
}
