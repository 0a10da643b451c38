//! Holding statements: the short first public reply a comms team posts while it investigates.
//!
//! Every alert suggests one for the storm's dominant crisis category and language, so the crisis team
//! has something calm to post within minutes instead of drafting under pressure. The built-in texts
//! below are deliberately non-committal: they acknowledge, show empathy and promise an update, but
//! never admit fault or state facts nobody has checked yet. Teams with approved wording of their own
//! override them per (category, language) in the config.

use std::collections::HashMap;

use crate::model::{CrisisCategory, Lang};

/// The only placeholder a template may use; replaced by the watch's brand name.
const BRAND: &str = "{brand}";

/// The config name for "no dominant category".
const GENERAL: &str = "general";

/// One statement in each language. Kept together per category so that a translator or reviewer
/// sees the four versions side by side and can check they say the same thing.
struct Statements {
    en: &'static str,
    nl: &'static str,
    sv: &'static str,
    pl: &'static str,
}

impl Statements {
    fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Nl => self.nl,
            Lang::Sv => self.sv,
            Lang::Pl => self.pl,
        }
    }
}

// Tone per language, as brand accounts in each market write on social media:
// - nl: informal but professional "je/jullie", the norm for Dutch webcare.
// - sv: "du/ni", the norm in Swedish; "ni" for the crowd, "du" for the one reader who is affected.
// - pl: second person plural ("Was/Wam/Wasze", capitalised as a courtesy) with plural imperatives
//   ("napiszcie"), as most Polish consumer brands do. The brand is never inflected: it always follows
//   a noun that carries the case ("marki {brand}", "usług {brand}"), because names cannot be declined
//   by a template.
// Swedish and Dutch avoid the possessive "{brand}s" for the same reason (brand names ending in -s).

/// No dominant category: acknowledge and promise an update without guessing what it is about.
const GENERAL_STATEMENTS: Statements = Statements {
    en: "We've seen the conversation about {brand} and we're looking into it. We take what you're telling us \
         seriously and will share an update here as soon as we can.",
    nl: "We zien de berichten over {brand} en zoeken uit wat er aan de hand is. We nemen jullie reacties serieus \
         en delen hier zo snel mogelijk een update.",
    sv: "Vi har sett diskussionen om {brand} och tittar på vad som har hänt. Vi tar det ni skriver på stort allvar \
         och återkommer här så snart vi kan.",
    pl: "Widzimy Wasze wpisy dotyczące marki {brand} i sprawdzamy, co się wydarzyło. Traktujemy je poważnie i \
         wrócimy tu z informacją, gdy tylko będzie to możliwe.",
};

/// Service down: the one case where an apology for the inconvenience is standard and safe.
const OUTAGE: Statements = Statements {
    en: "We're aware that some customers can't reach {brand} services right now. Our teams are working on it and \
         we'll post an update here as soon as we know more. We're sorry for the inconvenience.",
    nl: "We weten dat de diensten van {brand} op dit moment voor een deel van jullie niet bereikbaar zijn. Onze \
         teams werken aan een oplossing en we houden jullie hier op de hoogte. Excuses voor het ongemak!",
    sv: "Vi vet att en del av er just nu inte kan använda {brand} som vanligt. Vi jobbar för fullt med att lösa det \
         och uppdaterar här så snart vi vet mer. Vi ber om ursäkt för besväret.",
    pl: "Wiemy, że część z Was nie może teraz korzystać z usług {brand}. Nasze zespoły pracują nad rozwiązaniem, a \
         aktualizacje będziemy publikować tutaj. Przepraszamy za utrudnienia.",
};

/// Defect, quality or safety complaint: take it seriously without confirming a defect, and move the
/// affected customers to a private channel.
const PRODUCT: Statements = Statements {
    en: "We've seen the concerns about a {brand} product and we take quality and safety very seriously. We're \
         looking into it now. If you're affected, please DM us the details so we can help.",
    nl: "We hebben de zorgen over een product van {brand} gezien en nemen kwaliteit en veiligheid heel serieus. We \
         zoeken het nu uit. Heb je er zelf last van? Stuur ons dan een DM met de details, dan helpen we je verder.",
    sv: "Vi har sett oron kring en produkt från {brand} och tar kvalitet och säkerhet på största allvar. Vi \
         undersöker saken nu. Har du drabbats? Skicka ett DM till oss med detaljerna så hjälper vi dig.",
    pl: "Widzimy Wasze zgłoszenia dotyczące produktu marki {brand}. Jakość i bezpieczeństwo traktujemy bardzo \
         poważnie i już to sprawdzamy. Jeśli macie ten problem, napiszcie do nas w prywatnej wiadomości – pomożemy.",
};

