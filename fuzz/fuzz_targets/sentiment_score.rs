//! Any text through the tokenizer and the scorer (`Scorer::analyze`), in a given language or
//! with the language detected. The first byte picks the language; the rest is the text
//! (invalid UTF-8 replaced, as the sources never hand on anything but `String`s).
#![no_main]

use std::cell::RefCell;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stormwatch::model::{Label, Lang};
use stormwatch::sentiment::signs::SignLexicon;
use stormwatch::sentiment::tokenize::{tokenize, Tokens, MAX_TOKENS};
use stormwatch::sentiment::{Analysis, LabelThresholds, Scorer};

fn scorer() -> &'static Scorer {
    static SCORER: OnceLock<Scorer> = OnceLock::new();
    SCORER.get_or_init(|| Scorer::builtin().expect("the built-in lexicons load"))
}

thread_local! {
    // Reused across inputs, as the pipeline does: what one text leaves behind must not
    // change the next one's score.
    static REUSED: RefCell<Analysis> = RefCell::new(Analysis::default());
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let lang = match pick % 5 {
        0 => None,
        i => Some(Lang::ALL[usize::from(i) - 1]),
    };
    let text = String::from_utf8_lossy(rest);

    let mut tokens = Tokens::default();
    tokenize(&text, SignLexicon::builtin().expect("the built-in signs load"), &mut tokens);
    assert!(tokens.tokens.len() <= MAX_TOKENS, "{} tokens", tokens.tokens.len());
    for t in &tokens.tokens {
        let r = t.range();
        assert!(r.start <= r.end && r.end <= tokens.text.len(), "token {r:?} outside its text");
        assert!(tokens.text.get(r).is_some(), "token not on char boundaries");
    }

    let mut fresh = Analysis::default();
    scorer().analyze(&text, lang, &mut fresh);
    let c = fresh.compound();
    assert!(c.is_finite() && (-1.0..=1.0).contains(&c), "compound {c} outside [-1, 1]");
    assert!(fresh.punctuation_emphasis().is_finite());
    assert_eq!(fresh.label(), LabelThresholds::DEFAULT.label(c), "label does not follow the compound");
    if c == 0.0 {
        assert_eq!(fresh.label(), Label::Neu);
    }
    if lang.is_some() {
        assert_eq!(fresh.lang(), lang, "a given language is kept");
    }
    for h in fresh.hits() {
        assert!(h.base.is_finite() && h.score.is_finite(), "hit {h:?}");
    }

    REUSED.with(|r| {
        let mut reused = r.borrow_mut();
        scorer().analyze(&text, lang, &mut reused);
        assert_eq!(reused.compound().to_bits(), c.to_bits(), "a reused Analysis scored differently");
        assert_eq!(reused.lang(), fresh.lang());
    });
});
