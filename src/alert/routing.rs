//! Who hears about a watch's episode: the watch's own receiver list, or else every receiver
//! that takes all watches or names this one; then each receiver's minimum severity.

use crate::config::{ReceiverSpec, WatchSpec};
use crate::model::Severity;

/// Receivers in config order, with each watch's explicit list.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    receivers: Vec<ReceiverSpec>,
    /// Watch name → its `receivers = [...]`, where given.
    explicit: Vec<(String, Vec<String>)>,
}

impl Routes {
    pub fn new(receivers: &[ReceiverSpec], watches: &[WatchSpec]) -> Routes {
        Routes {
            receivers: receivers.to_vec(),
            explicit: watches
                .iter()
                .filter(|w| !w.receivers.is_empty())
                .map(|w| (w.name.clone(), w.receivers.clone()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&ReceiverSpec> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// The receivers of a first notification (or an update) at `severity`.
    pub fn targets(&self, watch: &str, severity: Severity) -> Vec<&ReceiverSpec> {
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
    use crate::config::ReceiverKind;

    fn receiver(name: &str, min: Severity, watches: &[&str], escalation_only: bool) -> ReceiverSpec {
        ReceiverSpec {
            name: name.into(),
            kind: ReceiverKind::Email { to: vec!["a@example.org".into()] },
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
        let mut shop = WatchSpec::new("Shop", &["shop"]);
        shop.receivers = vec!["team".into(), "manager".into()];
        let routes = Routes::new(&receivers, &[WatchSpec::new("Kroon Bank", &["kroon"]), shop]);
        let names = |w: &str, s: Severity| routes.targets(w, s).iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names("Kroon Bank", Severity::Warning), ["team", "bank-only"]);
        assert_eq!(names("Kroon Bank", Severity::Critical), ["team", "board", "bank-only"]);
        assert_eq!(names("Shop", Severity::Critical), ["team", "manager"], "a watch's own list wins");
        assert_eq!(names("Other", Severity::Warning), ["team"]);
    }
}
