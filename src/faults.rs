//! Faults a test injects into a running app, to show that a panic or an error in one place never
//! stops the service. Nothing outside the process can arm one: there is no setting, variable or
//! route for it, only the handle a test keeps from the `Settings` it builds the app with. Unarmed,
//! each check is one atomic load.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The report writer, inside a batch's transaction after its reports were applied (a fire
    /// included), before commit.
    ReportBatch,
    /// The scheduler, as a sweep starts.
    Sweep,
    /// The delivery worker, before it takes a delivery.
    Delivery,
    /// Any request, once routed, before its handler runs.
    Handler,
}

const SITES: usize = 4;

/// What happens at an armed site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Panic,
    /// The site fails with a database error.
    Error,
}

const UNARMED: u8 = 0;
const PANIC: u8 = 1;
const ERROR: u8 = 2;

/// The message of an injected panic or error, so logs tell it from a real one.
pub const INJECTED: &str = "injected fault";

/// One-shot faults per site, shared by a test and the app it built (clones share them).
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<[AtomicU8; SITES]>);

impl Faults {
    /// The next pass through `site` fails with `fault`, once.
    pub fn arm(&self, site: Site, fault: Fault) {
        let code = match fault {
            Fault::Panic => PANIC,
            Fault::Error => ERROR,
        };
        self.0[site as usize].store(code, Ordering::SeqCst);
    }

    /// Whether an armed fault at `site` has not fired yet.
    pub fn armed(&self, site: Site) -> bool {
        self.0[site as usize].load(Ordering::SeqCst) != UNARMED
    }

    /// Passes through `site`: panics or fails if a fault is armed there, and disarms it.
    pub fn pass(&self, site: Site) -> sqlx::Result<()> {
        let slot = &self.0[site as usize];
        if slot.load(Ordering::Relaxed) == UNARMED {
            return Ok(());
        }
        match slot.swap(UNARMED, Ordering::SeqCst) {
            PANIC => panic!("{INJECTED} at {site:?}"),
            ERROR => Err(sqlx::Error::Protocol(format!("{INJECTED} at {site:?}"))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_fault_fires_once_at_its_own_site() {
        let faults = Faults::default();
        faults.arm(Site::Sweep, Fault::Error);
        assert!(faults.pass(Site::Delivery).is_ok());
        assert!(faults.armed(Site::Sweep));
        assert!(faults.clone().pass(Site::Sweep).is_err());
        assert!(!faults.armed(Site::Sweep));
        assert!(faults.pass(Site::Sweep).is_ok());
    }

    #[test]
    fn an_armed_panic_panics() {
        let faults = Faults::default();
        faults.arm(Site::ReportBatch, Fault::Panic);
        let caught = std::panic::catch_unwind(|| faults.pass(Site::ReportBatch));
        assert!(caught.is_err());
        assert!(faults.pass(Site::ReportBatch).is_ok());
    }
}
