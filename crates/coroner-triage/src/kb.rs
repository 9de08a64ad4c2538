//! The knowledge base: known crashes, one TOML rule a file, each with conditions on
//! a report (class, functions in the trace, module, message, kernel release range)
//! and what to tell the user (diagnosis, workaround, references). The repository's
//! `kb/` directory is built into the binary; users add directories of their own.

use crate::class::Class;
use crate::report::{KbMatch, Report};
use regex::Regex;
use serde::Deserialize;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// The rules of the repository's `kb/` directory, as (file name, contents).
const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_kb.rs"));

/// Why rules could not be loaded; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    summary: String,
    diagnosis: String,
    workaround: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(rename = "match")]
    conditions: ConditionsFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionsFile {
    #[serde(default)]
    class: Vec<String>,
    #[serde(default)]
    functions: Vec<String>,
    module: Option<String>,
    message: Option<String>,
    release: Option<ReleaseRange>,
}

/// Kernel releases `from` (inclusive) up to `before` (exclusive), either open.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ReleaseRange {
    from: Option<String>,
    before: Option<String>,
}

/// One known crash.
pub struct Rule {
    pub id: String,
    /// Where the rule was read from.
    pub source: String,
    summary: String,
    diagnosis: String,
    workaround: Option<String>,
    references: Vec<String>,
    classes: Vec<Class>,
    functions: Vec<String>,
    module: Option<String>,
    message: Option<Regex>,
    release: Option<ReleaseRange>,
}

#[derive(Default)]
pub struct KnowledgeBase {
    rules: Vec<Rule>,
}

impl KnowledgeBase {
    /// The rules shipped in the repository's `kb/`.
    pub fn builtin() -> Result<KnowledgeBase, KbError> {
        let mut kb = KnowledgeBase::default();
        for (name, text) in BUILTIN {
            kb.add(parse(&format!("kb/{name}"), text)?)?;
        }
        Ok(kb)
    }

    /// Adds every `*.toml` file of `dir` (sorted by name).
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), KbError> {
        let io = |path: &Path, source| KbError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            self.add(parse(&path.display().to_string(), &text)?)?;
        }
        Ok(())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn add(&mut self, rule: Rule) -> Result<(), KbError> {
        if let Some(earlier) = self.rules.iter().find(|r| r.id == rule.id) {
            return Err(KbError::Invalid {
                path: rule.source.clone(),
                message: format!(
                    "rule id {:?} is already defined in {}",
                    rule.id, earlier.source
                ),
            });
        }
        self.rules.push(rule);
        Ok(())
    }

    /// The rules whose every condition holds for `report`.
    pub fn matches(&self, report: &Report) -> Vec<KbMatch> {
        self.rules
            .iter()
            .filter(|rule| rule.applies(report))
            .map(|rule| KbMatch {
                id: rule.id.clone(),
                summary: rule.summary.clone(),
                diagnosis: rule.diagnosis.clone(),
                workaround: rule.workaround.clone(),
                references: rule.references.clone(),
            })
            .collect()
    }
}

