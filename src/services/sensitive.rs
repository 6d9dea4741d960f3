//! The free-text guard (API.md §8): special-category data (Art. 9 and 10)
//! and French social-security numbers (NIR with a valid key) in interaction
//! summaries, string values of `custom_fields` and order line names.
//!
//! The lexicon is data, `sensitive_lexicon.txt` (versioned, with its sources
//! and the choices made against false positives). Text and terms are folded
//! (lowercase, accents removed, `œ` as `oe`) and matched on whole words.
//!
//! `CLIENTELE_SENSITIVE_TEXT`: `refuse` (default: 422 `sensitive_data`
//! naming the field and the category), `flag` (stored, and listed for review
//! at `GET /v1/review/sensitive`), `off`. The mode travels with the database
//! pool into the blocking thread that runs the service ([`with_mode`]). The
//! text itself is never logged nor stored in a flag.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Errors;

const LEXICON: &str = include_str!("sensitive_lexicon.txt");

/// What to do with special-category free text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// 422 `sensitive_data`.
    #[default]
    Refuse,
    /// Store it and flag it for review.
    Flag,
    /// No check.
    Off,
}

impl std::str::FromStr for Mode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "refuse" => Ok(Mode::Refuse),
            "flag" => Ok(Mode::Flag),
            "off" => Ok(Mode::Off),
            _ => Err(()),
        }
    }
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Refuse) };
}

/// Runs `f` with `mode` in force on this thread (the pool sets it around
/// every service call).
pub fn with_mode<T>(mode: Mode, f: impl FnOnce() -> T) -> T {
    let before = MODE.with(|m| m.replace(mode));
    let out = f();
    MODE.with(|m| m.set(before));
    out
}

/// The mode in force.
pub fn mode() -> Mode {
    MODE.with(|m| m.get())
}

/// A category of special data (Art. 9(1), Art. 10), or a NIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Health,
    Religion,
    PoliticalOpinion,
    TradeUnion,
    SexLife,
    RacialEthnicOrigin,
    Offences,
    /// A French social-security number (NIR) with a valid key.
    Nir,
}

impl Category {
    /// As written in the lexicon, flags and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Health => "health",
            Category::Religion => "religion",
            Category::PoliticalOpinion => "political_opinion",
            Category::TradeUnion => "trade_union",
            Category::SexLife => "sex_life",
            Category::RacialEthnicOrigin => "racial_ethnic_origin",
            Category::Offences => "offences",
            Category::Nir => "nir",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Category::Health,
            Category::Religion,
            Category::PoliticalOpinion,
            Category::TradeUnion,
            Category::SexLife,
            Category::RacialEthnicOrigin,
            Category::Offences,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

struct Term {
    words: Vec<String>,
    /// The last word matches any ending.
    prefix: bool,
    category: Category,
}

struct Lexicon {
    version: String,
    /// Terms by their first word (prefix terms under their stem's first word).
    exact: HashMap<String, Vec<Term>>,
    prefixes: Vec<Term>,
}

fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        let mut lex = Lexicon { version: String::new(), exact: HashMap::new(), prefixes: Vec::new() };
        for line in LEXICON.lines() {
            if let Some(v) = line.strip_prefix("# version:") {
                lex.version = v.trim().to_owned();
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((cat, term)) = line.split_once('\t') else { continue };
            let Some(category) = Category::parse(cat.trim()) else { continue };
            let prefix = term.ends_with('*');
            let words = words(&fold(term.trim_end_matches('*')));
            if words.is_empty() {
                continue;
            }
            let t = Term { words, prefix, category };
            if prefix && t.words.len() == 1 {
                lex.prefixes.push(t);
            } else {
                lex.exact.entry(t.words[0].clone()).or_default().push(t);
            }
        }
        lex
    })
}

/// The lexicon's version (stored with each flag).
pub fn version() -> &'static str {
    &lexicon().version
}

/// Lowercase without accents (Latin letters as French and English write them).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            c => out.push(c),
        }
    }
    out
}

/// The words of folded text: runs of letters and digits (`l'hopital` is `l`, `hopital`).
fn words(folded: &str) -> Vec<String> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// The plural and feminine endings French and English add to a word.
const ENDINGS: &[&str] = &["es", "s", "e", "x"];

/// `word` is `term`, or `term` with a plural or feminine ending.
fn inflected(word: &str, term: &str) -> bool {
    word == term || word.strip_prefix(term).is_some_and(|rest| ENDINGS.contains(&rest))
}

/// The word without each such ending it has.
fn bases(word: &str) -> impl Iterator<Item = &str> {
    ENDINGS.iter().filter_map(move |e| word.strip_suffix(e)).filter(|b| !b.is_empty())
}

/// The first special category found in `text`, if any.
pub fn scan(text: &str) -> Option<Category> {
    if has_nir(text) {
        return Some(Category::Nir);
    }
    let w = words(&fold(text));
    let lex = lexicon();
    for i in 0..w.len() {
        let first = std::iter::once(w[i].as_str()).chain(bases(&w[i]));
        for terms in first.filter_map(|b| lex.exact.get(b)) {
            for t in terms {
                let n = t.words.len();
                if i + n <= w.len()
                    && t.words.iter().enumerate().all(|(k, tw)| {
                        if t.prefix && k == n - 1 {
                            w[i + k].starts_with(tw.as_str())
                        } else {
                            inflected(&w[i + k], tw)
                        }
                    })
                {
                    return Some(t.category);
                }
            }
        }
        if let Some(t) = lex.prefixes.iter().find(|t| w[i].starts_with(t.words[0].as_str())) {
            return Some(t.category);
        }
    }
    None
}

