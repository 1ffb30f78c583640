//! UF, the two-letter code of a Brazilian state (plus QI Tech's `EX` for an address abroad).

/// A Brazilian state code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uf(&'static str);

/// The 26 states and the Federal District.
const STATES: [&str; 27] = [
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE",
    "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
];

/// QI Tech postpaid's special value for an address outside Brazil.
const ABROAD: &str = "EX";

impl Uf {
    /// Parses one of the 27 state codes, in any letter case (`sp` -> `SP`).
    pub fn parse(s: &str) -> Result<Uf, String> {
        Self::lookup(s).ok_or_else(|| {
            format!(
                "{} is not a Brazilian state (UF); expected one of {}",
                super::masking::shown(s),
                STATES.join(", ")
            )
        })
    }

    /// Like [`Uf::parse`], also accepting `EX` (abroad), as QI Tech postpaid addresses do.
    pub fn parse_or_abroad(s: &str) -> Result<Uf, String> {
        if s.eq_ignore_ascii_case(ABROAD) {
            return Ok(Uf(ABROAD));
        }
        Self::lookup(s).ok_or_else(|| {
            format!(
                "{} is not a Brazilian state (UF); expected one of {}, or EX for abroad",
                super::masking::shown(s),
                STATES.join(", ")
            )
        })
    }

    fn lookup(s: &str) -> Option<Uf> {
        if s.len() != 2 {
            return None;
        }
        STATES
            .iter()
            .find(|st| st.eq_ignore_ascii_case(s))
            .map(|st| Uf(st))
    }

    /// The upper-case code.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Every state code (without `EX`), for generators and documentation.
    pub fn all() -> &'static [&'static str] {
        &STATES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_accepted_in_any_case() {
        for st in STATES {
            assert_eq!(Uf::parse(st).unwrap().as_str(), st);
            assert_eq!(Uf::parse(&st.to_lowercase()).unwrap().as_str(), st);
        }
    }

    #[test]
    fn an_unknown_code_is_rejected_with_the_choices() {
        let err = Uf::parse("XX").unwrap_err();
        assert!(err.contains("`XX`") && err.contains("SP"), "{err}");
        assert!(Uf::parse("SPO").is_err());
        assert!(Uf::parse("").is_err());
    }

    #[test]
    fn ex_is_accepted_only_where_an_address_abroad_is_allowed() {
        assert!(Uf::parse("EX").is_err());
        assert_eq!(Uf::parse_or_abroad("ex").unwrap().as_str(), "EX");
        assert_eq!(Uf::parse_or_abroad("RJ").unwrap().as_str(), "RJ");
    }
}
