//! The import rules of docs/architecture.md ("Layers"), checked on the source: every
//! `crate::…`, `super::…` and `self::…` path in `src/**/*.rs` (in `use` and inline) is resolved
//! to the file of the module it names, and each such import must (a) run down the layers and
//! (b) close no cycle between files. A `mod.rs` (or `lib.rs`) naming its own child modules by
//! their bare names (`pub use delivery::run`) imports them too: a re-export would otherwise hide
//! where a path really leads.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Which layer a file belongs to, by its path under `src/`; the first prefix that matches wins.
const LAYER_OF: &[(&str, Layer)] = &[
    ("clock.rs", Layer::Foundation),
    ("crypto.rs", Layer::Foundation),
    ("metrics.rs", Layer::Foundation),
    ("password.rs", Layer::Foundation),
    ("rate.rs", Layer::Foundation),
    ("vocabulary/", Layer::Foundation),
    ("xmlenc.rs", Layer::Foundation),
    ("config/", Layer::Config),
    ("store/", Layer::Store),
    ("http/", Layer::Http),
    ("lib.rs", Layer::Root),
];

/// Imports allowed across the rules, each with its reason: (importing file, imported file or
/// folder under `src/`).
const EXCEPTIONS: &[(&str, &str)] = &[
    // `PageError::Upstream` carries the upstream error, so that `http/error.rs` stays the one
    // place an error becomes a page; the upstream module defines the type but imports no HTTP
    // plumbing back, so no cycle follows.
    ("http/error.rs", "upstream/"),
];

/// What a layer may import besides itself. A file not named in `LAYER_OF` is a feature, which
/// may import every layer but the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Clock, randomness and hashing, password hashing, and the shared vocabulary (event types,
    /// domain patterns, reserved connection ids, limits): what every other layer may use.
    Foundation,
    /// The typed configuration and its validation.
    Config,
    /// Storage: queries and the row types it owns.
    Store,
    /// HTTP plumbing: cookies, CSRF, the error page, middleware, the client address, the page
    /// that moves on after a form. No page and no feature.
    Http,
    /// Everything that serves a route or runs a flow: pages, the provider, upstream logins,
    /// products, session URLs, notifications, keys, state.
    Feature,
    /// `lib.rs`, which puts the application together.
    Root,
}

impl Layer {
    fn may_import(self, other: Layer) -> bool {
        use Layer::*;
        match self {
            Foundation => other == Foundation,
            Config => matches!(other, Foundation | Config),
            Store => matches!(other, Foundation | Config | Store),
            Http => matches!(other, Foundation | Config | Store | Http),
            Feature => other != Root,
            Root => true,
        }
    }
}

fn layer_of(file: &str) -> Layer {
    LAYER_OF
        .iter()
        .find(|(prefix, _)| file.starts_with(prefix))
        .map_or(Layer::Feature, |(_, layer)| *layer)
}

/// One import: the file it is written in, the path as written, and the file it resolves to.
#[derive(Clone, Debug)]
struct Import {
    from: String,
    written: String,
    to: String,
}

#[test]
fn imports_run_down_the_layers() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut report = String::new();
    for import in &graph.imports {
        let (from, to) = (layer_of(&import.from), layer_of(&import.to));
        let excepted = EXCEPTIONS
            .iter()
            .any(|(file, target)| import.from == *file && import.to.starts_with(target));
        if from != to && !from.may_import(to) && !excepted {
            writeln!(
                report,
                "  src/{} ({from:?}) imports {} (src/{}, {to:?})",
                import.from, import.written, import.to
            )
            .unwrap();
        }
    }
    assert!(
        report.is_empty(),
        "imports across the layer rules of docs/architecture.md:\n{report}"
    );
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).between_modules();
    let cycles = graph.cycles();
    let mut report = String::new();
    for cycle in &cycles {
        let files: Vec<_> = cycle.files.iter().map(|f| format!("src/{f}")).collect();
        writeln!(report, "  {} files: {}", files.len(), files.join(", ")).unwrap();
        let walk: Vec<_> = cycle
            .shortest
            .iter()
            .map(|i| format!("src/{}", i.from))
            .collect();
        writeln!(
            report,
            "    shortest cycle: {} -> src/{}",
            walk.join(" -> "),
            cycle.shortest[0].from
        )
        .unwrap();
        writeln!(report, "    imports between these files:").unwrap();
        for import in &cycle.inside {
            writeln!(
                report,
                "      src/{} imports {} (src/{})",
                import.from, import.written, import.to
            )
            .unwrap();
        }
    }
    assert!(
        cycles.is_empty(),
        "{} set(s) of modules of src/ import each other in a cycle:\n{report}",
        cycles.len()
    );
}

