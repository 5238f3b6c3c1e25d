//! Process-level tests: the real `meterguard` binary, run as child processes on a fresh database.
//!
//! - Exactly-once transitions (docs/evaluation.md §5.1) under concurrent reports: two instances on one
//!   PostgreSQL, and the single SQLite instance; and policy writes racing reports
//!   (`policy_races`).
//! - Durability: after `kill -9` under load, every acknowledged report is stored whole, and the
//!   policy's totals and state agree with the stored rows.
//!
//! - Emails and webhooks (`deliveries`): a kill -9 before delivery loses none, and two instances
//!   on one outbox deliver each transition's messages once.
//! - Actions waiting out a grace period (`grace`): applied once by two instances due at the same
//!   moment, and after a restart by an instance that was down at the due time.
//! - Grants' expiries (`grants`): two instances fire each lifted policy once, at the expiry.
//! - A database outage (`outage`): 503 with `Retry-After` while PostgreSQL is down, recovery when
//!   it returns, and no acknowledged report lost.
//!
//! A failing test keeps its temp dir (SQLite file and server logs) and prints the logs' tails.

#[path = "processes/client.rs"]
mod client;
#[path = "processes/deliveries.rs"]
mod deliveries;
#[path = "processes/grace.rs"]
mod grace;
#[path = "processes/grants.rs"]
mod grants;
#[path = "processes/harness.rs"]
mod harness;
#[path = "processes/outage.rs"]
mod outage;
#[path = "processes/policy_races.rs"]
mod policy_races;
#[path = "common/sinks.rs"]
mod sinks;

use client::{decimal, hundredths, month_start, Api, Marketplace};
use harness::{Backend, Env};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Barrier, Notify};
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------------------------
// Exactly once under concurrency
// ---------------------------------------------------------------------------------------------

const RESOURCES: usize = 20;
const ROUNDS: usize = 3;
/// One Total (period 1) limit on `cpu_hours` per policy.
const LIMITS: [i64; 5] = [100, 200, 300, 400, 500];
/// Every action but `terminate_resources` (which would end the resources): the flag actions touch
/// the customer's resource rows inside the transition, the rows the racing reports lock too.
const ACTIONS: [&str; 5] = [
    "notify_organization_owners",
    "request_pausing",
    "request_downscaling",
    "restrict_members",
    "block_creation_of_new_resources,block_modification_of_existing_resources",
];
/// Each key's reports while going up, in order; 40 keys × 25.00 = 1000.00, over every limit.
const UP: [&str; 5] = ["3.33", "9.99", "12.50", "20.01", "25.00"];
/// And back down to nothing, under every limit.
const DOWN: [&str; 5] = ["20.00", "12.34", "5.55", "0.01", "0.00"];
const TOTAL_UP: i64 = 100_000;

/// One usage key: a resource's `cpu_hours` in the current month (reported by the provider), or
/// in the previous month (backfilled by staff, who alone may date usage components). Both months
/// are inside the Total window, so 20 resources give 40 keys that race on the customer's totals.
#[derive(Clone)]
struct Key {
    resource: String,
    date: Option<String>,
}

/// The two users that report, on one server.
#[derive(Clone)]
struct Reporters {
    staff: Api,
    provider: Api,
}

