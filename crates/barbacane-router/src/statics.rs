//! Static children of a trie node, found by exact segment text.
//!
//! Binary search over sorted labels costs a `memcmp` call per step, and labels of one API
//! tend to share long prefixes (`resource001`, `resource002`, ...), which made it the
//! largest cost of a lookup. A node with a few children scans them comparing lengths first;
//! a node with many uses an open-addressing hash table built once by
//! [`StaticChildren::freeze`]. Request input only probes the table, it never inserts, so
//! hostile segments cannot lengthen probe sequences.

/// Up to this many children, a scan beats hashing the segment.
const SCAN_MAX: usize = 4;

/// Children keyed by decoded segment text.
#[derive(Debug)]
pub(crate) struct StaticChildren<N> {
    entries: Vec<(Box<str>, N)>,
    /// Slots of `(tag, index + 1)`, 0 meaning empty; empty while scanning is used.
    table: Box<[(u32, u32)]>,
}

impl<N> Default for StaticChildren<N> {
    fn default() -> Self {
        StaticChildren {
            entries: Vec::new(),
            table: Box::default(),
        }
    }
}

impl<N> StaticChildren<N> {
    /// The child for `label`, created by `make` if missing. Invalidates the hash table until
    /// the next [`StaticChildren::freeze`].
    pub(crate) fn get_or_insert_with(&mut self, label: &str, make: impl FnOnce() -> N) -> &mut N {
        self.table = Box::default();
        // Sorted only so that building a router with many siblings is not quadratic.
        let i = match self.entries.binary_search_by(|(l, _)| (**l).cmp(label)) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (label.into(), make()));
                i
            }
        };
        // `i` is in bounds: found by the search or just inserted there.
        &mut self.entries[i].1
    }

    /// Children, in label order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut N> {
        self.entries.iter_mut().map(|(_, n)| n)
    }

    /// Builds the hash table when there are enough children for it to pay off.
    pub(crate) fn freeze(&mut self) {
        if self.entries.len() <= SCAN_MAX {
            self.table = Box::default();
            return;
        }
        let size = (self.entries.len() * 2).next_power_of_two();
        let mut table = vec![(0u32, 0u32); size].into_boxed_slice();
        let mask = size - 1;
        for (index, (label, _)) in self.entries.iter().enumerate() {
            let Ok(stored) = u32::try_from(index + 1) else {
                // Over 4 billion children: leave the rest to the scan fallback below.
                self.table = Box::default();
                return;
            };
            let hash = hash(label.as_bytes());
            let mut slot = hash as usize & mask;
            while let Some(entry) = table.get_mut(slot) {
                if entry.1 == 0 {
                    *entry = (tag(hash), stored);
                    break;
                }
                slot = (slot + 1) & mask;
            }
        }
        self.table = table;
    }

    /// The child whose label is exactly `segment`.
    #[inline]
    pub(crate) fn get(&self, segment: &str) -> Option<&N> {
        if self.table.is_empty() {
            return self
                .entries
                .iter()
                .find(|(label, _)| label.len() == segment.len() && **label == *segment)
                .map(|(_, n)| n);
        }
        let hash = hash(segment.as_bytes());
        let mask = self.table.len() - 1;
        let mut slot = hash as usize & mask;
        // The table is at most half full, so an empty slot ends every probe sequence; the
        // bound only guards against a table that is somehow full.
        for _ in 0..self.table.len() {
            let &(t, stored) = self.table.get(slot)?;
            if stored == 0 {
                return None;
            }
            if t == tag(hash) {
                let (label, node) = self.entries.get(stored as usize - 1)?;
                if **label == *segment {
                    return Some(node);
                }
            }
            slot = (slot + 1) & mask;
        }
        None
    }
}

/// Bits of the hash kept next to the index, so most probes that miss skip the string
/// comparison.
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A fast multiplicative hash over 8-byte words. Not DoS-resistant, and need not be: only
/// labels from the spec are ever inserted.
#[inline]
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        h = (h.rotate_left(23) ^ word).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    for (dst, src) in last.iter_mut().zip(chunks.remainder()) {
        *dst = *src;
    }
    h = (h.rotate_left(23) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
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
    fn hash_depends_on_every_byte_and_length() {
        assert_ne!(hash(b"abcdefgh1"), hash(b"abcdefgh2"));
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