/// Sea-orm's models and entities stay in `src/store/`: the rest of the crate reads and writes
/// the typed rows the store owns (`User`, `SigningKey`, `PendingAuthorization`, …), so a change of schema
/// touches the store alone.
#[test]
fn sea_orm_stays_in_the_store() {
    let found = orm_uses(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        found.is_empty(),
        "sea-orm outside src/store/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_orm_check_sees_a_table_or_the_crate_named_outside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod store; pub mod keys;").unwrap();
    std::fs::write(src.join("store/mod.rs"), "pub mod tables; use sea_orm::X;").unwrap();
    std::fs::write(src.join("store/tables.rs"), "").unwrap();
    std::fs::write(src.join("keys.rs"), "// sea_orm in a comment\nfn f() {}").unwrap();
    assert!(orm_uses(src).is_empty());
    std::fs::write(
        src.join("keys.rs"),
        "use crate::store::tables::signing_key;\nfn f() { sea_orm::Set(1); }",
    )
    .unwrap();
    assert_eq!(
        orm_uses(src),
        [
            "  src/keys.rs imports crate::store::tables::signing_key",
            "  src/keys.rs names the sea_orm crate",
        ]
    );
}

/// Every import of `store/tables.rs` and every naming of the `sea_orm` crate outside
/// `src/store/` (and `main.rs`, which only names it in its log filter).
fn orm_uses(src: &Path) -> Vec<String> {
    let graph = Graph::read(src);
    let mut found: Vec<String> = graph
        .imports
        .iter()
        .filter(|i| !i.from.starts_with("store/") && i.to == "store/tables.rs")
        .map(|i| format!("  src/{} imports {}", i.from, i.written))
        .collect();
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    for path in files {
        let relative = path
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if relative.starts_with("store/") || relative == "main.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if tokens(&text).contains(&Token::Ident("sea_orm".into())) {
            found.push(format!("  src/{relative} names the sea_orm crate"));
        }
    }
    found
}

/// The checker must see what it is meant to see: a file of the test's own making.
#[test]
fn the_checker_reads_grouped_inline_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::create_dir_all(src.join("web")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "pub mod store; pub mod web; pub mod clock;",
    )
    .unwrap();
    std::fs::write(src.join("clock.rs"), "").unwrap();
    std::fs::write(
        src.join("web/mod.rs"),
        "mod pages; pub use pages::Page; fn f() { pages::run(); }",
    )
    .unwrap();
    std::fs::write(
        src.join("web/pages.rs"),
        "use super::Thing; // crate::clock in a comment\nfn f() { let s = \"crate::clock\"; }",
    )
    .unwrap();
    std::fs::write(src.join("store/mod.rs"), "pub mod rows;").unwrap();
    std::fs::write(
        src.join("store/rows.rs"),
        "use crate::{clock::Clock, web::{pages::{self, X}}};\nuse crate::web::Page;\n\
         fn g() { crate::store::rows::h(); super::super::web::Y; }\n\
         #[cfg(test)] mod tests { use super::*; use super::super::Z; }",
    )
    .unwrap();
    let graph = Graph::read(src);
    let edges: BTreeSet<_> = graph
        .imports
        .iter()
        .map(|i| (i.from.as_str(), i.written.as_str(), i.to.as_str()))
        .collect();
    let expected: BTreeSet<_> = [
        ("store/rows.rs", "crate::clock::Clock", "clock.rs"),
        ("store/rows.rs", "crate::web::pages", "web/pages.rs"),
        ("store/rows.rs", "crate::web::pages::X", "web/pages.rs"),
        ("store/rows.rs", "super::super::web::Y", "web/mod.rs"),
        ("store/rows.rs", "super::super::Z", "store/mod.rs"),
        ("web/pages.rs", "super::Thing", "web/mod.rs"),
        ("store/rows.rs", "crate::web::Page", "web/pages.rs"),
        ("web/mod.rs", "pages::run", "web/pages.rs"),
    ]
    .into_iter()
    .collect();
    assert_eq!(edges, expected);
    assert_eq!(graph.cycles().len(), 1, "web/mod.rs <-> web/pages.rs");
    std::fs::write(src.join("web/pages.rs"), "").unwrap();
    assert!(Graph::read(src).cycles().is_empty());
    std::fs::write(
        src.join("web/mod.rs"),
        "mod pages; use crate::store::rows::Row;",
    )
    .unwrap();
    std::fs::write(src.join("web/pages.rs"), "use super::Thing;").unwrap();
    let cycles = Graph::read(src).cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    let files: Vec<_> = cycles[0].files.iter().map(String::as_str).collect();
    assert_eq!(files, ["store/rows.rs", "web/mod.rs", "web/pages.rs"]);
}

