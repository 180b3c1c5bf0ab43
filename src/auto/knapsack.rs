//! The multiple-choice knapsack: one option per tensor, total bytes within a budget, the
//! least total damage. Solved exactly by dynamic programming over Pareto-pruned partial
//! sums (tensor by tensor, every (bytes, damage) pair that no other pair beats on both);
//! the last stage is the whole Pareto front, so every budget is answered by a lookup.
//!
//! Written here rather than taken from an ILP crate: the DP is a few dozen lines, exact,
//! gives the whole front in one pass (an ILP solves one budget at a time), and adds
//! nothing to the wasm build.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One option of one tensor: its packed size and its isolated damage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub bytes: u64,
    pub damage: f64,
}

/// A point of the front: total bytes, total (estimated) damage, and the option index
/// each tensor takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub bytes: u64,
    pub damage: f64,
    pub choice: Vec<u16>,
}

/// Partial sums kept per stage: at most this many (a guard on memory: the fronts of the
/// models in docs/AUTO.md stay far below it; past it the search says so rather than
/// approximating silently).
pub const MAX_STATES: usize = 2_000_000;

#[derive(Clone, Copy)]
struct State {
    bytes: u64,
    damage: f64,
    parent: u32,
    option: u16,
}

/// The Pareto front of `items` (one list of options per tensor): points by bytes
/// ascending, each with strictly less damage than every smaller one. Among options equal
/// in both bytes and damage the first (lowest tensor-by-tensor option index) is kept.
pub fn front(items: &[Vec<Item>]) -> Result<Vec<Point>> {
    for (i, opts) in items.iter().enumerate() {
        if opts.is_empty() {
            return Err(Error::Auto(format!("tensor #{i} has no option")));
        }
        if opts.len() > u16::MAX as usize {
            return Err(Error::Auto(format!("tensor #{i} has too many options")));
        }
        if let Some(o) = opts.iter().find(|o| !o.damage.is_finite()) {
            return Err(Error::Auto(format!(
                "tensor #{i}: an option's damage is {} (a measurement gave NaN or infinity)",
                o.damage
            )));
        }
    }
    let mut stages: Vec<Vec<State>> = Vec::with_capacity(items.len());
    let mut prev = vec![State {
        bytes: 0,
        damage: 0.0,
        parent: 0,
        option: 0,
    }];
    for opts in items {
        let mut next = Vec::with_capacity(prev.len() * opts.len());
        for (p, s) in prev.iter().enumerate() {
            for (j, o) in opts.iter().enumerate() {
                next.push(State {
                    bytes: s.bytes + o.bytes,
                    damage: s.damage + o.damage,
                    parent: p as u32,
                    option: j as u16,
                });
            }
        }
        next.sort_by(|a, b| {
            a.bytes
                .cmp(&b.bytes)
                .then(a.damage.total_cmp(&b.damage))
                .then(a.parent.cmp(&b.parent))
                .then(a.option.cmp(&b.option))
        });
        let mut kept = Vec::new();
        let mut best = f64::INFINITY;
        for s in next {
            if s.damage < best {
                best = s.damage;
                kept.push(s);
            }
        }
        if kept.len() > MAX_STATES {
            return Err(Error::Auto(format!(
                "the front grew past {MAX_STATES} partial mixes; search fewer candidates or tensors"
            )));
        }
        stages.push(std::mem::replace(&mut prev, kept));
    }
    // stages[0] is the empty start; stages[k] (k >= 1) holds the states after tensor k-1.
    stages.push(prev);
    let n = items.len();
    let last = &stages[n];
    let mut out = Vec::with_capacity(last.len());
    for s in last {
        let mut choice = vec![0u16; n];
        let mut cur = *s;
        for k in (0..n).rev() {
            choice[k] = cur.option;
            cur = stages[k][cur.parent as usize];
        }
        out.push(Point {
            bytes: s.bytes,
            damage: s.damage,
            choice,
        });
    }
    Ok(out)
}

/// The front's best point within `budget` bytes: the least damage, and among equals the
/// fewest bytes. None when even the smallest mix is larger.
pub fn choose(front: &[Point], budget: u64) -> Option<&Point> {
    // Damage falls strictly along the front, so the last point that fits is the best.
    let n = front.partition_point(|p| p.bytes <= budget);
    n.checked_sub(1).map(|i| &front[i])
}