/// Bad customer-service experiences: regret for the experience, and an offer to sort out each case.
const SERVICE: Statements = Statements {
    en: "We're sorry to hear that some of you have had a disappointing experience with {brand}. That's not how we \
         want it to be. Please DM us your details so we can look into it and help.",
    nl: "Wat vervelend dat een aantal van jullie een slechte ervaring met {brand} heeft gehad. Zo willen we het \
         natuurlijk niet. Stuur ons een DM met je gegevens, dan zoeken we het voor je uit.",
    sv: "Vad tråkigt att flera av er har haft en dålig upplevelse med {brand}. Så vill vi inte att det ska vara. \
         Skicka ett DM med dina uppgifter så tittar vi på det och hjälper dig.",
    pl: "Przykro nam, że część z Was ma złe doświadczenia z obsługą {brand}. Zależy nam, żeby było inaczej. \
         Napiszcie do nas w prywatnej wiadomości, a sprawdzimy każdą sprawę i pomożemy.",
};

/// An offensive ad, post or statement attributed to the brand: acknowledge the feelings, not the
/// offence; it may turn out to be a fake or a hacked account.
const OFFENSIVE: Statements = Statements {
    en: "We've seen the reactions to a recent {brand} post and we understand why many of you are upset. We're \
         looking into it urgently and will share more here soon.",
    nl: "We hebben de reacties op een recent bericht van {brand} gezien en begrijpen dat dit veel van jullie raakt. \
         We zoeken met spoed uit hoe dit is gebeurd en komen hier zo snel mogelijk op terug.",
    sv: "Vi har sett reaktionerna på ett inlägg från {brand} och förstår att många av er är upprörda. Vi tittar \
         skyndsamt på vad som har hänt och återkommer här snart.",
    pl: "Widzimy reakcje na niedawny wpis marki {brand} i rozumiemy Wasze emocje. Pilnie wyjaśniamy tę sprawę i \
         wkrótce wrócimy tu z informacją.",
};

/// Misconduct allegations against an employee or executive: serious and careful, no names, no
/// verdict, and nothing that prejudges an investigation.
const CONDUCT: Statements = Statements {
    en: "We're aware of the allegations involving a member of the {brand} team. We take them very seriously and \
         are looking into them carefully. We'll share more when we're able to.",
    nl: "We zijn op de hoogte van de beschuldigingen over het gedrag van iemand binnen {brand}. We nemen dit heel \
         serieus en zoeken het zorgvuldig uit. Zodra we meer kunnen delen, doen we dat hier.",
    sv: "Vi känner till uppgifterna om hur en person inom {brand} ska ha agerat. Vi tar dem på stort allvar och \
         utreder saken noggrant. Vi återkommer när vi kan berätta mer.",
    pl: "Znamy zarzuty dotyczące zachowania osoby z zespołu {brand}. Traktujemy je bardzo poważnie i rzetelnie \
         wyjaśniamy sprawę. Podzielimy się informacjami, gdy tylko będzie to możliwe.",
};

/// Calls to boycott: listen, don't argue and don't concede; buy time to decide a position.
const BOYCOTT: Statements = Statements {
    en: "We've seen the calls to boycott {brand} and we're listening. We understand people feel strongly about \
         this, and we're taking the time to hear the concerns properly. We'll share more here soon.",
    nl: "We zien de oproepen om {brand} te boycotten en we luisteren. We begrijpen dat dit onderwerp veel mensen \
         raakt en nemen de tijd om jullie zorgen goed te horen. We komen hier snel op terug.",
    sv: "Vi har sett uppmaningarna att bojkotta {brand} och vi lyssnar. Vi förstår att många känner starkt för det \
         här och tar oss tid att sätta oss in i era synpunkter. Vi återkommer här snart.",
    pl: "Widzimy wezwania do bojkotu marki {brand} i uważnie słuchamy. Rozumiemy, że ten temat budzi duże emocje, \
         i chcemy dobrze poznać Wasze obawy. Wkrótce wrócimy tu z informacją.",
};