/// A NIR: sex (1, 2, 3, 4, 7, 8), year, month (01-12, 20-42, 50-99), department
/// (2 digits, or 2A/2B), commune, order, and a key equal to 97 - (number mod 97).
/// Spaces, dots and hyphens between its groups are allowed.
pub fn has_nir(text: &str) -> bool {
    let compact: Vec<char> =
        text.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}')).map(|c| c.to_ascii_uppercase()).collect();
    let mut i = 0;
    while i < compact.len() {
        if !compact[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < compact.len() && (compact[i].is_ascii_digit() || (i == start + 6 && matches!(compact[i], 'A' | 'B')))
        {
            i += 1;
        }
        let run: String = compact[start..i].iter().collect();
        let bounded = i >= compact.len() || !compact[i].is_alphanumeric();
        if run.len() == 15 && bounded && nir_key_ok(&run) {
            return true;
        }
    }
    false
}

fn nir_key_ok(run: &str) -> bool {
    let b = run.as_bytes();
    if !matches!(b[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let month: u32 = run[3..5].parse().unwrap_or(0);
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || (50..=99).contains(&month)) {
        return false;
    }
    let body = match &run[5..7] {
        "2A" => format!("{}19{}", &run[..5], &run[7..13]),
        "2B" => format!("{}18{}", &run[..5], &run[7..13]),
        _ => run[..13].to_owned(),
    };
    let (Ok(n), Ok(key)) = (body.parse::<u64>(), run[13..15].parse::<u64>()) else { return false };
    key == 97 - (n % 97)
}

/// Refuse mode: a 422 error for `field` when `text` holds special data.
pub fn check(errors: &mut Errors, field: &str, text: &str) {
    if mode() != Mode::Refuse {
        return;
    }
    if let Some(c) = scan(text) {
        errors.push(
            field,
            "sensitive_data",
            format!(
                "this text looks like special-category data ({}): it is not kept in free text (GDPR Art. 9 and 10)",
                c.as_str()
            ),
        );
    }
}

/// Refuse mode: checks every string value of a `custom_fields` object.
pub fn check_custom_fields(errors: &mut Errors, prefix: &str, fields: &serde_json::Map<String, Value>) {
    for (k, v) in fields {
        if let Value::String(s) = v {
            check(errors, &format!("{prefix}.{k}"), s);
        }
    }
}

/// Flag mode: the (field, category) pairs of a resource as the API returns
/// it (custom fields, an interaction's summary, order line names).
pub fn hits(resource_type: &str, doc: &Value) -> Vec<(String, Category)> {
    let mut out = Vec::new();
    let mut one = |field: String, text: &str| {
        if let Some(c) = scan(text) {
            out.push((field, c));
        }
    };
    if let Some(m) = doc.get("custom_fields").and_then(Value::as_object) {
        for (k, v) in m {
            if let Some(s) = v.as_str() {
                one(format!("custom_fields.{k}"), s);
            }
        }
    }
    if resource_type == "interaction"
        && let Some(s) = doc.get("summary").and_then(Value::as_str)
    {
        one("summary".into(), s);
    }
    if let Some(lines) = doc.get("lines").and_then(Value::as_array) {
        for (i, l) in lines.iter().enumerate() {
            if let Some(s) = l.get("name").and_then(Value::as_str) {
                one(format!("lines[{i}].name"), s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nir_needs_its_key_and_its_shape() {
        // 1 85 05 78 006 084, key 97 - (1850578006084 mod 97).
        let n: u64 = 1850578006084;
        let key = 97 - n % 97;
        assert!(has_nir(&format!("NIR 1 85 05 78 006 084 {key:02}")));
        assert!(has_nir(&format!("secu: 185057800608{}{key:02}.", 4)));
        assert!(!has_nir(&format!("1 85 05 78 006 084 {:02}", (key + 1) % 97)), "a wrong key");
        assert!(!has_nir("order 123456789012345"), "not a NIR's shape or key");
        // Corsica: 2A counts as 19.
        let c: u64 = 2_690_319_001_002; // 2 69 03 19 001 002 with 19 for 2A
        let ck = 97 - c % 97;
        assert!(has_nir(&format!("2 69 03 2A 001 002 {ck:02}")));
    }

    #[test]
    fn words_match_whole_and_folded() {
        assert_eq!(scan("Suivi d'une CHIMIOTHÉRAPIE"), Some(Category::Health));
        assert_eq!(scan("please cancel the order"), None);
        assert_eq!(scan("diabétique de type 2"), Some(Category::Health));
        assert_eq!(scan("casier   judiciaire chargé"), Some(Category::Offences));
        assert_eq!(scan("casier de rangement judiciaire"), None, "words in a row only");
        assert_eq!(scan("ils sont homosexuels"), Some(Category::SexLife), "plurals");
        assert_eq!(scan("deux clientes musulmanes"), Some(Category::Religion), "feminine plurals");
        assert_eq!(scan("cancels"), None);
        assert_eq!(scan("des lesbiennes"), Some(Category::SexLife));
        assert!(!version().is_empty());
    }
}
