//! Deterministic assignment: sort the units of work (each connector instance, then each
//! committed task), deal them round-robin over the sorted live workers. Every worker computes
//! the same answer from the same config topic and member list, so reassignment after a
//! worker dies needs nothing but the group coordinator noticing it.

use std::collections::BTreeMap;

use connect_api::ConfigMap;

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    Connector(String),
    Task(String, u32),
}

/// Units assigned to `worker`.
pub fn assign(
    members: &[String],
    worker: &str,
    connectors: &BTreeMap<String, ConfigMap>,
    tasks: &BTreeMap<String, Vec<ConfigMap>>,
) -> Vec<Unit> {
    if members.is_empty() {
        return Vec::new();
    }
    let mut units: Vec<Unit> = connectors
        .keys()
        .map(|name| Unit::Connector(name.clone()))
        .collect();
    // Tasks are dealt after all connectors, so the tasks of one connector spread over
    // the workers instead of following its connector instance.
    for (name, configs) in tasks {
        if connectors.contains_key(name) {
            units.extend(
                (0..configs.len())
                    .map(|i| Unit::Task(name.clone(), u32::try_from(i).unwrap_or(u32::MAX))),
            );
        }
    }
    units
        .into_iter()
        .enumerate()
        .filter(|(i, _)| members[i % members.len()] == worker)
        .map(|(_, unit)| unit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_goes_to_exactly_one_worker() {
        let connectors: BTreeMap<String, ConfigMap> = [
            ("a".to_owned(), ConfigMap::new()),
            ("b".to_owned(), ConfigMap::new()),
        ]
        .into();
        let tasks: BTreeMap<String, Vec<ConfigMap>> =
            [("a".to_owned(), vec![ConfigMap::new(); 3])].into();
        let members = vec!["w1".to_owned(), "w2".to_owned()];
        let one = assign(&members, "w1", &connectors, &tasks);
        let two = assign(&members, "w2", &connectors, &tasks);
        assert_eq!(one.len() + two.len(), 5);
        assert!(one.iter().all(|u| !two.contains(u)));
        let alone = assign(&members[..1], "w1", &connectors, &tasks);
        assert_eq!(alone.len(), 5);
        assert!(assign(&members, "w3", &connectors, &tasks).is_empty());
    }
}