/// Runs one chain of reports per key, all chains at once (one request in flight per key),
/// step `j` of key `i` going to server `(i + j) % n` so every key is written by every instance.
/// Within a chain the reports are sequential, so each key's value, and with it the customer's
/// total, moves in one direction only: each limit is crossed exactly once per phase, while the
/// chains race on the totals and the policy rows. Returns (reports sent, the non-201 outcomes).
/// After the first failure the chains stop early: a server that fails by timing out would
/// otherwise take minutes to fail every remaining step.
async fn report_chains(servers: &[Reporters], keys: &[Key], amounts: &'static [&'static str]) -> (usize, Vec<String>) {
    // Released together, so the first reports already collide.
    let start = Arc::new(Barrier::new(keys.len()));
    let failed = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut chains = JoinSet::new();
    for (i, key) in keys.iter().cloned().enumerate() {
        let servers = servers.to_vec();
        let (start, failed, sent) = (start.clone(), failed.clone(), sent.clone());
        chains.spawn(async move {
            start.wait().await;
            let mut failures = Vec::new();
            for (step, amount) in amounts.iter().enumerate() {
                if failed.load(Ordering::SeqCst) {
                    break;
                }
                let server = &servers[(i + step) % servers.len()];
                let reporter = if key.date.is_some() {
                    &server.staff
                } else {
                    &server.provider
                };
                sent.fetch_add(1, Ordering::SeqCst);
                let outcome = reporter
                    .try_set_usage(&key.resource, &[("cpu_hours", amount)], key.date.as_deref())
                    .await;
                let what = format!(
                    "{} resource {} month {} amount {amount}",
                    reporter.base,
                    key.resource,
                    key.date.as_deref().unwrap_or("current")
                );
                match outcome {
                    Ok(reply) if reply.status == StatusCode::CREATED => continue,
                    Ok(reply) => failures.push(format!("{what}: {} {}", reply.status, reply.body)),
                    Err(e) => failures.push(format!("{what}: {}", client::describe(&e))),
                }
                failed.store(true, Ordering::SeqCst);
            }
            failures
        });
    }
    let failures: Vec<String> = chains.join_all().await.into_iter().flatten().collect();
    (sent.load(Ordering::SeqCst), failures)
}

