//! `timestamp,value` CSV inputs of `stormwatch replay --counts` through
//! `replay::counts::read`, then the volume detector over what was read (`counts::detect`),
//! as the CLI does.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use stormwatch::detect::Preset;
use stormwatch::replay::counts::{detect, read};

fuzz_target!(|text: &str| {
    for bucket in [None, Some(Duration::from_secs(300))] {
        let Ok((points, report)) = read("fuzz.csv", text, bucket) else { continue };
        assert!(!points.is_empty());
        assert!(points.windows(2).all(|w| w[0].at < w[1].at), "points not strictly in time order");
        assert!(points.iter().all(|p| p.value.is_finite() && p.value >= 0.0), "a count is finite, >= 0");
        let (alerts, traces) = detect(&points, &Preset::Balanced.spec(), report.bucket);
        assert_eq!(traces.len(), points.len());
        assert!(alerts.iter().all(|a| a.point < points.len()));
    }
});