/// Parses one rule file; `path` names it in errors.
pub fn parse(path: &str, text: &str) -> Result<Rule, KbError> {
    let invalid = |message: String| KbError::Invalid {
        path: path.to_string(),
        message,
    };
    let file: RuleFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let c = file.conditions;
    let classes = c
        .class
        .iter()
        .map(|name| {
            Class::from_name(name).ok_or_else(|| invalid(format!("unknown class {name:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let message = c
        .message
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| invalid(format!("match.message: {e}")))?;
    if classes.is_empty()
        && c.functions.is_empty()
        && c.module.is_none()
        && message.is_none()
        && c.release.is_none()
    {
        return Err(invalid(
            "[match] has no condition: the rule would match every crash".into(),
        ));
    }
    if file.id.trim().is_empty() || file.diagnosis.trim().is_empty() {
        return Err(invalid("id and diagnosis must not be empty".into()));
    }
    Ok(Rule {
        id: file.id,
        source: path.to_string(),
        summary: file.summary,
        diagnosis: file.diagnosis,
        workaround: file.workaround,
        references: file.references,
        classes,
        functions: c.functions,
        module: c.module,
        message,
        release: c.release,
    })
}

impl Rule {
    fn applies(&self, report: &Report) -> bool {
        let class_ok =
            self.classes.is_empty() || report.class.is_some_and(|c| self.classes.contains(&c));
        let functions_ok = self.functions.iter().all(|f| {
            report.guilty.as_deref() == Some(f)
                || report.frames.iter().any(|frame| frame == f)
                || report.rip.as_ref().is_some_and(|r| &r.function == f)
        });
        let module_ok = self.module.as_ref().is_none_or(|m| {
            report.module.as_ref() == Some(m)
                || report.rip.as_ref().and_then(|r| r.module.as_ref()) == Some(m)
                || report.trace.iter().any(|f| f.module.as_ref() == Some(m))
        });
        let message_ok = self.message.as_ref().is_none_or(|re| {
            [&report.title, &report.message, &report.panic]
                .into_iter()
                .flatten()
                .any(|text| re.is_match(text))
        });
        let release_ok = self.release.as_ref().is_none_or(|range| {
            report.release.as_deref().is_some_and(|release| {
                range
                    .from
                    .as_deref()
                    .is_none_or(|from| compare_releases(release, from) != Ordering::Less)
                    && range
                        .before
                        .as_deref()
                        .is_none_or(|before| compare_releases(release, before) == Ordering::Less)
            })
        });
        class_ok && functions_ok && module_ok && message_ok && release_ok
    }
}

/// Orders kernel releases as package managers do: runs of digits compare as
/// numbers, other runs as text, separators split runs (`3.10.0-693.el7` is before
/// `3.10.0-1062`).
pub fn compare_releases(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    for (x, y) in ta.iter().zip(tb.iter()) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    ta.len().cmp(&tb.len())
}

fn tokens(release: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut digits = false;
    for (i, c) in release.char_indices() {
        let alnum = c.is_ascii_alphanumeric();
        match start {
            Some(s) if !alnum || c.is_ascii_digit() != digits => {
                out.push(&release[s..i]);
                start = alnum.then_some(i);
            }
            None if alnum => start = Some(i),
            _ => {}
        }
        digits = c.is_ascii_digit();
    }
    if let Some(s) = start {
        out.push(&release[s..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_order() {
        use Ordering::*;
        assert_eq!(
            compare_releases("3.10.0-693.el7.x86_64", "3.10.0-1062"),
            Less
        );
        assert_eq!(compare_releases("3.10.0-1160.el7", "3.10.0-1062"), Greater);
        assert_eq!(compare_releases("6.1.0", "6.1.0"), Equal);
        assert_eq!(compare_releases("6.1.0", "6.1"), Greater);
        assert_eq!(compare_releases("4.18.0-80", "3.10.0-1160"), Greater);
        assert_eq!(tokens("3.10.0-693.el7"), ["3", "10", "0", "693", "el", "7"]);
    }

    #[test]
    fn builtin_rules_load() {
        let kb = KnowledgeBase::builtin().unwrap();
        assert!(kb.rules().len() >= 7);
    }

    #[test]
    fn bad_rules_name_their_file() {
        let cases = [
            ("id = 1", "invalid type"),
            ("id = \"a\"\nsummary = \"s\"\ndiagnosis = \"d\"\n[match]\n", "no condition"),
            ("id = \"a\"\nsummary = \"s\"\ndiagnosis = \"d\"\n[match]\nclass = [\"nope\"]\n", "unknown class"),
            ("id = \"a\"\nsummary = \"s\"\ndiagnosis = \"d\"\n[match]\nmessage = \"(\"\n", "match.message"),
            ("id = \"a\"\nsummary = \"s\"\ndiagnosis = \"d\"\ntypo = 1\n[match]\nclass = [\"bug\"]\n", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = parse("my/rule.toml", text).err().unwrap().to_string();
            assert!(err.starts_with("my/rule.toml: "), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}
