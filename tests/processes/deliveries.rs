//! Emails and webhooks (docs/actions.md §8: the outbox) with real processes: a crash between commit and
//! delivery loses nothing, and two instances draining one outbox deliver each message once.
//!
//! Receivers are the real SMTP server and webhook receiver of `tests/common/sinks.rs`, running in
//! the test process. A delivery carries its key (Message-ID, `X-Meterguard-Delivery`), which
//! names the transition it belongs to: `<policy>:<fire|reset>:<transition micros>:<what>:<target>`
//! (`src/actions/mod.rs`), with `:` written as `.` in the Message-ID.

use crate::client::{month_start, Api, Marketplace};
use crate::harness::{Backend, Env};
use crate::sinks::{eventually_within, Mail, SmtpSink, WebhookSink};
use crate::{assert_all_created, report_chains, Key, Reporters, DOWN, UP};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Both notify actions; the owner made by `Marketplace::build` is `owner@example.org`.
const NOTIFY: &str = "notify_organization_owners,notify_external_user";
const EXTERNAL: &str = " pi@example.org , grants@example.org";
/// Every email of one fire, by recipient.
const RECIPIENTS: [&str; 3] = ["grants@example.org", "owner@example.org", "pi@example.org"];
/// How long a test waits for the outbox to drain.
const DRAIN: Duration = Duration::from_secs(15);
/// After the outbox has drained, how long to keep watching for a late duplicate: longer than a
/// lease of the first test and several worker polls (500 ms).
const SETTLE: Duration = Duration::from_millis(1500);

/// The event's `created` as microseconds since the epoch (the transition's stamp).
fn micros(event: &Value) -> i64 {
    let created = event["created"].as_str().expect("created");
    chrono::DateTime::parse_from_rfc3339(created)
        .unwrap_or_else(|e| panic!("created {created}: {e}"))
        .timestamp_micros()
}

