//! Ranks: a set of positions 0, 1, 2, ... (each joined once, in order) that answers "how many of
//! them are marked before position i" in O(log n), so a waitlist of any length tells a student
//! their place without counting everyone ahead. A Fenwick tree that grows as positions are
//! appended: node k (1-based) sums the marks of positions k - lowbit(k) .. k - 1.

/// Marks over positions `0..len`, with counts of marks before any position.
#[derive(Debug, Default, Clone)]
pub struct Ranks {
    tree: Vec<u32>,
}

fn lowbit(k: usize) -> usize {
    k & k.wrapping_neg()
}

impl Ranks {
    /// Marks position `i` (growing the tree to reach it).
    pub fn mark(&mut self, i: u64) {
        self.add(i, 1);
    }

    /// Unmarks position `i`, which is marked.
    pub fn unmark(&mut self, i: u64) {
        self.add(i, -1);
    }

    /// How many positions before `i` are marked.
    pub fn before(&self, i: u64) -> u32 {
        let k = usize::try_from(i)
            .unwrap_or(usize::MAX)
            .min(self.tree.len());
        self.prefix(k)
    }

    fn add(&mut self, i: u64, delta: i32) {
        let Ok(i) = usize::try_from(i) else { return };
        self.grow_to(i + 1);
        let mut k = i + 1;
        while k <= self.tree.len() {
            self.tree[k - 1] = self.tree[k - 1].wrapping_add_signed(delta);
            k += lowbit(k);
        }
    }

    /// Appends nodes up to `len`; each new node starts with the marks already in its range.
    fn grow_to(&mut self, len: usize) {
        while self.tree.len() < len {
            let k = self.tree.len() + 1;
            let sum = self.prefix(k - 1) - self.prefix(k - lowbit(k));
            self.tree.push(sum);
        }
    }

    /// Marks of positions `0..k`.
    fn prefix(&self, mut k: usize) -> u32 {
        let mut sum = 0u32;
        while k > 0 {
            sum = sum.wrapping_add(self.tree[k - 1]);
            k -= lowbit(k);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn counts_the_marks_before_each_position_as_a_scan_would() {
        let mut ranks = Ranks::default();
        let mut marked = BTreeSet::new();
        // A deterministic mix: appends, marks far ahead, unmarks from the front and the middle.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = 0u64;
        for step in 0..20_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 5 {
                0..=2 => {
                    next += 1 + state % 3;
                    ranks.mark(next);
                    marked.insert(next);
                }
                _ => {
                    let pick = if state.is_multiple_of(2) {
                        marked.first().copied()
                    } else {
                        marked
                            .iter()
                            .nth((state as usize / 7) % marked.len().max(1))
                            .copied()
                    };
                    if let Some(i) = pick {
                        ranks.unmark(i);
                        marked.remove(&i);
                    }
                }
            }
            if step.is_multiple_of(97) {
                for probe in [0, next / 3, next / 2, next, next + 1, next + 1000, u64::MAX] {
                    let scan = marked.range(..probe).count() as u32;
                    assert_eq!(ranks.before(probe), scan, "before {probe} at step {step}");
                }
            }
        }
    }

    #[test]
    fn an_empty_tree_has_no_marks() {
        let ranks = Ranks::default();
        assert_eq!(ranks.before(0), 0);
        assert_eq!(ranks.before(1_000_000), 0);
    }
}
