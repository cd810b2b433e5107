//! How a section is laid out: general admission (a number of places) or numbered rows × seats
//! with labels like `A-12`. Seats are addressed by their position (0-based) inside the section;
//! labels are derived from the position, so the two can never disagree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::money::Money;
use super::values::SectionName;

/// Seats in one section: 1 to 100,000 (the largest stadiums).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Capacity(u32);

impl Capacity {
    pub const MAX: u32 = 100_000;

    /// # Errors
    /// `ValidationFailed` outside 1..=100,000.
    pub fn new(seats: i64) -> Result<Self, DomainError> {
        match u32::try_from(seats) {
            Ok(c) if (1..=Self::MAX).contains(&c) => Ok(Self(c)),
            _ => Err(DomainError::validation("sections.capacity", format!("must be between 1 and {}", Self::MAX))),
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

/// Rows are labelled A..Z, then AA..ZZ: at most 702 rows.
pub const MAX_ROWS: u32 = 26 + 26 * 26;
/// Seats per row are numbered from 1.
pub const MAX_SEATS_PER_ROW: u32 = 999;

/// A numbered seat's label: row letters, a dash, the seat number (`A-12`, `AB-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeatNumber {
    /// 0-based row index (A = 0, Z = 25, AA = 26).
    row: u16,
    /// 1-based seat number within the row.
    seat: u16,
}

impl SeatNumber {
    /// # Errors
    /// `ValidationFailed` when the row or seat is out of range.
    pub fn new(row: u32, seat: u32) -> Result<Self, DomainError> {
        if row >= MAX_ROWS || seat == 0 || seat > MAX_SEATS_PER_ROW {
            return Err(DomainError::validation("specific_seats", "seat out of range"));
        }
        // Both bounds are far below u16::MAX.
        Ok(Self { row: u16::try_from(row).unwrap_or(u16::MAX), seat: u16::try_from(seat).unwrap_or(u16::MAX) })
    }

    pub const fn row(self) -> u32 {
        self.row as u32
    }

    pub const fn seat(self) -> u32 {
        self.seat as u32
    }

    fn row_label(self) -> String {
        let r = u32::from(self.row);
        let letter = |i: u32| char::from(b'A' + u8::try_from(i % 26).unwrap_or(0));
        if r < 26 {
            letter(r).to_string()
        } else {
            let r = r - 26;
            [letter(r / 26), letter(r % 26)].iter().collect()
        }
    }
}

impl fmt::Display for SeatNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.row_label(), self.seat)
    }
}

impl FromStr for SeatNumber {
    type Err = DomainError;

    /// Accepts `A-12`, case-insensitively (`a-12`), nothing else.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || DomainError::validation("specific_seats", format!("{s:?} is not a seat label like A-12"));
        let (row, seat) = s.trim().split_once('-').ok_or_else(invalid)?;
        let letters: Vec<u32> = row
            .chars()
            .map(|c| {
                let up = c.to_ascii_uppercase();
                if up.is_ascii_uppercase() { Ok(u32::from(up) - u32::from('A')) } else { Err(invalid()) }
            })
            .collect::<Result<_, _>>()?;
        let row = match letters.as_slice() {
            [a] => *a,
            [a, b] => 26 + a * 26 + b,
            _ => return Err(invalid()),
        };
        if seat.is_empty() || seat.len() > 3 || !seat.bytes().all(|b| b.is_ascii_digit()) || seat.starts_with('0') {
            return Err(invalid());
        }
        let seat: u32 = seat.parse().map_err(|_| invalid())?;
        Self::new(row, seat)
    }
}

/// How seats are arranged in a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectionLayout {
    /// Standing or free seating: places are interchangeable and have no label.
    General { capacity: Capacity },
    /// Rows × seats, each seat labelled; buyers may pick specific seats.
    Numbered { rows: u16, seats_per_row: u16 },
}

impl SectionLayout {
    /// Builds a layout from the raw creation request.
    ///
    /// # Errors
    /// `ValidationFailed` for a bad capacity, rows given for general admission, missing or
    /// out-of-range rows/seats for numbered sections, or `rows × seats_per_row != capacity`.
    pub fn parse(
        seating: &str,
        capacity: i64,
        rows: Option<i64>,
        seats_per_row: Option<i64>,
    ) -> Result<Self, DomainError> {
        let capacity = Capacity::new(capacity)?;
        match seating {
            "general" => {
                if rows.is_some() || seats_per_row.is_some() {
                    return Err(DomainError::validation(
                        "sections.rows",
                        "rows and seats_per_row are only for numbered sections",
                    ));
                }
                Ok(Self::General { capacity })
            }
            "numbered" => {
                let (Some(rows), Some(per_row)) = (rows, seats_per_row) else {
                    return Err(DomainError::validation(
                        "sections.rows",
                        "numbered sections need rows and seats_per_row",
                    ));
                };
                let rows =
                    u16::try_from(rows).ok().filter(|r| (1..=MAX_ROWS).contains(&u32::from(*r))).ok_or_else(|| {
                        DomainError::validation("sections.rows", format!("must be between 1 and {MAX_ROWS}"))
                    })?;
                let per_row = u16::try_from(per_row)
                    .ok()
                    .filter(|s| (1..=MAX_SEATS_PER_ROW).contains(&u32::from(*s)))
                    .ok_or_else(|| {
                        DomainError::validation(
                            "sections.seats_per_row",
                            format!("must be between 1 and {MAX_SEATS_PER_ROW}"),
                        )
                    })?;
                if u32::from(rows) * u32::from(per_row) != capacity.get() {
                    return Err(DomainError::validation(
                        "sections.capacity",
                        "must equal rows × seats_per_row for numbered sections",
                    ));
                }
                Ok(Self::Numbered { rows, seats_per_row: per_row })
            }
            _ => Err(DomainError::validation("sections.seating", "must be \"general\" or \"numbered\"")),
        }
    }

