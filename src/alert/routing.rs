//! Who hears about a watch's episode: the watch's own receiver list, or else every receiver
//! that takes all watches or names this one; then each receiver's minimum severity.

use std::time::Duration;

use super::policy::QuietHours;
use crate::model::Severity;

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