/// Data leak, scam or phishing in the brand's name: the one message that must go out whatever the
/// cause is "never share your credentials", so it is in every language; the local scam vectors
/// (BankID in Sweden, BLIK codes in Poland) are named because that is what fraudsters ask for there.
const PRIVACY_FRAUD: Statements = Statements {
    en: "We're urgently looking into reports of a possible security issue involving {brand}. We'll never ask for \
         your password or codes by message, email or phone, so please don't share them with anyone. We'll update \
         here as soon as we know more.",
    nl: "We onderzoeken met voorrang meldingen over een mogelijk beveiligingsprobleem rond {brand}. Let op: we \
         vragen je nooit via een bericht, mail of telefoon om je wachtwoord of codes. Deel die met niemand. Zodra \
         we meer weten, lees je het hier.",
    sv: "Vi undersöker skyndsamt uppgifter om ett möjligt säkerhetsproblem som rör {brand}. Vi ber dig aldrig om \
         lösenord, koder eller BankID via sms, mejl eller telefon – lämna inte ut sådant till någon. Vi uppdaterar \
         här så snart vi vet mer.",
    pl: "Pilnie sprawdzamy zgłoszenia o możliwym incydencie bezpieczeństwa związanym z marką {brand}. Nigdy nie \
         prosimy o hasła, kody BLIK ani dane logowania przez SMS, e-mail czy telefon – nie podawajcie ich nikomu. \
         Aktualizacje opublikujemy tutaj.",
};

fn statements(category: Option<CrisisCategory>) -> &'static Statements {
    // An exhaustive match, so a new category fails to compile until it has its statements.
    match category {
        None => &GENERAL_STATEMENTS,
        Some(CrisisCategory::Outage) => &OUTAGE,
        Some(CrisisCategory::Product) => &PRODUCT,
        Some(CrisisCategory::Service) => &SERVICE,
        Some(CrisisCategory::Offensive) => &OFFENSIVE,
        Some(CrisisCategory::Conduct) => &CONDUCT,
        Some(CrisisCategory::Boycott) => &BOYCOTT,
        Some(CrisisCategory::PrivacyFraud) => &PRIVACY_FRAUD,
    }
}

/// The built-in holding statement for a category (None = no dominant category: a general one) in a language.
pub(crate) fn default_template(category: Option<CrisisCategory>, lang: Lang) -> &'static str {
    statements(category).get(lang)
}

/// Statement templates: the built-in defaults, overridden per (category, language) by the config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Templates {
    /// Key `None` is the general statement. Stored trimmed and already validated by `set`.
    overrides: HashMap<(Option<CrisisCategory>, Lang), String>,
}

/// Why a configured holding statement cannot be used; each message names the valid values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StatementError {
    #[error("unknown holding-statement category {name:?}: expected one of {}", valid_categories().join(", "))]
    UnknownCategory { name: String },
    #[error("unknown holding-statement language {code:?}: expected one of {}", Lang::ALL.map(Lang::code).join(", "))]
    UnknownLanguage { code: String },
    #[error("holding statement for {category} in {lang} is empty: write the statement, or remove the entry to use the built-in one")]
    Empty { category: &'static str, lang: &'static str },
    #[error("holding statement for {category} in {lang}: {problem} (the only placeholder is {BRAND})")]
    Placeholder { category: &'static str, lang: &'static str, problem: String },
}

fn valid_categories() -> Vec<&'static str> {
    std::iter::once(GENERAL).chain(CrisisCategory::ALL.map(CrisisCategory::as_str)).collect()
}

impl Templates {
    /// Adds an override from config. `category` is a category name or "general"; `lang` a
    /// language code. Refuses unknown names, an empty template, and a template using a
    /// placeholder other than {brand}.
    pub(crate) fn set(&mut self, category: &str, lang: &str, template: &str) -> Result<(), StatementError> {
        let category = parse_category(category)?;
        let lang = parse_lang(lang)?;
        let (cat_name, code) = (category_name(category), lang.code());
        // Multi-line TOML strings bring a trailing newline; it would end up in the posted text.
        let template = template.trim();
        if template.is_empty() {
            return Err(StatementError::Empty { category: cat_name, lang: code });
        }
        check_placeholders(template).map_err(|problem| StatementError::Placeholder {
            category: cat_name,
            lang: code,
            problem,
        })?;
        self.overrides.insert((category, lang), template.to_string());
        Ok(())
    }

