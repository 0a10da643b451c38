//! Complaint cues: the words and phrases (`lexicons/{lang}/complaint.tsv`) that the
//! complaint and sarcasm rules read, by family.
//!
//! Angry customers often state facts instead of feelings ("on hold 52 minutes", "wciąż nie
//! ma zwrotu", "glas in de soep") and praise bitterly ("Tack för ingenting"). A sentiment
//! lexicon has no valence for "minutes" or "still", and must not: "still" and "again" are
//! harmless on their own. So most families are *evidence* that only counts in a
//! construction the rules recognise (a number before a time unit, "still" before a
//! negation); a few name a complaint outright and score on their own.

use crate::model::CrisisCategory;

/// What a cue is evidence of. The data file names it; the rules give it meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CueFamily {
    // Evidence: read only in constructions.
    /// "still", "nog steeds", "wciąż", "fortfarande": complaint when a negation or a
    /// wait follows.
    Still,
    /// "again", "alweer", "znowu", "igen", "for the third time".
    Again,
    /// Number words ("three", "drie", "tre", "trzy"); digits are recognised in code.
    Number,
    /// Time units: "minutes", "uur", "dagar", "godzin".
    Unit,
    /// Waiting and queues: "on hold", "wachtrij", "telefonkö", "infolinii".
    Wait,
    /// "since", "sinds", "sedan".
    Since,
    /// "times", "keer", "gånger", "razy": with a number, a repetition.
    Times,
    /// "why", "waarom", "varför", "dlaczego" in a question.
    Question,
    /// Thanks and praise frames, genuine or bitter: "thanks", "bedankt", "tack", "dzięki".
    Thanks,
    /// The problem is solved ("fixed", "opgelost", "löst", "naprawione"): thanks are genuine.
    Resolved,
    /// Irony markers and bitter set phrases: "yeah right", "ja hoor", "jaja", "no pewnie".
    Sarcasm,
    /// "in", "within", "binnen", "inom", "w ciągu": before a duration, speed, not waiting
    /// ("refund in 2 days", "blocked it within 10 minutes").
    Within,
    /// A third party reports: "says", "confirms", "meldt", "enligt", "komunikat".
    Report,
    // Complaints on their own.
    /// Something broke or went wrong: "crashed", "kapot", "hängde sig", "zawiesza się".
    Broken,
    /// Harm and danger: "glass in", "voedselvergiftiging", "bränt", "kawałek metalu".
    Harm,
    /// Asking money back or leaving: "refund", "geld terug", "återbetalning", "zwrot".
    Refund,
    /// Nobody answers: "no reply", "geen reactie", "inget svar", "brak odpowiedzi".
    Unanswered,
}

impl CueFamily {
    pub(crate) const COUNT: usize = Self::NAMES.len();

    const NAMES: [(CueFamily, &'static str); 17] = [
        (CueFamily::Still, "still"),
        (CueFamily::Again, "again"),
        (CueFamily::Number, "number"),
        (CueFamily::Unit, "unit"),
        (CueFamily::Wait, "wait"),
        (CueFamily::Since, "since"),
        (CueFamily::Times, "times"),
        (CueFamily::Question, "question"),
        (CueFamily::Thanks, "thanks"),
        (CueFamily::Resolved, "resolved"),
        (CueFamily::Sarcasm, "sarcasm"),
        (CueFamily::Within, "within"),
        (CueFamily::Report, "report"),
        (CueFamily::Broken, "broken"),
        (CueFamily::Harm, "harm"),
        (CueFamily::Refund, "refund"),
        (CueFamily::Unanswered, "unanswered"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(f, _)| *f == self).map_or("?", |(_, n)| n)
    }

    pub(crate) fn parse(s: &str) -> Result<CueFamily, String> {
        Self::NAMES.iter().find(|(_, n)| *n == s).map(|(f, _)| *f).ok_or_else(|| {
            let names: Vec<&str> = Self::NAMES.iter().map(|(_, n)| *n).collect();
            format!("unknown cue family {s:?}: expected one of {}", names.join(", "))
        })
    }

    /// The valence of a cue that names a complaint on its own; `None` for evidence that only
    /// counts in a construction. Sized like the crisis weights: a broken state or harm is
    /// as bad as "terrible" (-2.5 is VADER's "horrible"); asking for a refund or getting no
    /// answer is plainly unhappy, a little less.
    /// Whether a negation around the cue belongs to the complaint instead of denying it:
    /// "still" comes with one ("fortfarande inte", "nog steeds niet"), and "no refund" is no
    /// better than "refund".
    pub(crate) fn negation_is_part_of_it(self) -> bool {
        matches!(self, CueFamily::Still | CueFamily::Refund)
    }

    pub(crate) fn standalone_valence(self) -> Option<f32> {
        match self {
            CueFamily::Broken | CueFamily::Harm => Some(-2.0),
            CueFamily::Refund | CueFamily::Unanswered => Some(-1.5),
            _ => None,
        }
    }
}

/// A cue term: its family and the crisis category it points at, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cue {
    pub family: CueFamily,
    pub category: Option<CrisisCategory>,
}

impl Cue {
    /// Parses the `family` and `category` columns of `complaint.tsv` (`-`: no category).
    pub(crate) fn parse(family: &str, category: Option<&str>) -> Result<Cue, String> {
        let family = CueFamily::parse(family)?;
        let category = match category {
            None | Some("-") | Some("") => None,
            Some(c) => Some(c.parse()?),
        };
        Ok(Cue { family, category })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_round_trip_through_their_names() {
        for (f, n) in CueFamily::NAMES {
            assert_eq!(CueFamily::parse(n), Ok(f));
            assert_eq!(f.as_str(), n);
        }
        let err = CueFamily::parse("stil").unwrap_err();
        assert!(err.contains("still"), "{err}");
    }

    #[test]
    fn only_complaints_score_on_their_own() {
        assert!(CueFamily::Still.standalone_valence().is_none());
        assert!(CueFamily::Harm.standalone_valence().is_some_and(|v| v < 0.0));
    }

    #[test]
    fn a_cue_may_point_at_a_category() {
        let c = Cue::parse("refund", Some("service")).unwrap();
        assert_eq!(c.category, Some(CrisisCategory::Service));
        assert_eq!(Cue::parse("again", Some("-")).unwrap().category, None);
        assert!(Cue::parse("again", Some("weather")).is_err());
    }
}
