//! The terminal tree of a [`TrustView`]: each role with its version, expiry and threshold; under
//! it its keys (and who holds them), its signed tags and its delegations; the notary client's
//! verdicts last. Marks are a glyph and a word, so they read without colour (and colour comes only
//! through the printer's rules: a terminal, no NO_COLOR).

use termtree::Tree;

use super::view::{short_digest, short_id, RoleView, TrustView};
use crate::ui::{Printer, Style};

pub fn render(view: &TrustView, p: &Printer) -> String {
    let mut title = format!("{} — {}", p.paint(&view.repository, Style::Bold), view.source.label());
    match (&view.compared_with, &view.compare_note) {
        (Some(other), _) => title.push_str(&format!(", compared with {}", other.label())),
        (None, Some(note)) => title.push_str(&format!(" ({note})")),
        (None, None) => {}
    }
    let mut tree = Tree::new(title);
    for role in view.roles.iter().filter(|r| r.parent.is_none()) {
        tree.push(role_tree(view, role, p));
    }
    let mut out = tree.to_string();
    for c in &view.checks {
        let mark = if c.ok { p.paint("✓", Style::Green) } else { p.paint("✗", Style::Red) };
        out.push_str(&format!("{mark} {} {}: {}\n", c.who, c.verb(), c.message));
    }
    out
}

fn role_tree(view: &TrustView, role: &RoleView, p: &Printer) -> Tree<String> {
    let mut line = format!("{} {}", p.paint(&role.name, Style::Bold), role.headline());
    if role.expired {
        line = format!("{line} {}", p.paint("✗ expired", Style::Red));
    }
    if let (Some(c), Some(other)) = (&role.compare, &view.compared_with) {
        let text = format!("[{}]", c.text(&view.source, other));
        line = format!(
            "{line} {}",
            if c.differs() { p.paint(&format!("! {text}"), Style::Yellow) } else { p.paint(&text, Style::Dim) }
        );
    }
    let mut t = Tree::new(line);
    for w in role.warnings().into_iter().filter(|w| !w.starts_with("expired")) {
        t.push(Tree::new(p.paint(&format!("! {w}"), Style::Yellow)));
    }
    if let Some(paths) = &role.paths {
        t.push(Tree::new(format!("paths: {}", paths_text(paths))));
    }
    for k in &role.keys {
        let held = if k.held_by.is_empty() {
            p.paint("held nowhere in this sandbox", Style::Dim)
        } else {
            format!("held by {}", k.held_by.iter().map(|h| h.label()).collect::<Vec<_>>().join(", "))
        };
        t.push(Tree::new(format!("key {} ({}) {held}", short_id(&k.id), k.keytype)));
    }
    let foreign = role.foreign_signatures();
    if !foreign.is_empty() {
        let ids: Vec<&str> = foreign.iter().map(|id| short_id(id)).collect();
        let why = if role.name == crate::tuf::ROOT {
            "the replaced root's key: a rotated root is signed by both"
        } else {
            "a key the role no longer lists"
        };
        t.push(Tree::new(format!("also signed by {} ({why})", ids.join(", "))));
    }
    if role.tags.is_empty() && crate::tuf::expected_type(&role.name) == "Targets" && role.problem.is_none() {
        t.push(Tree::new(p.paint("no signed tags", Style::Dim)));
    }
    for tag in &role.tags {
        let digest = tag.digest.as_deref().map_or("no sha256", short_digest);
        t.push(Tree::new(format!("tag {} → {digest} ({} B)", p.paint(&tag.name, Style::Bold), tag.length)));
    }
    for child in view.roles.iter().filter(|r| r.parent.as_deref() == Some(&role.name)) {
        t.push(role_tree(view, child, p));
    }
    t
}

/// `""` is notary's "every path".
pub fn paths_text(paths: &[String]) -> String {
    if paths.iter().any(String::is_empty) {
        "all".into()
    } else {
        paths.join(", ")
    }
}