struct Graph {
    imports: Vec<Import>,
}

impl Graph {
    /// Reads every `.rs` file under `src` (but `main.rs`, the binary, which is another crate).
    fn read(src: &Path) -> Graph {
        let mut files = Vec::new();
        collect_rs(src, &mut files);
        let mut modules: BTreeMap<Vec<String>, String> = BTreeMap::new();
        let mut sources = Vec::new();
        for path in files {
            let relative = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if relative == "main.rs" {
                continue;
            }
            modules.insert(module_path(&relative), relative.clone());
            sources.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
        let found: Vec<(&String, Vec<Found>)> = sources
            .iter()
            .map(|(file, text)| (file, paths_in(&tokens(text), &module_path(file))))
            .collect();
        // Where each file's re-exported names lead: `pub use child::Item` in `web/mod.rs` makes
        // `crate::web::Item` an import of the child's file.
        let mut reexports: BTreeMap<&str, BTreeMap<&str, &[String]>> = BTreeMap::new();
        for (file, paths) in &found {
            for path in paths.iter().filter(|p| p.reexport) {
                if let Some(name) = path.absolute.last() {
                    reexports
                        .entry(file.as_str())
                        .or_default()
                        .insert(name, &path.absolute);
                }
            }
        }
        let resolve = |absolute: &[String]| -> String {
            let mut path = absolute.to_vec();
            // A bound, in case re-exports lead round in a circle.
            for _ in 0..16 {
                let (n, file) = (0..=path.len())
                    .rev()
                    .find_map(|n| modules.get(&path[..n]).map(|file| (n, file)))
                    .expect("the crate root is a module");
                let through = path
                    .get(n)
                    .and_then(|name| reexports.get(file.as_str())?.get(name.as_str()));
                match through {
                    Some(target) => path = target.iter().chain(&path[n + 1..]).cloned().collect(),
                    None => return file.clone(),
                }
            }
            panic!("re-exports of {absolute:?} lead round in a circle")
        };
        let mut imports = Vec::new();
        for (file, paths) in &found {
            for path in paths.iter().filter(|p| !p.reexport) {
                let to = resolve(&path.absolute);
                if to != **file {
                    imports.push(Import {
                        from: file.to_string(),
                        written: path.written.clone(),
                        to,
                    });
                }
            }
        }
        imports.sort_by(|a, b| (&a.from, &a.to, &a.written).cmp(&(&b.from, &b.to, &b.written)));
        imports.dedup_by(|a, b| a.from == b.from && a.written == b.written);
        Graph { imports }
    }

    /// The same imports between the modules at the top of the crate (`upstream/saml/xml.rs` is
    /// in `upstream`, `state.rs` is `state`): a file may use its parent's or its sibling's items,
    /// as a module's parts do, but modules depend on each other one way.
    fn between_modules(&self) -> Graph {
        let top = |file: &str| {
            let first = file.split('/').next().unwrap_or(file);
            first.strip_suffix(".rs").unwrap_or(first).to_string()
        };
        let imports = self
            .imports
            .iter()
            .filter(|i| top(&i.from) != top(&i.to))
            .map(|i| Import {
                from: top(&i.from),
                written: format!("{} in src/{}", i.written, i.from),
                to: top(&i.to),
            })
            .collect();
        Graph { imports }
    }

    /// Every set of files tied together by import cycles (a strongly connected component, found
    /// by Tarjan's algorithm): its files, one shortest cycle through the first of them, and every
    /// import between its files (what must go to untie it).
    fn cycles(&self) -> Vec<Cycle> {
        let mut next: BTreeMap<&str, Vec<&Import>> = BTreeMap::new();
        for import in &self.imports {
            next.entry(&import.from).or_default().push(import);
        }
        let nodes: BTreeSet<&str> = self
            .imports
            .iter()
            .flat_map(|i| [i.from.as_str(), i.to.as_str()])
            .collect();
        let mut tarjan = Tarjan::default();
        for node in &nodes {
            if !tarjan.index.contains_key(node) {
                tarjan.visit(node, &next);
            }
        }
        tarjan
            .components
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| Cycle {
                shortest: shortest_cycle(&component, &next),
                inside: self
                    .imports
                    .iter()
                    .filter(|i| component.contains(i.from.as_str()))
                    .filter(|i| component.contains(i.to.as_str()))
                    .cloned()
                    .collect(),
                files: component.into_iter().map(str::to_string).collect(),
            })
            .collect()
    }
}

