//! The access of a config as a team reviews it: one line per path
//! (`principal -> role -> ... -> bucket: actions [conditions]`), things
//! named by Terraform address, accounts by the scenario's names, the run's
//! name prefix left out, so a snapshot reads the same from run to run and
//! from emulator to sandbox account. It lives beside its scenario
//! (`scenarios/NAME.access`); a run compares what it finds with it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path as FsPath, PathBuf};

use aho_corasick::{AhoCorasick, MatchKind};

use super::edge::{Condition, Opening};
use super::inventory::{AccountNames, Inventory};
use super::paths::{Path, Start, Target};
use super::walk::{self, Walk};

/// Turns the run's names (ARNs, bucket names, account ids, its prefix) into the snapshot's.
pub struct Namer {
    /// The run's names, the longest winning where several match (an ARN over the account id inside it).
    finder: AhoCorasick,
    names: Vec<String>,
    several_accounts: bool,
    accounts: AccountNames,
}

impl Namer {
    pub fn new(inventory: &Inventory, accounts: &AccountNames, prefix: Option<&str>) -> Self {
        let mut replacements: Vec<(String, String)> = Vec::new();
        for role in &inventory.roles {
            replacements.push((role.arn.clone(), role.address.clone()));
        }
        for user in &inventory.users {
            replacements.push((user.arn.clone(), user.address.clone()));
        }
        for provider in &inventory.providers {
            replacements.push((provider.arn.clone(), provider.address.clone()));
        }
        for bucket in &inventory.buckets {
            replacements.push((bucket.arn.clone(), bucket.address.clone()));
            replacements.push((bucket.name.clone(), bucket.address.clone()));
        }
        for key in &inventory.keys {
            replacements.push((key.arn.clone(), key.address.clone()));
        }
        for (value, name) in inventory.instance_names.iter().filter(|(value, _)| !value.is_empty()) {
            replacements.push((value.clone(), name.clone()));
        }
        let ids = std::iter::once(accounts.default.clone()).chain(accounts.by_alias.values().cloned());
        for id in ids.filter(|id| !id.is_empty()) {
            replacements.push((id.clone(), accounts.name(&id)));
        }
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            replacements.push((prefix.to_string(), "${prefix}".into()));
        }
        replacements.sort();
        replacements.dedup_by(|a, b| a.0 == b.0);
        let (needles, names): (Vec<String>, Vec<String>) = replacements.into_iter().unzip();
        let finder = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&needles).expect("plain strings make a matcher");
        Self { finder, names, several_accounts: !accounts.by_alias.is_empty(), accounts: accounts.clone() }
    }

    /// A text with the run's names replaced, each place once.
    pub fn text(&self, text: &str) -> String {
        self.finder.replace_all(text, &self.names)
    }

    /// A resource's address, with its account's name when the scenario has several.
    fn address(&self, address: &str, account: &str) -> String {
        if self.several_accounts { format!("{}:{address}", self.accounts.name(account)) } else { address.to_string() }
    }

    fn start(&self, start: &Start, inventory: &Inventory) -> String {
        match start {
            Start::Role(i) => self.address(&inventory.roles[*i].address, &inventory.roles[*i].account),
            Start::User(i) => self.address(&inventory.users[*i].address, &inventory.users[*i].account),
            Start::Account(id) => format!("any principal of account {} granted it", self.accounts.name(id)),
            Start::Provider(arn) => match inventory.providers.iter().find(|p| p.arn == *arn) {
                Some(provider) => format!("users of {}", provider.address),
                None => format!("users of {}", self.text(arn)),
            },
            Start::Anonymous => "anonymous".into(),
            Start::FederatedUser { arn, minted_by } => {
                let users: Vec<String> = minted_by.iter().map(|i| self.address(&inventory.users[*i].address, &inventory.users[*i].account)).collect();
                format!("{} as {}", users.join(" or "), self.text(arn.rsplit(':').next().unwrap_or(arn)))
            }
        }
    }

    fn conditions(&self, conditions: &[Condition]) -> String {
        if conditions.is_empty() {
            return String::new();
        }
        let each: Vec<String> = conditions.iter().map(|c| self.text(&c.to_string())).collect();
        format!(" [{}]", each.join("; "))
    }

    /// A path's places, each with what the request must meet to get there:
    /// its start, each role entered (by AssumeRole, or with a web identity
    /// or a SAML response from a provider), its bucket (the conditions of the bucket's actions go
    /// at the line's end).
    fn places(&self, path: &Path, inventory: &Inventory) -> Vec<Place> {
        let mut places = vec![Place { name: self.start(&path.start, inventory), via: String::new(), conditions: String::new() }];
        for (i, hop) in path.hops.iter().enumerate() {
            let role = &inventory.roles[hop.role];
            let via = match &path.start {
                Start::Provider(arn) if i == 0 && arn.contains(":saml-provider/") => "sts:AssumeRoleWithSAML",
                Start::Provider(_) if i == 0 => "sts:AssumeRoleWithWebIdentity",
                _ => "sts:AssumeRole",
            };
            places.push(Place { name: self.address(&role.address, &role.account), via: via.into(), conditions: self.conditions(&hop.opened.conditions) });
        }
        let name = match path.reach.as_ref().map(|r| (r, r.target)) {
            None => None,
            Some((reach, Target::Bucket(index))) => {
                let bucket = &inventory.buckets[index];
                let objects = match reach.objects.as_deref() {
                    None | Some("*") => String::new(),
                    Some(pattern) => format!("/{}", self.text(pattern)),
                };
                Some(format!("{}{objects}", self.address(&bucket.address, &bucket.account)))
            }
            Some((_, Target::Key(index))) => Some(self.address(&inventory.keys[index].address, &inventory.keys[index].account)),
            Some((reach, Target::Database(index))) => {
                let db = &inventory.databases[index];
                let users = match reach.objects.as_deref() {
                    None | Some("*") => "any user".to_string(),
                    Some(user) => self.text(user),
                };
                Some(format!("{} as {users}", self.address(&db.address, &db.account)))
            }
        };
        if let Some(name) = name {
            places.push(Place { name, via: String::new(), conditions: String::new() });
        }
        places
    }
}

