/// The window a limit row is evaluated over (upstream `PeriodMixin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Total,
    Month1,
    Month3,
    Month12,
}

impl Period {
    pub const DEFAULT: Period = Period::Month1;

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Total),
            2 => Some(Self::Month1),
            3 => Some(Self::Month3),
            4 => Some(Self::Month12),
            _ => None,
        }
    }

    pub fn code(self) -> i64 {
        match self {
            Self::Total => 1,
            Self::Month1 => 2,
            Self::Month3 => 3,
            Self::Month12 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Total => "Total",
            Self::Month1 => "1 month",
            Self::Month3 => "3 month",
            Self::Month12 => "12 month",
        }
    }

    /// How many calendar months the window spans, the current one included; `None` for Total.
    pub fn months(self) -> Option<u32> {
        match self {
            Self::Total => None,
            Self::Month1 => Some(1),
            Self::Month3 => Some(3),
            Self::Month12 => Some(12),
        }
    }
}
