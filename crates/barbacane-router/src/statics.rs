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
                .find(|(label, _)| same(label.as_bytes(), segment.as_bytes()))
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
                if same(label.as_bytes(), segment.as_bytes()) {
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

/// A fast hash over 8-byte words, each folded in with a full 64×64→128-bit multiply so that
/// every input bit reaches the low bits used as the slot. Not DoS-resistant, and need not
/// be: only labels from the spec are ever inserted.
#[inline]
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let fold = |a: u64, b: u64| {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    };
    let mut h = bytes.len() as u64 ^ 0x243F_6A88_85A3_08D3;
    // Whole words except the last, which `last_word` covers (overlapping if need be).
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_at_checked(8).filter(|(_, t)| !t.is_empty()) {
        h = fold(h ^ load_u64(word), K);
        rest = tail;
    }
    fold(h ^ last_word(bytes), K)
}

/// The last (up to) 8 bytes as a word; shorter inputs are spread so every byte counts.
#[inline]
fn last_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if n >= 8 {
        return bytes.get(n - 8..).map_or(0, load_u64);
    }
    if n >= 4 {
        let head = bytes.get(..4).map_or(0, load_u32);
        let tail = bytes.get(n - 4..).map_or(0, load_u32);
        return head | (tail << 32);
    }
    match bytes {
        [] => 0,
        [a] => u64::from(*a),
        [a, b] => u64::from(*a) | (u64::from(*b) << 8),
        [a, b, c, ..] => u64::from(*a) | (u64::from(*b) << 8) | (u64::from(*c) << 16),
    }
}

/// Equality that avoids a `memcmp` call for the short labels typical of paths.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let head = |s: &[u8]| s.get(..8).map_or(0, load_u64);
        let tail = |s: &[u8]| s.get(n - 8..).map_or(0, load_u64);
        return head(a) == head(b) && tail(a) == tail(b);
    }
    if (4..8).contains(&n) {
        let head = |s: &[u8]| s.get(..4).map_or(0, load_u32);
        let tail = |s: &[u8]| s.get(n - 4..).map_or(0, load_u32);
        return head(a) == head(b) && tail(a) == tail(b);
    }
    if n < 4 {
        // Bytes 0, n/2 and n-1 cover every byte of such short labels.
        let spread = |s: &[u8]| match s {
            [] => 0,
            [x, ..] => {
                let at = |i: usize| u32::from(s.get(i).copied().unwrap_or(0));
                u32::from(*x) | (at(n / 2) << 8) | (at(n - 1) << 16)
            }
        };
        return spread(a) == spread(b);
    }
    a == b
}

#[inline]
fn load_u64(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_le_bytes)
}

#[inline]
fn load_u32(bytes: &[u8]) -> u64 {
    bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
}

#[cfg(test)]
mod tests;