/// One place of a path: a principal, a role or a bucket.
struct Place {
    name: String,
    /// The action that leads there (a role's AssumeRole; a bucket's actions are the line's).
    via: String,
    /// ` [key operator values]` the request must meet there.
    conditions: String,
}

/// Everything of a path's line but its actions.
fn head(places: &[Place]) -> String {
    let each: Vec<String> = places.iter().map(|p| format!("{}{}", p.name, p.conditions)).collect();
    each.join(" -> ")
}

/// What a path that ends entering a role says it does there.
const ENTERED: &str = "enters it (its grants are beyond the analysed actions)";

/// One snapshot line and the paths behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// Its principal, roles and bucket, as named in the text.
    pub places: Vec<String>,
    /// What leads to each place after the first: `sts:AssumeRole [conditions]`, the bucket's actions.
    pub links: Vec<String>,
    /// The statements that open it, each with where the config writes it when known.
    pub statements: Vec<String>,
    /// Roles entered by chaining (a session assumed from a session): at most one hour each.
    pub chained: bool,
    /// How the harness can walk it on the target; Err: why it cannot.
    pub walk: Result<Walk, String>,
}

/// One line's actions, the statements behind them, whether a chain leads there, one of its paths, and its places.
type Grouped<'a> = (BTreeSet<&'static str>, BTreeSet<Opening>, bool, Option<&'a Path>, Vec<Place>);

