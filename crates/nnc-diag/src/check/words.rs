//! Small pieces of wording shared by the families of check facts.

use crate::Diagnostic;

pub(super) fn act_phrase(act: Option<&str>) -> String {
    match act {
        Some(a) => format!("uses `{a}`"),
        None => "has no activation".to_string(),
    }
}

pub(super) fn with_did_you_mean(d: Diagnostic, did_you_mean: &[String]) -> Diagnostic {
    match did_you_mean {
        [] => d,
        [one] => d.with_hint(format!("did you mean `{one}`?")),
        many => d.with_hint(format!("did you mean one of {}?", tick_list(many))),
    }
}

pub(super) fn takes_note(callee: &str, takes: &[String]) -> String {
    if takes.is_empty() {
        format!("`{callee}` takes no arguments")
    } else {
        format!("`{callee}` takes {}", tick_list(takes))
    }
}

/// `a`, `b` and `c`
pub(super) fn tick_list(names: &[String]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match ticked.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub(super) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Floats as users write them: `1.0`, `0.5`, `1e-8`.
pub(super) fn float_str(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}
