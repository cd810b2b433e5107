//! Small values that parse: once constructed they are valid, so the aggregates never re-check them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::error::DomainError;

/// An instant in UTC.
pub type Timestamp = DateTime<Utc>;

/// How many tickets one reservation may hold: 1 to 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Quantity(u8);

impl Quantity {
    pub const MAX: u8 = 8;

    /// # Errors
    /// `InvalidQuantity` outside 1..=8.
    pub fn new(requested: i64) -> Result<Self, DomainError> {
        match u8::try_from(requested) {
            Ok(q) if (1..=Self::MAX).contains(&q) => Ok(Self(q)),
            _ => Err(DomainError::InvalidQuantity { requested }),
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }

    pub fn as_u32(self) -> u32 {
        u32::from(self.0)
    }
}

/// Checks a human-readable text: trimmed, 1..=`max` characters, no control characters.
fn visible_text(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DomainError::validation(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(DomainError::validation(field, format!("must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(DomainError::validation(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// An event's display name: 1–200 visible characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventName(String);

impl EventName {
    /// # Errors
    /// `ValidationFailed` for empty, over-long or control-character names.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        visible_text("name", raw, 200).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A section's name, unique within its event. It appears in URLs
/// (`/events/{id}/sections/{section}`), so it is limited to letters, digits, spaces, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SectionName(String);

impl SectionName {
    /// # Errors
    /// `ValidationFailed` for names that are empty, longer than 50 characters or contain other
    /// characters than letters, digits, space, `-` and `_`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = visible_text("sections.name", raw, 50)?;
        if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_')) {
            return Err(DomainError::validation(
                "sections.name",
                "may contain only letters, digits, spaces, '-' and '_'",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an event takes place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    pub name: String,
    pub city: Option<String>,
    pub country: Option<String>,
}

impl Venue {
    /// # Errors
    /// `ValidationFailed` for an empty or over-long name, or over-long city or country.
    pub fn parse(name: &str, city: Option<&str>, country: Option<&str>) -> Result<Self, DomainError> {
        let optional = |field, value: Option<&str>| {
            value.filter(|v| !v.trim().is_empty()).map(|v| visible_text(field, v, 100)).transpose()
        };
        Ok(Self {
            name: visible_text("venue.name", name, 200)?,
            city: optional("venue.city", city)?,
            country: optional("venue.country", country)?,
        })
    }
}

/// What kind of event this is; used for browsing and analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Category {
    Concert,
    Sports,
    Conference,
    Theatre,
    Festival,
    #[default]
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Concert,
        Category::Sports,
        Category::Conference,
        Category::Theatre,
        Category::Festival,
        Category::Other,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Concert => "concert",
            Category::Sports => "sports",
            Category::Conference => "conference",
            Category::Theatre => "theatre",
            Category::Festival => "festival",
            Category::Other => "other",
        }
    }
}

impl FromStr for Category {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Category::ALL.into_iter().find(|c| c.as_str() == wanted).ok_or_else(|| {
            DomainError::validation("category", "must be one of concert, sports, conference, theatre, festival, other")
        })
    }
}

/// When an event starts. The time-based rules (pricing tiers, refund policy, transfer and
/// cancellation windows) are all measured from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventDate(Timestamp);

impl EventDate {
    /// An event date must lie in the future when the event is created.
    ///
    /// # Errors
    /// `ValidationFailed` when `starts_at` is not after `now`.
    pub fn in_future(starts_at: Timestamp, now: Timestamp) -> Result<Self, DomainError> {
        if starts_at <= now {
            return Err(DomainError::validation("date", "must be in the future"));
        }
        Ok(Self(starts_at))
    }

    /// A date already accepted once (replaying events, rebuilding state).
    pub const fn recorded(starts_at: Timestamp) -> Self {
        Self(starts_at)
    }

    pub const fn starts_at(self) -> Timestamp {
        self.0
    }

    /// Time left until the start (negative once it has started).
    pub fn time_until(self, now: Timestamp) -> Duration {
        self.0 - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_is_one_to_eight() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert_eq!(Quantity::new(8).unwrap().get(), 8);
        for bad in [0, -1, 9, 256, i64::MAX, i64::MIN] {
            assert_eq!(Quantity::new(bad).unwrap_err(), DomainError::InvalidQuantity { requested: bad });
        }
    }

    #[test]
    fn event_names_are_trimmed_visible_and_bounded() {
        assert_eq!(EventName::parse("  Rock Night ").unwrap().as_str(), "Rock Night");
        assert!(EventName::parse("   ").is_err());
        assert!(EventName::parse("a\u{0}b").is_err());
        assert!(EventName::parse(&"é".repeat(200)).is_ok());
        assert!(EventName::parse(&"é".repeat(201)).is_err());
        assert!(EventName::parse(&"x".repeat(1_000_000)).is_err());
    }

    #[test]
    fn section_names_are_url_safe() {
        assert_eq!(SectionName::parse("VIP Floor-1").unwrap().as_str(), "VIP Floor-1");
        for bad in ["", "a/b", "x?y", "<script>", "'; DROP TABLE x;--"] {
            assert!(SectionName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn venue_requires_a_name_and_drops_blank_optionals() {
        let v = Venue::parse("Arena", Some(" "), Some("NL")).unwrap();
        assert_eq!(v.city, None);
        assert_eq!(v.country.as_deref(), Some("NL"));
        assert!(Venue::parse("", None, None).is_err());
    }

    #[test]
    fn categories_parse_case_insensitively() {
        assert_eq!("Concert".parse::<Category>().unwrap(), Category::Concert);
        assert!("opera-ish".parse::<Category>().is_err());
    }

    #[test]
    fn event_date_must_be_in_the_future() {
        let now = Timestamp::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(EventDate::in_future(now, now).is_err());
        let date = EventDate::in_future(now + Duration::days(3), now).unwrap();
        assert_eq!(date.time_until(now), Duration::days(3));
    }
}
