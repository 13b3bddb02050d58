//! Properties of the diff: no false positives, no false negatives, on generated states.

use barbacane_drift::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn hash() -> impl Strategy<Value = String> {
    // A small alphabet so that generated states often coincide.
    prop::sample::select(vec!["sha256:a", "sha256:b", "sha256:c"]).prop_map(str::to_owned)
}

fn signature() -> impl Strategy<Value = SignatureState> {
    prop_oneof![
        Just(SignatureState::Verified),
        Just(SignatureState::Unsigned),
        Just(SignatureState::Invalid)
    ]
}

fn observed() -> impl Strategy<Value = Observed> {
    prop_oneof![
        (hash(), prop::option::of(hash()), signature()).prop_map(|(a, c, s)| Observed::Serving {
            artifact_hash: a,
            content_hash: c,
            signature: s,
        }),
        Just(Observed::Unreachable),
        Just(Observed::Invalid),
    ]
}

fn desired() -> impl Strategy<Value = Option<Desired>> {
    prop::option::of(
        (hash(), prop::option::of(hash())).prop_map(|(a, c)| Desired {
            artifact_hash: a,
            content_hash: c,
        }),
    )
}

fn known() -> impl Strategy<Value = Known> {
    prop::collection::btree_map(hash(), prop::option::of(hash()), 0..3)
        .prop_map(|artifacts| Known { artifacts })
}

fn kinds(a: &Assessment) -> BTreeSet<FindingKind> {
    a.findings.iter().map(|f| f.kind).collect()
}

proptest! {
    #[test]
    fn a_node_serving_exactly_what_is_desired_and_known_has_no_finding(
        a in hash(), c in hash(), sig in prop_oneof![Just(SignatureState::Verified), Just(SignatureState::Unsigned)]
    ) {
        let desired = Desired { artifact_hash: a.clone(), content_hash: Some(c.clone()) };
        let known = Known { artifacts: [(a.clone(), Some(c.clone()))].into() };
        let seen = Observed::Serving { artifact_hash: a, content_hash: Some(c), signature: sig };
        let out = diff(Some(&desired), &seen, &known, false);
        prop_assert_eq!(out.sync, Sync::Synced);
        prop_assert_eq!(out.health, Health::Healthy);
        prop_assert!(out.findings.is_empty(), "{:?}", out);
    }

    #[test]
    fn hash_mismatch_exactly_when_the_artifact_hashes_differ(
        d in desired(), o in observed(), k in known(), r in any::<bool>()
    ) {
        let out = diff(d.as_ref(), &o, &k, r);
        let differs = matches!((&d, &o), (Some(d), Observed::Serving { artifact_hash, .. }) if d.artifact_hash != *artifact_hash);
        prop_assert_eq!(kinds(&out).contains(&FindingKind::HashMismatch), differs);
    }

    #[test]
    fn content_mismatch_only_with_the_same_artifact_hash_and_different_known_contents(
        d in desired(), o in observed(), k in known(), r in any::<bool>()
    ) {
        let out = diff(d.as_ref(), &o, &k, r);
        let expected = match (&d, &o) {
            (Some(d), Observed::Serving { artifact_hash, content_hash: Some(seen), .. })
                if d.artifact_hash == *artifact_hash =>
            {
                let approved = d.content_hash.clone().or_else(|| k.artifacts.get(artifact_hash).cloned().flatten());
                approved.is_some_and(|a| a != *seen)
            }
            _ => false,
        };
        prop_assert_eq!(kinds(&out).contains(&FindingKind::ContentMismatch), expected);
    }

    #[test]
    fn the_axes_follow_the_observation(d in desired(), o in observed(), k in known(), r in any::<bool>()) {
        let out = diff(d.as_ref(), &o, &k, r);
        match &o {
            Observed::Unreachable => {
                prop_assert_eq!(out.health, Health::Unreachable);
                prop_assert_eq!(out.sync, Sync::Unknown);
                prop_assert!(kinds(&out).contains(&FindingKind::Unreachable));
            }
            Observed::Invalid => {
                prop_assert_eq!(out.health, Health::Degraded);
                prop_assert_eq!(out.sync, Sync::Unknown);
            }
            Observed::Serving { signature, .. } => {
                let degraded = *signature == SignatureState::Invalid;
                prop_assert_eq!(out.health == Health::Degraded, degraded);
                prop_assert_eq!(out.sync == Sync::Synced,
                    !kinds(&out).contains(&FindingKind::HashMismatch)
                        && !kinds(&out).contains(&FindingKind::ContentMismatch)
                        && d.is_some());
            }
        }
        // Deterministic, sorted by severity, one finding per kind.
        prop_assert_eq!(&out, &diff(d.as_ref(), &o, &k, r));
        let listed: Vec<FindingKind> = out.findings.iter().map(|f| f.kind).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(listed, sorted);
        prop_assert_eq!(out.drifted(), !out.findings.is_empty());
    }

    #[test]
    fn transitions_never_open_twice_and_resolve_what_stopped(
        before in prop::collection::btree_set(prop_oneof![
            Just(FindingKind::HashMismatch), Just(FindingKind::Unreachable), Just(FindingKind::ContentMismatch)
        ], 0..3),
        d in desired(), o in observed(), k in known(), r in any::<bool>()
    ) {
        let now = diff(d.as_ref(), &o, &k, r).findings;
        let (opened, resolved) = transitions(&before, &now, &o);
        let usable = matches!(o, Observed::Serving { .. });
        for kind in &opened {
            prop_assert!(!before.contains(kind));
        }
        for kind in &resolved {
            prop_assert!(before.contains(kind) && !now.iter().any(|f| f.kind == *kind));
            // Without a usable observation, only `unreachable` can resolve.
            prop_assert!(usable || *kind == FindingKind::Unreachable);
        }
        let mut after = before.clone();
        after.extend(opened);
        for kind in resolved { after.remove(&kind); }
        let holding = now.iter().map(|f| f.kind).collect::<BTreeSet<_>>();
        if usable {
            // Applying the transitions gives exactly what holds now.
            prop_assert_eq!(after, holding);
        } else {
            // What holds is open; what was open about the content stays open.
            prop_assert!(holding.is_subset(&after));
            prop_assert!(after.difference(&holding).all(|k| *k != FindingKind::Unreachable));
            prop_assert!(before.iter().filter(|k| **k != FindingKind::Unreachable).all(|k| after.contains(k)));
        }
    }
}

#[test]
fn the_resealed_artifact_of_the_issue_is_a_content_mismatch() {
    // Same approved artifact_hash, rewritten config.json: only content_hash tells.
    let desired = Desired {
        artifact_hash: "sha256:approved".into(),
        content_hash: None,
    };
    let known = Known {
        artifacts: [(
            "sha256:approved".to_owned(),
            Some("sha256:built".to_owned()),
        )]
        .into(),
    };
    let seen = Observed::Serving {
        artifact_hash: "sha256:approved".into(),
        content_hash: Some("sha256:resealed".into()),
        signature: SignatureState::Unsigned,
    };
    let out = diff(Some(&desired), &seen, &known, false);
    assert_eq!(out.sync, Sync::OutOfSync);
    assert_eq!(out.findings[0].kind, FindingKind::ContentMismatch);
}