#[derive(Debug)]
struct Cycle {
    files: BTreeSet<String>,
    shortest: Vec<Import>,
    inside: Vec<Import>,
}

#[derive(Default)]
struct Tarjan<'a> {
    index: BTreeMap<&'a str, usize>,
    low: BTreeMap<&'a str, usize>,
    stack: Vec<&'a str>,
    on_stack: BTreeSet<&'a str>,
    components: Vec<BTreeSet<&'a str>>,
}

impl<'a> Tarjan<'a> {
    fn visit(&mut self, node: &'a str, next: &BTreeMap<&'a str, Vec<&'a Import>>) {
        let n = self.index.len();
        self.index.insert(node, n);
        self.low.insert(node, n);
        self.stack.push(node);
        self.on_stack.insert(node);
        for import in next.get(node).into_iter().flatten() {
            let to = import.to.as_str();
            if !self.index.contains_key(to) {
                self.visit(to, next);
                let low = self.low[node].min(self.low[to]);
                self.low.insert(node, low);
            } else if self.on_stack.contains(to) {
                let low = self.low[node].min(self.index[to]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == self.index[node] {
            let mut component = BTreeSet::new();
            while let Some(top) = self.stack.pop() {
                self.on_stack.remove(top);
                component.insert(top);
                if top == node {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

/// The shortest way from the component's first file back to itself.
fn shortest_cycle<'a>(
    component: &BTreeSet<&'a str>,
    next: &BTreeMap<&'a str, Vec<&'a Import>>,
) -> Vec<Import> {
    let start = *component.iter().next().unwrap();
    let mut came_by: BTreeMap<&str, &Import> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    'search: while let Some(file) = queue.pop_front() {
        for import in next.get(file).into_iter().flatten() {
            let to = import.to.as_str();
            if component.contains(to) && !came_by.contains_key(to) {
                came_by.insert(to, import);
                if to == start {
                    break 'search;
                }
                queue.push_back(to);
            }
        }
    }
    let mut cycle = Vec::new();
    let mut file = start;
    loop {
        let import = came_by[file];
        cycle.push(import.clone());
        file = import.from.as_str();
        if file == start {
            break;
        }
    }
    cycle.reverse();
    cycle
}

fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `store/mod.rs` → `[store]`, `store/outbox.rs` → `[store, outbox]`, `lib.rs` → `[]`.
fn module_path(relative: &str) -> Vec<String> {
    let mut segments: Vec<String> = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
        segments.pop();
    }
    segments
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The identifiers, `::` and punctuation of Rust source, without comments, strings and chars.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (at(i + 1) == '"' || (at(i + 1) == '#' && matches!(at(i + 2), '"' | '#')))
        {
            // A raw string: r"…", r#"…"#, …
            let mut hashes = 0;
            i += 1;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token::PathSep);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// A path found in a file.
#[derive(Debug)]
struct Found {
    /// As written, groups spread out: `crate::store::{self, Store}` is `crate::store` and
    /// `crate::store::Store`.
    written: String,
    /// From the crate root.
    absolute: Vec<String>,
    /// Written in a `pub use`: a re-export, which imports nothing itself but leads a path on.
    reexport: bool,
}

/// Every path that starts with `crate`, `super`, `self` or a child module declared in this file
/// (`mod name;`). `here` is the file's module; an inline `mod name { … }` is a module inside it,
/// so `super` there first leaves that.
fn paths_in(tokens: &[Token], here: &[String]) -> Vec<Found> {
    let children: BTreeSet<&String> = tokens
        .windows(3)
        .filter_map(|w| match w {
            [Token::Ident(m), Token::Ident(name), Token::Punct(';')] if m == "mod" => Some(name),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut reexport = false;
    let mut i = 0;
    while i < tokens.len() {
        let before = i.checked_sub(1).map(|k| &tokens[k]);
        let starts_path = tokens.get(i + 1) == Some(&Token::PathSep)
            && !matches!(before, Some(Token::PathSep | Token::Punct('$')));
        let mut found = Vec::new();
        match &tokens[i] {
            Token::Punct(';') => reexport = false,
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Token::Ident(word) if word == "use" => {
                // `pub use` or `pub(crate) use`, `pub(super) use`, …
                reexport = match i.checked_sub(1).map(|k| &tokens[k]) {
                    Some(Token::Ident(p)) => p == "pub",
                    Some(Token::Punct(')')) => tokens[..i]
                        .iter()
                        .rposition(|t| *t == Token::Punct('('))
                        .is_some_and(|open| {
                            open > 0 && tokens[open - 1] == Token::Ident("pub".into())
                        }),
                    _ => false,
                };
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth));
                }
            }
            Token::Ident(word) if starts_path && children.contains(word) && inline.is_empty() => {
                // A child module of this file, named from its parent (a `mod.rs` using or
                // re-exporting its own files).
                let mut module = here.to_vec();
                module.push(word.clone());
                i = read_path(
                    tokens,
                    i + 2,
                    std::slice::from_ref(word),
                    &module,
                    &mut found,
                );
            }
            Token::Ident(word)
                if starts_path && matches!(word.as_str(), "crate" | "super" | "self") =>
            {
                let mut module: Vec<String> = here.to_vec();
                module.extend(inline.iter().map(|(name, _)| name.clone()));
                let mut written = Vec::new();
                let mut k = i;
                if word == "crate" {
                    module.clear();
                    written.push("crate".to_string());
                    k += 2;
                } else {
                    while let Some(Token::Ident(w)) = tokens.get(k) {
                        match w.as_str() {
                            "super" => {
                                module.pop();
                            }
                            "self" => {}
                            _ => break,
                        }
                        written.push(w.clone());
                        if tokens.get(k + 1) != Some(&Token::PathSep) {
                            break;
                        }
                        k += 2;
                    }
                }
                i = read_path(tokens, k, &written, &module, &mut found);
            }
            _ => {}
        }
        if found.is_empty() {
            i += 1;
        }
        out.extend(found.into_iter().map(|(written, absolute)| Found {
            written,
            absolute,
            reexport,
        }));
    }
    out
}

/// Reads the rest of a path from `tokens[k]` on, after `written` (which names `module`),
/// pushing every complete path to `out`; returns the index after it.
fn read_path(
    tokens: &[Token],
    mut k: usize,
    written: &[String],
    module: &[String],
    out: &mut Vec<(String, Vec<String>)>,
) -> usize {
    let mut written = written.to_vec();
    let mut module = module.to_vec();
    loop {
        match tokens.get(k) {
            Some(Token::Ident(w)) if w == "self" => {
                // `…::{self}`: the prefix itself.
                out.push((written.join("::"), module));
                return k + 1;
            }
            Some(Token::Ident(w)) => {
                written.push(w.clone());
                module.push(w.clone());
                if tokens.get(k + 1) == Some(&Token::PathSep) {
                    k += 2;
                } else {
                    out.push((written.join("::"), module));
                    return k + 1;
                }
            }
            Some(Token::Punct('{')) => {
                k += 1;
                loop {
                    match tokens.get(k) {
                        Some(Token::Punct('}')) | None => return k + 1,
                        Some(Token::Punct(',')) => k += 1,
                        Some(Token::Ident(w)) if w == "as" => k += 2,
                        Some(Token::Punct('*')) => {
                            out.push((written.join("::"), module.clone()));
                            k += 1;
                        }
                        _ => k = read_path(tokens, k, &written, &module, out),
                    }
                }
            }
            _ => {
                // `prefix::*`, `prefix::<T>`, or a path that ends in `::`.
                out.push((written.join("::"), module));
                return k;
            }
        }
    }
}
