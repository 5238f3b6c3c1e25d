use std::fmt;

/// An offering component's billing type, stored and sent as upstream's raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingType {
    Fixed,
    Usage,
    Limit,
    One,
    Few,
}

impl BillingType {
    pub const ALL: [BillingType; 5] = [Self::Fixed, Self::Usage, Self::Limit, Self::One, Self::Few];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Usage => "usage",
            Self::Limit => "limit",
            Self::One => "one",
            Self::Few => "few",
        }
    }

    /// Only metered components can be limited by a usage policy or reported through set_usage.
    pub fn is_metered(self) -> bool {
        matches!(self, Self::Usage | Self::Limit)
    }
}

impl fmt::Display for BillingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
