//! The policy logic, pure: which months a limit row looks at, whether usage is over it, what
//! transition a policy makes and which actions that runs. It imports neither HTTP nor SQL; it
//! takes facts and returns decisions.

pub mod assessment;
pub mod evaluate;
pub mod headroom;
pub mod ladder;
pub mod replay;
pub mod transition;
pub mod window;

pub use assessment::Assessment;
pub use evaluate::{evaluate, Evaluation, LimitRule, MonthlyTotal, RowOutcome};
pub use transition::{decide, Decision, Effect, Transition, TransitionCount};
pub use window::{earliest, Window};