/// Every combination, for the tests: the least damage within `budget`, ties to the fewest
/// bytes. Sums in the same order as [`front`] (tensor 0 first) so equal sums compare equal.
pub fn exhaustive(items: &[Vec<Item>], budget: u64) -> Option<(u64, f64, Vec<u16>)> {
    let n = items.len();
    let mut idx = vec![0usize; n];
    let mut best: Option<(u64, f64, Vec<u16>)> = None;
    loop {
        let (mut b, mut d) = (0u64, 0f64);
        for (k, &j) in idx.iter().enumerate() {
            b += items[k][j].bytes;
            d += items[k][j].damage;
        }
        if b <= budget {
            let better = match &best {
                None => true,
                Some((bb, bd, _)) => d < *bd || (d == *bd && b < *bb),
            };
            if better {
                best = Some((b, d, idx.iter().map(|&j| j as u16).collect()));
            }
        }
        // Next combination (odometer).
        let mut k = 0;
        loop {
            if k == n {
                return best;
            }
            idx[k] += 1;
            if idx[k] < items[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small seeded generator (the tests need no statistical quality).
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    fn random_items(seed: u64, tensors: usize, options: usize, coarse: bool) -> Vec<Vec<Item>> {
        let mut s = seed;
        (0..tensors)
            .map(|_| {
                let k = 1 + (lcg(&mut s) as usize % options);
                (0..k)
                    .map(|_| {
                        // Coarse values make ties in bytes, damage and both.
                        let (b, d) = if coarse {
                            (lcg(&mut s) % 4 * 8, (lcg(&mut s) % 3) as f64 * 0.5)
                        } else {
                            (lcg(&mut s) % 1000, (lcg(&mut s) % 10_000) as f64 / 997.0)
                        };
                        Item {
                            bytes: b,
                            damage: d,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn equals_exhaustive_search_including_ties_and_infeasible_budgets() {
        let mut checked = 0;
        for seed in 0..300u64 {
            let coarse = seed % 2 == 0;
            let items = random_items(seed, 1 + (seed as usize % 5), 4, coarse);
            let f = front(&items).unwrap();
            // The front is sorted and strictly improving.
            for w in f.windows(2) {
                assert!(w[0].bytes < w[1].bytes && w[0].damage > w[1].damage);
            }
            let min_bytes: u64 = items
                .iter()
                .map(|o| o.iter().map(|i| i.bytes).min().unwrap())
                .sum();
            let max_bytes: u64 = items
                .iter()
                .map(|o| o.iter().map(|i| i.bytes).max().unwrap())
                .sum();
            let mut budgets = vec![0, min_bytes.saturating_sub(1), min_bytes, max_bytes];
            for p in &f {
                budgets.extend([p.bytes.saturating_sub(1), p.bytes, p.bytes + 1]);
            }
            for b in budgets {
                let want = exhaustive(&items, b);
                let got = choose(&f, b);
                match (&want, got) {
                    (None, None) => {}
                    (Some((wb, wd, _)), Some(p)) => {
                        assert_eq!((p.bytes, p.damage), (*wb, *wd), "seed {seed} budget {b}");
                        // The choice is a real combination with those sums.
                        let (mut cb, mut cd) = (0u64, 0f64);
                        for (k, &j) in p.choice.iter().enumerate() {
                            cb += items[k][j as usize].bytes;
                            cd += items[k][j as usize].damage;
                        }
                        assert_eq!((cb, cd), (p.bytes, p.damage));
                    }
                    _ => panic!("seed {seed} budget {b}: dp {got:?} vs exhaustive {want:?}"),
                }
                checked += 1;
            }
        }
        assert!(checked > 3000);
    }

    #[test]
    fn budget_below_the_smallest_mix_has_no_choice() {
        let items = vec![
            vec![
                Item {
                    bytes: 10,
                    damage: 1.0,
                },
                Item {
                    bytes: 40,
                    damage: 0.0,
                },
            ],
            vec![
                Item {
                    bytes: 5,
                    damage: 2.0,
                },
                Item {
                    bytes: 40,
                    damage: 0.0,
                },
            ],
        ];
        let f = front(&items).unwrap();
        assert!(choose(&f, 14).is_none());
        assert_eq!(choose(&f, 15).unwrap().choice, vec![0, 0]);
        assert_eq!(choose(&f, 45).unwrap().choice, vec![1, 0]);
        // 10 + 40 costs 50 and loses 1: better than 40 + 5 (45 bytes, 2).
        assert_eq!(choose(&f, 50).unwrap().choice, vec![0, 1]);
        assert_eq!(choose(&f, 1000).unwrap().choice, vec![1, 1]);
        assert!(exhaustive(&items, 14).is_none());
    }

    #[test]
    fn refuses_empty_options_and_nan() {
        assert!(front(&[vec![]])
            .unwrap_err()
            .to_string()
            .contains("no option"));
        let e = front(&[vec![Item {
            bytes: 1,
            damage: f64::NAN,
        }]])
        .unwrap_err()
        .to_string();
        assert!(e.contains("NaN"), "{e}");
    }
}
