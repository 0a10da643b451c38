//! Who hears about a watch's episode: the watch's own receiver list, or else every receiver
//! that takes all watches or names this one; then each receiver's minimum severity.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::QuietHours;
use crate::model::Severity;

/// How a receiver hears about a watch's signals: one thread per storm, or one per signal kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Every signal of a watch that overlaps or follows within `resolve_after`: an incident.
    #[default]
    Watch,
    /// Each signal kind of a watch on its own (before incidents, the only way).
    Signal,
}

impl GroupBy {
    /// What an episode saved before incidents existed was.
    pub(crate) fn by_signal() -> GroupBy {
        GroupBy::Signal
    }

    pub(crate) fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "watch" => Some(GroupBy::Watch),
            "signal" => Some(GroupBy::Signal),
            _ => None,
        }
    }
}

/// A receiver as the alert policy sees it: which watches and severities it hears about, when
/// its notices are held, and where it escalates. How it is reached is notify's business
/// (`notify::ReceiverKind`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverPolicy {
    pub name: String,
    pub min_severity: Severity,
    /// Only these watches (empty: every watch that does not list its own receivers).
    pub watches: Vec<String>,
    /// Gets only escalations and fallbacks, never first notifications.
    pub escalation_only: bool,
    /// Notifications per hour beyond which the rest is held and summarized.
    pub max_per_hour: u32,
    pub quiet_hours: Option<QuietHours>,
    /// A critical episode not acknowledged this long after this receiver got it goes to
    /// `escalate_to`.
    pub escalate_after: Option<Duration>,
    pub escalate_to: Vec<String>,
    /// One thread per storm (`watch`) or per signal kind (`signal`).
    pub group_by: GroupBy,
}

/// Receivers in config order, with each watch's explicit list.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    receivers: Vec<ReceiverPolicy>,
    /// Watch name → its `receivers = [...]`, where given.
    explicit: Vec<(String, Vec<String>)>,
}

impl Routes {
    /// `explicit`: each watch that names its own receivers, with them.
    pub(crate) fn new(receivers: Vec<ReceiverPolicy>, explicit: Vec<(String, Vec<String>)>) -> Routes {
        Routes { receivers, explicit }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&ReceiverPolicy> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// The groupings some receiver uses.
    pub(crate) fn groupings(&self) -> Vec<GroupBy> {
        let mut g: Vec<GroupBy> = self.receivers.iter().map(|r| r.group_by).collect();
        g.sort();
        g.dedup();
        g
    }

    /// The receivers of a first notification (or an update) at `severity`.
    pub(crate) fn targets(&self, watch: &str, severity: Severity) -> Vec<&ReceiverPolicy> {
        let explicit = self.explicit.iter().find(|(w, _)| w == watch).map(|(_, r)| r);
        self.receivers
            .iter()
            .filter(|r| match explicit {
                Some(names) => names.contains(&r.name),
                None => !r.escalation_only && (r.watches.is_empty() || r.watches.iter().any(|w| w == watch)),
            })
            .filter(|r| severity >= r.min_severity)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(name: &str, min: Severity, watches: &[&str], escalation_only: bool) -> ReceiverPolicy {
        ReceiverPolicy {
            name: name.into(),
            min_severity: min,
            watches: watches.iter().map(|w| w.to_string()).collect(),
            escalation_only,
            max_per_hour: 30,
            quiet_hours: None,
            escalate_after: None,
            escalate_to: Vec::new(),
            group_by: GroupBy::Watch,
        }
    }

    #[test]
    fn routing_by_watch_and_severity() {
        let receivers = [
            receiver("team", Severity::Warning, &[], false),
            receiver("board", Severity::Critical, &[], false),
            receiver("bank-only", Severity::Warning, &["Kroon Bank"], false),
            receiver("manager", Severity::Warning, &[], true),
        ];
        let shop = ("Shop".to_string(), vec!["team".to_string(), "manager".to_string()]);
        let routes = Routes::new(receivers.to_vec(), vec![shop]);
        let names = |w: &str, s: Severity| routes.targets(w, s).iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names("Kroon Bank", Severity::Warning), ["team", "bank-only"]);
        assert_eq!(names("Kroon Bank", Severity::Critical), ["team", "board", "bank-only"]);
        assert_eq!(names("Shop", Severity::Critical), ["team", "manager"], "a watch's own list wins");
        assert_eq!(names("Other", Severity::Warning), ["team"]);
    }
}