#[track_caller]
fn assert_all_created(phase: &str, sent: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{phase}: {} of {sent} set_usage calls did not answer 201; first ones:\n{}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// The scenario of the first two tests, on `instances` servers sharing the env's database.
async fn each_crossing_fires_exactly_once(env: &mut Env, instances: usize) {
    let began = Instant::now();
    let token = env.create_staff_user("staff").await;
    let mut bases = Vec::new();
    for _ in 0..instances {
        bases.push(env.start_server().await);
    }
    let staff = Api::new(&bases[0], &token);
    let m = Marketplace::build(&staff).await;
    let resources = m.resources(RESOURCES).await;
    let mut policies = Vec::new();
    for (limit, actions) in LIMITS.iter().zip(ACTIONS) {
        policies.push(m.cpu_policy(&staff, *limit, actions).await);
    }
    let servers: Vec<Reporters> = bases
        .iter()
        .map(|base| Reporters {
            staff: staff.at(base),
            provider: m.provider.at(base),
        })
        .collect();
    let previous = month_start(1);
    let keys: Vec<Key> = resources
        .iter()
        .flat_map(|r| {
            [
                Key {
                    resource: r.clone(),
                    date: None,
                },
                Key {
                    resource: r.clone(),
                    date: Some(previous.clone()),
                },
            ]
        })
        .collect();
    // Reads go to the last instance: with two, not the one the set-up went through.
    let observer = &servers[servers.len() - 1].staff;

    let set_up = began.elapsed();
    let started = Instant::now();
    let mut sent = 0;
    let mut phases = Vec::new();
    for round in 1..=ROUNDS {
        let phase = Instant::now();
        let (n, failures) = report_chains(&servers, &keys, &UP).await;
        phases.push(phase.elapsed());
        sent += n;
        assert_all_created(&format!("round {round} up"), n, &failures);
        for (policy, limit) in policies.iter().zip(LIMITS) {
            let state = observer.policy(policy).await;
            assert_eq!(
                state["has_fired"], true,
                "round {round}: policy {policy} (limit {limit}) fired"
            );
            assert_eq!(
                observer.status_usage(policy).await,
                TOTAL_UP,
                "round {round}: status usage"
            );
        }

        let phase = Instant::now();
        let (n, failures) = report_chains(&servers, &keys, &DOWN).await;
        phases.push(phase.elapsed());
        sent += n;
        assert_all_created(&format!("round {round} down"), n, &failures);
        for (policy, limit) in policies.iter().zip(LIMITS) {
            let state = observer.policy(policy).await;
            assert_eq!(
                state["has_fired"], false,
                "round {round}: policy {policy} (limit {limit}) reset"
            );
            assert_eq!(observer.status_usage(policy).await, 0, "round {round}: status usage");
        }
    }
    eprintln!(
        "{sent} set_usage calls, all 201, on {instances} instance(s) in {:?} (set-up {set_up:?}; phases {phases:?})",
        started.elapsed()
    );

    for (policy, limit) in policies.iter().zip(LIMITS) {
        let fired = observer.events("policy_fired", policy).await;
        assert_eq!(
            fired.len(),
            ROUNDS,
            "policy {policy} (limit {limit}) fired once per round; events: {fired:#?}"
        );
        // Each fire was decided on a total the racing reports really reached: over the limit,
        // at most the round's top.
        for event in &fired {
            let usage = hundredths(
                event["context"]["exceeded"][0]["usage"]
                    .as_str()
                    .expect("exceeded usage"),
            );
            assert!(
                usage > limit * 100 && usage <= TOTAL_UP,
                "policy {policy}: fired at {} for limit {limit}",
                decimal(usage)
            );
        }
        let resets = observer.event_count("policy_reset", policy).await;
        assert_eq!(resets, ROUNDS, "policy {policy} (limit {limit}) reset once per round");
        let status = observer
            .get(&format!("{}{policy}/status/", client::POLICIES))
            .await
            .expect(200);
        assert_eq!(status["limits"][0]["usage"], "0.00");
        assert_eq!(status["has_fired"], false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_fire_each_crossing_exactly_once() {
    let mut env = Env::new(Backend::Postgres).await;
    each_crossing_fires_exactly_once(&mut env, 2).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_sqlite_instance_fires_each_crossing_exactly_once() {
    let mut env = Env::new(Backend::Sqlite).await;
    each_crossing_fires_exactly_once(&mut env, 1).await;
    env.finish().await;
}

// ---------------------------------------------------------------------------------------------
// kill -9 under load
// ---------------------------------------------------------------------------------------------

const KILL_RESOURCES: usize = 2;
const KILL_MONTHS: u32 = 12;
const KILL_WRITERS: usize = 4;
/// Every acknowledged report sets its key to 10.00 more than the key's previous report, so the
/// stored total is at least 10.00 per acknowledged report: after `KILL_AFTER_ACKS` it is at
/// least 500.00, and the policy has crossed this limit under load, before the kill.
const KILL_LIMIT: i64 = 300;
/// Acknowledged reports to wait for before the kill, so the test always has some to check.
const KILL_AFTER_ACKS: usize = 50;
/// And the least time the reports stream before the kill.
const KILL_AFTER: Duration = Duration::from_millis(1500);

/// What a writer knows about one key when the server dies: the last amount acknowledged with
/// 201, and the amount of a request that got no answer (it may or may not have committed).
#[derive(Debug, Default, Clone, Copy)]
struct KeyLog {
    acked: Option<i64>,
    in_doubt: Option<i64>,
}

/// One writer: sends reports for its own keys, round-robin, each with a larger amount than the
/// last for that key, one at a time, until the first request without a 201. Every report sets
/// `cpu_hours` and `storage_gb` of a key to the same amount, so a stored key whose two rows
/// differ is a report applied in part.
async fn writer(
    staff: Api,
    keys: Vec<(usize, String, String)>,
    acked: Arc<AtomicUsize>,
    enough: Arc<Notify>,
) -> (HashMap<usize, KeyLog>, Vec<String>) {
    let mut logs: HashMap<usize, KeyLog> = HashMap::new();
    let mut unexpected = Vec::new();
    for round in 1i64.. {
        for (index, resource, month) in &keys {
            // Increasing per key, and the key's index in the last digits makes values unique.
            let amount = round * 1000 + *index as i64;
            let text = decimal(amount);
            let outcome = staff
                .try_set_usage(resource, &[("cpu_hours", &text), ("storage_gb", &text)], Some(month))
                .await;
            let log = logs.entry(*index).or_default();
            match outcome {
                Ok(reply) if reply.status == StatusCode::CREATED => {
                    log.acked = Some(amount);
                    if acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER_ACKS {
                        enough.notify_one();
                    }
                }
                Ok(reply) => {
                    unexpected.push(format!(
                        "resource {resource} month {month} amount {text}: {} {}",
                        reply.status, reply.body
                    ));
                    log.in_doubt = Some(amount);
                    return (logs, unexpected);
                }
                Err(_) => {
                    // The server died with this request in flight.
                    log.in_doubt = Some(amount);
                    return (logs, unexpected);
                }
            }
        }
    }
    unreachable!()
}

async fn kill_minus_nine_loses_no_acknowledged_report(backend: Backend) {
    let mut env = Env::new(backend).await;
    let token = env.create_staff_user("staff").await;
    let first = env.start_server().await;
    let staff = Api::new(&first, &token);
    let m = Marketplace::build(&staff).await;
    let resources = m.resources(KILL_RESOURCES).await;
    let policy = m.cpu_policy(&staff, KILL_LIMIT, "notify_organization_owners").await;

    // Keys (resource, billing month), backfilled by staff so each month is a key of its own.
    let months: Vec<String> = (0..KILL_MONTHS).map(month_start).collect();
    let keys: Vec<(usize, String, String)> = resources
        .iter()
        .flat_map(|r| months.iter().map(move |mo| (r.clone(), mo.clone())))
        .enumerate()
        .map(|(i, (r, mo))| (i, r, mo))
        .collect();

    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let streaming = Instant::now();
    let mut writers = JoinSet::new();
    for w in 0..KILL_WRITERS {
        let mine: Vec<_> = keys.iter().skip(w).step_by(KILL_WRITERS).cloned().collect();
        writers.spawn(writer(staff.clone(), mine, acked.clone(), enough.clone()));
    }
    tokio::time::timeout(Duration::from_secs(20), enough.notified())
        .await
        .unwrap_or_else(|_| panic!("only {} reports acknowledged in 20 s", acked.load(Ordering::SeqCst)));
    // Not synchronisation: how long the load runs before the crash.
    tokio::time::sleep(KILL_AFTER.saturating_sub(streaming.elapsed())).await;
    let killed_after = streaming.elapsed();
    env.kill_server(&first);
    let mut logs: HashMap<usize, KeyLog> = HashMap::new();
    let mut problems: Vec<String> = Vec::new();
    for (writer_logs, unexpected) in writers.join_all().await {
        logs.extend(writer_logs);
        problems.extend(unexpected.into_iter().map(|u| format!("not 201 before the kill: {u}")));
    }
    let acked_total = acked.load(Ordering::SeqCst);
    let in_doubt = logs.values().filter(|l| l.in_doubt.is_some()).count();

    let second = env.start_server().await;
    let staff = staff.at(&second);

    // Every stored row, by (resource, billing month, component type).
    let mut stored: HashMap<(String, String, String), i64> = HashMap::new();
    for resource in &resources {
        for row in staff.usage_rows(resource).await {
            let key = (
                row["resource_uuid"].as_str().expect("resource_uuid").to_string(),
                row["billing_period"].as_str().expect("billing_period").to_string(),
                row["type"].as_str().expect("type").to_string(),
            );
            let usage = hundredths(row["usage"].as_str().expect("usage"));
            if let Some(other) = stored.insert(key.clone(), usage) {
                problems.push(format!("two rows for {key:?}: {other} and {usage}"));
            }
        }
    }
    let mut cpu_sum = 0;
    for (index, resource, month) in &keys {
        let log = logs.get(index).copied().unwrap_or_default();
        let cpu = stored.remove(&(resource.clone(), month.clone(), "cpu_hours".to_string()));
        let storage = stored.remove(&(resource.clone(), month.clone(), "storage_gb".to_string()));
        let what = format!("resource {resource} month {month} ({log:?})");
        match (cpu, storage) {
            (None, None) => {
                if let Some(a) = log.acked {
                    problems.push(format!("{what}: acknowledged {} is missing", decimal(a)));
                }
            }
            (Some(c), Some(s)) if c != s => problems.push(format!(
                "{what}: torn report, cpu_hours {} storage_gb {}",
                decimal(c),
                decimal(s)
            )),
            (Some(c), Some(_)) => {
                cpu_sum += c;
                match log.acked {
                    _ if Some(c) == log.acked || Some(c) == log.in_doubt => {}
                    Some(a) if c < a => problems.push(format!(
                        "{what}: acknowledged {} is lost, an older {} is stored",
                        decimal(a),
                        decimal(c)
                    )),
                    _ => problems.push(format!(
                        "{what}: stored {}, neither acknowledged last nor in flight",
                        decimal(c)
                    )),
                }
            }
            (c, s) => problems.push(format!("{what}: torn report, cpu_hours {c:?} storage_gb {s:?}")),
        }
    }
    for (key, usage) in &stored {
        problems.push(format!("a row nobody reported: {key:?} = {}", decimal(*usage)));
    }

    // The customer's totals (what the status reads) equal the stored rows, and the policy's state
    // and events agree: amounts only grew, so at most one fire and no reset.
    let status_usage = staff.status_usage(&policy).await;
    if status_usage != cpu_sum {
        problems.push(format!(
            "status usage {} but the rows sum to {}",
            decimal(status_usage),
            decimal(cpu_sum)
        ));
    }
    let over = cpu_sum > KILL_LIMIT * 100;
    if !over {
        problems.push(format!(
            "the stored total {} is not over the limit {KILL_LIMIT}",
            decimal(cpu_sum)
        ));
    }
    let has_fired = staff.policy(&policy).await["has_fired"].clone();
    if has_fired != Value::Bool(over) {
        problems.push(format!(
            "has_fired {has_fired} with usage {} and limit {KILL_LIMIT}",
            decimal(cpu_sum)
        ));
    }
    let fired = staff.event_count("policy_fired", &policy).await;
    let resets = staff.event_count("policy_reset", &policy).await;
    if fired != usize::from(over) || resets != 0 {
        problems.push(format!(
            "{fired} policy_fired and {resets} policy_reset events; over: {over}"
        ));
    }

    // The restarted server goes on from the recovered totals.
    let (_, resource, month) = &keys[0];
    let before = staff.usage_rows(resource).await;
    let row = before
        .iter()
        .find(|r| r["billing_period"] == month.as_str() && r["type"] == "cpu_hours");
    let old = row.map_or(0, |r| hundredths(r["usage"].as_str().expect("usage")));
    let new = old + 12_345;
    staff
        .try_set_usage(
            resource,
            &[("cpu_hours", &decimal(new)), ("storage_gb", &decimal(new))],
            Some(month),
        )
        .await
        .expect("report after the restart")
        .expect(201);
    let after_usage = staff.status_usage(&policy).await;
    if after_usage != status_usage + (new - old) {
        problems.push(format!(
            "after the restart, a report of +{} moved the status usage from {} to {}",
            decimal(new - old),
            decimal(status_usage),
            decimal(after_usage)
        ));
    }

    eprintln!(
        "{backend:?}: killed after {acked_total} acknowledged reports ({in_doubt} in flight) in {:?}; \
         stored cpu_hours total {}",
        killed_after,
        decimal(cpu_sum)
    );
    assert!(acked_total >= KILL_AFTER_ACKS);
    assert!(
        problems.is_empty(),
        "after kill -9 and restart:\n{}",
        problems.join("\n")
    );
    env.finish().await;
}

mod kill_minus_nine_loses_no_acknowledged_report {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        kill_minus_nine_loses_no_acknowledged_report(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        kill_minus_nine_loses_no_acknowledged_report(Backend::Postgres).await;
    }
}
