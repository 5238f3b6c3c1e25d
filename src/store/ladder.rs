//! A policy's ladder columns (docs/ladder.md): its warning thresholds, reset percentage and
//! warning level, decoded here into `domain::ladder::Ladder`.

use super::rows::undecodable;
use super::{Result, Tx};
use crate::domain::ladder::{Ladder, ResetBelow, WarningThresholds};

/// The columns, as a policy read selects them from the policy `p`.
pub const COLUMNS: &[&str] = &["p.warning_thresholds", "p.reset_below_percent", "p.warning_level"];

/// The three columns decoded; a value the domain refuses is a decode error.
pub fn decode(thresholds: &str, reset_below: i64, level: Option<i64>) -> Result<Ladder> {
    Ok(Ladder {
        thresholds: WarningThresholds::from_stored(thresholds)
            .ok_or_else(|| undecodable("policies.warning_thresholds", format!("{thresholds:?}")))?,
        reset_below: ResetBelow::new(reset_below)
            .ok_or_else(|| undecodable("policies.reset_below_percent", reset_below))?,
        warning_level: match level {
            None => None,
            Some(l) => Some(
                u8::try_from(l)
                    .ok()
                    .filter(|l| (1..=99).contains(l))
                    .ok_or_else(|| undecodable("policies.warning_level", l))?,
            ),
        },
    })
}

pub async fn set_warning_level(tx: &mut Tx, policy_id: i64, level: Option<u8>) -> Result<()> {
    sqlx::query("UPDATE policies SET warning_level = $1 WHERE id = $2")
        .bind(level.map(i64::from))
        .bind(policy_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_decode_into_a_ladder_and_bad_values_fail() {
        let ladder = decode("80,90", 90, Some(80)).unwrap();
        assert_eq!(ladder.thresholds.percents(), [80, 90]);
        assert_eq!(ladder.reset_below.percent(), 90);
        assert_eq!(ladder.warning_level, Some(80));
        let upstream = decode("", 100, None).unwrap();
        assert!(upstream.thresholds.is_empty() && upstream.reset_below == ResetBelow::UPSTREAM);
        for (t, r, l) in [
            ("90,80", 100, None),
            ("", 0, None),
            ("", 100, Some(100)),
            ("", 100, Some(0)),
        ] {
            assert!(matches!(decode(t, r, l), Err(sqlx::Error::Decode(_))), "{t} {r} {l:?}");
        }
    }
}
