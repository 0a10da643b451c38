//! The scoring rules, as a user would state them, checked on the built-in lexicons.

use stormwatch::model::{CrisisCategory, Label, Lang};
use stormwatch::sentiment::{Analysis, Rules, Scorer};

fn analyze(text: &str, lang: Lang) -> Analysis {
    let scorer = Scorer::builtin().expect("built-in lexicons load");
    let mut a = Analysis::default();
    scorer.analyze(text, Some(lang), &mut a);
    a
}

fn hit_score(a: &Analysis, term: &str) -> f32 {
    a.hits().find(|h| h.term == term).unwrap_or_else(|| panic!("no hit for {term:?}")).score
}

fn hit_rules(a: &Analysis, term: &str) -> Rules {
    a.hits().find(|h| h.term == term).unwrap_or_else(|| panic!("no hit for {term:?}")).rules
}

#[test]
fn negation_flips_and_weakens_in_every_language() {
    for (plain, negated, word, lang) in [
        ("this is good", "this is not good", "good", Lang::En),
        ("dit is goed", "dit is niet goed", "goed", Lang::Nl),
        ("det är bra", "det är inte bra", "bra", Lang::Sv),
        ("to jest dobre", "to nie jest dobre", "dobre", Lang::Pl),
    ] {
        let p = hit_score(&analyze(plain, lang), word);
        let n = analyze(negated, lang);
        assert!(p > 0.0, "{plain}");
        assert!(hit_score(&n, word) < 0.0 && hit_score(&n, word).abs() < p, "{negated}");
        assert!(hit_rules(&n, word).contains(Rules::NEGATED), "{negated}");
    }
}

#[test]
fn dutch_and_swedish_negation_after_the_verb_counts() {
    let a = analyze("ik geniet er niet van", Lang::Nl);
    assert_eq!(a.label(), Label::Neg, "{:?}", a.hits().collect::<Vec<_>>());
    let a = analyze("jag gillar inte den nya appen", Lang::Sv);
    assert!(hit_rules(&a, "gillar").contains(Rules::NEGATED));
    assert_eq!(a.label(), Label::Neg);
}

#[test]
fn stacked_polish_negation_negates_once() {
    // "Nobody liked it": two negators, still one negation. ("nikt nie pomógł", nobody
    // helped, is a crisis phrase of its own now.)
    let helped = hit_score(&analyze("lubił", Lang::Pl), "lubił");
    let nobody = hit_score(&analyze("nikt nie lubił", Lang::Pl), "lubił");
    assert!(helped > 0.0 && nobody < 0.0, "{helped} {nobody}");
}

#[test]
fn intensifiers_and_dampeners_change_the_magnitude() {
    let base = hit_score(&analyze("the food was good", Lang::En), "good");
    let very = analyze("the food was very good", Lang::En);
    let kinda = analyze("the food was kinda good", Lang::En);
    assert!(hit_score(&very, "good") > base && hit_rules(&very, "good").contains(Rules::BOOSTED));
    assert!(hit_score(&kinda, "good") < base && hit_rules(&kinda, "good").contains(Rules::DAMPENED));
    let pl = analyze("bardzo zły", Lang::Pl);
    assert!(hit_score(&pl, "zły") < hit_score(&analyze("zły", Lang::Pl), "zły"));
}

#[test]
fn the_clause_after_a_contrast_word_weighs_more() {
    for (text, before, after, lang) in [
        ("the food was good but the service was terrible", "good", "terrible", Lang::En),
        ("het eten was lekker maar de service was slecht", "lekker", "slecht", Lang::Nl),
        ("maten var bra men servicen var dålig", "bra", "dålig", Lang::Sv),
        ("jedzenie było dobre ale obsługa była okropna", "dobre", "okropna", Lang::Pl),
    ] {
        let a = analyze(text, lang);
        assert!(hit_rules(&a, before).contains(Rules::BEFORE_CONTRAST), "{text}");
        assert!(hit_rules(&a, after).contains(Rules::AFTER_CONTRAST), "{text}");
        assert_eq!(a.label(), Label::Neg, "{text}");
    }
}

#[test]
fn capitals_exclamations_and_elongation_add_emphasis() {
    let plain = analyze("this is bad", Lang::En);
    let caps = analyze("this is BAD", Lang::En);
    let bang = analyze("this is bad!!!", Lang::En);
    let long = analyze("this is baaaad", Lang::En);
    assert!(caps.compound() < plain.compound() && hit_rules(&caps, "bad").contains(Rules::CAPS));
    assert!(bang.compound() < plain.compound() && bang.punctuation_emphasis() > 0.0);
    assert!(long.compound() < plain.compound() && hit_rules(&long, "baaaad").contains(Rules::ELONGATED));
    // A text in capitals throughout is not emphasis per word.
    assert!(!hit_rules(&analyze("THIS IS BAD", Lang::En), "bad").contains(Rules::CAPS));
}

#[test]
fn emoji_and_emoticons_score_in_any_language() {
    for lang in Lang::ALL {
        assert_eq!(analyze("😡😡", lang).label(), Label::Neg, "{lang}");
        assert_eq!(analyze(":-)", lang).label(), Label::Pos, "{lang}");
        assert_eq!(analyze("&lt;3", lang).label(), Label::Pos, "{lang}: HTML entities are decoded");
    }
}

#[test]
fn hashtags_are_split_and_crisis_terms_tag_their_category() {
    let a = analyze("#BoycottKroonBank after the data breach", Lang::En);
    let cats: Vec<_> = a.categories().collect();
    assert!(cats.contains(&CrisisCategory::Boycott), "{cats:?}");
    assert!(cats.contains(&CrisisCategory::PrivacyFraud), "{cats:?}");
    assert_eq!(a.label(), Label::Neg);

    let a = analyze("Alweer een storing, inloggen lukt niet #kroonbank", Lang::Nl);
    assert!(a.categories().any(|c| c == CrisisCategory::Outage));
    assert!(a.hits().any(|h| h.term == "inloggen lukt niet" && h.rules.contains(Rules::PHRASE)));
    let a = analyze("kundtjänsten svarar inte och appen ligger nere", Lang::Sv);
    assert!(a.categories().any(|c| c == CrisisCategory::Outage));
    assert!(a.categories().any(|c| c == CrisisCategory::Service));
}

#[test]
fn a_negated_crisis_term_does_not_tag_its_category() {
    let a = analyze("the site is not down", Lang::En);
    assert!(!a.categories().any(|c| c == CrisisCategory::Outage), "{:?}", a.hits().collect::<Vec<_>>());
}

#[test]
fn polish_inflections_resolve_to_their_lemma() {
    let a = analyze("znowu awarii nie ma", Lang::Pl);
    let h = a.hits().find(|h| h.term == "awarii").expect("awarii is found");
    assert!(h.lemma.is_some() || h.rules.contains(Rules::INFLECTED) || h.category.is_some(), "{h:?}");
    // "nieatrakcyjna" (unattractive) is negative, although polvader scored it like its lemma.
    let a = analyze("nieatrakcyjna oferta", Lang::Pl);
    assert!(hit_score(&a, "nieatrakcyjna") < 0.0);
}

#[test]
fn urls_and_handles_do_not_score() {
    let a = analyze("@happy_bank https://great.example/love", Lang::En);
    assert_eq!(a.hits().count(), 0);
    assert_eq!(a.label(), Label::Neu);
}
