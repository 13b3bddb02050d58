use super::*;

fn children(labels: &[String]) -> StaticChildren<usize> {
    let mut c = StaticChildren::default();
    for (i, l) in labels.iter().enumerate() {
        *c.get_or_insert_with(l, || 0) = i;
    }
    c.freeze();
    c
}

#[test]
fn probes_stay_short() {
    let labels: Vec<String> = (0..1000).map(|i| format!("resource{i:03}")).collect();
    let c = children(&labels);
    let mask = c.table.len() - 1;
    let longest = labels
        .iter()
        .map(|l| {
            let mut slot = hash(l.as_bytes()) as usize & mask;
            let mut probes = 1;
            while c.table.get(slot).is_some_and(|&(_, i)| {
                c.entries
                    .get(i as usize - 1)
                    .is_some_and(|(k, _)| **k != **l)
            }) {
                slot = (slot + 1) & mask;
                probes += 1;
            }
            probes
        })
        .max();
    assert!(longest.is_some_and(|p| p < 16), "{longest:?}");
}

#[test]
fn scan_and_table_agree() {
    for n in [0, 1, SCAN_MAX, SCAN_MAX + 1, 100, 1000] {
        let labels: Vec<String> = (0..n).map(|i| format!("resource{i:03}")).collect();
        let c = children(&labels);
        assert_eq!(c.table.is_empty(), n <= SCAN_MAX);
        for (i, l) in labels.iter().enumerate() {
            assert_eq!(c.get(l), Some(&i));
        }
        for miss in ["", "resource", "resource0000", "x", "resource1000"] {
            assert_eq!(c.get(miss), None, "{miss}");
        }
    }
}

#[test]
fn insert_is_idempotent_and_unfreezes() {
    let labels: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let mut c = children(&labels);
    *c.get_or_insert_with("3", || 99) += 100;
    assert!(c.table.is_empty(), "a stale table must not be used");
    assert_eq!(c.get("3"), Some(&103));
    c.freeze();
    assert_eq!(c.get("3"), Some(&103));
    assert_eq!(c.values_mut().count(), 10);
}

#[test]
fn same_matches_slice_equality() {
    let words: Vec<Vec<u8>> = (0..=20)
        .flat_map(|n| {
            let base: Vec<u8> = (0..n).map(|i| b'a' + i).collect();
            let mut variants = vec![base.clone()];
            for i in 0..base.len() {
                let mut v = base.clone();
                if let Some(b) = v.get_mut(i) {
                    *b = b'Z';
                }
                variants.push(v);
            }
            variants
        })
        .collect();
    for a in &words {
        for b in &words {
            assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
        }
    }
}

#[test]
fn hash_depends_on_every_byte_and_length() {
    for n in 0..=24u8 {
        let base: Vec<u8> = (0..n).collect();
        for i in 0..base.len() {
            let mut changed = base.clone();
            if let Some(b) = changed.get_mut(i) {
                *b = 0xff;
            }
            assert_ne!(hash(&base), hash(&changed), "{n} {i}");
        }
    }
    assert_ne!(hash(b"abcdefgh1"), hash(b"abcdefgh2"));
    assert_ne!(hash(b"a"), hash(b"a\0"));
    assert_ne!(hash(b""), hash(b"\0"));
}
