//! A broken rule, named by the property (or setting) it concerns: the unit every
//! refusal is reported in, so a template author or an operator fixes all of them at once.

use std::fmt;

/// One broken rule in the resource properties: which property, which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: String,
    pub rule: String,
}

impl Violation {
    pub fn new(property: impl Into<String>, rule: impl Into<String>) -> Self {
        Violation {
            property: property.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.rule)
    }
}

/// All violations found in one event, reported together so a template author fixes
/// everything in one deployment instead of one per hour-long rollback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}