/// The delivery key a Message-ID carries, as (direction, transition stamp, recipient).
fn message_key(mail: &Mail) -> (String, i64, String) {
    let id = mail
        .header("Message-ID")
        .unwrap_or_else(|| panic!("a Message-ID:\n{}", mail.data));
    let key = id
        .trim_matches(['<', '>'])
        .strip_suffix("@meterguard")
        .unwrap_or_else(|| panic!("Message-ID {id}"));
    // policy . direction . stamp . action . recipient (which has dots of its own)
    let mut parts = key.splitn(5, '.');
    let (_policy, direction, stamp, _action, to) = (
        parts.next(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next(),
        parts.next().unwrap_or_default(),
    );
    let stamp = stamp.parse().unwrap_or_else(|_| panic!("no stamp in Message-ID {id}"));
    (direction.to_string(), stamp, to.to_string())
}

/// How often each value occurs, for messages that show the whole picture.
fn tally<T: Ord + Clone>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

/// Recipients of the sink's mails (one per message: meterguard sends one email per recipient).
fn recipients(mails: &[Mail]) -> Vec<String> {
    mails
        .iter()
        .map(|m| {
            assert_eq!(m.recipients.len(), 1, "one recipient per message: {:?}", m.recipients);
            m.recipients[0].clone()
        })
        .collect()
}

/// `policy_notification` events of a policy, counted by their single recipient; asserts each
/// says the email was sent.
async fn notifications(api: &Api, policy: &str) -> BTreeMap<String, usize> {
    let events = api.events("policy_notification", policy).await;
    for e in &events {
        assert_eq!(e["context"]["sent"], true, "a sent notification: {e:#}");
        assert_eq!(e["context"]["emails"].as_array().map(Vec::len), Some(1), "{e:#}");
    }
    tally(
        events
            .iter()
            .map(|e| e["context"]["emails"][0].as_str().expect("email").to_string()),
    )
}

fn each_once() -> BTreeMap<String, usize> {
    RECIPIENTS.iter().map(|r| (r.to_string(), 1)).collect()
}

// ---------------------------------------------------------------------------------------------
// kill -9 with emails queued
// ---------------------------------------------------------------------------------------------

async fn kill_minus_nine_before_delivery_loses_no_email(backend: Backend) {
    let began = Instant::now();
    let smtp = SmtpSink::start().await;
    // Refused until the server is dead: every attempt before the kill fails.
    smtp.refuse_next(usize::MAX);
    let mut env = Env::new(backend).await;
    env.server_env("METERGUARD_SMTP_URL", smtp.url());
    env.server_env("METERGUARD_DELIVERY_BACKOFF_MS", "100");
    // Enough attempts that the refusals never make a delivery final.
    env.server_env("METERGUARD_DELIVERY_MAX_ATTEMPTS", "50");
    env.server_env("METERGUARD_DELIVERY_LEASE_SECONDS", "1");
    let token = env.create_staff_user("staff").await;
    let first = env.start_server().await;
    let staff = Api::new(&first, &token);
    let m = Marketplace::build(&staff).await;
    let resource = m.resources(1).await.remove(0);
    let policy = m
        .cpu_policy_with(&staff, 100, NOTIFY, json!({"notify_external_user": EXTERNAL}))
        .await;
    m.provider
        .try_set_usage(&resource, &[("cpu_hours", "150.25")], None)
        .await
        .expect("report")
        .expect(201);
    assert_eq!(staff.policy(&policy).await["has_fired"], true);
    assert_eq!(staff.event_count("notify_organization_owners", &policy).await, 1);
    assert_eq!(staff.event_count("notify_external_user", &policy).await, 1);

    // Each email tried once and refused (a failed attempt is recorded, retried after backoff)...
    eventually_within("three refused attempts", Duration::from_secs(10), || async {
        smtp.refused() >= RECIPIENTS.len()
    })
    .await;
    // ...then the next attempt hangs before the greeting: the worker has claimed the batch and
    // dies in the middle of sending it.
    smtp.hold();
    eventually_within("a retry stuck mid-send", Duration::from_secs(10), || async {
        smtp.stalled() >= 1
    })
    .await;
    let stuck = smtp.first_stalled_at().expect("a stalled session");
    assert!(smtp.mails().is_empty(), "nothing delivered before the kill");
    assert_eq!(staff.event_count("policy_notification", &policy).await, 0);
    assert_eq!(staff.outbox_depth().await, RECIPIENTS.len() as i64, "all queued");
    let refused_before_kill = smtp.refused();
    env.kill_server(&first);

    // The receiver recovers; the stuck session of the dead worker goes nowhere.
    smtp.refuse_next(0);
    smtp.release();
    let second = env.start_server().await;
    let restarted = stuck.elapsed();
    let staff = staff.at(&second);
    eventually_within("the outbox drained after the restart", DRAIN, || async {
        staff.outbox_depth().await == 0
    })
    .await;
    let drained = stuck.elapsed();
    tokio::time::sleep(SETTLE).await;

    let mails = smtp.mails();
    assert_eq!(
        tally(recipients(&mails)),
        each_once(),
        "each email delivered exactly once after the restart"
    );
    let ids: HashSet<Option<String>> = mails.iter().map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), mails.len(), "distinct Message-IDs");
    let fired = staff.events("policy_fired", &policy).await;
    assert_eq!(fired.len(), 1);
    for mail in &mails {
        assert!(
            mail.data
                .contains("CPU hours (cpu_hours): 150.25 hours used of 100 in period Total"),
            "{}",
            mail.data
        );
        let (direction, stamp, to) = message_key(mail);
        assert_eq!(
            (direction.as_str(), stamp),
            ("fire", micros(&fired[0])),
            "{to}: of the fire"
        );
    }
    assert_eq!(
        notifications(&staff, &policy).await,
        each_once(),
        "one policy_notification per email"
    );
    assert_eq!(staff.event_count("notification_delivery_failed", &policy).await, 0);
    // The delivery the killed worker had claimed waited for its lease (1 s from the claim, which
    // came just before the stuck session connected; the margin covers that gap). Deliveries it
    // had not claimed may go at once.
    let last_mail = mails.iter().map(|m| m.at).max().expect("mails").duration_since(stuck);
    assert!(
        last_mail >= Duration::from_millis(700),
        "all delivered within {last_mail:?} of the stall: before the dead worker's lease ran out"
    );
    eprintln!(
        "{backend:?}: {refused_before_kill} refused attempts before the kill; restarted {restarted:?}, last \
         email {last_mail:?} and outbox drained {drained:?} after the stall; {:?} in all",
        began.elapsed()
    );
    env.finish().await;
}

