//! `request_pausing`, `request_downscaling`, `restrict_members` and their resets: a flag on the
//! customer's resources whose offering supports it (docs/actions.md §4).

use super::TransitionCtx;
use crate::domain::marketplace::ResourceState;
use crate::domain::Action;
use crate::engine::ladder::held_by_others;
use crate::store::{self, resources::Flag, Tx};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pausing,
    Downscaling,
    MemberRestriction,
}

impl Kind {
    pub fn of(action: Action) -> Option<Kind> {
        match action {
            Action::RequestPausing => Some(Kind::Pausing),
            Action::RequestDownscaling => Some(Kind::Downscaling),
            Action::RestrictMembers => Some(Kind::MemberRestriction),
            _ => None,
        }
    }

    fn flag(self) -> Flag {
        match self {
            Kind::Pausing => Flag::Paused,
            Kind::Downscaling => Flag::Downscaled,
            Kind::MemberRestriction => Flag::RestrictMemberAccess,
        }
    }

    /// The offering `plugin_options` switch that allows the flag.
    pub fn gate(self) -> &'static str {
        match self {
            Kind::Pausing => "supports_pausing",
            Kind::Downscaling => "supports_downscaling",
            Kind::MemberRestriction => "service_provider_can_create_offering_user",
        }
    }

    /// Upstream's event types for setting and clearing the flag.
    fn event_type(self, set: bool) -> &'static str {
        match (self, set) {
            (Kind::Pausing, true) => "request_pausing",
            (Kind::Pausing, false) => "reset_pausing",
            (Kind::Downscaling, true) => "request_downscaling",
            (Kind::Downscaling, false) => "reset_downscaling",
            (Kind::MemberRestriction, true) => "restrict_members",
            (Kind::MemberRestriction, false) => "reset_member_restriction",
        }
    }

    /// Downscaling leaves resources being terminated alone; the others only spare terminated ones.
    fn applies_to(self, state: ResourceState) -> bool {
        match self {
            Kind::Downscaling => state.is_live(),
            _ => state != ResourceState::Terminated,
        }
    }
}

/// Whether an offering's plugin options (JSON text) switch `gate` on.
pub fn allowed(plugin_options: &str, gate: &str) -> bool {
    serde_json::from_str::<Value>(plugin_options)
        .ok()
        .and_then(|o| o.get(gate).and_then(Value::as_bool))
        .unwrap_or(false)
}

/// Whether the flag action applies to the resource: its offering allows the flag and its state
/// takes it.
pub fn targets(kind: Kind, r: &store::resources::ActionTarget) -> bool {
    allowed(&r.plugin_options, kind.gate()) && kind.applies_to(r.state)
}

/// Sets the flag on every eligible resource of the customer (`value` true), the policy holding
/// it on each; or lets go of the policy's holds (`value` false), clearing the flag where no other
/// fired policy still holds it (docs/ladder.md §5). One event per changed resource. Holds live in
/// their own table, never in the resource's `attributes`: those are the client's, stored as sent
/// and never read here.
pub async fn set(tx: &mut Tx, ctx: &TransitionCtx<'_>, kind: Kind, value: bool) -> store::Result<()> {
    let resources = store::resources::of_customer_for_update(tx, ctx.policy.customer_id).await?;
    let flag = kind.flag();
    let event_type = kind.event_type(value);
    let holds = if value {
        Vec::new()
    } else {
        store::restrictions::of_customer(tx, ctx.policy.customer_id, flag).await?
    };
    for r in resources {
        if !targets(kind, &r) {
            continue;
        }
        let current = is_set(&r, flag);
        if value {
            // Every fired policy with the action holds the flag, also one that found it set.
            store::resources::hold(tx, r.id, flag, ctx.policy.id, ctx.stamp()).await?;
        }
        if current == value || (!value && held_by_others(&holds, r.id, ctx.policy.id)) {
            continue;
        }
        store::resources::set_flag(tx, r.id, flag, value, ctx.stamp()).await?;
        let message = format!(
            "Usage policy {} has triggered {event_type} on resource {}.",
            ctx.policy.uuid, r.name
        );
        ctx.event(
            tx,
            event_type,
            &message,
            json!({"resource_uuid": r.uuid.to_string(), "resource_name": r.name}),
        )
        .await?;
    }
    if !value {
        // The policy no longer holds the flag anywhere, also where it left it set (another
        // policy holds it, or the resource stopped being eligible).
        store::resources::release_policy(tx, ctx.policy.id, flag).await?;
    }
    Ok(())
}

fn is_set(r: &store::resources::ActionTarget, flag: Flag) -> bool {
    match flag {
        Flag::Paused => r.paused,
        Flag::Downscaled => r.downscaled,
        Flag::RestrictMemberAccess => r.restrict_member_access,
    }
}

/// Upstream's `affected_resources_count` (docs/actions.md §4.4): live resources that carry a flag one of the
/// policy's flag actions sets, where the offering allows that flag.
pub fn affects(actions: &crate::domain::ActionSet, r: &store::resources::ActionTarget) -> bool {
    r.state.is_live()
        && actions
            .iter()
            .filter_map(Kind::of)
            .any(|kind| is_set(r, kind.flag()) && allowed(&r.plugin_options, kind.gate()))
}
