//! Date rules.

use chrono::NaiveDate;

use super::DomainError;

/// Earliest accepted birth date.
const MIN_BIRTH_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");

/// Checks a birth date: strictly before `today` (`not_in_past`) and not
/// before 1900-01-01 (`out_of_range`).
pub fn birth_date_in_past(d: NaiveDate, today: NaiveDate) -> Result<(), DomainError> {
    if d >= today {
        Err(DomainError::new("not_in_past", "a birth date must be in the past"))
    } else if d < MIN_BIRTH_DATE {
        Err(DomainError::new("out_of_range", "a birth date must not be before 1900-01-01"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn past_dates_are_accepted() {
        let today = date(2025, 6, 15);
        assert_eq!(birth_date_in_past(date(1985, 3, 2), today), Ok(()));
        assert_eq!(birth_date_in_past(date(2025, 6, 14), today), Ok(()));
        assert_eq!(birth_date_in_past(date(1900, 1, 1), today), Ok(()));
    }

    #[test]
    fn today_and_future_are_rejected() {
        let today = date(2025, 6, 15);
        for d in [today, date(2025, 6, 16), date(2100, 1, 1)] {
            let e = birth_date_in_past(d, today).unwrap_err();
            assert_eq!(e.code, "not_in_past");
            assert_eq!(e.message, "a birth date must be in the past");
        }
    }

    #[test]
    fn too_old_is_rejected() {
        let today = date(2025, 6, 15);
        for d in [date(1899, 12, 31), date(1066, 10, 14)] {
            assert_eq!(birth_date_in_past(d, today).unwrap_err().code, "out_of_range");
        }
    }
}
