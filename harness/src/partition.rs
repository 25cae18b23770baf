//! Sharding a run across CI runners, as cargo-nextest does: `--partition
//! count:K/N` (or `K/N`) takes every Nth scenario by name starting at the
//! Kth; `--partition hash:K/N` takes the scenarios whose name hashes to
//! shard K (FNV-1a, stable across runs, machines and versions: adding a
//! scenario moves no other). The shards of one N together run every
//! scenario exactly once; `harness merge-reports` joins their reports.

use std::fmt;
use std::hash::Hasher;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Count { shard: u32, total: u32 },
    Hash { shard: u32, total: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--partition `{0}`: expected K/N, count:K/N or hash:K/N with 1 <= K <= N (e.g. 1/2)")]
pub struct PartitionError(String);

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || PartitionError(text.to_string());
        let (kind, numbers) = match text.split_once(':') {
            Some((kind, numbers)) => (kind, numbers),
            None => ("count", text),
        };
        let (shard, total) = numbers.split_once('/').ok_or_else(bad)?;
        let (shard, total): (u32, u32) = (shard.trim().parse().map_err(|_| bad())?, total.trim().parse().map_err(|_| bad())?);
        if shard == 0 || shard > total {
            return Err(bad());
        }
        match kind {
            "count" => Ok(Partition::Count { shard, total }),
            "hash" => Ok(Partition::Hash { shard, total }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::Count { shard, total } => write!(f, "count:{shard}/{total}"),
            Partition::Hash { shard, total } => write!(f, "hash:{shard}/{total}"),
        }
    }
}

impl Partition {
    /// This shard's share of `names`, in their order by name.
    pub fn select<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut sorted: Vec<&str> = names.into_iter().collect();
        sorted.sort_unstable();
        sorted.into_iter().enumerate().filter(|(index, name)| self.takes(*index, name)).map(|(_, name)| name).collect()
    }

    fn takes(&self, index: usize, name: &str) -> bool {
        match *self {
            Partition::Count { shard, total } => index % total as usize == (shard - 1) as usize,
            Partition::Hash { shard, total } => {
                let mut hasher = fnv::FnvHasher::default();
                hasher.write(name.as_bytes());
                hasher.finish() % u64::from(total) == u64::from(shard - 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const NAMES: [&str; 7] = ["blog_demo", "duration_limits", "external_id", "github_oidc", "problem_demo", "session_policy", "session_tags"];

    #[test]
    fn the_shards_of_one_total_run_every_scenario_exactly_once() {
        for kind in ["count", "hash"] {
            for total in 1..=4 {
                let mut seen: Vec<&str> = Vec::new();
                for shard in 1..=total {
                    let partition: Partition = format!("{kind}:{shard}/{total}").parse().unwrap();
                    seen.extend(partition.select(NAMES));
                }
                seen.sort_unstable();
                assert_eq!(seen, NAMES, "{kind} {total}");
            }
        }
    }

    #[test]
    fn a_shard_is_the_same_whatever_order_the_names_come_in() {
        let partition: Partition = "hash:2/3".parse().unwrap();
        let mut reversed = NAMES;
        reversed.reverse();
        assert_eq!(partition.select(NAMES), partition.select(reversed));
        // A new scenario moves no other under hash.
        let before: BTreeSet<&str> = partition.select(NAMES).into_iter().collect();
        let after: BTreeSet<&str> = partition.select(NAMES.iter().copied().chain(["zz_new"])).into_iter().filter(|n| *n != "zz_new").collect();
        assert_eq!(before, after);
    }

    #[test]
    fn bad_partitions_say_what_is_expected() {
        for bad in ["0/2", "3/2", "1-2", "x/2", "slice:1/2", "1/0"] {
            let err = bad.parse::<Partition>().unwrap_err().to_string();
            assert!(err.contains("expected K/N, count:K/N or hash:K/N"), "{bad}: {err}");
        }
        assert_eq!("1/2".parse::<Partition>().unwrap(), Partition::Count { shard: 1, total: 2 });
        assert_eq!("hash:2/2".parse::<Partition>().unwrap().to_string(), "hash:2/2");
    }
}