    pub fn capacity(self) -> u32 {
        match self {
            Self::General { capacity } => capacity.get(),
            Self::Numbered { rows, seats_per_row } => u32::from(rows) * u32::from(seats_per_row),
        }
    }

    pub const fn is_numbered(self) -> bool {
        matches!(self, Self::Numbered { .. })
    }

    pub const fn seating(self) -> &'static str {
        match self {
            Self::General { .. } => "general",
            Self::Numbered { .. } => "numbered",
        }
    }

    /// The label of the seat at `position`, for numbered sections.
    pub fn label(self, position: u32) -> Option<SeatNumber> {
        match self {
            Self::General { .. } => None,
            Self::Numbered { seats_per_row, .. } => {
                let per_row = u32::from(seats_per_row);
                (position < self.capacity()).then(|| SeatNumber {
                    row: u16::try_from(position / per_row).unwrap_or(u16::MAX),
                    seat: u16::try_from(position % per_row + 1).unwrap_or(u16::MAX),
                })
            }
        }
    }

    /// The position of a labelled seat, if this section has it.
    pub fn position(self, seat: SeatNumber) -> Option<u32> {
        match self {
            Self::General { .. } => None,
            Self::Numbered { rows, seats_per_row } => (seat.row() < u32::from(rows)
                && seat.seat() <= u32::from(seats_per_row))
            .then(|| seat.row() * u32::from(seats_per_row) + seat.seat() - 1),
        }
    }
}

/// One section as the organiser defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionSpec {
    pub name: SectionName,
    pub layout: SectionLayout,
    pub base_price: Money,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_labels_round_trip_through_positions() {
        let layout = SectionLayout::parse("numbered", 30 * 20, Some(30), Some(20)).unwrap();
        for position in 0..layout.capacity() {
            let label = layout.label(position).unwrap();
            let parsed: SeatNumber = label.to_string().parse().unwrap();
            assert_eq!(parsed, label);
            assert_eq!(layout.position(parsed), Some(position));
        }
        assert_eq!(layout.label(0).unwrap().to_string(), "A-1");
        assert_eq!(layout.label(19).unwrap().to_string(), "A-20");
        assert_eq!(layout.label(20).unwrap().to_string(), "B-1");
        assert_eq!(layout.label(26 * 20).unwrap().to_string(), "AA-1");
        assert_eq!(layout.label(600), None);
    }

    #[test]
    fn seat_labels_parse_strictly() {
        assert_eq!("a-3".parse::<SeatNumber>().unwrap().to_string(), "A-3");
        assert_eq!("ZZ-999".parse::<SeatNumber>().unwrap().row(), MAX_ROWS - 1);
        for bad in ["", "A", "A-", "-1", "A-0", "A-01", "A-1000", "AAA-1", "1-1", "A-1-2", "Ä-1", "A- 1"] {
            assert!(bad.parse::<SeatNumber>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seats_outside_the_layout_have_no_position() {
        let layout = SectionLayout::parse("numbered", 4, Some(2), Some(2)).unwrap();
        assert_eq!(layout.position("C-1".parse().unwrap()), None);
        assert_eq!(layout.position("A-3".parse().unwrap()), None);
        assert_eq!(layout.position("B-2".parse().unwrap()), Some(3));
    }

    #[test]
    fn layouts_validate_their_shape() {
        assert!(SectionLayout::parse("general", 100, None, None).is_ok());
        assert!(SectionLayout::parse("general", 100, Some(10), None).is_err());
        assert!(SectionLayout::parse("general", 0, None, None).is_err());
        assert!(SectionLayout::parse("general", 100_001, None, None).is_err());
        assert!(SectionLayout::parse("numbered", 100, None, Some(10)).is_err());
        assert!(SectionLayout::parse("numbered", 100, Some(10), Some(11)).is_err());
        assert!(SectionLayout::parse("numbered", 1000, Some(1), Some(1000)).is_err());
        assert!(SectionLayout::parse("numbered", 1000, Some(-10), Some(-100)).is_err());
        assert!(SectionLayout::parse("boxes", 10, None, None).is_err());
        let general = SectionLayout::parse("general", 5, None, None).unwrap();
        assert_eq!(general.label(0), None);
        assert_eq!(general.position("A-1".parse().unwrap()), None);
    }
}