/// The paths as snapshot lines: one per start, chain, bucket and conditions, its actions together.
pub fn lines(paths: &[Path], inventory: &Inventory, namer: &Namer, locate: &dyn Fn(&str) -> Option<String>) -> Vec<Line> {
    let mut grouped: BTreeMap<(String, String), Grouped<'_>> = BTreeMap::new();
    for path in paths {
        let conditions = path.reach.as_ref().map(|r| namer.conditions(&r.opened.conditions)).unwrap_or_default();
        let places = namer.places(path, inventory);
        let entry = grouped.entry((head(&places), conditions)).or_default();
        entry.4 = places;
        entry.0.insert(path.reach.as_ref().map_or(ENTERED, |r| r.action));
        entry.1.extend(path.hops.iter().flat_map(|h| h.opened.statements.iter().cloned()));
        entry.1.extend(path.reach.iter().flat_map(|r| r.opened.statements.iter().cloned()));
        entry.2 |= path.hops.len() > 1;
        // The walk's object key comes from a path on objects (a list names none).
        let on_objects = |p: &Path| p.reach.as_ref().is_some_and(|r| r.objects.is_some());
        if entry.3.is_none_or(|held| !on_objects(held) && on_objects(path)) {
            entry.3 = Some(path);
        }
    }
    grouped
        .into_iter()
        .map(|((head, conditions), (actions, openings, chained, path, places))| {
            let actions: Vec<&'static str> = actions.into_iter().collect();
            let walked: Vec<&'static str> = actions.iter().copied().filter(|a| *a != ENTERED).collect();
            let walk = path.map_or_else(|| Err("no path".to_string()), |path| walk::plan(path, &walked, inventory));
            // The grant an unnamed principal is supposed to hold is no statement of the config.
            let statements = openings
                .into_iter()
                .filter(|o| !o.policy.starts_with('('))
                .map(|o| {
                    let place = locate(&o.policy).map(|p| format!(", {p}")).unwrap_or_default();
                    // Policies are named by Terraform address: nothing of the run's to replace.
                    format!("statement {} of {}{place}", o.statement, o.policy)
                })
                .collect();
            let mut links: Vec<String> = places.iter().skip(1).map(|p| format!("{}{}", p.via, p.conditions)).collect();
            if let (Some(last), false) = (links.last_mut(), walked.is_empty()) {
                *last = format!("{}{conditions}", walked.join(", "));
            }
            let places = places.into_iter().map(|p| p.name).collect();
            Line { text: format!("{head}: {}{conditions}", actions.join(", ")), places, links, statements, chained, walk }
        })
        .collect()
}

/// Where a config writes a policy: `main.tf:12` for a policy named by a
/// root-module address (`aws_iam_role_policy.x`, `aws_iam_role.r trust policy`).
pub fn locator(configs: &[PathBuf]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut declared: BTreeMap<String, String> = BTreeMap::new();
    for config in configs {
        let Ok(entries) = std::fs::read_dir(config) else { continue };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "tf")).collect();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                let quoted: Vec<&str> = line.split('"').collect();
                if let ["resource ", kind, _, name_of, ..] = quoted.as_slice() {
                    declared.entry(format!("{kind}.{name_of}")).or_insert_with(|| format!("{name}:{}", number + 1));
                }
            }
        }
    }
    move |policy: &str| {
        let address = policy.split_whitespace().next()?;
        let address = address.split('[').next()?;
        declared.get(address).cloned()
    }
}

/// A snapshot file: its lines (comments and blank lines aside).
pub fn read(path: &FsPath) -> std::io::Result<Option<BTreeSet<String>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// The text of a snapshot file.
pub fn render(scenario: &str, lines: &[Line]) -> String {
    let mut text = format!(
        "# Who can reach what once {scenario}'s configs are applied: one line per path,\n# principal -> roles entered -> bucket or key: actions [conditions the request must meet].\n# `harness access --scenario {scenario} --accept` rewrites it; every run of the scenario checks it.\n"
    );
    let sorted: BTreeSet<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    for line in sorted {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// What differs between the snapshot and the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diff {
    /// Paths the config opens that the snapshot does not hold: an over-grant, or a grant not yet accepted.
    pub added: Vec<String>,
    /// Paths the snapshot holds that the config no longer opens: a lost grant.
    pub missing: Vec<String>,
}

impl Diff {
    pub fn between(snapshot: &BTreeSet<String>, lines: &[Line]) -> Diff {
        let found: BTreeSet<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        Diff {
            added: found.iter().filter(|l| !snapshot.contains(**l)).map(|l| l.to_string()).collect(),
            missing: snapshot.iter().filter(|l| !found.contains(l.as_str())).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.missing.is_empty()
    }
}

/// Where a scenario's snapshot lives: beside it, `NAME.access`.
pub fn path_of(scenario: &FsPath) -> PathBuf {
    scenario.with_extension("access")
}
