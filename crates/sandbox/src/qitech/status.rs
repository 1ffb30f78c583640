//! The card status machine shared by prepaid and postpaid cards (spec §8), for
//! `PATCH .../card/{card_key}` `{"status": ...}` (inferred rules, from the status classes):
//!
//! - terminated statuses (`lost`, `robbed`, `fraud`, `canceled`, `theft`) are absorbing: any
//!   change from them is CARD000014;
//! - initial ones (`created`, `building`) and `embossing` only leave by the lifecycle, or to a
//!   terminated status (a physical card becomes active by activation, not simulated);
//! - `active` and the temporary blocks (`blocked`, `warning`, `pending`) move freely between
//!   each other and to a terminated status;
//! - nothing moves back to `created`/`building`/`embossing`, and a change to the current status
//!   is refused (CARD000013).

use super::error::QiError;

/// Every status QI documents.
pub const STATUSES: [&str; 12] = [
    "created",
    "building",
    "active",
    "embossing",
    "blocked",
    "warning",
    "pending",
    "lost",
    "robbed",
    "fraud",
    "canceled",
    "theft",
];

const TERMINATED: [&str; 5] = ["lost", "robbed", "fraud", "canceled", "theft"];
const MOVABLE: [&str; 4] = ["active", "blocked", "warning", "pending"];

/// Whether a client may move a card from `old` to `new`.
pub fn check_transition(old: &str, new: &str) -> Result<(), QiError> {
    if TERMINATED.contains(&old) {
        return Err(QiError::invalid_for_status(old));
    }
    let allowed = old != new
        && (TERMINATED.contains(&new) || (MOVABLE.contains(&old) && MOVABLE.contains(&new)));
    if allowed {
        Ok(())
    } else {
        Err(QiError::transition_not_allowed(old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(old: &str, new: &str) -> Option<&'static str> {
        check_transition(old, new).err().map(|e| e.code)
    }

    #[test]
    fn active_and_temporary_blocks_move_between_each_other() {
        assert_eq!(code("active", "blocked"), None);
        assert_eq!(code("blocked", "active"), None);
        assert_eq!(code("warning", "pending"), None);
    }

    #[test]
    fn any_live_card_may_be_terminated() {
        for old in ["created", "embossing", "active", "blocked"] {
            assert_eq!(code(old, "canceled"), None, "{old}");
        }
    }

    #[test]
    fn terminated_cards_refuse_everything_with_card000014() {
        assert_eq!(code("canceled", "active"), Some("CARD000014"));
        assert_eq!(code("lost", "theft"), Some("CARD000014"));
    }

    #[test]
    fn other_changes_are_card000013() {
        assert_eq!(code("created", "active"), Some("CARD000013"));
        assert_eq!(code("embossing", "active"), Some("CARD000013"));
        assert_eq!(code("active", "created"), Some("CARD000013"));
        assert_eq!(code("active", "embossing"), Some("CARD000013"));
        assert_eq!(code("active", "active"), Some("CARD000013"));
    }
}