    /// The statement for a category and language, with `{brand}` replaced by the brand (watch) name.
    /// Falls back: configured (category, lang) → built-in (category, lang).
    pub(crate) fn statement(&self, category: Option<CrisisCategory>, lang: Lang, brand: &str) -> String {
        let template = match self.overrides.get(&(category, lang)) {
            Some(configured) => configured.as_str(),
            None => default_template(category, lang),
        };
        template.replace(BRAND, brand)
    }
}

fn category_name(category: Option<CrisisCategory>) -> &'static str {
    category.map_or(GENERAL, CrisisCategory::as_str)
}

fn parse_category(name: &str) -> Result<Option<CrisisCategory>, StatementError> {
    let name = name.trim();
    if name == GENERAL {
        return Ok(None);
    }
    CrisisCategory::ALL
        .into_iter()
        .find(|c| c.as_str() == name)
        .map(Some)
        .ok_or_else(|| StatementError::UnknownCategory { name: name.to_string() })
}

fn parse_lang(code: &str) -> Result<Lang, StatementError> {
    let code = code.trim();
    Lang::ALL
        .into_iter()
        .find(|l| l.code() == code)
        .ok_or_else(|| StatementError::UnknownLanguage { code: code.to_string() })
}

/// Accepts only `{brand}`. Any other `{...}`, and unbalanced braces, are rejected rather than posted
/// verbatim: a `{company}` or `{brand` in a public statement is worse than a config error at startup.
/// The error says what is wrong with the braces.
fn check_placeholders(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        if rest[pos..].starts_with('}') {
            return Err("unmatched '}'".into());
        }
        let after = &rest[pos..];
        let Some(end) = after.find('}') else {
            return Err("unclosed '{'".into());
        };
        let placeholder = &after[..=end];
        if placeholder != BRAND {
            return Err(format!("unknown placeholder {placeholder}"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// General first, then every category: the 8 rows of the built-in table.
    fn all_categories() -> Vec<Option<CrisisCategory>> {
        std::iter::once(None).chain(CrisisCategory::ALL.map(Some)).collect()
    }

    #[test]
    fn every_built_in_is_non_empty_and_names_the_brand() {
        for category in all_categories() {
            for lang in Lang::ALL {
                let text = default_template(category, lang);
                assert!(!text.trim().is_empty(), "{category:?}/{lang:?} is empty");
                assert!(text.contains(BRAND), "{category:?}/{lang:?} lacks {BRAND}: {text}");
            }
        }
    }

    #[test]
    fn every_built_in_fits_in_a_post() {
        for category in all_categories() {
            for lang in Lang::ALL {
                let chars = default_template(category, lang).chars().count();
                assert!(chars <= 300, "{category:?}/{lang:?} is {chars} chars");
            }
        }
    }

    #[test]
    fn every_built_in_passes_the_placeholder_check_config_gets() {
        for category in all_categories() {
            for lang in Lang::ALL {
                let text = default_template(category, lang);
                assert_eq!(check_placeholders(text), Ok(()), "{category:?}/{lang:?}");
                // A template with stray spaces or a continuation-line slip would show in the post.
                assert_eq!(text, text.trim(), "{category:?}/{lang:?}");
                assert!(!text.contains("  "), "{category:?}/{lang:?} has a double space: {text}");
            }
        }
    }

    #[test]
    fn no_two_languages_share_a_built_in() {
        for category in all_categories() {
            for (i, a) in Lang::ALL.into_iter().enumerate() {
                for b in Lang::ALL.into_iter().skip(i + 1) {
                    assert_ne!(
                        default_template(category, a),
                        default_template(category, b),
                        "{category:?}: {a:?}/{b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn polish_and_swedish_built_ins_use_their_own_letters() {
        for category in all_categories() {
            let pl = default_template(category, Lang::Pl);
            assert!(pl.chars().any(|c| "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ".contains(c)), "{category:?}/pl lacks diacritics: {pl}");
            let sv = default_template(category, Lang::Sv);
            assert!(sv.chars().any(|c| "åäöÅÄÖ".contains(c)), "{category:?}/sv lacks å/ä/ö: {sv}");
        }
    }

    #[test]
    fn statement_substitutes_the_brand_everywhere() {
        let templates = Templates::default();
        for category in all_categories() {
            for lang in Lang::ALL {
                let text = templates.statement(category, lang, "Acme Air");
                assert!(text.contains("Acme Air"), "{category:?}/{lang:?}: {text}");
                assert!(!text.contains('{') && !text.contains('}'), "{category:?}/{lang:?}: {text}");
            }
        }
        let mut templates = Templates::default();
        templates.set("general", "en", "{brand} here. {brand} is on it.").unwrap();
        assert_eq!(templates.statement(None, Lang::En, "Acme"), "Acme here. Acme is on it.");
    }

    #[test]
    fn override_replaces_only_its_category_and_language() {
        let mut templates = Templates::default();
        templates.set("outage", "nl", "  {brand} ligt eruit, we werken eraan.\n").unwrap();
        assert_eq!(
            templates.statement(Some(CrisisCategory::Outage), Lang::Nl, "Acme"),
            "Acme ligt eruit, we werken eraan."
        );
        for category in all_categories() {
            for lang in Lang::ALL {
                if (category, lang) == (Some(CrisisCategory::Outage), Lang::Nl) {
                    continue;
                }
                let expected = default_template(category, lang).replace(BRAND, "Acme");
                assert_eq!(templates.statement(category, lang, "Acme"), expected, "{category:?}/{lang:?}");
            }
        }
    }

    #[test]
    fn general_override_is_keyed_by_no_category() {
        let mut templates = Templates::default();
        templates.set("general", "sv", "Vi på {brand} tittar på det.").unwrap();
        assert_eq!(templates.statement(None, Lang::Sv, "Acme"), "Vi på Acme tittar på det.");
        assert_eq!(
            templates.statement(Some(CrisisCategory::Outage), Lang::Sv, "Acme"),
            default_template(Some(CrisisCategory::Outage), Lang::Sv).replace(BRAND, "Acme")
        );
    }

    #[test]
    fn later_set_wins() {
        let mut templates = Templates::default();
        templates.set("privacy_fraud", "pl", "Pierwsza wersja {brand}.").unwrap();
        templates.set("privacy_fraud", "pl", "Druga wersja {brand}.").unwrap();
        assert_eq!(templates.statement(Some(CrisisCategory::PrivacyFraud), Lang::Pl, "X"), "Druga wersja X.");
    }

    #[test]
    fn set_rejects_unknown_category_naming_the_valid_ones() {
        let err = Templates::default().set("outages", "en", "{brand} is down.").unwrap_err().to_string();
        assert!(err.contains("\"outages\""), "{err}");
        for valid in ["general", "outage", "product", "service", "offensive", "conduct", "boycott", "privacy_fraud"] {
            assert!(err.contains(valid), "{err} lacks {valid}");
        }
    }

    #[test]
    fn set_rejects_unknown_language_naming_the_valid_ones() {
        let err = Templates::default().set("outage", "de", "{brand} ist down.").unwrap_err().to_string();
        assert!(err.contains("\"de\""), "{err}");
        assert!(err.contains("en, nl, sv, pl"), "{err}");
    }

    #[test]
    fn set_rejects_an_empty_template() {
        for empty in ["", "  \n\t"] {
            let err = Templates::default().set("boycott", "en", empty).unwrap_err().to_string();
            assert!(err.contains("empty") && err.contains("boycott") && err.contains("en"), "{err}");
        }
    }

    #[test]
    fn set_rejects_unknown_placeholders_naming_brand() {
        let mut templates = Templates::default();
        let err = templates.set("product", "en", "{company} is looking into it.").unwrap_err().to_string();
        assert!(err.contains("{company}") && err.contains("{brand}"), "{err}");
        for broken in ["{brand is looking into it.", "brand} is looking into it.", "{Brand} is on it.", "{} ok"] {
            let err = templates.set("product", "en", broken).unwrap_err().to_string();
            assert!(err.contains("{brand}"), "{broken:?}: {err}");
        }
        // A rejected override must not replace the built-in.
        assert_eq!(
            templates.statement(Some(CrisisCategory::Product), Lang::En, "Acme"),
            default_template(Some(CrisisCategory::Product), Lang::En).replace(BRAND, "Acme")
        );
    }

    #[test]
    fn set_accepts_a_template_without_the_brand() {
        // Approved wording may leave the name out; the built-ins use it, overrides need not.
        let mut templates = Templates::default();
        templates.set("service", "en", "Sorry about that, we're on it.").unwrap();
        assert_eq!(
            templates.statement(Some(CrisisCategory::Service), Lang::En, "Acme"),
            "Sorry about that, we're on it."
        );
    }
}