mod kill_minus_nine_before_delivery_loses_no_email {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        kill_minus_nine_before_delivery_loses_no_email(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        kill_minus_nine_before_delivery_loses_no_email(Backend::Postgres).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Two instances, one outbox
// ---------------------------------------------------------------------------------------------

const CYCLE_RESOURCES: usize = 6;
const CYCLES: usize = 3;
/// 12 keys at 25.00 each: 300.00 at the top of `UP`, 0 at the end of `DOWN`.
const CYCLE_LIMIT: i64 = 100;
const SECRET: &str = "process-test-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_transition_once() {
    let began = Instant::now();
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let mut env = Env::new(Backend::Postgres).await;
    env.server_env("METERGUARD_SMTP_URL", smtp.url());
    env.server_env("METERGUARD_WEBHOOK_URLS", hooks.url.clone());
    env.server_env("METERGUARD_WEBHOOK_SECRET", SECRET);
    env.server_env("METERGUARD_DELIVERY_BACKOFF_MS", "50");
    let token = env.create_staff_user("staff").await;
    let bases = [env.start_server().await, env.start_server().await];
    let staff = Api::new(&bases[0], &token);
    let m = Marketplace::build(&staff).await;
    let resources = m.resources(CYCLE_RESOURCES).await;
    let actions = format!("{NOTIFY},request_pausing");
    let policy = m
        .cpu_policy_with(&staff, CYCLE_LIMIT, &actions, json!({"notify_external_user": EXTERNAL}))
        .await;
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
    let observer = servers[1].staff.clone();
    // Some first attempts fail, so retries are in the mix (either instance may take them).
    smtp.refuse_next(2);
    hooks.fail_next(2);

    let set_up = began.elapsed();
    for cycle in 1..=CYCLES {
        let (n, failures) = report_chains(&servers, &keys, &UP).await;
        assert_all_created(&format!("cycle {cycle} up"), n, &failures);
        assert_eq!(
            observer.policy(&policy).await["has_fired"],
            true,
            "cycle {cycle}: fired"
        );
        for r in &resources {
            let resource = observer
                .get(&format!("/api/marketplace-resources/{r}/"))
                .await
                .expect(200);
            assert_eq!(resource["paused"], true, "cycle {cycle}: {r} paused");
        }
        let (n, failures) = report_chains(&servers, &keys, &DOWN).await;
        assert_all_created(&format!("cycle {cycle} down"), n, &failures);
        assert_eq!(
            observer.policy(&policy).await["has_fired"],
            false,
            "cycle {cycle}: reset"
        );
        for r in &resources {
            let resource = observer
                .get(&format!("/api/marketplace-resources/{r}/"))
                .await
                .expect(200);
            assert_eq!(resource["paused"], false, "cycle {cycle}: {r} un-paused");
        }
    }
    let cycles_took = began.elapsed() - set_up;

    // Every row queued was committed before its report's 201: once none is pending, every
    // delivery has been made (the outcome is recorded after the receiver acknowledged it).
    for api in servers.iter().map(|s| &s.staff) {
        eventually_within(&format!("an empty outbox seen by {}", api.base), DRAIN, || async {
            api.outbox_depth().await == 0
        })
        .await;
    }
    let drained = began.elapsed() - set_up - cycles_took;
    tokio::time::sleep(SETTLE).await;

    let fired = observer.events("policy_fired", &policy).await;
    let reset = observer.events("policy_reset", &policy).await;
    assert_eq!(
        (fired.len(), reset.len()),
        (CYCLES, CYCLES),
        "one fire and one reset per cycle"
    );
    let fire_stamps: HashSet<i64> = fired.iter().map(micros).collect();
    assert_eq!(fire_stamps.len(), CYCLES);

    // Emails: per fire, exactly one to each recipient; nothing for resets.
    let mails = smtp.mails();
    let ids: Vec<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").unwrap_or_default())
        .collect();
    let repeated: Vec<_> = tally(ids.clone()).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(repeated.is_empty(), "Message-IDs received more than once: {repeated:?}");
    let mut per_fire: HashMap<i64, Vec<String>> = HashMap::new();
    for mail in &mails {
        let (direction, stamp, to) = message_key(mail);
        assert_eq!(direction, "fire", "emails only for fires: {}", ids.join(", "));
        let recipients: Vec<String> = mail.recipients.iter().map(|r| r.replace('@', ".")).collect();
        assert_eq!(
            vec![to],
            recipients,
            "Message-ID names the recipient ('@' written as '.')"
        );
        per_fire.entry(stamp).or_default().push(mail.recipients[0].clone());
    }
    let per_fire: HashMap<i64, BTreeMap<String, usize>> = per_fire.into_iter().map(|(s, to)| (s, tally(to))).collect();
    let expected: HashMap<i64, BTreeMap<String, usize>> = fire_stamps.iter().map(|s| (*s, each_once())).collect();
    assert_eq!(per_fire, expected, "one email per recipient per fire (by fire stamp)");
    assert_eq!(smtp.refused(), 2, "the refused attempts were retried");
    let notified = notifications(&observer, &policy).await;
    let expected_notified: BTreeMap<String, usize> = RECIPIENTS.iter().map(|r| (r.to_string(), CYCLES)).collect();
    assert_eq!(notified, expected_notified, "one policy_notification per email");

    // Webhooks: one per transition, signed, each with its own delivery key.
    let delivered = hooks.hooks();
    let mut by_transition: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut delivery_keys = Vec::new();
    for hook in &delivered {
        let body: Value = serde_json::from_slice(&hook.body).expect("webhook JSON");
        let key = hook.headers["x-meterguard-delivery"].to_str().expect("delivery header");
        assert_eq!(
            Some(key),
            body["delivery_key"].as_str(),
            "header and body name one delivery"
        );
        assert_eq!(
            hook.headers["x-meterguard-signature"].to_str().expect("signature"),
            meterguard::actions::webhooks::signature(SECRET, &hook.body)
        );
        assert_eq!(body["policy_uuid"], policy.as_str());
        delivery_keys.push(key.to_string());
        let transition = (
            body["event"].as_str().unwrap_or_default().to_string(),
            body["at"].as_str().unwrap_or_default().to_string(),
        );
        *by_transition.entry(transition).or_insert(0) += 1;
    }
    let repeated: Vec<_> = tally(delivery_keys).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(
        repeated.is_empty(),
        "webhook deliveries received more than once: {repeated:?}"
    );
    let expected_hooks: BTreeMap<(String, String), usize> = fired
        .iter()
        .map(|e| ("policy_fired", e))
        .chain(reset.iter().map(|e| ("policy_reset", e)))
        .map(|(t, e)| ((t.to_string(), e["created"].as_str().expect("created").to_string()), 1))
        .collect();
    assert_eq!(by_transition, expected_hooks, "one webhook per transition (event, at)");

    // Flags: set on each fire and cleared on each reset, once per resource.
    for (event_type, count) in [("request_pausing", CYCLES), ("reset_pausing", CYCLES)] {
        let events = observer.events(event_type, &policy).await;
        let per_resource = tally(events.iter().map(|e| {
            e["context"]["resource_uuid"]
                .as_str()
                .expect("resource_uuid")
                .to_string()
        }));
        let expected: BTreeMap<String, usize> = resources.iter().map(|r| (r.clone(), count)).collect();
        assert_eq!(per_resource, expected, "{event_type} once per transition per resource");
    }
    assert_eq!(observer.event_count("notification_delivery_failed", &policy).await, 0);
    for api in servers.iter().map(|s| &s.staff) {
        assert_eq!(api.outbox_depth().await, 0, "nothing pending ({})", api.base);
    }
    eprintln!(
        "two instances: {CYCLES} cycles in {cycles_took:?}, outbox drained {drained:?} later; {} emails, {} webhooks; \
         {:?} in all (set-up {set_up:?})",
        mails.len(),
        delivered.len(),
        began.elapsed()
    );
    env.finish().await;
}

// ---------------------------------------------------------------------------------------------
// A slow receiver, both instances alive
// ---------------------------------------------------------------------------------------------

/// Each SMTP session waits this long before its greeting: every single send fits in the 1 s
/// lease, but the three emails of one fire, sent one after the other, do not. (At 950 ms the
/// rest of the SMTP exchange and the record of the send had 50 ms, and a loaded machine once
/// overran them: the lease expired under a send that did fit.)
const SLOW_SEND: Duration = Duration::from_millis(600);

/// No crash here, so nothing excuses a second copy: a worker's claim must cover what it sends
/// under it. (Claiming a batch under one lease and sending it row after row once let the other
/// instance take, and send again, the rows of a slow batch.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_do_not_both_send_a_slow_batch() {
    let smtp = SmtpSink::start().await;
    smtp.slow_down(SLOW_SEND);
    let mut env = Env::new(Backend::Postgres).await;
    env.server_env("METERGUARD_SMTP_URL", smtp.url());
    env.server_env("METERGUARD_DELIVERY_LEASE_SECONDS", "1");
    let token = env.create_staff_user("staff").await;
    let bases = [env.start_server().await, env.start_server().await];
    let staff = Api::new(&bases[0], &token);
    let m = Marketplace::build(&staff).await;
    let resource = m.resources(1).await.remove(0);
    let policy = m
        .cpu_policy_with(&staff, 100, NOTIFY, json!({"notify_external_user": EXTERNAL}))
        .await;
    m.provider
        .try_set_usage(&resource, &[("cpu_hours", "150")], None)
        .await
        .expect("report")
        .expect(201);
    for api in bases.iter().map(|b| staff.at(b)) {
        eventually_within("an empty outbox", DRAIN, || async { api.outbox_depth().await == 0 }).await;
    }
    tokio::time::sleep(SETTLE).await;
    let mails = smtp.mails();
    let ids = tally(mails.iter().map(|m| m.header("Message-ID").unwrap_or_default()));
    assert_eq!(
        tally(recipients(&mails)),
        each_once(),
        "each email once with both instances alive; received: {ids:#?}"
    );
    assert_eq!(
        notifications(&staff, &policy).await,
        each_once(),
        "one policy_notification per email"
    );
    env.finish().await;
}
