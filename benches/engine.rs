//! The pure policy engine: `engine::evaluate` for policies of 1, 5 and 20 limit rows over 36
//! months of totals, and `engine::headroom::headroom`, each beside a baseline measured in the same
//! run, so results are stated as ratios (the machine is shared; absolute figures drift).
//!
//! Baselines:
//! - `plain_sum/N`: N plain loops summing the `usage` of every total (what evaluating N rows
//!   cannot do with less work: each row looks at every total once). evaluate/N ÷ plain_sum/N is
//!   the cost of windowing, filtering by component and building the outcome vector.
//! - headroom is constant-time; its ratio is given against `plain_sum/1` (one pass over the 144
//!   totals) only to place it on the same scale.
//!
//! Run: `cargo bench --bench engine` (criterion; `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use meterguard::domain::{Amount, Month, Period};
use meterguard::engine::{self, LimitRule, MonthlyTotal};
use std::hint::black_box;

/// Four components with a total in each of the 36 months ending with the current one: 144 totals.
const COMPONENTS: i64 = 4;
const MONTHS: u32 = 36;
const PERIODS: [Period; 4] = [Period::Month1, Period::Month3, Period::Month12, Period::Total];

fn current() -> Month {
    Month::new(2026, 11).expect("valid month")
}

fn totals() -> Vec<MonthlyTotal<i64>> {
    let now = current();
    let mut out = Vec::new();
    for m in 0..MONTHS {
        for c in 0..COMPONENTS {
            out.push(MonthlyTotal {
                component: c,
                month: now.minus(m),
                usage: Amount::from_hundredths(1_000 + i64::from(m) * 37 + c * 11),
            });
        }
    }
    out
}

/// Row i limits component i % 4 over the period i % 4 (so every kind of window is exercised).
fn rules(n: usize) -> Vec<LimitRule<i64>> {
    (0..n)
        .map(|i| LimitRule {
            component: (i as i64) % COMPONENTS,
            limit: 500 + i as i64,
            period: PERIODS[(i / COMPONENTS as usize + i) % PERIODS.len()],
            granted: Amount::ZERO,
        })
        .collect()
}

fn plain_sum(passes: usize, totals: &[MonthlyTotal<i64>]) -> i64 {
    let mut sum = 0i64;
    for _ in 0..passes {
        // black_box per pass, not per element: the compiler may unroll and vectorise each pass
        // but cannot fold the passes into one.
        let totals = black_box(totals);
        sum = sum.wrapping_add(
            totals
                .iter()
                .map(|t| t.usage.hundredths())
                .fold(0i64, i64::wrapping_add),
        );
    }
    sum
}

fn bench(c: &mut Criterion) {
    let totals = totals();
    let now = current();
    let mut group = c.benchmark_group("evaluate_36_months");
    for n in [1usize, 5, 20] {
        let rules = rules(n);
        group.bench_with_input(BenchmarkId::new("plain_sum", n), &n, |b, &n| {
            b.iter(|| plain_sum(black_box(n), black_box(&totals)))
        });
        group.bench_with_input(BenchmarkId::new("evaluate", n), &rules, |b, rules| {
            b.iter(|| engine::evaluate(black_box(rules), black_box(&totals), black_box(now)))
        });
    }
    group.finish();

    let rules = rules(PERIODS.len());
    let evaluation = engine::evaluate(&rules, &totals, now);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 17).expect("valid date");
    let mut group = c.benchmark_group("headroom");
    group.bench_function("plain_sum/1", |b| {
        b.iter(|| plain_sum(black_box(1), black_box(&totals)))
    });
    for (rule, row) in rules.iter().zip(&evaluation.rows) {
        group.bench_function(format!("{:?}", rule.period), |b| {
            b.iter(|| {
                engine::headroom::headroom(
                    black_box(row),
                    black_box(Amount::from_hundredths(12_345)),
                    black_box(today),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
