//! Resource and order vocabularies, with upstream's display strings.

/// The longest resource name upstream accepts (its model's `max_length`).
pub const RESOURCE_NAME_MAX: usize = 150;

macro_rules! display_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

display_enum!(
    /// A marketplace resource's lifecycle state.
    ResourceState {
        Creating => "Creating",
        Ok => "OK",
        Erred => "Erred",
        Updating => "Updating",
        Terminating => "Terminating",
        Terminated => "Terminated",
    }
);

display_enum!(
    OrderType {
        Create => "Create",
        Update => "Update",
        Terminate => "Terminate",
    }
);

display_enum!(
    OrderState {
        PendingConsumer => "pending-consumer",
        PendingProvider => "pending-provider",
        Executing => "executing",
        Done => "done",
        Erred => "erred",
        Canceled => "canceled",
        Rejected => "rejected",
    }
);

impl ResourceState {
    /// Usage may be reported only while the resource exists and runs (docs/api.md §8.3).
    pub fn accepts_usage(self) -> bool {
        matches!(self, Self::Ok | Self::Updating | Self::Terminating)
    }

    /// Not being, or already, torn down.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Terminating | Self::Terminated)
    }
}

impl OrderState {
    /// Done, erred, canceled or rejected: the order has completed and moves no further.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::PendingConsumer | Self::PendingProvider | Self::Executing)
    }
}

/// An order's move through its state machine, and who may make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStep {
    ApproveByConsumer,
    RejectByConsumer,
    ApproveByProvider,
    RejectByProvider,
    Cancel,
    SetDone,
    SetErred,
}

impl OrderStep {
    /// The states the step starts from, and the state it leads to.
    pub fn transition(self) -> (&'static [OrderState], OrderState) {
        use OrderState::*;
        match self {
            Self::ApproveByConsumer => (&[PendingConsumer], PendingProvider),
            Self::RejectByConsumer => (&[PendingConsumer], Rejected),
            Self::ApproveByProvider => (&[PendingProvider], Executing),
            Self::RejectByProvider => (&[PendingProvider], Rejected),
            // Not once executing: a Terminate order that a policy's action placed would be the
            // consumer's to undo.
            Self::Cancel => (&[PendingConsumer, PendingProvider], Canceled),
            Self::SetDone => (&[Executing], Done),
            Self::SetErred => (&[Executing], Erred),
        }
    }

    /// Consumer steps are taken by the ordering side, the others by the provider.
    pub fn by_consumer(self) -> bool {
        matches!(self, Self::ApproveByConsumer | Self::RejectByConsumer | Self::Cancel)
    }
}

/// The resource state an order leaves behind when it reaches `state`, if it changes it.
pub fn resource_state_after(order: OrderType, state: OrderState) -> Option<ResourceState> {
    use OrderState as S;
    match (order, state) {
        (OrderType::Update, S::Executing) => Some(ResourceState::Updating),
        (OrderType::Terminate, S::Executing) => Some(ResourceState::Terminating),
        (OrderType::Create | OrderType::Update, S::Done) => Some(ResourceState::Ok),
        (OrderType::Terminate, S::Done) => Some(ResourceState::Terminated),
        (_, S::Erred) => Some(ResourceState::Erred),
        (OrderType::Create, S::Rejected | S::Canceled) => Some(ResourceState::Terminated),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ["Creating", "OK", "Erred", "Updating", "Terminating", "Terminated"] {
            assert_eq!(ResourceState::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(OrderState::parse("pending-consumer"), Some(OrderState::PendingConsumer));
        assert_eq!(OrderType::parse("Restore"), None);
    }

    #[test]
    fn orders_finish_where_no_step_starts() {
        use OrderStep::*;
        let steps = [
            ApproveByConsumer,
            RejectByConsumer,
            ApproveByProvider,
            RejectByProvider,
            Cancel,
            SetDone,
            SetErred,
        ];
        for step in steps {
            assert!(step.transition().0.iter().all(|s| !s.is_finished()), "{step:?}");
        }
        assert!(!OrderState::Executing.is_finished());
        assert!(OrderState::Canceled.is_finished());
    }

    #[test]
    fn orders_move_resources() {
        use OrderState as S;
        use OrderType::{Create, Terminate, Update};
        assert_eq!(resource_state_after(Create, S::Done), Some(ResourceState::Ok));
        assert_eq!(
            resource_state_after(Terminate, S::Executing),
            Some(ResourceState::Terminating)
        );
        assert_eq!(
            resource_state_after(Terminate, S::Done),
            Some(ResourceState::Terminated)
        );
        assert_eq!(resource_state_after(Update, S::Rejected), None);
        assert_eq!(resource_state_after(Update, S::Canceled), None);
        assert_eq!(
            resource_state_after(Create, S::Canceled),
            Some(ResourceState::Terminated)
        );
        assert_eq!(OrderStep::Cancel.transition().1, S::Canceled);
        assert!(!OrderStep::Cancel.transition().0.contains(&S::Executing));
    }
}
